"""Bulk lab import: a JSON list, a CSV body or a CSV upload; every row validated, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import LabResult
from tests.api.conftest import Record

pytestmark = pytest.mark.django_db

URL = "/api/v1/lab-results/import/"


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
            "patient,collected_on,analyte,analyte_name,value,antibodies_positive,assay_name",
            f"{patient},2026-11-20,crp,,3.2,,",
            f"{patient},2026-11-20,esr,,12,,",
            f"{patient},2026-11-20,anti_ifx,,,false,Lisa-Tracker",
            *extra,
        ]
    )


def imported(record: Record) -> list[tuple[str, str | None]]:
    results = LabResult.objects.filter(patient=record.patient, collected_on="2026-11-20")
    return sorted((r.analyte, None if r.value is None else str(r.value)) for r in results)


SAVED = [("anti_ifx", None), ("crp", "3.200"), ("esr", "12.000")]


def test_a_json_list(record_a, as_nurse, nurse_a):
    response = as_nurse.post(URL, rows(record_a), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 3
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
    upload = SimpleUploadedFile("results.csv", csv_of(record_a).encode(), "text/csv")
    response = as_nurse.post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert imported(record_a) == SAVED


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
                            "250.000 mm/h is above the physical maximum of 200 mm/h; check the "
                            "value and its unit."
                        ]
                    },
                },
                {
                    "row": 5,
                    "errors": {
                        "collected_on": [
                            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                        ]
                    },
                },
            ]
        },
    }
    assert LabResult.objects.count() == before


def test_rows_count_from_one_in_a_csv_too(record_a, as_nurse):
    patient = record_a.patient.pk
    body = csv_of(record_a, f"{patient},2026-12-24,crp,,1,,", f"{patient},2026-11-20,xyz,,1,,")
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {
            "row": 4,
            "errors": {"collected_on": ["24 Dec 2026 is in the future; record what has happened."]},
        },
        {"row": 5, "errors": {"analyte": ['"xyz" is not a valid choice.']}},
    ]
    assert imported(record_a) == []


def test_another_site_s_patient_is_a_row_error(record_a, record_b, as_nurse):
    mixed = [*rows(record_a), {**rows(record_b)[0]}]
    response = as_nurse.post(URL, mixed, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [
        {
            "row": 4,
            "errors": {"patient": [f'Invalid pk "{record_b.patient.pk}" - object does not exist.']},
        }
    ]
    assert imported(record_a) == imported(record_b) == []


def test_unknown_columns_are_refused(record_a, as_nurse):
    body = csv_of(record_a).replace("assay_name", "assay_name,colour", 1)
    body = "\n".join(line + ",red" if n else line for n, line in enumerate(body.splitlines()))
    response = as_nurse.post(URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert {r["row"]: r["errors"] for r in response.json()["errors"]["rows"]} == {
        n: {"colour": ["Unknown or read-only field."]} for n in (1, 2, 3)
    }


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


def test_an_import_re_evaluates_the_patient(record_a, as_nurse):
    """ESR at last: 'CRP and ESR overdue' (no ESR since baseline) clears."""
    response = as_nurse.post(URL, rows(record_a)[:2], format="json")
    assert response.status_code == 201
    alerts = as_nurse.get(f"/api/v1/alerts/?rule=markers_overdue&course={record_a.course.pk}")
    assert [a["status"] for a in alerts.json()["results"]] == ["resolved"]


@pytest.mark.parametrize(
    "data",
    [b"patient,collected_on\n\xff\xfe1,2026-11-20\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["latin-1", "png"],
)
def test_a_file_that_is_not_utf8_text_is_refused(data, record_a, as_nurse):
    upload = SimpleUploadedFile("results.csv", data, "text/csv")
    for response in (
        as_nurse.post(URL, {"file": upload}, format="multipart"),
        as_nurse.post(URL, data, content_type="text/csv"),
    ):
        assert response.status_code == 400
        assert response.json()["detail"].startswith("Send CSV as UTF-8 text")
        assert response.json()["errors"] == {}
    assert imported(record_a) == []
