"""Compact builders of plain course histories for the engine's tests: days count from day 0."""

import datetime as dt
from decimal import Decimal
from itertools import count

from monitoring.guideline.history import (
    AssessmentRow,
    CourseHistory,
    ImagingRow,
    InfusionRow,
    LabRow,
    ReactionRow,
    RegimenRow,
)

D0 = dt.date(2025, 1, 6)
_ids = count(1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def adherent_days(maintenance_doses: int = 0, interval_weeks: int = 8) -> list[int]:
    days = [0, 14, 42]
    for _ in range(maintenance_doses):
        days.append(days[-1] + interval_weeks * 7)
    return days


def infusion(n: int, *, weight="40", dose="200", weighed=None, **flags) -> InfusionRow:
    return InfusionRow(
        id=next(_ids),
        given_on=day(n),
        weight_kg=Decimal(weight),
        dose_mg=Decimal(dose),
        weighed_on=None if weighed is None else day(weighed),
        **flags,
    )


def infusions(*days: int, **kwargs) -> tuple[InfusionRow, ...]:
    return tuple(infusion(n, **kwargs) for n in days)


def lab(n: int, analyte: str, value=None, **kwargs) -> LabRow:
    return LabRow(
        id=next(_ids),
        collected_on=day(n),
        analyte=analyte,
        value=None if value is None else Decimal(str(value)),
        **kwargs,
    )


def mri(n: int, active: int | None = 0, new: int | None = 0) -> ImagingRow:
    return ImagingRow(next(_ids), day(n), "wb_mri", active, new)


def assessment(n: int, *, state: str = "", pain="0", physician="0", lesions=0) -> AssessmentRow:
    return AssessmentRow(
        id=next(_ids),
        assessed_on=day(n),
        pain_score=None if pain is None else Decimal(pain),
        physician_global=None if physician is None else Decimal(physician),
        clinically_active_lesions=lesions,
        disease_state=state,
    )


def regimen(n: int, *, interval: int = 8, dose="5", reason="taper") -> RegimenRow:
    return RegimenRow(next(_ids), day(n), Decimal(dose), interval, reason)


def reaction(on: InfusionRow, severity: str = "mild", reviewed: int | None = None) -> ReactionRow:
    reviewed_on = None if reviewed is None else day(reviewed)
    return ReactionRow(next(_ids), on.id, severity, "acute", reviewed_on)


def history(**fields) -> CourseHistory:
    fields.setdefault("started_on", D0)
    for name in ("infusions", "regimen_changes", "labs", "imaging", "assessments", "reactions"):
        fields[name] = tuple(fields.get(name, ()))
    return CourseHistory(course_id=1, patient_code="CRMO-000001", **fields)
