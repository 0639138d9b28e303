"""Migration 0003: the lab results stored twice by the old import are removed (the earliest row of
each kept, the removal in the history), then the database refuses duplicates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("registry", "0002_course_no_overlap_postgres")]
AFTER = [("registry", "0003_lab_result_no_duplicates")]
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def migrate(target: list[tuple[str, str]]) -> Any:
    """Migrate to `target`; the apps (historical models) as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def before_0003(transactional_db) -> Iterator[Any]:
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()  # the other tests expect the latest schema


def test_it_removes_the_duplicates_keeping_the_earliest(before_0003):
    apps = before_0003
    site = apps.get_model("registry", "Site").objects.create(code="north", name="North")
    patient = apps.get_model("registry", "Patient").objects.create(
        site=site,
        registry_code="CRMO-000001",
        mrn="M1",
        given_name="Ada",
        family_name="Example",
        date_of_birth=dt.date(2012, 3, 14),
        sex="female",
    )
    results = apps.get_model("registry", "LabResult").objects

    def result(minutes: int, **fields: Any) -> int:
        fields = {"collected_on": dt.date(2025, 1, 6), "analyte": "crp", "unit": "mg/L"} | fields
        pk = results.create(patient_id=patient.pk, **fields).pk
        results.filter(pk=pk).update(created_at=T0 + dt.timedelta(minutes=minutes))
        return pk

    # Imported twice (the second copy created first has the higher id: kept by time, not id).
    crp_late = result(5, value=Decimal("3.2"))
    crp_early = result(1, value=Decimal("3.200"))
    crp_copy = result(9, value=Decimal("3.2"), reference_high=Decimal("5"))
    antibody = result(1, analyte="anti_ifx", value=None, antibodies_positive=False, unit="")
    antibody_copy = result(2, analyte="anti_ifx", value=None, antibodies_positive=False, unit="")
    kept = [
        result(1, value=Decimal("3.3")),
        result(1, analyte="anti_ifx", value=None, antibodies_positive=True, unit=""),
        result(1, analyte="other", analyte_name="Ferritin", value=Decimal("20"), unit=""),
        result(1, analyte="other", analyte_name="Zinc", value=Decimal("20"), unit=""),
    ]

    apps = migrate(AFTER)

    results = apps.get_model("registry", "LabResult").objects
    assert sorted(results.values_list("pk", flat=True)) == sorted([crp_early, antibody, *kept])
    history = apps.get_model("registry", "HistoricalLabResult").objects
    removed = history.filter(history_type="-").order_by("id")
    assert [(h.id, h.history_change_reason, h.history_user_id) for h in removed] == [
        (crp_late, f"Duplicate of lab result {crp_early} (migration 0003)", None),
        (crp_copy, f"Duplicate of lab result {crp_early} (migration 0003)", None),
        (antibody_copy, f"Duplicate of lab result {antibody} (migration 0003)", None),
    ]
    assert removed.get(id=crp_copy).reference_high == Decimal("5")  # its values, in the history
    with pytest.raises(IntegrityError, match="lab_result_no_duplicates"), transaction.atomic():
        result(20, value=Decimal("3.2"))
