"""The guideline thresholds of registry's entry safeguards, from a site's effective parameters."""

from __future__ import annotations

from monitoring.guideline import DEFAULT, Guideline
from monitoring.models import SiteGuideline
from registry.safeguards import EntryThresholds


def site_guideline(site_id: int) -> Guideline:
    """The site's effective parameters (the defaults where it overrides nothing)."""
    row = SiteGuideline.objects.filter(site_id=site_id).first()
    return row.effective() if row else DEFAULT


def entry_thresholds(site_id: int) -> EntryThresholds:
    g = site_guideline(site_id)
    return EntryThresholds(
        implausible_dose_mg_per_kg=g.implausible_dose_mg_per_kg,
        max_dose_mg_per_kg=g.max_dose_mg_per_kg,
        dose_tolerance_pct=g.dose_tolerance_pct,
        weight_change_pct=g.weight_change_pct,
        weight_change_window_days=g.weight_change_window_days,
        age_of_majority_years=g.age_of_majority_years,
    )
