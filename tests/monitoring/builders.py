"""Compact builders of plain course histories for the engine's tests: days count from day 0."""

import dataclasses
import datetime as dt
from decimal import Decimal
from itertools import count

from monitoring.guideline.history import (
    AdverseEventRow,
    AssessmentRow,
    CourseHistory,
    Exposure,
    ImagingRow,
    InfusionRow,
    LabRow,
    MedicationRow,
    ReactionRow,
    RegimenRow,
    ScreeningRow,
    VaccinationRow,
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


def infusion(
    n: int, *, weight="40", dose="200", weighed=None, premedicated=False, **fields
) -> InfusionRow:
    """An infusion on day `n`; `premedicated`: antihistamine and corticosteroid."""
    if premedicated:
        fields |= {"premedication_antihistamine": True, "premedication_corticosteroid": True}
    return InfusionRow(
        id=next(_ids),
        given_on=day(n),
        weight_kg=Decimal(weight),
        dose_mg=Decimal(dose),
        weight_measured_on=None if weighed is None else day(weighed),
        **fields,
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


def mri(n: int, active: int | None = 0, new: int | None = 0, impression: str = "") -> ImagingRow:
    return ImagingRow(next(_ids), day(n), "wb_mri", active, new, impression)


def assessment(
    n: int, *, state: str = "", pain="0", physician="0", lesions=0, **fields
) -> AssessmentRow:
    return AssessmentRow(
        id=next(_ids),
        assessed_on=day(n),
        pain_score=None if pain is None else Decimal(pain),
        physician_global=None if physician is None else Decimal(physician),
        clinically_active_lesions=lesions,
        disease_state=state,
        **fields,
    )


def regimen(n: int, *, interval: int = 8, dose="5", reason="taper") -> RegimenRow:
    return RegimenRow(next(_ids), day(n), Decimal(dose), interval, reason)


def reaction(
    on: InfusionRow,
    severity: str = "mild",
    reviewed: int | None = None,
    *,
    onset: str = "acute",
    decision: str = "",
) -> ReactionRow:
    reviewed_on = None if reviewed is None else day(reviewed)
    if reviewed is not None and not decision:
        decision = "continue_premedicated"
    return ReactionRow(next(_ids), on.id, severity, onset, reviewed_on, decision)


def methotrexate(start: int, stop: int | None = None) -> MedicationRow:
    """A methotrexate entry from day `start` (until day `stop`, or still taken)."""
    return MedicationRow(
        next(_ids), "methotrexate", day(start), None if stop is None else day(stop)
    )


def screening(
    n: int, test: str, result: str = "negative", reviewed: int | None = None
) -> ScreeningRow:
    """A TB or hepatitis B result taken on day `n` (reviewed by a specialist on day `reviewed`)."""
    return ScreeningRow(
        next(_ids), test, day(n), result, None if reviewed is None else day(reviewed)
    )


BASELINE_SCREEN = ("tb_igra", "hbv_hbsag", "hbv_anti_hbc")


def screened(n: int) -> list[ScreeningRow]:
    """The screening before a biologic, all negative, on day `n`: IGRA, HBsAg and anti-HBc."""
    return [screening(n, test) for test in BASELINE_SCREEN]


def live_vaccine(
    n: int, *, vaccine: str = "mmr", reviewed: int | None = None, decision: str = ""
) -> VaccinationRow:
    """A live vaccine on day `n` (reviewed on day `reviewed`, by default "risk accepted")."""
    if reviewed is not None and not decision:
        decision = "risk_accepted"
    reviewed_on = None if reviewed is None else day(reviewed)
    return VaccinationRow(next(_ids), vaccine, day(n), reviewed_on, decision)


def adverse_event(
    n: int,
    *,
    term: str = "lung_infection",
    serious: bool = True,
    reviewed: int | None = None,
    decision: str = "",
    special_interest: tuple[str, ...] = (),
) -> AdverseEventRow:
    """An adverse event from day `n` that needs a review (serious by default)."""
    if reviewed is not None and not decision:
        decision = "continue"
    return AdverseEventRow(
        id=next(_ids),
        onset_on=day(n),
        term=term,
        serious=serious,
        reviewed_on=None if reviewed is None else day(reviewed),
        review_decision=decision,
        term_label=term.replace("_", " ").capitalize(),
        special_interest=special_interest,
    )


def history(**fields) -> CourseHistory:
    fields.setdefault("started_on", D0)
    names = ("infusions", "regimen_changes", "labs", "imaging", "assessments", "reactions")
    for name in (*names, "medications", "screenings", "live_vaccinations", "adverse_events"):
        fields[name] = tuple(fields.get(name, ()))
    fields.setdefault("course_id", 1)
    return CourseHistory(patient_code="CRMO-000001", **fields)


def retreatment(
    earlier: CourseHistory, start: int, *, course_id: int | None = None, **fields
) -> CourseHistory:
    """A later course of the same patient starting on day `start`: the earlier course's
    infusions and reactions become its exposure; patient-level rows (labs, imaging, assessments)
    carry over unless given."""
    course_id = course_id or earlier.course_id + 1
    for name in (
        "labs",
        "imaging",
        "assessments",
        "medications",
        "screenings",
        "live_vaccinations",
    ):
        fields.setdefault(name, getattr(earlier, name))
    exposure = Exposure(
        infusions=(*earlier.exposure.infusions, *earlier.infusions),
        reactions=(*earlier.exposure.reactions, *earlier.reactions),
    )
    fields["infusions"] = tuple(
        dataclasses.replace(i, course_id=course_id) for i in fields.get("infusions", ())
    )
    return history(course_id=course_id, started_on=day(start), exposure=exposure, **fields)
