"""Migrations 0016–0018: stored lesion counts stay exactly as they were, marked "recorded without
sites"; no site is invented; the engine reads the same numbers; then the database refuses counts
that disagree with their source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("registry", "0019_retire_patient_consent_dates")]
AFTER = [("registry", "0022_lesion_counts_constraints")]


def migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.fixture
def before(transactional_db) -> Iterator[Any]:
    try:
        yield migrate(BEFORE)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_stored_counts_become_counts_recorded_without_sites(before):
    apps = before
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
    studies = apps.get_model("registry", "ImagingStudy").objects
    counted = studies.create(
        patient=patient,
        performed_on=dt.date(2025, 1, 6),
        modality="wb_mri",
        active_lesions=3,
        new_lesions=1,
    )
    only_new = studies.create(
        patient=patient, performed_on=dt.date(2025, 2, 6), modality="mri", new_lesions=0
    )
    uncounted = studies.create(patient=patient, performed_on=dt.date(2025, 3, 6), modality="xray")
    assessments = apps.get_model("registry", "ClinicalAssessment").objects
    assessed = assessments.create(
        patient=patient, assessed_on=dt.date(2025, 1, 6), clinically_active_lesions=2
    )
    not_counted = assessments.create(patient=patient, assessed_on=dt.date(2025, 2, 6))
    history = apps.get_model("registry", "HistoricalImagingStudy").objects
    history.create(
        id=counted.pk,
        patient_id=patient.pk,
        performed_on=counted.performed_on,
        modality="wb_mri",
        active_lesions=3,
        new_lesions=1,
        created_at=counted.created_at,
        updated_at=counted.updated_at,
        history_date=counted.created_at,
        history_type="+",
    )

    apps = migrate(AFTER)

    studies = apps.get_model("registry", "ImagingStudy").objects
    rows = {
        pk: (active, new, source)
        for pk, active, new, source in studies.values_list(
            "pk", "active_lesions", "new_lesions", "lesion_counts"
        )
    }
    assert rows == {
        counted.pk: (3, 1, "recorded"),
        only_new.pk: (None, 0, "recorded"),
        uncounted.pk: (None, None, ""),
    }
    assessments = apps.get_model("registry", "ClinicalAssessment").objects
    assert dict(assessments.values_list("pk", "lesion_counts")) == {
        assessed.pk: "recorded",
        not_counted.pk: "",
    }
    assert assessments.get(pk=assessed.pk).clinically_active_lesions == 2
    assert not apps.get_model("registry", "LesionSite").objects.exists()  # none invented
    (old,) = apps.get_model("registry", "HistoricalImagingStudy").objects.all()
    assert old.lesion_counts == "recorded"
    with pytest.raises(IntegrityError), transaction.atomic():
        studies.filter(pk=counted.pk).update(lesion_counts="")
