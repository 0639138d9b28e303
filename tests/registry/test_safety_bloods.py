"""Methotrexate's safety bloods as lab tests (the neutrophil and platelet counts, ALT): their fixed
units, LOINC codes and physical maxima, in the record (clean and the database's constraints), the
bulk import and the admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry import services
from registry.lab_import import LabImportRefused, RowError, lab_results_import
from registry.models import ANALYTE_LOINC, ANALYTE_MAXIMUM, ANALYTE_UNITS, LabResult
from tests.factories import LabResultFactory, PatientFactory, acting_superuser
from tests.registry.test_admin import form_data, form_errors, logged_in, url

pytestmark = pytest.mark.django_db

SAFETY_BLOODS = ("neutrophils", "platelets", "alt")


def record(analyte: str, value: str | None, unit: str = "", **fields) -> LabResult:
    return services.lab_result_record(
        patient=fields.pop("patient", None) or PatientFactory(),
        collected_on=dt.date(2026, 11, 2),
        analyte=analyte,
        value=None if value is None else Decimal(value),
        unit=unit,
        by=acting_superuser(),
        **fields,
    )


def refused(analyte: str, value: str | None, unit: str = "") -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        record(analyte, value, unit)
    assert not LabResult.objects.exists()
    return error.value.message_dict


def test_each_has_its_loinc_code_fixed_unit_and_physical_maximum():
    assert {a: ANALYTE_LOINC[a] for a in SAFETY_BLOODS} == {
        "neutrophils": "751-8",  # Neutrophils [#/volume] in Blood by Automated count
        "platelets": "777-3",  # Platelets [#/volume] in Blood by Automated count
        "alt": "1742-6",  # Alanine aminotransferase [Enzymatic activity/volume] in Serum/Plasma
    }
    assert {a: ANALYTE_UNITS[a] for a in SAFETY_BLOODS} == {
        "neutrophils": "×10⁹/L", "platelets": "×10⁹/L", "alt": "U/L",
    }  # fmt: skip
    assert {a: ANALYTE_MAXIMUM[a] for a in SAFETY_BLOODS} == {
        "neutrophils": Decimal("300"), "platelets": Decimal("5000"), "alt": Decimal("50000"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [("neutrophils", "0.4", "×10⁹/L"), ("platelets", "5000", ""), ("alt", "0", "U/L"),
     ("alt", "31", "IU/L")],
)  # fmt: skip
def test_it_records_them_in_their_unit(analyte, value, unit):
    result = record(analyte, value, unit)
    assert (result.unit, result.loinc) == (ANALYTE_UNITS[analyte], ANALYTE_LOINC[analyte])


@pytest.mark.parametrize(
    ("analyte", "value", "message"),
    [
        # A count per µL typed as ×10⁹/L: 4500 neutrophils/µL are 4.5 ×10⁹/L.
        ("neutrophils", "4500", "4500 ×10⁹/L is above the physical maximum of 300 ×10⁹/L; check "
         "the value and its unit."),
        ("platelets", "250000", "above the physical maximum of 5000 ×10⁹/L"),
        ("alt", "50001", "above the physical maximum of 50000 U/L"),
        ("platelets", "-1", "Platelet count (×10⁹/L) cannot be negative."),
        ("alt", None, "Enter the ALT (U/L) value."),
    ],
)  # fmt: skip
def test_it_refuses_a_value_outside_the_physical_range(analyte, value, message):
    [said] = refused(analyte, value)["value"]
    assert message in said


@pytest.mark.parametrize(
    ("analyte", "unit", "said"),
    [
        ("neutrophils", "%", "Neutrophil count (×10⁹/L) is recorded in ×10⁹/L, not %"),
        ("platelets", "×10¹²/L", "Platelet count (×10⁹/L) is recorded in ×10⁹/L, not ×10¹²/L"),
        ("alt", "mmol/L", "ALT (U/L) is recorded in U/L, not mmol/L"),
        ("alt", "Quillfeather", "ALT (U/L) is recorded in U/L, not Quillfeather"),
    ],
)
def test_it_refuses_another_unit_naming_the_test_s(analyte, unit, said):
    fixed = ANALYTE_UNITS[analyte]
    assert refused(analyte, "3", unit) == {
        "unit": [f"{said}: convert the value to {fixed}, or leave the unit empty."]
    }


@pytest.mark.parametrize(
    ("analyte", "fields", "constraint"),
    [
        ("neutrophils", {"value": Decimal("300.001")}, "lab_value_in_physical_range"),
        ("alt", {"value": None}, "lab_value_in_physical_range"),
        ("platelets", {"unit": "g/L"}, "lab_unit_of_its_analyte"),
        ("alt", {"unit": "IU/L"}, "lab_unit_of_its_analyte"),  # clean() stores it as U/L
    ],
)
def test_the_database_refuses_what_clean_refuses(analyte, fields, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        LabResultFactory(analyte=analyte, **fields)


# --- The import ---------------------------------------------------------------------------------


def row(patient, analyte: str, value: str, unit: str = "") -> dict[str, str]:
    return {"registry_code": patient.registry_code, "collected_on": "2026-11-20",
            "analyte": analyte, "value": value, "unit": unit}  # fmt: skip


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a, registry_code="CRMO-000042")


def test_the_import_stores_a_blood_count_and_alt_in_their_units(patient, nurse_a):
    rows = [
        row(patient, "neutrophils", "2.4", "10^9/l"),
        row(patient, "platelets", "233", "x10e9/L"),
        row(patient, "alt", "28", "iu/l"),
    ]
    imported = lab_results_import(rows=rows, by=nurse_a)
    assert imported.created == 3
    assert sorted(patient.lab_results.values_list("analyte", "value", "unit")) == [
        ("alt", Decimal("28.000"), "U/L"),
        ("neutrophils", Decimal("2.400"), "×10⁹/L"),
        ("platelets", Decimal("233.000"), "×10⁹/L"),
    ]


def test_the_import_refuses_rows_out_of_range_or_in_another_unit(patient, nurse_a):
    rows = [row(patient, "neutrophils", "4500"), row(patient, "platelets", "233", "10^3/uL"),
            row(patient, "alt", "28", "g/L"), row(patient, "alt", "")]  # fmt: skip
    with pytest.raises(LabImportRefused) as refusal:
        lab_results_import(rows=rows, by=nurse_a)
    assert list(refusal.value.errors) == [
        RowError(1, {"value": ["4500 ×10⁹/L is above the physical maximum of 300 ×10⁹/L; check "
                               "the value and its unit."]}),
        RowError(2, {"unit": ["Platelet count (×10⁹/L) is recorded in ×10⁹/L, not 10^3/uL: "
                              "convert the value to ×10⁹/L, or leave the unit empty."]}),
        RowError(3, {"unit": ["ALT (U/L) is recorded in U/L, not g/L: convert the value to U/L, "
                              "or leave the unit empty."]}),
        RowError(4, {"value": ["Enter the ALT (U/L) value."]}),
    ]  # fmt: skip
    assert not LabResult.objects.exists()


# --- The admin ----------------------------------------------------------------------------------


def add_lab(client, patient, **fields):
    data = form_data(client.get(url(LabResult, "add")))
    data |= {"patient": str(patient.pk), "collected_on": "2026-11-02"} | fields
    return client.post(url(LabResult, "add"), data)


def test_the_admin_adds_them_through_the_service_and_refuses_bad_input(patient, data_manager_a):
    client = logged_in(data_manager_a)
    choices = dict(client.get(url(LabResult, "add")).context["adminform"].form["analyte"]
                   .field.choices)  # fmt: skip
    assert {"neutrophils", "platelets", "alt"} <= set(choices)

    too_high = add_lab(client, patient, analyte="platelets", value="250000")
    wrong_unit = add_lab(client, patient, analyte="alt", value="20", unit="mg/L")
    added = add_lab(client, patient, analyte="neutrophils", value="1.2")

    assert form_errors(too_high)["value"] == [
        "250000 ×10⁹/L is above the physical maximum of 5000 ×10⁹/L; check the value and its unit."
    ]
    assert form_errors(wrong_unit)["unit"] == [
        "ALT (U/L) is recorded in U/L, not mg/L: convert the value to U/L, or leave the unit empty."
    ]
    assert added.status_code == 302, form_errors(added)
    result = patient.lab_results.get()
    assert (result.analyte, result.unit, result.history.get().history_user) == (
        "neutrophils", "×10⁹/L", data_manager_a,
    )  # fmt: skip
