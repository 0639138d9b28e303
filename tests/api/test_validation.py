"""Bad input: a 400 in one format ({"detail", "errors": {field: [messages]}}), nothing saved."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import Infusion, LabResult, Patient
from tests.api.conftest import Record

pytestmark = pytest.mark.django_db

REFUSED = "Invalid input: nothing was saved."


def infusion(record: Record, **fields: Any) -> dict[str, Any]:
    return {
        "course": record.course.pk,
        "given_on": "2026-11-20",
        "weight_kg": "40",
        "weight_measured_on": "2026-11-20",
        "dose_mg": "200",
        **fields,
    }


def lab(record: Record, **fields: Any) -> dict[str, Any]:
    return {
        "patient": record.patient.pk,
        "collected_on": "2026-11-20",
        "analyte": "crp",
        "value": "3.2",
        **fields,
    }


def counts() -> tuple[int, int, int]:
    return Infusion.objects.count(), LabResult.objects.count(), Patient.objects.count()


@pytest.fixture
def unchanged(record_a):
    """Whatever the test sends, no row is added."""
    before = counts()
    yield
    assert counts() == before


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "body",
    ['{"course": 1, "given_on": ', "{'course': 1}", "not json at all", '{"a": 1} trailing'],
    ids=["truncated", "single-quotes", "text", "trailing-garbage"],
)
def test_malformed_json(body, as_nurse):
    refused = as_nurse.post("/api/v1/infusions/", body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("JSON parse error")
    assert refused.json()["errors"] == {}


def test_a_body_that_is_not_an_object(record_a, as_nurse, unchanged):
    refused = as_nurse.post("/api/v1/infusions/", [infusion(record_a)], format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": REFUSED,
        "errors": {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
    }


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("resource", "fields", "errors"),
    [
        # Wrong types
        ("infusions", {"weight_kg": "heavy"}, {"weight_kg": ["A valid number is required."]}),
        ("infusions", {"weight_kg": [40]}, {"weight_kg": ["A valid number is required."]}),
        ("infusions", {"course": "first"}, {"course": ["Incorrect type. Expected pk value, "
                                                       "received str."]}),
        ("infusions", {"course": 999_999_999}, {"course": ['Invalid pk "999999999" - object '
                                                          "does not exist."]}),
        ("infusions", {"duration_minutes": "two hours"},
         {"duration_minutes": ["A valid integer is required."]}),
        ("infusions", {"premedication_antihistamine": "maybe"},
         {"premedication_antihistamine": ["Must be a valid boolean."]}),
        ("infusions", {"given_on": 20261124}, {"given_on": [
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ("infusions", {"dose_mg": None}, {"dose_mg": ["This field may not be null."]}),
        ("lab-results", {"analyte": "glucose"}, {"analyte": ['"glucose" is not a valid choice.']}),
        # Unknown and read-only fields
        ("infusions", {"colour": "red"}, {"colour": ["Unknown or read-only field."]}),
        ("infusions", {"mg_per_kg": "5"}, {"mg_per_kg": ["Unknown or read-only field."]}),
        ("infusions", {"id": 1, "created_at": "2026-01-01T00:00:00Z"}, {
            "created_at": ["Unknown or read-only field."], "id": ["Unknown or read-only field."]}),
        # Out of range: the model's own messages
        ("infusions", {"weight_kg": "500.00"}, {"weight_kg": [
            "A weight of 500.00 kg is outside 0.5–250 kg; check the unit (kg, not lb or g)."]}),
        ("infusions", {"weight_kg": "1000"}, {"weight_kg": [
            "Ensure that there are no more than 3 digits before the decimal point."]}),
        ("infusions", {"dose_mg": "-200.0"}, {"dose_mg": ["The dose must be more than 0 mg."]}),
        ("infusions", {"duration_minutes": 0}, {"duration_minutes": [
            "The duration must be more than 0 minutes."]}),
        ("infusions", {"duration_minutes": -5}, {"duration_minutes": [
            "Ensure this value is greater than or equal to 0."]}),
        ("lab-results", {"analyte": "esr", "value": "250.000"}, {"value": [
            "250.000 mm/h is above the physical maximum of 200 mm/h; check the value and its "
            "unit."]}),
        ("lab-results", {"unit": "mmol/L"}, {"unit": [
            "CRP (mg/L) is recorded in mg/L, not mmol/L: convert the value to mg/L, or leave the "
            "unit empty."]}),
        ("lab-results", {"analyte": "anti_ifx", "antibodies_positive": True, "value": None,
                         "unit": "Quillfeather"}, {"unit": [
            "Quillfeather is not a unit of Anti-infliximab antibodies results: choose one of "
            "AU/mL, ng/mL, µg/mL, U/mL, titre, or none."]}),
        ("lab-results", {"value": "-1.000"}, {"value": ["CRP (mg/L) cannot be negative."]}),
        ("lab-results", {"value": None}, {"value": ["Enter the CRP (mg/L) value."]}),
        ("assessments", {"assessed_on": "2026-11-20", "pain_score": "11.0"}, {"pain_score": [
            "Scores run from 0 to 10; 11.0 is outside that."]}),
        # Dates: ISO 8601 only, and never in the future
        ("infusions", {"given_on": "24/11/2026"}, {"given_on": [
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ("infusions", {"given_on": "2026-02-30"}, {"given_on": [
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ("infusions", {"given_on": "2026-11-25"}, {"given_on": [
            "25 Nov 2026 is in the future; record what has happened."]}),
        ("lab-results", {"collected_on": "2027-01-01"}, {"collected_on": [
            "01 Jan 2027 is in the future; record what has happened."]}),
    ],
)  # fmt: skip
def test_bad_fields(resource, fields, errors, record_a, as_clinician):
    body = (infusion if resource == "infusions" else lab)(record_a, **fields)
    if resource == "assessments":
        body = {"patient": record_a.patient.pk, **fields}
    refused = as_clinician.post(f"/api/v1/{resource}/", body, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json() == {"detail": REFUSED, "errors": errors}


def test_missing_required_fields(record_a, as_clinician, unchanged):
    refused = as_clinician.post("/api/v1/patients/", {}, format="json")
    assert refused.status_code == 400
    required = ("site", "mrn", "given_name", "family_name", "date_of_birth", "sex")
    assert refused.json()["errors"] == {key: ["This field is required."] for key in required}


def test_several_errors_come_together(record_a, as_nurse, unchanged):
    refused = as_nurse.post(
        "/api/v1/infusions/",
        infusion(record_a, weight_kg="500.00", given_on="2026-12-01", colour="red"),
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"colour": ["Unknown or read-only field."]}
    refused = as_nurse.post(
        "/api/v1/infusions/",
        infusion(record_a, weight_kg="500.00", given_on="2026-12-01"),
        format="json",
    )
    assert set(refused.json()["errors"]) == {"weight_kg", "given_on"}


def test_a_bad_correction_changes_nothing(record_a, as_nurse):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    read = as_nurse.get(url)
    for change in (
        {"weight_kg": "500.00"},
        {"given_on": "24/11/2026"},
        {"given_on": "2026-12-24"},
        {"colour": "red"},
    ):
        refused = as_nurse.patch(url, change, format="json", headers={"If-Match": read["ETag"]})
        assert refused.status_code == 400
        assert set(refused.json()["errors"]) == set(change)
    assert as_nurse.get(url).json() == read.json()
    assert Infusion.objects.get(pk=record_a.infusion.pk).history.count() == 1


def test_other_errors_keep_the_format(record_a, as_nurse):
    missing = as_nurse.get("/api/v1/infusions/999999999/")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "No Infusion matches the given query."},
    )
    wrong_type = as_nurse.post("/api/v1/infusions/", "course=1", content_type="text/plain")
    assert wrong_type.status_code == 415
    assert set(wrong_type.json()) == {"detail"}


@pytest.mark.parametrize(
    ("fields", "unit"),
    [
        ({}, "mg/L"),  # a fixed unit is set
        ({"unit": "mg/L"}, "mg/L"),
        ({"analyte": "anti_ifx", "antibodies_positive": True, "value": "48", "unit": "AU/mL"},
         "AU/mL"),
        ({"analyte": "anti_ifx", "antibodies_positive": False, "value": None, "unit": ""}, ""),
        ({"analyte": "other", "analyte_name": "Neutrophils", "value": "2.1", "unit": "×10⁹/L"},
         "×10⁹/L"),
    ],
)  # fmt: skip
def test_a_lab_result_is_recorded_in_one_of_its_test_s_units(fields, unit, record_a, as_nurse):
    created = as_nurse.post("/api/v1/lab-results/", lab(record_a, **fields), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["unit"] == unit
