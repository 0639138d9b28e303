"""Reads of the lab import's pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Max, Min

from registry.models import LabResult
from registry.selectors import patients_for


@dataclass(frozen=True)
class PatientResultsAdded:
    patient_id: int
    site_id: int
    registry_code: str
    name: str
    added: int
    first_on: dt.date
    last_on: dt.date


def imported_results(user: User, ids: Sequence[int]) -> list[PatientResultsAdded]:
    """The results an import added, per patient (of the user's sites), by registry code."""
    per_patient = (
        LabResult.objects.filter(pk__in=ids, patient__in=patients_for(user))
        .values(
            "patient_id",
            "patient__site_id",
            "patient__registry_code",
            "patient__family_name",
            "patient__given_name",
        )
        .annotate(added=Count("pk"), first_on=Min("collected_on"), last_on=Max("collected_on"))
        .order_by("patient__registry_code")
    )
    return [
        PatientResultsAdded(
            patient_id=row["patient_id"],
            site_id=row["patient__site_id"],
            registry_code=row["patient__registry_code"],
            name=f"{row['patient__family_name']}, {row['patient__given_name']}",
            added=row["added"],
            first_on=row["first_on"],
            last_on=row["last_on"],
        )
        for row in per_patient
    ]
