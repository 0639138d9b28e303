"""Migrations 0007–0009: every typed lab unit becomes a managed one; a unit that cannot be mapped
is kept word for word for review (never dropped), and then the database refuses free units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from tests.registry.test_lab_result_migration import migrate, migrate_to_latest

BEFORE = [("registry", "0007_lab_unit_codes")]  # the new field, the units still as typed
AFTER = [("registry", "0009_lab_unit_codes_constraint")]


@pytest.fixture
def before_0008(transactional_db) -> Iterator[Any]:
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()


def _patient(apps: Any) -> Any:
    site = apps.get_model("registry", "Site").objects.create(code="north", name="North")
    return apps.get_model("registry", "Patient").objects.create(
        site=site,
        registry_code="CRMO-000001",
        mrn="A1",
        given_name="Ada",
        family_name="Example",
        date_of_birth=dt.date(2012, 3, 14),
        sex="female",
    )


# (analyte, unit as typed) -> (unit, unit_to_review) after the migration
TYPED = {
    ("crp", "mg/l"): ("mg/L", ""),
    ("crp", ""): ("mg/L", ""),
    ("crp", "mg/dL"): ("mg/L", "mg/dL"),  # the value may be in mg/dL: kept, to review
    ("esr", "mm/hr"): ("mm/h", ""),
    ("ifx_trough", "mcg/mL"): ("µg/mL", ""),
    ("anti_ifx", "au/ml"): ("AU/mL", ""),
    ("anti_ifx", "ug/ml"): ("µg/mL", ""),
    ("anti_ifx", "\u03bcg/ml"): ("µg/mL", ""),  # Greek mu
    ("anti_ifx", "Titer"): ("titre", ""),
    ("anti_ifx", ""): ("", ""),
    ("anti_ifx", "Quillfeather"): ("", "Quillfeather"),  # a name typed as a unit
    ("anti_ifx", "mmol/L"): ("", "mmol/L"),  # a unit, but none of the antibodies'
    ("other", "10^9/l"): ("×10⁹/L", ""),
    ("other", "x10e12/L"): ("×10¹²/L", ""),
    ("other", " MMOL/L "): ("mmol/L", ""),
    ("other", "iu/ml"): ("IU/mL", ""),
    ("other", "mg%"): ("", "mg%"),
}


def test_it_maps_every_typed_unit_and_keeps_what_it_cannot_map(before_0008):
    apps = before_0008
    patient = _patient(apps)
    results = apps.get_model("registry", "LabResult").objects
    history = apps.get_model("registry", "HistoricalLabResult").objects
    ids = {}
    for n, (analyte, typed) in enumerate(TYPED, start=1):
        fields: dict[str, Any] = {"analyte": analyte, "unit": typed, "value": Decimal(n)}
        if analyte == "anti_ifx":
            fields["antibodies_positive"] = True
        if analyte == "other":
            fields["analyte_name"] = f"Test {n}"
        result = results.create(patient=patient, collected_on=dt.date(2025, 1, 6), **fields)
        history.create(
            **{f: getattr(result, f) for f in ("id", "patient_id", "collected_on", *fields)},
            created_at=result.created_at,
            updated_at=result.updated_at,
            history_date=result.created_at,
            history_type="+",
        )
        ids[analyte, typed] = result.pk

    apps = migrate(AFTER)

    results = apps.get_model("registry", "LabResult").objects
    history = apps.get_model("registry", "HistoricalLabResult").objects
    for key, expected in TYPED.items():
        assert results.values_list("unit", "unit_to_review").get(pk=ids[key]) == expected, key
        assert history.values_list("unit", "unit_to_review").get(id=ids[key]) == expected, key
    with pytest.raises(IntegrityError, match="lab_unit_of_its_analyte"), transaction.atomic():
        results.filter(pk=ids["anti_ifx", "au/ml"]).update(unit="Quillfeather")
    with pytest.raises(IntegrityError, match="lab_unit_of_its_analyte"), transaction.atomic():
        results.filter(pk=ids["crp", "mg/l"]).update(unit="mg/dL")


def test_going_back_puts_the_kept_text_back(before_0008):
    apps = before_0008
    results = apps.get_model("registry", "LabResult").objects
    kept = results.create(
        patient=_patient(apps),
        collected_on=dt.date(2025, 1, 6),
        analyte="anti_ifx",
        antibodies_positive=True,
        unit="Quillfeather",
    )
    migrate(AFTER)

    apps = migrate([("registry", "0006_entry_safeguards_constraints")])

    assert apps.get_model("registry", "LabResult").objects.get(pk=kept.pk).unit == "Quillfeather"
