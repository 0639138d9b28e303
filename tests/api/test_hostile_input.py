"""Input no field can store or no request needs: a NUL character (PostgreSQL text cannot hold
one) and JSON nested deep are refused with a 400 in the API's error format, never a 500, at every
way in: a create, an update, the lab import (JSON, CSV body, CSV upload) and the query string.
And no /api/ answer may be kept by a cache: Cache-Control: no-store."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.parsers import MAX_JSON_DEPTH, NUL_REFUSED, TOO_DEEP
from registry.models import LabResult, Patient
from tests.api.conftest import Record

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
IMPORT = "/api/v1/lab-results/import/"
PARSE_ERROR = {"detail": NUL_REFUSED, "errors": {}}


def nested(depth: int) -> Any:
    """A string inside `depth` lists."""
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def nested_text(depth: int, key: str | None = None) -> str:
    """JSON text of the same (written out: json.dumps itself gives up past about 1,000 levels),
    as a field of an object when `key` is given."""
    lists = "[" * depth + '"deep"' + "]" * depth
    return lists if key is None else f'{{"{key}": {lists}}}'


def new_patient(record: Record, **changes: Any) -> dict[str, Any]:
    return {
        "site": record.site.code,
        "mrn": "MRN-NEW",
        "given_name": "Ada",
        "family_name": "Byron",
        "date_of_birth": "2014-05-01",
        "sex": "female",
        **changes,
    }


# --- NUL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"family_name": "By\x00ron"},
        {"site": "north\x00"},  # a slug looked up in the database
        {"sex": "\x00"},
        {"note\x00": "a key"},
        {"family_name": ["By\x00ron"]},
    ],
    ids=["text", "slug", "choice", "key", "nested"],
)
def test_a_create_with_a_nul_is_refused(changes, record_a, as_clinician):
    before = Patient.objects.count()
    response = as_clinician.post(PATIENTS, new_patient(record_a, **changes), format="json")
    assert (response.status_code, response.json()) == (400, PARSE_ERROR)
    assert Patient.objects.count() == before


def test_a_form_encoded_create_with_a_nul_is_refused(record_a, as_clinician):
    body = new_patient(record_a, site="north\x00")
    response = as_clinician.post(PATIENTS, body)  # application/x-www-form-urlencoded
    assert (response.status_code, response.json()) == (400, PARSE_ERROR)


def test_an_update_with_a_nul_is_refused(record_a, as_clinician):
    url = f"{PATIENTS}{record_a.patient.pk}/"
    etag = as_clinician.get(url)["ETag"]
    response = as_clinician.patch(
        url, {"site": "south\x00"}, format="json", headers={"If-Match": etag}
    )
    assert (response.status_code, response.json()) == (400, PARSE_ERROR)
    record_a.patient.refresh_from_db()
    assert record_a.patient.site == record_a.site


def test_a_json_import_with_a_nul_is_refused(record_a, as_nurse):
    rows = [{"patient": record_a.patient.pk, "collected_on": "2026-11-20", "analyte": "crp\x00"}]
    response = as_nurse.post(IMPORT, rows, format="json")
    assert (response.status_code, response.json()) == (400, PARSE_ERROR)


CSV_WITH_NUL = "registry_code,collected_on,analyte,value\nCRMO-1\x00,2026-11-20,crp,3\n"


def test_a_csv_import_with_a_nul_is_refused(record_a, as_nurse):
    response = as_nurse.post(IMPORT, CSV_WITH_NUL, content_type="text/csv")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Row 1 holds a NUL character, which no field can store: send CSV as UTF-8 text.",
        "errors": {},
    }
    assert not LabResult.objects.filter(collected_on="2026-11-20").exists()


def test_a_csv_upload_with_a_nul_is_refused(record_a, as_nurse):
    for body in (CSV_WITH_NUL, "registry_code\x00,analyte\n"):
        upload = {"file": SimpleUploadedFile("results.csv", body.encode(), "text/csv")}
        response = as_nurse.post(IMPORT, upload, format="multipart")
        assert response.status_code == 400, response.json()
        assert "holds a NUL character" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "search=%00",
        "mrn=%00",
        "registry_code=CRMO%00",
        "site=north%00",
        "ordering=%00",
        "page=%00",
        "%00=1",
    ],
)
@pytest.mark.parametrize("url", [PATIENTS, "/api/v1/alerts/", "/api/v1/lab-results/"])
def test_a_query_with_a_nul_is_refused(url, query, record_a, as_nurse):
    response = as_nurse.get(f"{url}?{query}")
    assert response.status_code == 400
    name = query.split("=")[0].replace("%00", "\x00")
    assert response.json() == {
        "detail": "Invalid filter: nothing was selected.",
        "errors": {name: ["Null characters are not allowed."]},
    }


def test_a_query_with_a_nul_is_refused_on_a_write_too(record_a, as_nurse):
    response = as_nurse.post(f"{IMPORT}?note=%00", [], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"note": ["Null characters are not allowed."]}


# --- Deep JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 5_000, 100_000])
def test_a_create_nested_too_deep_is_refused(depth, record_a, as_clinician):
    body = nested_text(depth, key="family_name")  # one level more: the object
    response = as_clinician.post(PATIENTS, body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": TOO_DEEP, "errors": {}})


def test_json_as_deep_as_allowed_is_read(record_a, as_clinician):
    """The limit refuses depth, not a body: MAX_JSON_DEPTH levels get the serializer's answer."""
    body = new_patient(record_a, family_name=nested(MAX_JSON_DEPTH - 1))
    response = as_clinician.post(PATIENTS, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["family_name"] == ["Not a valid string."]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_an_import_nested_too_deep_is_refused(depth, record_a, as_nurse):
    response = as_nurse.post(IMPORT, nested_text(depth), content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": TOO_DEEP, "errors": {}})


def test_an_update_nested_too_deep_is_refused(record_a, as_clinician):
    url = f"{PATIENTS}{record_a.patient.pk}/"
    etag = as_clinician.get(url)["ETag"]
    response = as_clinician.patch(
        url,
        nested_text(50_000, key="family_name"),
        content_type="application/json",
        headers={"If-Match": etag},
    )
    assert (response.status_code, response.json()) == (400, {"detail": TOO_DEEP, "errors": {}})


# --- No caching -----------------------------------------------------------------------------------


def test_no_api_answer_may_be_cached(record_a, as_nurse, client):
    answers = [
        as_nurse.get(PATIENTS),
        as_nurse.get(f"{PATIENTS}{record_a.patient.pk}/"),
        as_nurse.get("/api/v1/no-such-thing/"),
        as_nurse.get(f"{PATIENTS}?mrn=%00"),
        as_nurse.post(PATIENTS, {}, format="json"),
        client.get(PATIENTS),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 400, 403, 401]
    for answer in answers:
        assert "no-store" in answer["Cache-Control"].split(", "), answer.status_code
