"""Reads scoped to what a person may see: their sites, through their staff memberships."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, Model, OuterRef, QuerySet

from registry.models import (
    CONSENT_SCOPE_FIELDS,
    STAFF_ROLES,
    Consent,
    Patient,
    Site,
    consent_in_force_q,
)


def staff_site_ids(user: Any) -> set[int]:
    """Sites whose identified records the user may see (researchers see none)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Site.objects.values_list("pk", flat=True))
    return set(user.memberships.filter(role__in=STAFF_ROLES).values_list("site_id", flat=True))


def sites_for(user: Any) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=staff_site_ids(user))


def patients_for(user: Any) -> QuerySet[Patient]:
    return Patient.objects.filter(site_id__in=staff_site_ids(user))


def patient_prefix(model: type[Model], site_path: str) -> str | None:
    """The ORM prefix from a row of `model` to its patient ("" for a patient, "course__patient__"
    for an infusion), from the path to its site; None for rows of no patient (a site, a
    membership, a site's guideline)."""
    if model is Patient:
        return ""
    if site_path == "patient__site" or site_path.endswith("__patient__site"):
        return site_path.removesuffix("site")
    return None


# --- Consent -------------------------------------------------------------------------------------


def consents_in_force(scope: str, on: dt.date) -> QuerySet[Consent]:
    """The consent records that hold `scope` on `on`: given on or before it, not withdrawn by it."""
    return Consent.objects.filter(consent_in_force_q(scope, on))


def consent_in_force(patient: Patient, scope: str, on: dt.date) -> bool:
    """Whether any of the patient's consent records holds `scope` on `on`."""
    return consents_in_force(scope, on).filter(patient=patient).exists()


def with_consent_in_force(
    patients: QuerySet[Patient], scope: str, on: dt.date
) -> QuerySet[Patient]:
    """The patients of `patients` with `scope` in force on `on` (one query, a subquery each)."""
    held = consents_in_force(scope, on).filter(patient=OuterRef("pk"))
    return patients.filter(Exists(held))


def patient_consents(patient: Patient) -> list[Consent]:
    """The patient's consent records with their documents, the latest given first."""
    return list(patient.consents.select_related("document").order_by("-given_on", "-pk"))


def consent_by_scope(
    patient: Patient, on: dt.date, records: list[Consent] | None = None
) -> dict[str, Consent | None]:
    """Each scope's consent in force on `on` (the latest given, if several), or None: what the
    patient page shows. `records`: `patient_consents(patient)`, if already read."""
    if records is None:
        records = patient_consents(patient)
    return {
        scope: next((c for c in records if c.in_force(scope, on)), None)
        for scope in CONSENT_SCOPE_FIELDS
    }
