"""The clinic's lab import: the template, the preview (row by row, nothing saved), the confirm
(exactly the previewed file, once), who may import, and the limits."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from clinic import lab_import
from clinic.lab_import import EXAMPLE_CODE, SESSION_KEY, TEMPLATE_COLUMNS
from registry import limits
from registry.lab_import import COLUMNS
from registry.models import LabResult
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

UPLOAD = reverse("clinic:lab_import")
PREVIEW = reverse("clinic:lab_import_preview")
TEMPLATE = reverse("clinic:lab_import_template")
HEADER = "registry_code,analyte,collected_on,value,unit,reference_low,reference_high\n"
UNKNOWN = "Unknown patient: {} is none of your sites' patients."


@pytest.fixture
def north(site_a):
    return PatientFactory(
        site=site_a, registry_code="CRMO-000042", family_name="Okafor", given_name="Zara"
    )


@pytest.fixture
def north_2(site_a):
    return PatientFactory(site=site_a, registry_code="CRMO-000043")


@pytest.fixture
def south(site_b):
    return PatientFactory(site=site_b, registry_code="CRMO-000077", family_name="Southby")


@pytest.fixture
def dora(client, data_manager_a) -> Client:
    client.force_login(data_manager_a)
    return client


def recorded_esr(patient, on: str = "2026-11-20", value: str = "12") -> LabResult:
    return LabResult.objects.create(
        patient=patient,
        collected_on=dt.date.fromisoformat(on),
        analyte="esr",
        value=value,
        unit="mm/h",
    )


def upload(client: Client, content: str | bytes, name: str = "labs.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def preview_of(client: Client, content: str | bytes):
    """The upload's preview, as the upload answers it; the preview page shows the same."""
    uploaded = upload(client, content)
    assert uploaded.status_code == 200, uploaded.content.decode()
    assert uploaded.templates[0].name == "clinic/lab_import_preview.html"
    again = client.get(PREVIEW)
    assert outcomes(again) == outcomes(uploaded)
    return uploaded


def outcomes(page) -> dict[int, tuple[str, list[tuple[str, str]]]]:
    return {line.row: (line.outcome, list(line.problems)) for line in page.context["lines"]}


def confirm(client: Client, token: str | None = None):
    token = token or client.session[SESSION_KEY]["token"]
    return client.post(PREVIEW, {"token": token, "confirm": ""})


def good_file(north, north_2) -> str:
    return (
        HEADER
        + f"{north.registry_code},crp,2026-11-20,3.2,mg/L,0,5\n"
        + f"{north.registry_code},esr,2026-11-20,12,,,\n"
        + f"{north_2.registry_code},ifx_trough,2026-11-18,4.5,ug/mL,,\n"
    )


# --- The template -------------------------------------------------------------------------------


def test_the_template_has_the_columns_and_one_example_row_the_import_reads(dora, north):
    response = dora.get(TEMPLATE)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="lab-import-template.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # so that a spreadsheet opens it as UTF-8
    header, example, *rest = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rest == []
    assert tuple(header) == TEMPLATE_COLUMNS
    assert set(TEMPLATE_COLUMNS) <= set(COLUMNS)
    assert dict(zip(header, example, strict=True)) | {"collected_on": "?"} == {
        "registry_code": EXAMPLE_CODE,
        "analyte": "crp",
        "collected_on": "?",
        "value": "3.2",
        "unit": "mg/L",
        "reference_low": "0",
        "reference_high": "5",
        "assay_name": "",
        "antibodies_positive": "",
        "analyte_name": "",
    }
    # Left in, the example row is no patient's; with a real code, it is a result to add.
    assert outcomes(preview_of(dora, response.content))[1][0] == "invalid"
    mine = response.content.replace(EXAMPLE_CODE.encode(), north.registry_code.encode())
    assert outcomes(preview_of(dora, mine)) == {1: ("new", [])}


# --- The preview --------------------------------------------------------------------------------


def test_the_preview_counts_and_explains_every_row_and_saves_nothing(dora, north, north_2, south):
    recorded_esr(north)
    page = preview_of(
        dora,
        HEADER
        + "CRMO-000042,crp,2026-11-20,3.2,mg/L,0,5\n"  # 1 new
        + "CRMO-000043,esr,2026-11-20,30,,,\n"  # 2 new
        + "CRMO-999999,crp,2026-11-20,3,,,\n"  # 3 no such patient
        + "CRMO-000077,crp,2026-11-20,3,,,\n"  # 4 another site's patient
        + "CRMO-000042,crp,2026-13-01,3,,,\n"  # 5 no such date
        + "CRMO-000042,crp,2026-11-19,5000,,,\n"  # 6 above CRP's physical range
        + "crmo-000042,crp,2026-11-20,3.20,,,\n"  # 7 row 1 again
        + "CRMO-000042,esr,2026-11-20,12,mm/h,,\n"  # 8 already recorded
        + "CRMO-000042,crp,2026-11-18,0.4,mg/dL,,\n",  # 9 another unit
    )

    assert page.status_code == 200
    rows = outcomes(page)
    assert rows[1] == ("new", [])
    assert rows[2] == ("new", [])
    assert rows[3] == ("invalid", [("registry_code", UNKNOWN.format("CRMO-999999"))])
    # Another site's patient reads exactly like no patient: nothing of them is shown.
    assert rows[4] == ("invalid", [("registry_code", UNKNOWN.format("CRMO-000077"))])
    assert "Southby" not in page.content.decode()
    assert rows[5][0] == "invalid"
    assert [column for column, _ in rows[5][1]] == ["collected_on"]
    assert "invalid date" in rows[5][1][0][1]
    assert rows[6] == (
        "invalid",
        [
            (
                "value",
                f"5000 mg/L is above the physical maximum of {limits.CRP_MAX_MG_L} mg/L; check "
                "the value and its unit.",
            )
        ],
    )
    assert rows[7] == ("duplicate", [])
    assert rows[8] == ("already_recorded", [])
    assert rows[9] == (
        "invalid",
        [
            (
                "unit",
                "CRP (mg/L) is recorded in mg/L, not mg/dL: convert the value to mg/L, or leave "
                "the unit empty.",
            )
        ],
    )
    context = page.context
    assert (context["to_add"], context["already_recorded"], context["repeated"]) == (2, 1, 1)
    assert context["invalid"] == 5
    assert not context["importable"]
    html = page.content.decode()
    assert "Confirm import" not in html
    assert "5 rows have errors, so nothing can be imported yet." in html
    assert "Repeats row 1: not added twice" in html
    assert "Okafor, Zara" in html  # the patient found for the row, to check it is the right one
    assert LabResult.objects.count() == 1  # the one recorded before


def test_a_file_with_errors_is_not_imported_even_when_confirmed(dora, north):
    preview_of(dora, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\nCRMO-000042,crp,,3,,,\n")

    confirmed = confirm(dora)

    assert confirmed.status_code == 302
    assert confirmed["Location"] == PREVIEW
    assert LabResult.objects.count() == 0
    page = dora.get(PREVIEW)
    assert "Nothing was saved: the file has errors now." in page.content.decode()
    assert outcomes(page)[2] == ("invalid", [("collected_on", "This field is required.")])


# --- The confirm --------------------------------------------------------------------------------


def test_confirm_adds_exactly_the_valid_rows_once(dora, north, north_2, data_manager_a):
    recorded_esr(north)
    page = preview_of(dora, good_file(north, north_2) + "CRMO-000042,esr,2026-11-20,12,,,\n")
    counts = ("to_add", "already_recorded", "repeated", "invalid")
    assert [page.context[count] for count in counts] == [2, 1, 1, 0]
    assert "Confirm import of 2 results" in page.content.decode()
    # The upload answers with the preview: its form confirms on the preview's address.
    assert f'<form method="post" action="{PREVIEW}"' in page.content.decode()

    done = confirm(dora)

    assert done.status_code == 200
    assert (
        "2 results added; 1 already recorded, not added again; 1 repeating an earlier row, "
        "not added twice."
    ) in done.content.decode()
    assert sorted(
        (r.patient.registry_code, r.analyte, r.value, r.unit, r.history.get().history_user)
        for r in LabResult.objects.exclude(analyte="esr")
    ) == [
        ("CRMO-000042", "crp", Decimal("3.200"), "mg/L", data_manager_a),
        ("CRMO-000043", "ifx_trough", Decimal("4.500"), "µg/mL", data_manager_a),
    ]
    assert [(p.registry_code, p.added) for p in done.context["added"]] == [
        ("CRMO-000042", 1),
        ("CRMO-000043", 1),
    ]
    assert SESSION_KEY not in dora.session


def test_confirming_again_adds_nothing(dora, north, north_2):
    preview_of(dora, good_file(north, north_2))
    token = dora.session[SESSION_KEY]["token"]
    confirm(dora, token)
    assert LabResult.objects.count() == 3

    again = confirm(dora, token)

    assert again.status_code == 302
    assert again["Location"] == UPLOAD
    assert "This preview is no longer current" in dora.get(UPLOAD).content.decode()
    # The same file uploaded again: every row already recorded, nothing to confirm.
    page = preview_of(dora, good_file(north, north_2))
    assert (page.context["to_add"], page.context["already_recorded"]) == (0, 3)
    assert "Nothing new: every result of this file is already recorded." in page.content.decode()
    assert "Confirm import" not in page.content.decode()
    assert LabResult.objects.count() == 3


def test_confirm_imports_the_file_the_session_holds_not_an_older_preview(dora, north, north_2):
    preview_of(dora, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\n")
    first_token = dora.session[SESSION_KEY]["token"]
    preview_of(dora, HEADER + "CRMO-000043,crp,2026-11-20,8,,,\n")

    stale = dora.post(
        PREVIEW, {"token": first_token, "confirm": "", "rows": "CRMO-000043,crp,2026-11-20,99"}
    )

    assert stale.status_code == 302
    assert stale["Location"] == UPLOAD
    assert LabResult.objects.count() == 0
    confirm(dora)
    assert [(r.patient_id, r.value) for r in LabResult.objects.all()] == [
        (north_2.pk, Decimal("8.000"))
    ]


def test_a_long_file_s_preview_lists_every_error_and_the_first_rows(dora, north, monkeypatch):
    monkeypatch.setattr(lab_import, "PREVIEW_ROWS_SHOWN", 3)
    days = [f"2026-11-{day:02d}" for day in range(1, 8)]
    rows = [f"CRMO-000042,crp,{day},3.2,,,\n" for day in days] + ["CRMO-000042,crp,,3,,,\n"]

    page = preview_of(dora, HEADER + "".join(rows))

    assert list(outcomes(page)) == [1, 2, 3, 8]
    assert (page.context["to_add"], page.context["invalid"]) == (7, 1)
    assert "4 more rows without errors, not listed here (counted above)." in page.content.decode()


def test_cancel_forgets_the_file(dora, north):
    preview_of(dora, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\n")

    dora.post(PREVIEW, {"token": dora.session[SESSION_KEY]["token"], "cancel": ""})

    assert SESSION_KEY not in dora.session
    assert LabResult.objects.count() == 0
    assert dora.get(PREVIEW)["Location"] == UPLOAD


# --- Who may import -----------------------------------------------------------------------------


def test_a_researcher_is_refused(client, researcher_a):
    client.force_login(researcher_a)

    assert client.get(UPLOAD).status_code == 403
    assert client.get(TEMPLATE).status_code == 403
    assert client.get(PREVIEW).status_code == 403
    assert upload(client, HEADER).status_code == 403


def test_a_visitor_signs_in_first(client):
    assert client.get(UPLOAD)["Location"].startswith(reverse("login"))


def test_a_nurse_imports_as_the_api_lets_them_and_only_for_their_sites(
    client, nurse_b, north, south
):
    # Nurses record lab results (registry.roles), so they may import them, as through the API.
    client.force_login(nurse_b)
    page = preview_of(
        client, HEADER + "CRMO-000077,crp,2026-11-20,3.2,,,\nCRMO-000042,crp,2026-11-20,3,,,\n"
    )

    assert outcomes(page) == {
        1: ("new", []),
        2: ("invalid", [("registry_code", UNKNOWN.format("CRMO-000042"))]),
    }


def test_the_menu_offers_lab_import_to_those_who_may_import(client, dora, researcher_a):
    assert f'href="{UPLOAD}"' in dora.get(reverse("clinic:patients")).content.decode()
    other = Client()
    other.force_login(researcher_a)
    assert f'href="{UPLOAD}"' not in other.get(reverse("clinic:research:exports")).content.decode()


def test_the_admin_index_links_to_the_lab_import(dora):
    index = dora.get(reverse("admin:index"))

    assert index.status_code == 200
    assert f'<a href="{UPLOAD}">Lab import</a>' in index.content.decode()


def test_the_upload_checks_csrf(data_manager_a, north):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(data_manager_a)

    assert upload(strict, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\n").status_code == 403
    assert SESSION_KEY not in strict.session


# --- What the upload reads ------------------------------------------------------------------------


def test_a_byte_order_mark_and_any_column_order_are_fine(dora, north):
    page = preview_of(
        dora, "\ufeffvalue,collected_on,analyte,registry_code\n3.2,2026-11-20,crp,CRMO-000042\n"
    )

    assert outcomes(page) == {1: ("new", [])}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"registry_code;analyte\nCRMO-000042;crp\n", "separated by semicolons"),
        ("registry_code,analyte\nCRMO-000042,Réaction\n".encode("latin-1"), "not UTF-8 text"),
        (HEADER.encode(), "The file has no results under its header line."),
        (b"registry_code,analyte,analyte\nx,y,z\n", "The header names analyte more than once."),
        (b"", "Choose a CSV file to upload."),
    ],
)
def test_a_file_it_cannot_read_is_refused_with_the_reason(dora, content, message):
    refused = upload(dora, content)

    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert SESSION_KEY not in dora.session


def test_more_rows_than_one_import_takes_are_refused(dora, north, settings):
    settings.LAB_IMPORT_MAX_ROWS = 2

    refused = upload(dora, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\n" * 3)

    assert refused.status_code == 400
    assert "The file has more than 2 rows: one import takes at most 2. Split the file." in (
        refused.content.decode()
    )
    assert SESSION_KEY not in dora.session


# 3 rows: the upload is stopped as its bytes arrive; 3,000 (over 100 kB): by its declared length,
# before anything reads it.
@pytest.mark.parametrize("rows", [3, 3000])
def test_a_larger_file_than_one_import_takes_is_refused_before_it_is_kept(
    dora, north, settings, rows
):
    settings.LAB_IMPORT_MAX_BYTES = 100

    refused = upload(dora, HEADER + "CRMO-000042,crp,2026-11-20,3.2,,,\n" * rows)

    assert refused.status_code == 413
    assert "The file is larger than 100 bytes" in refused.content.decode()
    assert SESSION_KEY not in dora.session
