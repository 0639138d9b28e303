"""Methotrexate's safety bloods over the API: a neutrophil or platelet count or an ALT recorded in
its unit, refused out of its physical range or in another unit, and imported in bulk."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import LabResult
from tests.api.conftest import Record

pytestmark = pytest.mark.django_db

URL, IMPORT = "/api/v1/lab-results/", "/api/v1/lab-results/import/"
REFUSED = "Invalid input: nothing was saved."


def blood(record: Record, analyte: str, value: str | None, **fields: Any) -> dict[str, Any]:
    return {"patient": record.patient.pk, "collected_on": "2026-11-20", "analyte": analyte,
            "value": value, **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "stored"),
    [("neutrophils", "1.8", "", "×10⁹/L"), ("platelets", "412", "×10⁹/L", "×10⁹/L"),
     ("alt", "35", "IU/L", "U/L")],
)  # fmt: skip
def test_it_records_them_in_their_unit(analyte, value, unit, stored, record_a, as_nurse):
    created = as_nurse.post(URL, blood(record_a, analyte, value, unit=unit), format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["analyte"], created.json()["unit"]) == (analyte, stored)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"analyte": "neutrophils", "value": "1800"}, {"value": [
            "1800.000 ×10⁹/L is above the physical maximum of 300 ×10⁹/L; check the value and its "
            "unit."]}),
        ({"analyte": "platelets", "value": "-3"}, {"value": [
            "Platelet count (×10⁹/L) cannot be negative."]}),
        ({"analyte": "alt", "value": None}, {"value": ["Enter the ALT (U/L) value."]}),
        ({"analyte": "alt", "value": "35", "unit": "µmol/L"}, {"unit": [
            "ALT (U/L) is recorded in U/L, not µmol/L: convert the value to U/L, or leave the "
            "unit empty."]}),
        ({"analyte": "platelets", "value": "412", "unit": "per microlitre"}, {"unit": [
            "Platelet count (×10⁹/L) is recorded in ×10⁹/L, not per microlitre: convert the "
            "value to ×10⁹/L, or leave the unit empty."]}),
    ],
)  # fmt: skip
def test_it_refuses_bad_input_at_its_field(fields, errors, record_a, as_nurse):
    before = LabResult.objects.count()
    refused = as_nurse.post(URL, blood(record_a, **fields), format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": REFUSED, "errors": errors}
    assert LabResult.objects.count() == before


def test_the_import_takes_them_and_refuses_a_row_in_another_unit(record_a, as_nurse):
    patient = record_a.patient.pk
    header = "patient,collected_on,analyte,value,unit"
    good = [f"{patient},2026-11-20,neutrophils,2.2,10^9/L", f"{patient},2026-11-20,alt,19,U/L"]
    refused = as_nurse.post(
        IMPORT, "\n".join([header, *good, f"{patient},2026-11-20,platelets,0.3,x10^12/L"]),
        content_type="text/csv",
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["errors"]["rows"] == [
        {"row": 3, "errors": {"unit": [
            "Platelet count (×10⁹/L) is recorded in ×10⁹/L, not ×10¹²/L: convert the value to "
            "×10⁹/L, or leave the unit empty."]}},
    ]  # fmt: skip
    created = as_nurse.post(IMPORT, "\n".join([header, *good]), content_type="text/csv")
    assert created.status_code == 201, created.json()
    assert sorted(
        LabResult.objects.filter(patient=record_a.patient, analyte__in=["neutrophils", "alt"])
        .values_list("analyte", "unit")
    ) == [("alt", "U/L"), ("neutrophils", "×10⁹/L")]  # fmt: skip


def test_the_schema_names_them_and_their_units(as_nurse):
    schema = as_nurse.get("/api/schema/", {"format": "json"}).json()
    lab = schema["components"]["schemas"]["LabResult"]["properties"]
    assert "Neutrophil count ×10⁹/L, Platelet count ×10⁹/L, ALT U/L" in lab["unit"]["description"]
    analytes = schema["components"]["schemas"]["AnalyteEnum"]["enum"]
    assert {"neutrophils", "platelets", "alt"} <= set(analytes)
