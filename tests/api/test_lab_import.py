"""Bulk lab import: a JSON list, a CSV body or a CSV upload; every row validated, all or nothing,
idempotent, bounded in rows and bytes (413) whatever the content type."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.db import connection
from django.http.multipartparser import MultiPartParser
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from api.errors import PayloadTooLarge
from api.lab_import import JSONRowsParser, UploadBytesLimit, csv_rows
from registry.models import LabResult, Role
from registry.signals import reevaluation_requested
from tests.api.conftest import Record, token_client
from tests.conftest import _member
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/lab-results/import/"
HEADER = "patient,collected_on,analyte,analyte_name,value,antibodies_positive,assay_name"


def rows(record: Record) -> list[dict[str, Any]]:
    patient = record.patient.pk
    return [
        {"patient": patient, "collected_on": "2026-11-20", "analyte": "crp", "value": "3.2"},
        {"patient": patient, "collected_on": "2026-11-20", "analyte": "esr", "value": "12"},
        {
            "patient": patient,
            "collected_on": "2026-11-20",
            "analyte": "anti_ifx",
            "antibodies_positive": False,
            "assay_name": "Lisa-Tracker",
        },
    ]


def csv_of(record: Record, *extra: str) -> str:
    patient = record.patient.pk
    return "\n".join(
        [
            HEADER,
            f"{patient},2026-11-20,crp,,3.2,,",
            f"{patient},2026-11-20,esr,,12,,",
            f"{patient},2026-11-20,anti_ifx,,,false,Lisa-Tracker",
            *extra,
        ]
    )


def upload(body: str | bytes) -> dict[str, Any]:
    data = body.encode() if isinstance(body, str) else body
    return {"file": SimpleUploadedFile("results.csv", data, "text/csv")}


def imported(record: Record) -> list[tuple[str, str | None]]:
    results = LabResult.objects.filter(patient=record.patient, collected_on="2026-11-20")
    return sorted((r.analyte, None if r.value is None else str(r.value)) for r in results)


SAVED = [("anti_ifx", None), ("crp", "3.200"), ("esr", "12.000")]


def test_a_json_list(record_a, as_nurse, nurse_a):
    response = as_nurse.post(URL, rows(record_a), format="json")
    assert response.status_code == 201, response.json()
    assert response.json() | {"ids": None} == {
        "created": 3,
        "ids": None,
        "already_recorded": 0,
        "already_recorded_rows": [],
        "duplicates": [],
    }
    assert sorted(response.json()["ids"]) == sorted(
        LabResult.objects.filter(collected_on="2026-11-20").values_list("pk", flat=True)
    )
    assert imported(record_a) == SAVED
    result = LabResult.objects.get(pk=response.json()["ids"][0])
    assert (result.unit, result.history.get().history_user) == ("mg/L", nurse_a)


def test_a_csv_body(record_a, as_nurse):
    response = as_nurse.post(URL, csv_of(record_a), content_type="text/csv")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == SAVED


def test_a_csv_body_with_a_byte_order_mark(record_a, as_nurse):
    body = "\ufeff" + csv_of(record_a).replace("\n", "\r\n")
    response = as_nurse.post(URL, body.encode(), content_type="text/csv; charset=utf-8")
    assert response.status_code == 201, response.json()


def test_a_csv_upload(record_a, as_nurse):
    response = as_nurse.post(URL, upload(csv_of(record_a)), format="multipart")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == SAVED


def test_patients_named_by_registry_code_in_a_csv(record_a, as_nurse):
    code = record_a.patient.registry_code
    body = f"registry_code,collected_on,analyte,value\n{code},2026-11-20,crp,3.2\n"
    body += f"{code},2026-11-20,esr,12\n"
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == [("crp", "3.200"), ("esr", "12.000")]


def test_the_schema_s_example_works_as_shown(record_a, as_nurse):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    content = schema["paths"][URL]["post"]["requestBody"]["content"]["application/json"]
    [example] = content["examples"].values()
    body = json.dumps(example["value"]).replace("CRMO-000042", record_a.patient.registry_code)
    response = as_nurse.post(URL, body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == [("crp", "3.200"), ("esr", "12.000")]


def test_one_bad_row_and_nothing_is_saved(record_a, as_nurse):
    bad = [
        *rows(record_a),
        {
            "patient": record_a.patient.pk,
            "collected_on": "2026-11-20",
            "analyte": "esr",
            "value": "250",
        },
        {
            "patient": record_a.patient.pk,
            "collected_on": "20/11/2026",
            "analyte": "crp",
            "value": "-1",
        },
    ]
    before = LabResult.objects.count()
    response = as_nurse.post(URL, bad, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid rows: nothing was saved.",
        "errors": {
            "rows": [
                {
                    "row": 4,
                    "errors": {
                        "value": [
                            "250 mm/h is above the physical maximum of 200 mm/h; check the "
                            "value and its unit."
                        ]
                    },
                },
                {
                    "row": 5,
                    "errors": {
                        "collected_on": [
                            "“20/11/2026” value has an invalid date format. It must be in "
                            "YYYY-MM-DD format."
                        ]
                    },
                },
            ]
        },
    }
    assert LabResult.objects.count() == before


def test_rows_count_from_one_in_a_csv_too(record_a, as_nurse):
    patient = record_a.patient.pk
    body = csv_of(record_a, f"{patient},2026-12-24,crp,,1,,", "", f"{patient},2026-11-20,xyz,,1,,")
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {
            "row": 4,
            "errors": {"collected_on": ["24 Dec 2026 is in the future; record what has happened."]},
        },
        {"row": 5, "errors": {"analyte": ["Value 'xyz' is not a valid choice."]}},
    ]
    assert imported(record_a) == []


def test_another_site_s_patient_is_unknown(record_a, record_b, as_nurse):
    mixed = [*rows(record_a), {**rows(record_b)[0]}]
    response = as_nurse.post(URL, mixed, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {
            "row": 4,
            "errors": {
                "patient": [
                    f"Unknown patient: {record_b.patient.pk} is none of your sites' patients."
                ]
            },
        }
    ]
    assert imported(record_a) == imported(record_b) == []


def test_a_nurse_at_north_and_clinician_at_south_imports_for_both(record_a, record_b):
    both = _member("nora", record_a.site, Role.NURSE)
    MembershipFactory(user=both, site=record_b.site, role=Role.CLINICIAN)
    response = token_client(both).post(URL, rows(record_a) + rows(record_b), format="json")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == imported(record_b) == SAVED


def test_unknown_columns_are_refused(record_a, as_nurse):
    body = csv_of(record_a).replace("assay_name", "assay_name,colour", 1)
    body = "\n".join(line + ",red" if n else line for n, line in enumerate(body.splitlines()))
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert {r["row"]: r["errors"] for r in response.json()["errors"]["rows"]} == {
        n: {"colour": ["Unknown column."]} for n in (1, 2, 3)
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (f"{HEADER}\n1,2026-11-20,crp,,3,,,surplus\n", "Row 1 has a value in a column"),
        ("value,value\n1,2\n", "The header names value more than once."),
    ],
    ids=["more-cells-than-columns", "a-column-twice"],
)
def test_a_csv_whose_rows_do_not_fit_its_header_is_refused(body, detail, record_a, as_nurse):
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


# --- Idempotent ---------------------------------------------------------------------------------


def test_the_same_file_twice_stores_nothing_the_second_time(record_a, as_nurse):
    first = as_nurse.post(URL, upload(csv_of(record_a)), format="multipart")
    second = as_nurse.post(URL, upload(csv_of(record_a)), format="multipart")
    assert (first.status_code, first.json()["created"]) == (201, 3)
    assert second.status_code == 200, second.json()
    assert second.json() == {
        "created": 0,
        "ids": [],
        "already_recorded": 3,
        "already_recorded_rows": [1, 2, 3],
        "duplicates": [],
    }
    assert imported(record_a) == SAVED


def test_a_row_twice_in_one_file_is_stored_once(record_a, as_nurse):
    patient = record_a.patient.pk
    body = csv_of(record_a, f"{patient},2026-11-20,crp,,3.200,,")
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["duplicates"]) == (
        3,
        [{"row": 4, "of_row": 1}],
    )
    assert imported(record_a) == SAVED


# --- Nothing to import, or no CSV -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[]", "application/json"),
        ('{"patient": 1}', "application/json"),
        ("patient,collected_on,analyte\n", "text/csv"),
        ("", "text/csv"),
    ],
    ids=["empty-list", "an-object", "csv-header-only", "empty-csv"],
)
def test_nothing_to_import(body, content_type, record_a, as_nurse):
    response = as_nurse.post(URL, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid rows: nothing was saved.",
        "errors": {
            "rows": [
                {
                    "row": 0,
                    "errors": {
                        "non_field_errors": ["Send a non-empty JSON list of results, or CSV rows."]
                    },
                }
            ]
        },
    }


def test_an_upload_without_its_file(record_a, as_nurse):
    response = as_nurse.post(URL, {"name": "results.csv"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {"row": 0, "errors": {"file": ["Send the CSV file in the form field 'file'."]}}
    ]


def test_a_row_that_is_not_an_object(record_a, as_nurse):
    response = as_nurse.post(URL, [rows(record_a)[0], "crp=3"], format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {
            "row": 2,
            "errors": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        }
    ]
    assert imported(record_a) == []


@pytest.mark.parametrize(
    "data",
    [b"patient,collected_on\n\xff\xfe1,2026-11-20\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["latin-1", "png"],
)
def test_a_file_that_is_not_utf8_text_is_refused(data, record_a, as_nurse):
    for response in (
        as_nurse.post(URL, upload(data), format="multipart"),
        as_nurse.post(URL, data, content_type="text/csv"),
    ):
        assert response.status_code == 400
        assert response.json()["detail"].startswith("Send CSV as UTF-8 text")
        assert response.json()["errors"] == {}
    assert imported(record_a) == []


# --- Bounded: 413 ---------------------------------------------------------------------------------


def many_rows(record: Record, n: int) -> list[dict[str, Any]]:
    return [
        {"patient": record.patient.pk, "collected_on": "2026-11-20", "analyte": "crp", "value": v}
        for v in range(n)
    ]


def csv_lines(entries: list[dict[str, Any]]) -> str:
    return "patient,collected_on,analyte,value\n" + "".join(
        f"{e['patient']},{e['collected_on']},{e['analyte']},{e['value']}\n" for e in entries
    )


def post_as(client: APIClient, kind: str, entries: list[dict[str, Any]], **extra: Any) -> Any:
    """Post the rows as a JSON list, a CSV body or a CSV upload."""
    if kind == "json":
        return client.post(URL, json.dumps(entries), content_type="application/json", **extra)
    if kind == "csv":
        return client.post(URL, csv_lines(entries), content_type="text/csv", **extra)
    return client.post(URL, upload(csv_lines(entries)), format="multipart", **extra)


KINDS = ["json", "csv", "upload"]


@pytest.mark.parametrize("kind", KINDS)
def test_more_rows_than_the_limit_are_refused_with_413(kind, record_a, as_nurse, settings):
    settings.LAB_IMPORT_MAX_ROWS = 5
    response = post_as(as_nurse, kind, many_rows(record_a, 6))
    assert response.status_code == 413
    assert response.json() == {
        "detail": (
            "More than 5 rows: one import takes at most 5 rows and 2,097,152 bytes. Split the "
            "file and send the parts."
        )
    }
    assert imported(record_a) == []
    assert post_as(as_nurse, kind, many_rows(record_a, 5)).status_code == 201


@pytest.mark.parametrize("kind", KINDS)
def test_more_bytes_than_the_limit_are_refused_with_413(kind, record_a, as_nurse, settings):
    settings.LAB_IMPORT_MAX_BYTES = 1000
    entries = many_rows(record_a, 60)  # 1,300 to 5,000 bytes in each form
    response = post_as(as_nurse, kind, entries)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("More than 1,000 bytes: one import takes at most")
    assert imported(record_a) == []
    assert post_as(as_nurse, kind, entries[:10]).status_code == 201


def test_a_body_too_large_is_refused_whatever_its_content_type(as_nurse, settings):
    settings.LAB_IMPORT_MAX_BYTES = 1000
    response = as_nurse.post(URL, "<results/>" * 200, content_type="application/xml")
    assert response.status_code == 413
    assert as_nurse.post(URL, "<results/>", content_type="application/xml").status_code == 415


def test_the_limits_hold_without_the_body_s_declared_length(settings):
    """The bytes are counted as they are read: a body longer than it says (an ASGI request is
    not cut at its Content-Length) is refused at the limit all the same."""
    settings.LAB_IMPORT_MAX_BYTES = 1000
    row = {"patient": 1, "collected_on": "2026-11-20", "analyte": "crp", "value": 1}
    big = csv_lines([row] * 60)
    with pytest.raises(PayloadTooLarge):
        list(csv_rows(io.BytesIO(big.encode())))
    with pytest.raises(PayloadTooLarge):
        JSONRowsParser().parse(io.BytesIO(b"[" + b"1," * 600 + b"1]"))
    form = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("r.csv", big.encode())})
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": "100"}
    handlers = [UploadBytesLimit(), MemoryFileUploadHandler()]
    with pytest.raises(PayloadTooLarge):
        MultiPartParser(meta, io.BytesIO(form), handlers).parse()


def test_a_csv_is_read_as_a_stream():
    row = {"patient": 1, "collected_on": "d", "analyte": "a", "value": 1}
    body = io.BytesIO(csv_lines([row] * 10_000).encode())
    reader = csv_rows(body)
    assert [next(reader) for _ in range(6)][-1] == {
        "patient": "1",
        "collected_on": "d",
        "analyte": "a",
        "value": "1",
    }
    assert body.tell() < 20_000  # of 270,000 bytes: what the buffers hold, no more


# --- Queries and re-evaluation --------------------------------------------------------------------


def test_an_import_s_queries_do_not_grow_with_its_rows(
    record_a, as_nurse, django_assert_max_num_queries
):
    def entries(n: int) -> list[dict[str, Any]]:
        return [{**e, "value": f"{e['value']}.5"} for e in many_rows(record_a, n)]

    with CaptureQueriesContext(connection) as ten:
        assert post_as(as_nurse, "csv", entries(10)).status_code == 201
    with django_assert_max_num_queries(len(ten.captured_queries)):
        response = post_as(as_nurse, "csv", entries(1000))
    assert (response.status_code, response.json()["already_recorded"]) == (201, 10)


def test_an_import_asks_once_for_each_patient_s_re_evaluation(
    record_a, record_b, django_capture_on_commit_callbacks
):
    both = _member("nora", record_a.site, Role.NURSE)
    MembershipFactory(user=both, site=record_b.site, role=Role.NURSE)
    asked: list[list[int]] = []

    def receiver(sender: Any, *, patient_ids: list[int], **kwargs: Any) -> None:
        asked.append(patient_ids)

    reevaluation_requested.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = many_rows(record_a, 50) + many_rows(record_b, 50)
            response = token_client(both).post(URL, body, format="json")
    finally:
        reevaluation_requested.disconnect(receiver)
    assert response.status_code == 201
    assert asked == [sorted([record_a.patient.pk, record_b.patient.pk])]


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.mark.skipif(
    not reevaluation_requested.has_listeners(),
    reason="monitoring does not receive reevaluation_requested yet (the services rewrite)",
)
@pytest.mark.usefixtures("eager")
def test_an_import_re_evaluates_the_patient(record_a, as_nurse, django_capture_on_commit_callbacks):
    """ESR at last: 'CRP and ESR overdue' (no ESR since baseline) clears."""
    with django_capture_on_commit_callbacks(execute=True):
        response = as_nurse.post(URL, rows(record_a)[:2], format="json")
    assert response.status_code == 201
    alerts = as_nurse.get(f"/api/v1/alerts/?rule=markers_overdue&course={record_a.course.pk}")
    assert [a["status"] for a in alerts.json()["results"]] == ["resolved"]


def test_an_import_moves_the_record_version_the_nightly_run_follows(record_a, as_nurse):
    """The import's one bump per patient makes the patient's courses due that night, even if
    the on-commit re-evaluation never ran (monitoring.evaluation.courses_due)."""
    from monitoring.evaluation import courses_due, run_evaluation
    from registry.models import RecordVersion
    from tests.conftest import TODAY

    run_evaluation(as_of=TODAY, full=True)
    assert not courses_due(TODAY).filter(patient=record_a.patient).exists()
    before = RecordVersion.objects.filter(patient=record_a.patient).values_list("version")
    before_version = before[0][0] if before else 0
    response = as_nurse.post(URL, rows(record_a), format="json")
    assert response.status_code == 201, response.json()
    assert RecordVersion.objects.get(patient=record_a.patient).version == before_version + 1
    assert courses_due(TODAY).filter(patient=record_a.patient).exists()
    # A refused import changes nothing, its mark included.
    refused = as_nurse.post(URL, [{"registry_code": "CRMO-999999"}], format="json")
    assert refused.status_code == 400
    assert RecordVersion.objects.get(patient=record_a.patient).version == before_version + 1
