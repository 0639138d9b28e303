"""The guideline's entry safeguards (GUIDELINE.md, "Entry safeguards"): what a service refuses, or
asks to confirm, before it stores a record, whatever the door.

The thresholds are guideline parameters, overridable per site, and those live in monitoring, which
registry does not import: monitoring registers the function that gives a site's thresholds
(`use_thresholds`) when it loads, as it registers its signal receivers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from registry.models import (
    DEFAULT_AGE_OF_MAJORITY_YEARS,
    HOLDS_INFUSIONS,
    SCREENING_HOLDS_INFUSIONS,
    Infusion,
    InfusionReaction,
    RegimenChange,
    RegimenReason,
    ReviewDecision,
    ScreeningResult,
)


@dataclass(frozen=True)
class EntryThresholds:
    """The parameters the safeguards read (names as in the guideline)."""

    implausible_dose_mg_per_kg: Decimal
    max_dose_mg_per_kg: Decimal
    dose_tolerance_pct: Decimal
    weight_change_pct: Decimal
    weight_change_window_days: int
    # Not a dose threshold, but a site's parameter a record is refused by all the same: assent is
    # refused for a patient of this age or older (registry.models.Consent).
    age_of_majority_years: int = DEFAULT_AGE_OF_MAJORITY_YEARS


_thresholds_for: Callable[[int], EntryThresholds] | None = None


def use_thresholds(provider: Callable[[int], EntryThresholds]) -> None:
    """Called by monitoring at start-up: `provider(site_id)` gives the site's thresholds."""
    global _thresholds_for
    _thresholds_for = provider


def thresholds_for(site_id: int) -> EntryThresholds:
    if _thresholds_for is None:
        raise RuntimeError("no guideline thresholds registered (is monitoring installed?)")
    return _thresholds_for(site_id)


def age_of_majority(site_id: int) -> int:
    """The site's age of majority (the guideline parameter age_of_majority_years)."""
    return thresholds_for(site_id).age_of_majority_years


def _date(day: dt.date) -> str:
    return f"{day:%d %b %Y}"


def _plain(value: Decimal) -> str:
    """1.50 → 1.5, 40.00 → 40: numbers as a clinician writes them."""
    text = f"{value.normalize():f}"
    return text


# --- Holds: a severe reaction, a TB or hepatitis B screen awaiting its specialist ----------------


def check_no_infusion_hold(*, patient_id: int, given_on: dt.date | None = None) -> None:
    """No infusion while a severe reaction awaits a clinician's review, or after one that made a
    clinician stop infliximab (any course of the patient: exposure spans courses); nor while a
    positive or indeterminate TB or hepatitis B result taken by `given_on` (by any date, without
    one) awaits its specialist review (GUIDELINE: screening_positive)."""
    messages = []
    reaction = infusion_holds([patient_id]).get(patient_id)
    if reaction is not None:
        messages.append(hold_message(reaction))
    screening = screening_holds([patient_id], given_on=given_on).get(patient_id)
    if screening is not None:
        messages.append(screening_hold_message(screening))
    if messages:
        raise ValidationError({NON_FIELD_ERRORS: messages})


def infusion_holds(patient_ids: Iterable[int]) -> dict[int, InfusionReaction]:
    """The reaction that holds each patient's infusions (the earliest), by patient; one query."""
    reactions = (
        InfusionReaction.objects.filter(HOLDS_INFUSIONS)
        .filter(infusion__course__patient_id__in=list(patient_ids))
        .select_related("infusion__course")
        .order_by("infusion__given_on", "pk")
    )
    holds: dict[int, InfusionReaction] = {}
    for reaction in reactions:
        holds.setdefault(reaction.infusion.course.patient_id, reaction)
    return holds


def hold_message(reaction: InfusionReaction) -> str:
    given_on = _date(reaction.infusion.given_on)
    if reaction.review_decision == ReviewDecision.STOP:
        return (
            f"After the {reaction.get_severity_display().lower()} reaction to the infusion of "
            f"{given_on}, a clinician decided to stop infliximab on "
            f"{_date(reaction.reviewed_on)}: no further infusion."  # type: ignore[arg-type]
        )
    return (
        f"The severe reaction to the infusion of {given_on} has not been reviewed by a "
        "clinician: no further infusion until it is (GUIDELINE: severe reaction hold)."
    )


def screening_holds(
    patient_ids: Iterable[int], *, given_on: dt.date | None = None
) -> dict[int, ScreeningResult]:
    """The TB or hepatitis B result that holds each patient's infusions (the earliest), by
    patient; one query. With `given_on`, only a result taken by then holds an infusion of that
    day: an infusion given before the sample was taken is a past one (a late entry)."""
    results = ScreeningResult.objects.filter(SCREENING_HOLDS_INFUSIONS).filter(
        patient_id__in=list(patient_ids)
    )
    if given_on is not None:
        results = results.filter(tested_on__lte=given_on)
    holds: dict[int, ScreeningResult] = {}
    for result in results.order_by("tested_on", "pk"):
        holds.setdefault(result.patient_id, result)
    return holds


def screening_hold_message(screening: ScreeningResult) -> str:
    return (
        f"{screening.get_test_display()} of {_date(screening.tested_on)} is "
        f"{screening.result_words}, and no specialist review is recorded: no further infusion "
        "until a clinician records the specialist's review of it (GUIDELINE: screening_positive)."
    )


# --- Dose ---------------------------------------------------------------------------------------


def _regimen_in_force(infusion: Infusion) -> RegimenChange | None:
    return (
        infusion.course.regimen_changes.filter(effective_on__lte=infusion.given_on)
        .order_by("-effective_on")
        .first()
    )


def check_dose(infusion: Infusion, limits: EntryThresholds) -> None:
    """Above the implausible dose: refused. Above the cap: refused unless a clinician's
    intensification in force prescribes that dose (within the dose tolerance)."""
    mg_per_kg = infusion.dose_mg / infusion.weight_kg
    shown = f"{_plain(infusion.dose_mg)} mg for {_plain(infusion.weight_kg)} kg is {mg_per_kg:.2f}"
    if mg_per_kg > limits.implausible_dose_mg_per_kg:
        raise ValidationError(
            {
                "dose_mg": f"{shown} mg/kg, above {_plain(limits.implausible_dose_mg_per_kg)} "
                "mg/kg: no infusion is that large. Check the dose and the weight (kg)."
            }
        )
    if mg_per_kg <= limits.max_dose_mg_per_kg:
        return
    change = _regimen_in_force(infusion)
    tolerance = 1 + limits.dose_tolerance_pct / 100
    if (
        change is not None
        and change.reason == RegimenReason.INTENSIFICATION
        and mg_per_kg <= change.dose_mg_per_kg * tolerance
    ):
        return
    if change is not None and change.reason == RegimenReason.INTENSIFICATION:
        in_force = (
            f"the intensification of {_date(change.effective_on)} prescribes "
            f"{_plain(change.dose_mg_per_kg)} mg/kg"
        )
    else:
        in_force = "no intensification is in force"
    raise ValidationError(
        {
            "dose_mg": f"{shown} mg/kg, above the {_plain(limits.max_dose_mg_per_kg)} mg/kg cap, "
            f"and {in_force}. A dose above the cap needs a clinician's intensification (a regimen "
            "change) that prescribes it."
        }
    )


# --- Weight -------------------------------------------------------------------------------------


def check_weight(infusion: Infusion, limits: EntryThresholds, *, confirmed: bool) -> None:
    """A weight far from the patient's previous one (within the window) must be confirmed."""
    if confirmed:
        return
    since = infusion.weight_measured_on - dt.timedelta(days=limits.weight_change_window_days)
    previous = (
        Infusion.objects.filter(
            course__patient_id=infusion.course.patient_id,
            weight_measured_on__gte=since,
            weight_measured_on__lte=infusion.weight_measured_on,
        )
        .exclude(pk=infusion.pk)
        .order_by("-weight_measured_on", "-given_on")
        .values_list("weight_kg", "weight_measured_on")
        .first()
    )
    if previous is None:
        return
    weight, measured_on = previous
    change_pct = abs(infusion.weight_kg - weight) / weight * 100
    if change_pct <= limits.weight_change_pct:
        return
    raise ValidationError(
        {
            "weight_kg": f"{_plain(infusion.weight_kg)} kg is {change_pct:.0f} % away from "
            f"{_plain(weight)} kg measured on {_date(measured_on)} (more than "
            f"{_plain(limits.weight_change_pct)} %). Check the weight and its unit; if it is "
            "right, confirm it."
        }
    )
