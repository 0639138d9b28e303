"""Registry outcome measures of a course (pure: plain histories and a date in, values out).

PedCNO (Beck 2010, GUIDELINE.md): five core variables — ESR, number of active lesions on MRI,
physician global, patient/parent global, CHAQ. PedCNO30/50/70 means at least 3 of the 5 improved by
≥ 30/50/70 % from baseline with at most 1 worsened by more than 30 %. Baseline is the measurement
nearest the course start (from 60 days before to 14 after); follow-up the one nearest month 3 or
month 12 within a window around it. The response needs at least 3 variables measured at both
times, else it is "insufficient data" (None).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from monitoring.guideline import Guideline
from monitoring.guideline.history import ESR, INACTIVE, TAPER, CourseHistory, InfusionRow
from monitoring.guideline.schedule import schedule

PEDCNO_VARIABLES = ("esr", "mri_active_lesions", "physician_global", "patient_global", "chaq")
PEDCNO_LEVELS_PCT = (70, 50, 30)
# What pedcno_response returns (with None: insufficient data), the highest level first.
PEDCNO_LEVELS = (*(f"PedCNO{level}" for level in PEDCNO_LEVELS_PCT), "none")
PEDCNO_WORSENING_PCT = 30
PEDCNO_MINIMUM_VARIABLES = 3
BASELINE_WINDOW_DAYS = (-60, 14)


@dataclass(frozen=True)
class FollowUp:
    label: str
    target_day: int
    window_days: int


MONTH_3 = FollowUp("3 months", 91, 45)
MONTH_12 = FollowUp("12 months", 365, 60)


@dataclass(frozen=True)
class Measurement:
    variable: str  # one of PEDCNO_VARIABLES
    on: dt.date
    value: Decimal


def _nearest(
    measurements: Sequence[Measurement], target: dt.date, low: int, high: int
) -> Decimal | None:
    """The value nearest `target` (the earlier of two as near) within [low, high] days of it;
    `measurements`: one variable's."""
    candidates = [m for m in measurements if low <= (m.on - target).days <= high]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (abs((m.on - target).days), m.on)).value


def _change_pct(baseline: Decimal, follow_up: Decimal) -> Decimal:
    """Improvement in percent (positive: lower is better for all five variables)."""
    if baseline == 0:
        return Decimal(0) if follow_up == 0 else Decimal(-100)
    return (baseline - follow_up) / baseline * 100


def pedcno_response(
    measurements: Sequence[Measurement], started_on: dt.date, follow_up: FollowUp
) -> str | None:
    """The highest PedCNO level reached ("PedCNO70", …, "none"); None: insufficient data."""
    low, high = BASELINE_WINDOW_DAYS
    target = started_on + dt.timedelta(days=follow_up.target_day)
    by_variable: dict[str, list[Measurement]] = {variable: [] for variable in PEDCNO_VARIABLES}
    for measurement in measurements:
        if measurement.variable in by_variable:
            by_variable[measurement.variable].append(measurement)
    changes = []
    for variable in PEDCNO_VARIABLES:
        baseline = _nearest(by_variable[variable], started_on, low, high)
        later = _nearest(
            by_variable[variable], target, -follow_up.window_days, follow_up.window_days
        )
        if baseline is not None and later is not None:
            changes.append(_change_pct(baseline, later))
    if len(changes) < PEDCNO_MINIMUM_VARIABLES:
        return None
    if sum(change < -PEDCNO_WORSENING_PCT for change in changes) > 1:
        return "none"
    for level in PEDCNO_LEVELS_PCT:
        if sum(change >= level for change in changes) >= PEDCNO_MINIMUM_VARIABLES:
            return f"PedCNO{level}"
    return "none"


def measurements_of(history: CourseHistory) -> list[Measurement]:
    """The PedCNO variables the engine's history carries: ESR and MRI lesions."""
    esr = [
        Measurement("esr", lab.collected_on, lab.value)
        for lab in history.labs
        if lab.analyte == ESR and lab.value is not None
    ]
    mri = [
        Measurement("mri_active_lesions", study.performed_on, Decimal(study.active_lesions))
        for study in history.imaging
        if study.is_mri and study.active_lesions is not None
    ]
    return esr + mri


# How the relapse-free time after a stop ends: the relapse (the event), or censored at the next
# course's start without a relapse recorded before it, or at the end of follow-up (the last day the
# registry has data of the patient: a lab result, an imaging study or an assessment).
RELAPSE, RETREATMENT, FOLLOW_UP_END = "relapse", "retreatment", "follow_up_end"
RELAPSE_FREE_ENDS = (RELAPSE, RETREATMENT, FOLLOW_UP_END)


@dataclass(frozen=True)
class CourseOutcomes:
    days_on_treatment: int
    number_of_infusions: int
    proportion_doses_on_time: float | None
    longest_gap_days: int | None
    reached_taper: bool
    relapsed_after_stopping: bool | None
    days_to_relapse: int | None
    pedcno_response_3_months: str | None
    pedcno_response_12_months: str | None
    doses_due: int = 0
    days_to_taper: int | None = None
    inactive_at_12_months: bool | None = None
    relapse_free_days: int | None = None
    relapse_free_end: str | None = None


def relapse_free_follow_up(
    history: CourseHistory, as_of: dt.date
) -> tuple[int, str] | tuple[None, None]:
    """After a stop: (days from the stop, how it ends) for a Kaplan–Meier estimate of
    relapse-free survival — to the first relapse recorded from the stop on (the event), else
    censored at the next course's start (retreatment without a recorded relapse), else at the end
    of follow-up: the patient's last lab result, imaging study or assessment up to `as_of` (0 days
    when there is none after the stop). (None, None) while the course is not stopped."""
    stopped_on = history.stopped_on
    if stopped_on is None or stopped_on > as_of:
        return None, None
    relapse_on = next(
        (day for day in history.relapses_noted_on if stopped_on <= day <= as_of), None
    )
    retreated_on = history.next_course_started_on
    if retreated_on is not None and retreated_on > as_of:
        retreated_on = None
    if relapse_on is not None and (retreated_on is None or relapse_on <= retreated_on):
        return (relapse_on - stopped_on).days, RELAPSE
    if retreated_on is not None:
        return max((retreated_on - stopped_on).days, 0), RETREATMENT
    seen = [
        day
        for day in (
            *(lab.collected_on for lab in history.labs),
            *(study.performed_on for study in history.imaging),
            *(a.assessed_on for a in history.assessments),
        )
        if stopped_on <= day <= as_of
    ]
    return (max(seen) - stopped_on).days if seen else 0, FOLLOW_UP_END


def inactive_at(history: CourseHistory, follow_up: FollowUp) -> bool | None:
    """The clinician's judgement nearest the follow-up (within its window): inactive or not; None
    when no assessment in the window judged the disease state."""
    target = history.started_on + dt.timedelta(days=follow_up.target_day)
    judged = [
        a
        for a in history.assessments
        if a.disease_state and abs((a.assessed_on - target).days) <= follow_up.window_days
    ]
    if not judged:
        return None
    nearest = min(judged, key=lambda a: (abs((a.assessed_on - target).days), a.assessed_on))
    return nearest.disease_state == INACTIVE


def _treated_until(history: CourseHistory, infusions: Sequence[InfusionRow]) -> dt.date:
    """The stop, or while on treatment the last infusion given: never the export date, which
    would let anyone who knows it turn day offsets back into dates."""
    if history.stopped_on is not None:
        return history.stopped_on
    return infusions[-1].given_on if infusions else history.started_on


def course_outcomes(
    history: CourseHistory,
    assessments: Sequence[Measurement],
    *,
    as_of: dt.date,
    guideline: Guideline,
) -> CourseOutcomes:
    doses = schedule(history, as_of).doses
    on_time = sum(dose.days_late(as_of) <= guideline.dose_grace_days for dose in doses)
    infusions = history.infusions_until(as_of)
    gaps = [(b.given_on - a.given_on).days for a, b in itertools.pairwise(infusions)]
    stopped_on = history.stopped_on
    # The first relapse recorded from the stop on (one recorded during the taper came before it).
    relapse_on = next(
        (day for day in history.relapses_noted_on if stopped_on and day >= stopped_on), None
    )
    relapsed = None if stopped_on is None else relapse_on is not None
    measurements = [*measurements_of(history), *assessments]
    tapered_on = next((c.effective_on for c in history.regimen_changes if c.reason == TAPER), None)
    relapse_free_days, relapse_free_end = relapse_free_follow_up(history, as_of)
    return CourseOutcomes(
        days_on_treatment=(_treated_until(history, infusions) - history.started_on).days,
        number_of_infusions=len(infusions),
        proportion_doses_on_time=round(on_time / len(doses), 4) if doses else None,
        longest_gap_days=max(gaps, default=None),
        reached_taper=any(change.reason == TAPER for change in history.regimen_changes),
        relapsed_after_stopping=relapsed,
        days_to_relapse=(
            (relapse_on - stopped_on).days if relapsed and relapse_on and stopped_on else None
        ),
        pedcno_response_3_months=pedcno_response(measurements, history.started_on, MONTH_3),
        pedcno_response_12_months=pedcno_response(measurements, history.started_on, MONTH_12),
        doses_due=len(doses),
        days_to_taper=(tapered_on - history.started_on).days if tapered_on else None,
        inactive_at_12_months=inactive_at(history, MONTH_12),
        relapse_free_days=relapse_free_days,
        relapse_free_end=relapse_free_end,
    )
