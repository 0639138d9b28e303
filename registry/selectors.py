"""Reads scoped to what a person may see: their sites, through their staff memberships."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from registry.models import STAFF_ROLES, Patient, Site


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
