"""Migrations 0004–0006: the free-text intensification reason moves into the infusion's notes
(word for word, no regimen change invented), and a weight without its date gets the infusion's
date (what an empty one meant)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.registry.test_lab_result_migration import migrate, migrate_to_latest

BEFORE = [("registry", "0004_entry_safeguards")]  # the new fields, the data not yet moved
AFTER = [("registry", "0006_entry_safeguards_constraints")]


@pytest.fixture
def before_0004(transactional_db) -> Iterator[Any]:
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()


def test_it_keeps_the_reasons_and_dates_the_weights(before_0004):
    apps = before_0004
    site = apps.get_model("registry", "Site").objects.create(code="north", name="North")
    patient = apps.get_model("registry", "Patient").objects.create(
        site=site,
        registry_code="CRMO-000001",
        mrn="A1",
        given_name="Ada",
        family_name="Example",
        date_of_birth=dt.date(2012, 3, 14),
        sex="female",
    )
    course = apps.get_model("registry", "TreatmentCourse").objects.create(
        patient=patient, started_on=dt.date(2025, 1, 6), induction_weeks=[0, 2, 6]
    )
    infusions = apps.get_model("registry", "Infusion").objects
    intensified = infusions.create(
        course=course,
        given_on=dt.date(2025, 1, 6),
        weight_kg=Decimal("40"),
        dose_mg=Decimal("500"),
        intensification_reason="Refractory; trough 1.2 µg/mL",
        notes="Slow rate.",
    )
    weighed_earlier = infusions.create(
        course=course,
        given_on=dt.date(2025, 1, 20),
        weight_kg=Decimal("40"),
        weight_measured_on=dt.date(2025, 1, 6),
        dose_mg=Decimal("200"),
    )

    apps = migrate(AFTER)

    rows = apps.get_model("registry", "Infusion").objects
    assert rows.get(pk=intensified.pk).notes == (
        "Slow rate.\nIntensification reason (recorded with the dose): Refractory; trough 1.2 µg/mL"
    )
    assert rows.get(pk=intensified.pk).weight_measured_on == dt.date(2025, 1, 6)
    assert rows.get(pk=weighed_earlier.pk).weight_measured_on == dt.date(2025, 1, 6)
    assert not apps.get_model("registry", "RegimenChange").objects.exists()  # none invented
