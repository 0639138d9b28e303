"""The rules of GUIDELINE.md (version 2), one pure function each, named by rule id.

Each takes a `Context`: the course history (already cut at `as_of`: see `evaluate`), the date, the
guideline parameters and the course's schedule (computed once per evaluation), and returns its
findings (usually none or one). Thresholds are strict, as the guideline words them: "late after 7
days past due" means day 8 is late and day 7 is not.

Patient-level findings (a reaction, an antibody result, a re-exposure) live on the patient's latest
course: a retreatment carries them, and the earlier course stops raising them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from monitoring.guideline.findings import Finding, RuleInfo, Severity, plain
from monitoring.guideline.history import (
    ACTIVE,
    ADVERSE_EVENT,
    ALT,
    ANTIBODIES,
    CONSENTED_BY_PATIENT,
    CRP,
    DELAYED,
    ESR,
    HBV_CORE_ANTIBODY,
    HBV_SCREENS,
    HBV_SURFACE_ANTIGEN,
    INACTIVE,
    INEFFICACY,
    INTENSIFICATION,
    METHOTREXATE,
    NEUTROPHILS,
    PLATELETS,
    REVIEW_STOP,
    SEVERE,
    TAPER,
    TB_CHEST_XRAY,
    TB_IGRA,
    TB_SCREENS,
    TB_SKIN_TEST,
    TROUGH,
    WORSE,
    AdverseEventRow,
    AssessmentRow,
    ConsentRow,
    CourseHistory,
    ImagingRow,
    InfusionRow,
    LabRow,
    ReactionRow,
    ScreeningRow,
    VaccinationRow,
)
from monitoring.guideline.parameters import Guideline
from monitoring.guideline.schedule import (
    INDUCTION,
    MAINTENANCE,
    ONE_DAY,
    Schedule,
    ScheduledDose,
)


@dataclass(frozen=True)
class Context:
    """What every rule reads: the history as it stood on `as_of`, the parameters, the schedule.

    A rule compares `as_of` with a date only through `reached` or `past`: each notes the day its
    answer would flip, and the earliest of these (`changes`) is the day the course's verdict could
    change without new data, when the nightly run comes back to it (`Verdict.reevaluate_on`). The
    rest of the history is cut at `as_of`, so nothing else a rule reads moves with the date.
    """

    history: CourseHistory
    as_of: dt.date
    g: Guideline
    schedule: Schedule
    changes: list[dt.date] = field(default_factory=list, compare=False, repr=False)

    def reached(self, day: dt.date) -> bool:
        """`day` has come (as_of ≥ day); if not, the answer flips on `day`."""
        if self.as_of >= day:
            return True
        self.changes.append(day)
        return False

    def past(self, day: dt.date) -> bool:
        """`day` is over (as_of > day); if not, the answer flips the day after."""
        return self.reached(day + ONE_DAY)


RuleFunction = Callable[[Context], list[Finding]]

SOURCE_DOC = "source document"
DOSING = (
    "The treatment regimen typically involves administering infliximab at a dose of 5 mg/kg "
    "intravenously at weeks 0, 2, and 6, followed by maintenance dosing every 8 weeks."
)
CONTINUOUS = (
    "Continuous treatment with infliximab is preferred over intermittent therapy to maintain "
    "clinical responses and reduce the development of antibodies against infliximab."
)
MONITORING = (
    "Close monitoring of clinical improvement, radiological findings, and inflammatory markers "
    "is essential to guide treatment decisions."
)
RELAPSE = (
    "Approximately 30-40% of patients may experience disease relapse after stopping "
    "infliximab, necessitating retreatment."
)
ADJUST = (
    "The dose and frequency of infliximab administration may need to be adjusted based on "
    "individual patient response and tolerance."
)
PREMEDICATE = (
    "Good clinical practices, such as low infusion rates and pre-treatment with "
    "anti-histamine and prednisone, can help reduce the risk of adverse reactions."
)
WEEK_10 = (
    "Approximately 80% of patients achieve significant clinical response, such as PASI-75, "
    "at week 10, indicating the rapid efficacy of infliximab."
)
TAPER_QUOTE = (
    "Once remission is achieved and maintained for 6-12 months, gradual dose tapering can be "
    "considered before complete discontinuation."
)
TWELVE_MONTHS = (
    "Infliximab treatment for CRMO should be continued for at least 12 months to achieve "
    "optimal clinical response and minimize the risk of disease relapse."
)
SEVERE_HOLD = "A severe reaction: no further infusion until a clinician records a review."
INFUSION_TIME = (
    "Infuse over at least 2 hours; after the initial infusions are tolerated, an infusion of at "
    "least 1 hour may be considered."
)
EARLY_DOSE = "Doses follow the schedule in force: a dose given well before it is due is a mistake."
TROUGH_TARGET = "Reactive drug monitoring: a trough of at least 5 µg/mL during maintenance."

RULES: dict[str, tuple[RuleInfo, RuleFunction]] = {}


def rule(
    *,
    raises: str,
    title: str,
    severity: str,
    grade: str,
    quote: str,
    source: str,
    key: str,
    clears: str,
    clears_on_stop: bool = False,
) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule; its id is the function's name. `clears`: GUIDELINE.md's "clears when";
    `clears_on_stop`: that column includes "course stopped" (the reconciliation resolves it with
    that reason)."""

    def register(function: RuleFunction) -> RuleFunction:
        info = RuleInfo(
            id=function.__name__,
            title=title,
            raises=raises,
            severity=severity,
            grade=grade,
            quote=quote,
            source=source,
            key=key,
            clears=clears,
            clears_on_stop=clears_on_stop,
        )
        RULES[info.id] = (info, function)
        return function

    return register


def _finding(
    rule_id: str,
    severity: Severity,
    key: str,
    detail: str,
    *,
    due_on: dt.date | None = None,
    title: str | None = None,
    quote: str | None = None,
    **evidence: Any,
) -> Finding:
    """A finding whose explanation says what happened and what to do (`detail`), what clears it,
    and the guideline text behind it (`quote`: the text of this situation, if not the rule's)."""
    info = RULES[rule_id][0]
    explanation = (
        f"{detail}\n\nClears when: {info.clears}.\n\n"
        f"Guideline (grade {info.grade}, {info.source}): “{quote or info.quote}”"
    )
    return Finding(
        rule_id=rule_id,
        severity=severity,
        key=key,
        title=title or info.title,
        explanation=explanation,
        due_on=due_on,
        evidence=plain({"due_on": due_on, **evidence}),
    )


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _date(day: dt.date) -> str:
    return f"{day:%d %b %Y}"


@dataclass(frozen=True)
class LateDose:
    dose: ScheduledDose
    severity: Severity
    late_from: dt.date  # the first day it is late (past the grace)
    overdue_from: dt.date  # the first day it is overdue (urgent)

    @property
    def lateness(self) -> str:
        """How late, by dates: an alert's text does not count days, which would go stale between
        evaluations (the worklist and the digest count them on the day they are read)."""
        return f"late from {_date(self.late_from)}, overdue from {_date(self.overdue_from)}"


def _late_dose(ctx: Context, phase: str) -> LateDose | None:
    """The next dose of `phase` if it is late past the grace."""
    dose = ctx.schedule.next_dose
    if dose is None or dose.phase != phase:
        return None
    late_from = dose.due_on + _days(ctx.g.dose_grace_days + 1)
    overdue_from = dose.due_on + _days(ctx.g.dose_overdue_days + 1)
    if ctx.reached(overdue_from):
        return LateDose(dose, Severity.URGENT, late_from, overdue_from)
    if ctx.reached(late_from):
        return LateDose(dose, Severity.WARNING, late_from, overdue_from)
    return None


def _is_standard(history: CourseHistory, day: dt.date, g: Guideline) -> bool:
    """The regimen in force on `day` is the guideline's standard one (so the standard dosing text
    applies; otherwise the text on adjusting dose and frequency does)."""
    mg_per_kg, interval = history.regimen_on(day)
    return (
        mg_per_kg == g.dose_mg_per_kg
        and interval == g.maintenance_interval_weeks
        and history.induction_weeks == g.induction_weeks
    )


def _regimen_text(history: CourseHistory, day: dt.date) -> str:
    mg_per_kg, interval = history.regimen_on(day)
    change = history.regimen_change_on(day)
    text = f"{plain(mg_per_kg)} mg/kg every {interval} weeks"
    if change is not None:
        text += f" (the {change.reason.replace('_', ' ')} decided on {_date(change.effective_on)})"
    return text


def _infusion(row: InfusionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "given_on": row.given_on,
        "weight_kg": row.weight_kg,
        "dose_mg": row.dose_mg,
        "mg_per_kg": row.mg_per_kg,
    }


def _lab(row: LabRow) -> dict[str, Any]:
    fields = dataclasses.asdict(row)
    return {name: value for name, value in fields.items() if value not in (None, "")}


def _mri(row: ImagingRow) -> dict[str, Any]:
    return {name: value for name, value in dataclasses.asdict(row).items() if value != ""}


def _assessment(row: AssessmentRow) -> dict[str, Any]:
    return {
        name: value for name, value in dataclasses.asdict(row).items() if value not in (None, "")
    }


def _reaction(row: ReactionRow) -> dict[str, Any]:
    return {"id": row.id, "severity": row.severity, "onset": row.onset}


def _antibody_text(lab: LabRow) -> str:
    if not lab.antibodies_positive:
        return "not detected"
    titre = f", titre {plain(lab.value)} {lab.unit}".rstrip() if lab.value is not None else ""
    assay = f" ({lab.assay_name})" if lab.assay_name else ""
    return f"detected{titre}{assay}"


def _upper_normal(lab: LabRow, g: Guideline) -> Decimal:
    # The lab's own range wins when recorded.
    if lab.reference_high is not None:
        return lab.reference_high
    return g.crp_upper_normal_mg_l if lab.analyte == CRP else g.esr_upper_normal_mm_h


def _is_raised(lab: LabRow, g: Guideline) -> bool:
    return lab.value is not None and lab.value > _upper_normal(lab, g)


def _latest(rows: Iterable[Any], date_of: Callable[[Any], dt.date]) -> Any:
    return max(rows, key=date_of, default=None)


def _latest_mri_on(history: CourseHistory, day: dt.date) -> ImagingRow | None:
    return _latest(
        (s for s in history.imaging if s.is_mri and s.performed_on <= day), lambda s: s.performed_on
    )


# --- Disease states (GUIDELINE.md "Disease states", CARRA consensus) ---------------------------

SUGGESTS_ACTIVITY = "suggests_activity"


def disease_state(assessment: AssessmentRow, latest_mri: ImagingRow | None, g: Guideline) -> str:
    """active | inactive | suggests_activity | "" (unknown), as GUIDELINE.md defines them (grade
    B): markers never make a patient active."""
    mri_active = latest_mri is not None and bool(latest_mri.active_lesions)
    recent = latest_mri is not None and (
        (assessment.assessed_on - latest_mri.performed_on).days <= g.mri_window_days
    )
    if (
        assessment.disease_state == ACTIVE
        or bool(assessment.clinically_active_lesions)
        or (mri_active and recent)
    ):
        return ACTIVE
    pain, physician = assessment.pain_score, assessment.physician_global
    scored_inactive = (
        assessment.clinically_active_lesions == 0
        and pain is not None
        and pain <= g.inactive_score_max
        and physician is not None
        and physician <= g.inactive_score_max
    )
    if (assessment.disease_state == INACTIVE or scored_inactive) and not mri_active:
        return INACTIVE
    if any(score is not None and score >= g.activity_score_min for score in (pain, physician)):
        return SUGGESTS_ACTIVITY
    return ""


def is_inactive(assessment: AssessmentRow, latest_mri: ImagingRow | None, g: Guideline) -> bool:
    return disease_state(assessment, latest_mri, g) == INACTIVE


def _state_on(history: CourseHistory, assessment: AssessmentRow, g: Guideline) -> str:
    return disease_state(assessment, _latest_mri_on(history, assessment.assessed_on), g)


# --- Doses ---------------------------------------------------------------------------------------


@rule(
    raises="induction dose n past due + grace with no infusion",
    title="Induction dose missed",
    severity="warning → urgent past overdue",
    grade="A",
    quote=DOSING,
    source=SOURCE_DOC,
    key="dose number",
    clears="the dose is given; course stopped",
    clears_on_stop=True,
)
def induction_dose_missed(ctx: Context) -> list[Finding]:
    late = _late_dose(ctx, INDUCTION)
    if late is None:
        return []
    history, g = ctx.history, ctx.g
    dose = late.dose
    week = history.induction_weeks[dose.number - 1]
    return [
        _finding(
            "induction_dose_missed",
            late.severity,
            f"dose-{dose.number}",
            f"Induction dose {dose.number} (week {week}) was due on {_date(dose.due_on)} and "
            f"has not been given ({late.lateness}: {g.dose_grace_days} and "
            f"{g.dose_overdue_days} days after the due date). Give the dose, or record why the "
            "course stopped.",
            due_on=dose.due_on,
            title=f"Induction dose {dose.number} (week {week}) missed",
            quote=DOSING if _is_standard(history, ctx.as_of, g) else ADJUST,
            dose_number=dose.number,
            late_from=late.late_from,
            overdue_from=late.overdue_from,
            day_zero=history.day_zero,
            infusions=[_infusion(i) for i in history.infusions],
        )
    ]


@rule(
    raises="next due (schedule above) past + grace, course not stopped",
    title="Maintenance dose overdue",
    severity="warning → urgent past overdue",
    grade="A",
    quote=DOSING,
    source=SOURCE_DOC,
    key="due date",
    clears="an infusion; a regimen change moving the due date; course stopped",
    clears_on_stop=True,
)
def maintenance_dose_overdue(ctx: Context) -> list[Finding]:
    late = _late_dose(ctx, MAINTENANCE)
    if late is None:
        return []
    history, g = ctx.history, ctx.g
    dose = late.dose
    last = history.infusions[-1]
    detail = f"The last infusion was on {_date(last.given_on)}; "
    if dose.moved_by is not None:
        change = dose.moved_by
        detail += (
            f"the {change.reason.replace('_', ' ')} decided on {_date(change.effective_on)} set "
            f"the interval to {dose.interval_weeks} weeks, so "
        )
    else:
        detail += f"with an interval of {dose.interval_weeks} weeks "
    detail += (
        f"the next dose was due on {_date(dose.due_on)} ({late.lateness}: {g.dose_grace_days} "
        f"and {g.dose_overdue_days} days after the due date). Give the dose, or record the "
        "regimen change or the stop that explains the gap."
    )
    standard = _is_standard(history, ctx.as_of, g)
    if not standard:
        detail += f" The regimen in force is {_regimen_text(history, ctx.as_of)}."
    return [
        _finding(
            "maintenance_dose_overdue",
            late.severity,
            dose.due_on.isoformat(),
            detail,
            due_on=dose.due_on,
            quote=DOSING if standard else ADJUST,
            last_infusion=_infusion(last),
            interval_weeks=dose.interval_weeks,
            regimen_change_id=dose.moved_by.id if dose.moved_by else None,
            late_from=late.late_from,
            overdue_from=late.overdue_from,
        )
    ]


@rule(
    raises=(
        "an infusion more than early_dose_days before its due date, or two infusions within 7 days"
    ),
    title="Dose given early",
    severity="warning",
    grade="C",
    quote=EARLY_DOSE,
    source="registry default",
    key="infusion",
    clears="a clinician acknowledges it; the next infusion is on schedule",
)
def dose_given_early(ctx: Context) -> list[Finding]:
    g = ctx.g
    if not ctx.schedule.doses:
        return []
    dose = ctx.schedule.doses[-1]  # only the latest: the next infusion on schedule clears it
    infusion, previous = dose.infusion, dose.previous
    if infusion is None or previous is None:
        return []
    allowed = g.early_induction_dose_days if dose.phase == INDUCTION else g.early_dose_days
    early_by = (dose.due_on - infusion.given_on).days
    since_previous = (infusion.given_on - previous.given_on).days
    problems = []
    if early_by > allowed:
        problems.append(
            f"it was due on {_date(dose.due_on)}: {early_by} days early (early when more than "
            f"{allowed} days before the due date in {dose.phase})"
        )
    if since_previous <= g.duplicate_dose_days:
        problems.append(
            f"it came {since_previous} days after the infusion of {_date(previous.given_on)} "
            f"(two infusions within {g.duplicate_dose_days} days: a duplicate entry or an early "
            "dose)"
        )
    if not problems:
        return []
    return [
        _finding(
            "dose_given_early",
            Severity.WARNING,
            f"infusion-{infusion.id}",
            f"The infusion of {_date(infusion.given_on)} (dose {dose.number}): "
            + "; ".join(problems)
            + ". Check the date (correct it if it was mistyped) and plan the next dose from the "
            "schedule in force.",
            due_on=infusion.given_on,
            infusion=_infusion(infusion),
            previous_infusion=_infusion(previous),
            scheduled_on=dose.due_on,
            days_early=early_by,
        )
    ]


def _workup(history: CourseHistory, restart_on: dt.date, g: Guideline) -> dict[str, LabRow]:
    """The re-exposure work-up: the first trough and antibody results from `reexposure_workup_days`
    before the restart onwards."""
    since = restart_on - _days(g.reexposure_workup_days)
    found: dict[str, LabRow] = {}
    for lab in history.labs:
        if lab.analyte in (TROUGH, ANTIBODIES) and lab.collected_on >= since:
            found.setdefault(lab.analyte, lab)
    return found


REEXPOSURE_ADVICE = (
    "Re-exposure after a drug-free interval raises the risk of anti-drug antibodies and of "
    "infusion reactions, delayed ones included: check the trough level and anti-infliximab "
    "antibodies before the dose, premedicate (antihistamine, corticosteroid), and watch for "
    "delayed reactions for {days} days after it."
)


@rule(
    raises=(
        "within a course, a gap > the interruption threshold (max(interruption_days, interval in "
        "force + dose_overdue_days)); or a retreatment after > interruption_days off drug "
        "(re-exposure): check trough and antibodies before the dose, premedicate, watch 14 days for"
        " delayed reactions"
    ),
    title="Treatment interrupted",
    severity="warning",
    grade="B",
    quote=CONTINUOUS,
    source="source document; infliximab label (readministration after a drug-free interval); "
    "ACCENT I; Baert 2014, Chaparro 2010 (re-exposure)",
    key="restart infusion (or course start)",
    clears="a trough and antibody result dated after the restart/within 14 days before it",
)
def treatment_interrupted(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    advice = REEXPOSURE_ADVICE.format(days=g.reexposure_workup_days)
    findings = []

    def missing_workup(restart_on: dt.date) -> list[str]:
        done = _workup(history, restart_on, g)
        return [name for analyte, name in ((TROUGH, "trough"), (ANTIBODIES, "antibody"))
                if analyte not in done]  # fmt: skip

    days_off = history.days_off_drug
    last = history.last_infusion_before(history.day_zero)
    reexposed = days_off is not None and days_off > g.interruption_days
    if history.is_latest_course and reexposed and last is not None:
        missing = missing_workup(history.day_zero)
        if missing:
            first = history.infusions[0] if history.infusions else None
            when = (
                f"started on {_date(first.given_on)}"
                if first
                else f"planned to start on {_date(history.started_on)}"
            )
            latest_antibodies = _latest_antibodies(history)
            detail = (
                f"Retreatment {when} after {days_off} days off infliximab (the last infusion of "
                f"an earlier course was on {_date(last.given_on)}; more than "
                f"{g.interruption_days} days is a re-exposure). {advice} "
                f"No {' or '.join(missing)} result since "
                f"{_date(history.day_zero - _days(g.reexposure_workup_days))}."
            )
            if latest_antibodies is not None:
                detail += (
                    f" The latest antibody result ({_date(latest_antibodies.collected_on)}) was "
                    f"{_antibody_text(latest_antibodies)}."
                )
            findings.append(
                _finding(
                    "treatment_interrupted",
                    Severity.WARNING,
                    "course-start",
                    detail,
                    due_on=history.day_zero,
                    title="Re-exposure after a drug-free interval: check trough and antibodies",
                    last_infusion_before=_infusion(last),
                    days_off_drug=days_off,
                    missing=missing,
                )
            )
    for gap in ctx.schedule.gaps:
        # Never less than the interval in force + the overdue days: a planned q16w taper is not
        # an interruption before its dose is overdue (nor is a dose a late decision moved).
        threshold = max(g.interruption_days, gap.allowed_days + g.dose_overdue_days)
        if gap.after is None:
            interrupted_on = gap.before.given_on + _days(threshold + 1)
            if not ctx.reached(interrupted_on):
                continue
            findings.append(
                _finding(
                    "treatment_interrupted",
                    Severity.WARNING,
                    f"open-after-{gap.before.id}",
                    f"No infusion since {_date(gap.before.given_on)}: the gap passed {threshold} "
                    f"days on {_date(interrupted_on)}, which is intermittent therapy. If "
                    f"infliximab restarts: {advice[0].lower()}{advice[1:]}",
                    due_on=interrupted_on,
                    title=f"Treatment interrupted: no infusion since {_date(gap.before.given_on)}",
                    last_infusion=_infusion(gap.before),
                    threshold_days=threshold,
                )
            )
            continue
        if gap.days <= threshold:
            continue
        restart = gap.after
        missing = missing_workup(restart.given_on)
        if not missing:
            continue  # the re-exposure work-up has been done
        findings.append(
            _finding(
                "treatment_interrupted",
                Severity.WARNING,
                f"restart-{restart.id}",
                f"Infliximab restarted on {_date(restart.given_on)} after {gap.days} days "
                f"without an infusion (more than {threshold} days). {advice} No "
                f"{' or '.join(missing)} result since the restart.",
                due_on=restart.given_on,
                title="Restarted after an interruption: check trough and antibodies",
                before=_infusion(gap.before),
                restart=_infusion(restart),
                gap_days=gap.days,
                threshold_days=threshold,
                missing=missing,
            )
        )
    return findings


def _latest_infusion(history: CourseHistory) -> InfusionRow | None:
    """The course's latest infusion, unless a later one of the patient (a retreatment's)
    supersedes it: the rules that judge one infusion judge this one."""
    if not history.infusions:
        return None
    latest = history.infusions[-1]
    if any(i.given_on > latest.given_on for i in history.exposure.infusions):
        return None
    return latest


@rule(
    raises=(
        "the latest infusion's dose differs from mg/kg in force × its weight by more than "
        "tolerance, or is above max without an intensification in force, or its weight is older "
        "than weight_max_age_days"
    ),
    title="Dose does not match the weight",
    severity="warning",
    grade="A/B",
    quote=DOSING,
    source="source document; infliximab label (maximum 10 mg/kg)",
    key="infusion",
    clears="the next infusion is recorded (superseded); the infusion is corrected",
)
def dose_mismatch(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    infusion = _latest_infusion(history)  # only the latest: the next infusion supersedes it
    if infusion is None:
        return []
    mg_per_kg, _interval = history.regimen_on(infusion.given_on)
    change = history.regimen_change_on(infusion.given_on)
    expected = mg_per_kg * infusion.weight_kg
    off_by_pct = abs(infusion.dose_mg - expected) / expected * 100
    weighed_on = infusion.weight_measured_on or infusion.given_on
    weight_age = (infusion.given_on - weighed_on).days
    problems = []
    if weight_age > g.weight_max_age_days:
        problems.append(
            f"the weight was measured {weight_age} days before the infusion "
            f"(more than {g.weight_max_age_days})"
        )
    if off_by_pct > g.dose_tolerance_pct:
        problems.append(
            f"{plain(infusion.dose_mg)} mg is {infusion.mg_per_kg} mg/kg, {off_by_pct:.1f} % "
            f"away from {plain(mg_per_kg)} mg/kg × {plain(infusion.weight_kg)} kg = "
            f"{expected:.0f} mg (tolerance {plain(g.dose_tolerance_pct)} %)"
        )
    # Above the cap only a clinician's intensification in force may prescribe.
    intensified = change is not None and change.reason == INTENSIFICATION
    if infusion.mg_per_kg > g.max_dose_mg_per_kg and not intensified:
        problems.append(
            f"{infusion.mg_per_kg} mg/kg is above the maximum of "
            f"{plain(g.max_dose_mg_per_kg)} mg/kg without an intensification in force"
        )
    if not problems:
        return []
    return [
        _finding(
            "dose_mismatch",
            Severity.WARNING,
            f"infusion-{infusion.id}",
            f"Infusion of {_date(infusion.given_on)}: " + "; ".join(problems) + ". Check the "
            "weight and the dose; correct the infusion if it was recorded wrong, or record the "
            "regimen change that prescribes it.",
            due_on=infusion.given_on,
            quote=DOSING if _is_standard(history, infusion.given_on, g) else ADJUST,
            infusion=_infusion(infusion),
            weight_measured_on=weighed_on,
            mg_per_kg_in_force=mg_per_kg,
            expected_mg=expected.quantize(Decimal("0.1")),
            off_by_pct=off_by_pct.quantize(Decimal("0.1")),
        )
    ]


@rule(
    raises=(
        "an infusion shorter than min_infusion_minutes before uneventful_infusions_for_short "
        "uneventful infusions or after any reaction, or shorter than short_infusion_minutes ever"
    ),
    title="Infusion shorter than the label allows",
    severity="warning",
    grade="B",
    quote=INFUSION_TIME,
    source="infliximab label",
    key="infusion",
    clears="superseded by the next infusion",
)
def infusion_too_fast(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    infusion = _latest_infusion(history)
    minutes = infusion.duration_minutes if infusion else None
    if infusion is None or minutes is None:
        return []
    earlier = [i for i in history.all_infusions if i.given_on < infusion.given_on]
    reacted = {r.infusion_id for r in history.all_reactions}
    uneventful = sum(1 for i in earlier if i.id not in reacted)
    after_reaction = any(i.id in reacted for i in earlier)
    if minutes < g.short_infusion_minutes:
        why = f"never shorter than {g.short_infusion_minutes} minutes"
    elif minutes < g.min_infusion_minutes and after_reaction:
        why = f"at least {g.min_infusion_minutes} minutes after a reaction to an earlier infusion"
    elif minutes < g.min_infusion_minutes and uneventful < g.uneventful_infusions_for_short:
        why = (
            f"at least {g.min_infusion_minutes} minutes until "
            f"{g.uneventful_infusions_for_short} uneventful infusions (this patient had "
            f"{uneventful})"
        )
    else:
        return []
    return [
        _finding(
            "infusion_too_fast",
            Severity.WARNING,
            f"infusion-{infusion.id}",
            f"The infusion of {_date(infusion.given_on)} ran for {minutes} minutes: {why}. "
            "Infuse the next dose over the full time (and correct the duration if it was "
            "recorded wrong).",
            due_on=infusion.given_on,
            infusion=_infusion(infusion),
            duration_minutes=minutes,
            uneventful_infusions_before=uneventful,
            reaction_before=after_reaction,
        )
    ]


# --- Response and monitoring -------------------------------------------------------------------


@rule(
    raises=(
        "no assessment with at least one core value (pain, physician global, patient global, CHAQ, "
        "active lesions, judged state) in days 56–98 once the window has closed"
    ),
    title="Response assessment at week 10 not recorded",
    severity="warning",
    grade="B",
    quote=WEEK_10,
    source="source document, a figure it takes from psoriasis (PASI-75), not from a CRMO trial",
    key="course",
    clears="any such assessment after day 56; course stopped",
    clears_on_stop=True,
)
def response_assessment_due(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    if not history.infusions:
        return []
    opens = history.day_zero + _days(g.response_window_start_day)
    closes = history.day_zero + _days(g.response_window_end_day)
    stopped_early = history.stopped_on is not None and history.stopped_on <= closes
    if stopped_early or not ctx.past(closes):
        return []
    if any(a.assessed_on >= opens and a.has_core_value for a in history.assessments):
        return []
    return [
        _finding(
            "response_assessment_due",
            Severity.WARNING,
            "course",
            f"No clinical assessment with a core value (pain, physician or patient global, CHAQ, "
            f"active lesions or a judged state) between day {g.response_window_start_day} "
            f"({_date(opens)}) and day {g.response_window_end_day} ({_date(closes)}), nor since: "
            f"the early response (week 10, day {g.response_assessment_day}) is unknown. Assess "
            "the response at the next visit. (Week 10 comes from psoriasis, where 80 % reach "
            "PASI-75 then; no CRMO trial set it.)",
            due_on=history.day_zero + _days(g.response_assessment_day),
            day_zero=history.day_zero,
            window=[opens, closes],
        )
    ]


@rule(
    raises="no CRP and ESR within marker_interval_days (or none at baseline) while on treatment",
    title="CRP and ESR overdue",
    severity="info",
    grade="C",
    quote=MONITORING,
    source="source document (interval: registry default)",
    key="due date",
    clears="both measured; course stopped",
    clears_on_stop=True,
)
def markers_overdue(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    if not history.is_on_treatment(ctx.as_of) or not history.infusions:
        return []
    since = history.day_zero - _days(g.marker_interval_days)  # a recent baseline counts
    last: dict[str, LabRow | None] = {
        analyte: _latest(
            (lab for lab in history.labs if lab.analyte == analyte and lab.collected_on >= since),
            lambda lab: lab.collected_on,
        )
        for analyte in (CRP, ESR)
    }
    due = min(
        lab.collected_on + _days(g.marker_interval_days) if lab else history.day_zero
        for lab in last.values()
    )
    if not ctx.past(due):
        return []
    missing = [name.upper() for name, lab in last.items() if lab is None]
    detail = (
        f"No {' or '.join(missing)} at baseline or since."
        if missing
        else f"CRP and ESR are due every {g.marker_interval_days} days; the next were due on "
        f"{_date(due)}."
    )
    return [
        _finding(
            "markers_overdue",
            Severity.INFO,
            due.isoformat(),
            detail + " Draw both with the next infusion.",
            due_on=due,
            last_crp=_lab(crp) if (crp := last[CRP]) else None,
            last_esr=_lab(esr) if (esr := last[ESR]) else None,
        )
    ]


def mri_milestones(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[dt.date]:
    """Baseline, 6 and 12 months, then yearly: the due dates up to `as_of`, and the first after."""
    day_zero = history.day_zero
    offsets = [0, *g.mri_follow_up_days]
    while day_zero + _days(offsets[-1]) <= as_of:
        offsets.append(offsets[-1] + g.mri_yearly_days)
    days = [day_zero + _days(offset) for offset in offsets]
    return [*(day for day in days if day <= as_of), min(day for day in days if day > as_of)]


@rule(
    raises=(
        "no MRI within mri_window_days of baseline, 6 and 12 months, then yearly, while on "
        "treatment"
    ),
    title="MRI overdue",
    severity="info",
    grade="B",
    quote=MONITORING,
    source="source document; Schnabel 2016, 2022; Capponi 2021 (MRI at 6 and 12 months)",
    key="milestone",
    clears="an MRI in the window; course stopped",
    clears_on_stop=True,
)
def imaging_overdue(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    if not history.is_on_treatment(as_of) or not history.infusions:
        return []
    # Only the latest milestone passed matters (an earlier missed MRI cannot be caught up): the
    # first one not passed yet takes over the day after it.
    milestones = mri_milestones(history, as_of, g)
    passed = list(itertools.takewhile(ctx.past, milestones))
    if not passed:
        return []
    due = passed[-1]
    if any(s.is_mri and s.performed_on >= due - _days(g.mri_window_days) for s in history.imaging):
        return []
    label = "baseline" if due == history.day_zero else f"day {(due - history.day_zero).days}"
    latest = _latest_mri_on(history, as_of)
    return [
        _finding(
            "imaging_overdue",
            Severity.INFO,
            due.isoformat(),
            f"The {label} MRI was due on {_date(due)} (an MRI within {g.mri_window_days} "
            "days counts) and none is recorded. Book a whole-body MRI.",
            due_on=due,
            milestone=label,
            latest_mri=_mri(latest) if latest else None,
        )
    ]


def _true_troughs(ctx: Context) -> list[tuple[LabRow, Decimal, InfusionRow]]:
    """Troughs drawn at most trough_draw_days before an on-time maintenance infusion of this
    course: the only levels a low value can be read from (not a late dose, not a restart)."""
    history, g = ctx.history, ctx.g
    found = []
    doses = [(d, d.infusion) for d in ctx.schedule.doses if d.infusion is not None]
    for lab in history.labs:
        if lab.analyte != TROUGH or lab.value is None:
            continue
        for dose, infusion in doses:
            drawn_before = (infusion.given_on - lab.collected_on).days
            if 0 <= drawn_before <= g.trough_draw_days:
                on_time = dose.days_late(ctx.as_of) <= g.dose_grace_days
                if dose.phase == MAINTENANCE and on_time:
                    found.append((lab, lab.value, infusion))
                break
    return found


@rule(
    raises=(
        "a true pre-infusion trough (drawn ≤ trough_draw_days before an on-time infusion) during "
        "maintenance below trough_min: info when the latest assessment shows inactive disease, "
        "warning otherwise; the text shows the antibody result of the same draw"
    ),
    title="Infliximab trough level low",
    severity="warning / info",
    grade="B",
    quote=ADJUST,
    source="source document; AGA 2017 therapeutic drug monitoring (trough ≥ 5 µg/mL, IBD)",
    key="lab result",
    clears="a later trough at or above target; course stopped",
    clears_on_stop=True,
)
def low_trough(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    troughs = _true_troughs(ctx)
    if not troughs:
        return []
    latest, value, infusion = troughs[-1]
    if value >= g.trough_min_ug_ml:
        return []
    same_draw = _latest(
        (lab for lab in history.labs
         if lab.analyte == ANTIBODIES and lab.collected_on == latest.collected_on),
        lambda lab: lab.collected_on,
    )  # fmt: skip
    assessments = [a for a in history.assessments if a.assessed_on <= ctx.as_of]
    state = _state_on(history, assessments[-1], g) if assessments else ""
    severity = Severity.INFO if state == INACTIVE else Severity.WARNING
    detail = (
        f"The trough level drawn on {_date(latest.collected_on)}, before the on-time infusion of "
        f"{_date(infusion.given_on)}, was {plain(value)} µg/mL, below the target of "
        f"{plain(g.trough_min_ug_ml)} µg/mL during maintenance."
    )
    if same_draw is None:
        detail += " No antibody result from the same draw: check for antibodies."
    elif same_draw.antibodies_positive:
        detail += (
            f" Antibodies were {_antibody_text(same_draw)} in the same draw (see that alert): "
            "a higher dose may not overcome them."
        )
    else:
        detail += " Antibodies were not detected in the same draw."
    if severity is Severity.INFO:
        detail += (
            " The latest assessment shows inactive disease: no change is needed for the level "
            "alone; recheck at the next trough."
        )
    else:
        detail += " Consider a higher dose or a shorter interval."
    return [
        _finding(
            "low_trough",
            severity,
            f"lab-{latest.id}",
            detail,
            due_on=latest.collected_on,
            trough=_lab(latest),
            target_ug_ml=g.trough_min_ug_ml,
            antibodies_same_draw=_lab(same_draw) if same_draw else None,
            disease_state=state,
        )
    ]


def _latest_antibodies(history: CourseHistory) -> LabRow | None:
    results = [lab for lab in history.labs if lab.analyte == ANTIBODIES]
    return results[-1] if results else None


@rule(
    raises=(
        "the patient's latest antibody result is positive (any course, or between courses): urgent "
        "with a trough below target or unknown, warning with a trough at target; titre and assay "
        "shown"
    ),
    title="Anti-infliximab antibodies detected",
    severity="urgent / warning",
    grade="A/B",
    quote=CONTINUOUS,
    source="source document; ACCENT I; AGA 2017",
    key="lab result",
    clears="a later negative result",
)
def antibodies_detected(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    latest = _latest_antibodies(history)
    if latest is None or not latest.antibodies_positive or not history.is_latest_course:
        return []
    trough = _latest(
        (lab for lab in history.labs
         if lab.analyte == TROUGH and lab.value is not None
         and lab.collected_on == latest.collected_on),
        lambda lab: lab.collected_on,
    )  # fmt: skip
    at_target = trough is not None and trough.value >= g.trough_min_ug_ml
    severity = Severity.WARNING if at_target else Severity.URGENT
    detail = (
        f"Anti-infliximab antibodies were {_antibody_text(latest)} on {_date(latest.collected_on)}"
    )
    if trough is None:
        detail += (
            ", with no trough level from the same draw: antibodies lower drug levels and raise "
            "the risk of infusion reactions. Draw a trough; review the regimen (dose, interval, "
            "an immunomodulator, or a switch)."
        )
    elif at_target:
        detail += (
            f", with a trough of {plain(trough.value)} µg/mL at target: the drug still "
            "outweighs them. Recheck both at the next trough."
        )
    else:
        detail += (
            f", with a trough of {plain(trough.value)} µg/mL below the target of "
            f"{plain(g.trough_min_ug_ml)}: review the regimen (dose, interval, an "
            "immunomodulator, or a switch) and premedicate."
        )
    if history.days_off_drug is not None and not history.infusions:
        detail += " This is before a retreatment: review it before the first dose."
    return [
        _finding(
            "antibodies_detected",
            severity,
            f"lab-{latest.id}",
            detail,
            due_on=latest.collected_on,
            result=_lab(latest),
            trough_same_draw=_lab(trough) if trough else None,
        )
    ]


# --- Taper, stop and relapse ---------------------------------------------------------------


@rule(
    raises=(
        "on treatment ≥ min_course_days, inactive continuously ≥ remission_days_for_taper, latest "
        "MRI (≤ 90 d) without active lesion, last two CRP and ESR normal and ≤ marker_interval_days"
        " old, and no taper in force"
    ),
    title="Ready to consider tapering",
    severity="info (actionable)",
    grade="A",
    quote=TAPER_QUOTE,
    source=SOURCE_DOC,
    key="course + inactive-since date",
    clears=(
        "a taper starts; any condition fails; course stopped. Offered again after a taper is "
        "reversed"
    ),
    clears_on_stop=True,
)
def taper_readiness(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    if not history.is_on_treatment(as_of) or not history.infusions:
        return []
    in_force = history.regimen_change_on(as_of)
    if in_force is not None and in_force.reason == TAPER:
        return []  # offered again once the taper is reversed
    long_enough_on = history.day_zero + _days(g.min_course_days)
    if not ctx.reached(long_enough_on):
        return []
    remission_since = _inactive_since(history, g)
    if remission_since is None:
        return []
    last_assessment = history.assessments[-1]
    inactive_days = (last_assessment.assessed_on - remission_since).days
    if inactive_days < g.remission_days_for_taper:
        return []
    mri = _latest_mri_on(history, as_of)
    if (
        mri is None
        or mri.active_lesions != 0
        or ctx.past(mri.performed_on + _days(g.mri_window_days))
    ):
        return []
    markers = {}
    for analyte in (CRP, ESR):
        values = [lab for lab in history.labs if lab.analyte == analyte and lab.value is not None]
        last_two = values[-2:]
        if len(last_two) < 2 or any(_is_raised(lab, g) for lab in last_two):
            return []
        if ctx.past(last_two[0].collected_on + _days(g.marker_interval_days)):
            return []  # normal, but not recent enough to rely on
        markers[analyte] = [_lab(lab) for lab in last_two]
    return [
        _finding(
            "taper_readiness",
            Severity.INFO,
            f"inactive-since-{remission_since.isoformat()}",
            f"On infliximab since {_date(history.day_zero)} (at least {g.min_course_days} days "
            f"by {_date(long_enough_on)}); disease inactive since {_date(remission_since)}, "
            f"{inactive_days} days up to the assessment of "
            f"{_date(last_assessment.assessed_on)} (at least {g.remission_days_for_taper}); the "
            f"MRI of {_date(mri.performed_on)} shows no active lesion; the last two CRP and ESR "
            f"are normal and at most {g.marker_interval_days} days old; no taper in force. "
            "Consider a gradual taper (a longer interval), recorded as a regimen change.",
            due_on=max(
                history.day_zero + _days(g.min_course_days),
                remission_since + _days(g.remission_days_for_taper),
            ),
            day_zero=history.day_zero,
            inactive_since=remission_since,
            latest_assessment=_assessment(last_assessment),
            latest_mri=_mri(mri),
            crp=markers[CRP],
            esr=markers[ESR],
        )
    ]


def _inactive_since(history: CourseHistory, g: Guideline) -> dt.date | None:
    """Start of the unbroken run of inactive assessments that reaches the latest one."""
    since = None
    for assessment in reversed(history.assessments):
        if _state_on(history, assessment, g) != INACTIVE:
            break
        since = assessment.assessed_on
    return since


@rule(
    raises="stopped before min_course_days for a reason other than adverse event or inefficacy",
    title="Stopped before 12 months",
    severity="info",
    grade="A",
    quote=TWELVE_MONTHS,
    source=SOURCE_DOC,
    key="course",
    clears="acknowledged by a clinician; a retreatment course starts",
)
def early_discontinuation(ctx: Context) -> list[Finding]:
    history, g = ctx.history, ctx.g
    stopped_on = history.stopped_on
    if stopped_on is None or stopped_on > ctx.as_of or not history.is_latest_course:
        return []
    if history.stop_reason in (ADVERSE_EVENT, INEFFICACY):
        return []
    days = (stopped_on - history.day_zero).days
    if days >= g.min_course_days:
        return []
    return [
        _finding(
            "early_discontinuation",
            Severity.INFO,
            "course",
            f"The course stopped on {_date(stopped_on)} after {days} days (fewer than "
            f"{g.min_course_days}), for {history.stop_reason.replace('_', ' ') or 'no reason'}: "
            "the relapse risk is higher. Watch closely at the follow-up visits.",
            due_on=stopped_on,
            day_zero=history.day_zero,
            stopped_on=stopped_on,
            stop_reason=history.stop_reason,
            days_on_treatment=days,
        )
    ]


def _watching_after_stop(history: CourseHistory, as_of: dt.date) -> dt.date | None:
    """The stop date, if the course stopped and was not followed by retreatment."""
    stopped_on = history.stopped_on
    if stopped_on is None or stopped_on > as_of or history.next_course_started_on is not None:
        return None
    return stopped_on


def _relapse_watch_advice(history: CourseHistory) -> str:
    """What to do about a relapse, by why the course stopped (GUIDELINE.md, relapse watch)."""
    if history.stop_reason != ADVERSE_EVENT:
        return " Confirm the relapse (record it) and consider retreatment."
    reactions = history.all_reactions
    severe = [r for r in reactions if r.severity == SEVERE]
    if severe:
        return (
            f" The course stopped for an adverse event: a severe {severe[-1].onset} infusion "
            "reaction. Infliximab is contraindicated after a severe hypersensitivity reaction: "
            "confirm the relapse (record it) and review the treatment; retreatment with "
            "infliximab needs a clinician's review."
        )
    latest = reactions[-1] if reactions else None
    event = f"a {latest.severity} {latest.onset} infusion reaction" if latest else "see the notes"
    return (
        f" The course stopped for an adverse event ({event}): confirm the relapse (record it); "
        "retreatment with infliximab needs a clinician's review of that event."
    )


@rule(
    raises=(
        "within post_stop_watch_days after a stop for remission, patient choice, adverse event or "
        "other (never after inefficacy): an MRI with new or active lesions or impression “worse”, a"
        " clinically active lesion, or an assessment judged active (urgent); an assessment whose "
        "scores alone suggest activity (state not judged, no lesion) (warning: confirm). Raised "
        "CRP/ESR are only supporting evidence. After an adverse-event stop the text names the event"
        " and says infliximab retreatment needs review (contraindicated after a severe "
        "hypersensitivity reaction). A relapse recorded before the stop does not mask it"
    ),
    title="Relapse after stopping",
    severity="urgent / warning",
    grade="A",
    quote=RELAPSE,
    source=SOURCE_DOC,
    key="first evidence date after the stop",
    clears="a relapse recorded after the stop; retreatment starts",
)
def relapse_after_stopping(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    stopped_on = _watching_after_stop(history, as_of)
    if stopped_on is None or history.stop_reason == INEFFICACY:
        return []  # after inefficacy the disease never remitted: there is nothing to relapse
    if any(day > stopped_on for day in history.relapses_noted_on):
        return []  # a relapse recorded before the stop (during the taper) does not mask it
    start, end = stopped_on, min(as_of, stopped_on + _days(g.post_stop_watch_days))

    def watched(day: dt.date) -> bool:
        return start < day <= end

    mri = [
        s
        for s in history.imaging
        if s.is_mri
        and watched(s.performed_on)
        and ((s.new_lesions or 0) + (s.active_lesions or 0) or s.impression == WORSE)
    ]
    clinical, suggestive = [], []
    for a in history.assessments:
        if not watched(a.assessed_on):
            continue
        if a.disease_state == ACTIVE or (a.clinically_active_lesions or 0):
            clinical.append(a)
        elif a.disease_state != INACTIVE and any(
            score is not None and score >= g.activity_score_min
            for score in (a.pain_score, a.physician_global)
        ):
            suggestive.append(a)
    if not (mri or clinical or suggestive):
        return []
    first = min(
        [s.performed_on for s in mri]
        + [a.assessed_on for a in clinical]
        + [a.assessed_on for a in suggestive]
    )
    raised = [
        lab
        for lab in history.labs
        if lab.analyte in (CRP, ESR) and watched(lab.collected_on) and _is_raised(lab, g)
    ]
    what = []
    if mri:
        what.append(f"{len(mri)} MRI with new or active lesions or reported worse")
    if clinical:
        what.append(f"{len(clinical)} assessment(s) with active disease")
    if suggestive:
        what.append(
            f"{len(suggestive)} assessment(s) whose scores suggest activity (pain or physician "
            f"global ≥ {plain(g.activity_score_min)}, no judged state or active lesion)"
        )
    if raised:
        what.append(f"supported by {len(raised)} raised CRP/ESR")
    urgent = bool(mri or clinical)
    detail = (
        f"Stopped on {_date(stopped_on)} ({history.stop_reason.replace('_', ' ') or 'no reason'});"
        f" since {_date(first)}: " + ", ".join(what) + "."
    )
    if not urgent:
        detail += " Confirm at a visit (examine; judge the disease state; consider an MRI)."
    detail += _relapse_watch_advice(history)
    return [
        _finding(
            "relapse_after_stopping",
            Severity.URGENT if urgent else Severity.WARNING,
            first.isoformat(),
            detail,
            due_on=first,
            title="Relapse after stopping" if urgent else "Possible relapse after stopping",
            stopped_on=stopped_on,
            stop_reason=history.stop_reason,
            mri=[_mri(s) for s in mri],
            assessments=[_assessment(a) for a in clinical],
            suggestive_assessments=[_assessment(a) for a in suggestive],
            raised_markers=[_lab(lab) for lab in raised],
        )
    ]


@rule(
    raises="no assessment within 30 days of the 3-, 6-, 12- or 24-month visit after stopping",
    title="Follow-up visit after stopping due",
    severity="info",
    grade="B/C",
    quote=RELAPSE,
    source="source document; Lovell 2018, Gieling 2022 (relapse after stopping biologics)",
    key="visit",
    clears="an assessment in the window; retreatment starts",
)
def post_stop_follow_up_due(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    stopped_on = _watching_after_stop(history, as_of)
    if stopped_on is None:
        return []
    due_visits = list(
        itertools.takewhile(
            lambda visit: ctx.reached(visit[1]),
            ((offset, stopped_on + _days(offset)) for offset in sorted(g.post_stop_visit_days)),
        )
    )
    if not due_visits:
        return []
    offset, visit_on = due_visits[-1]
    window = _days(g.post_stop_visit_window_days)
    if any(a.assessed_on >= visit_on - window for a in history.assessments):
        return []
    months = round(offset / 30.44)
    return [
        _finding(
            "post_stop_follow_up_due",
            Severity.INFO,
            f"{months}m",
            f"The {months}-month follow-up after stopping (due {_date(visit_on)}) has no "
            f"assessment within {g.post_stop_visit_window_days} days of it. See the patient and "
            "record an assessment.",
            due_on=visit_on,
            title=f"{months}-month follow-up after stopping due",
            stopped_on=stopped_on,
            visit_day=offset,
        )
    ]


# --- Reactions ---------------------------------------------------------------------------------


def _infusions_by_id(history: CourseHistory) -> dict[int, InfusionRow]:
    return {i.id: i for i in history.all_infusions}


@rule(
    raises=(
        "the patient's latest reaction (any severity, any course; a severe one once reviewed and "
        "continued) and the next infusion is due or was given without premedication: antihistamine "
        "+ corticosteroid, slower rate; a delayed reaction also calls for an antibody check; a "
        "reaction despite premedication escalates to urgent (review)"
    ),
    title="Premedicate: reaction at an earlier infusion",
    severity="warning / urgent",
    grade="A/B",
    quote=PREMEDICATE,
    source="source document; Cheifetz 2003 (acute and delayed reactions)",
    key="reaction",
    clears=(
        "a premedicated infusion without reaction after it; course stopped (it comes back at "
        "retreatment)"
    ),
    clears_on_stop=True,
)
def premedication_advised(ctx: Context) -> list[Finding]:
    history = ctx.history
    if not history.is_latest_course:
        return []
    infusions = _infusions_by_id(history)

    def counts(r: ReactionRow) -> bool:
        # A severe one counts once a clinician reviewed it and decided to continue.
        if r.infusion_id not in infusions:
            return False
        if r.severity != SEVERE:
            return True
        return r.reviewed_on is not None and r.review_decision not in ("", REVIEW_STOP)

    reactions = [r for r in history.all_reactions if counts(r)]
    if not reactions:
        return []
    reaction = max(reactions, key=lambda r: (infusions[r.infusion_id].given_on, r.id))
    reacted = infusions[reaction.infusion_id]
    later = [i for i in history.all_infusions if i.given_on > reacted.given_on]
    if any(i.premedicated for i in later):
        return []  # premedicated, and no reaction since (the latest reaction is the one above)
    next_dose = ctx.schedule.next_dose
    if not later and next_dose is None:
        return []  # stopped: no next infusion to prepare
    despite = reacted.premedicated
    detail = (
        f"A {reaction.severity} {reaction.onset} reaction followed the infusion of "
        f"{_date(reacted.given_on)}"
    )
    if despite:
        detail += (
            ", despite premedication: a clinician should review the regimen before the next "
            "infusion (slower rate, premedication, antibodies)"
        )
    else:
        detail += (
            ". Premedicate (antihistamine, corticosteroid) and slow the rate at the next infusion"
        )
    detail += f", due {_date(next_dose.due_on)}." if next_dose else "."
    if reaction.onset == DELAYED:
        detail += " A delayed reaction calls for an antibody check."
    if later:
        detail += f" {len(later)} infusion(s) since were given without premedication."
    return [
        _finding(
            "premedication_advised",
            Severity.URGENT if despite else Severity.WARNING,
            f"reaction-{reaction.id}",
            detail,
            due_on=next_dose.due_on if next_dose else later[-1].given_on,
            title="Reaction despite premedication: review" if despite else None,
            reaction=_reaction(reaction),
            reaction_infusion=_infusion(reacted),
            given_without_premedication=[_infusion(i) for i in later],
        )
    ]


@rule(
    raises=(
        "a severe reaction without a recorded clinician review: no further infusion until reviewed "
        "(enforced at entry)"
    ),
    title="Severe reaction: clinician review before the next infusion",
    severity="urgent while on treatment or at retreatment, info off treatment",
    grade="B",
    quote=SEVERE_HOLD,
    source="registry guideline after the infliximab label; Cheifetz 2003",
    key="reaction",
    clears="a clinician records the review",
)
def severe_reaction_review(ctx: Context) -> list[Finding]:
    history, as_of = ctx.history, ctx.as_of
    if not history.is_latest_course:
        return []  # the retreatment carries it
    infusions = _infusions_by_id(history)
    severity = Severity.URGENT if history.is_on_treatment(as_of) else Severity.INFO
    findings = []
    for reaction in history.all_reactions:
        if reaction.severity != SEVERE or reaction.infusion_id not in infusions:
            continue
        if reaction.reviewed_on is not None and reaction.reviewed_on <= as_of:
            continue
        reacted = infusions[reaction.infusion_id]
        given_since = [_infusion(i) for i in history.all_infusions if i.given_on > reacted.given_on]
        detail = (
            f"A severe {reaction.onset} reaction followed the infusion of "
            f"{_date(reacted.given_on)} and no clinician review is recorded. No further "
            "infusion until a clinician reviews it (the registry refuses one)."
        )
        if severity is Severity.INFO:
            detail += " Off treatment now: review it before any retreatment."
        if given_since:
            detail += f" {len(given_since)} infusion(s) were given since without a review."
        findings.append(
            _finding(
                "severe_reaction_review",
                severity,
                f"reaction-{reaction.id}",
                detail,
                due_on=reacted.given_on,
                reaction=_reaction(reaction),
                reaction_infusion=_infusion(reacted),
                given_since=given_since,
            )
        )
    return findings


# --- Co-medication -----------------------------------------------------------------------------

METHOTREXATE_MONITORING = (
    "On methotrexate, check a full blood count and liver enzymes (ALT) at least every 12 weeks "
    "once the dose is stable, and more often after starting it or changing the dose."
)
# The blood count's neutrophils and platelets, and ALT: what methotrexate's marrow and liver
# toxicity shows in (GUIDELINE.md methotrexate_monitoring_due), in the order the text names them.
METHOTREXATE_TESTS = (
    (NEUTROPHILS, "neutrophil count"),
    (PLATELETS, "platelet count"),
    (ALT, "ALT"),
)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _last_result(name: str, lab: LabRow | None) -> str:
    if lab is None:
        return f"the {name} (none recorded)"
    return f"the {name} (last on {_date(lab.collected_on)})"


def _latest_of(history: CourseHistory, analyte: str) -> LabRow | None:
    results = [lab for lab in history.labs if lab.analyte == analyte]
    return results[-1] if results else None


@rule(
    raises=(
        "on methotrexate (an entry started by the date and not stopped by it) during an active "
        "infliximab course, with no neutrophil count, no platelet count or no ALT in the last "
        "methotrexate_monitoring_days (each one missing is named, with its last date)"
    ),
    title="Methotrexate: blood count and ALT due",
    severity="info",
    grade="B",
    quote=METHOTREXATE_MONITORING,
    source="registry guideline after BSR/BHPR 2017 (Ledingham 2017) and ACR 2008 (Saag 2008): "
    "methotrexate in adult rheumatic disease",
    key="due date (the earliest of the missing tests')",
    clears="a neutrophil count, a platelet count and an ALT within the interval; methotrexate "
    "stopped; course stopped",
    clears_on_stop=True,
)
def methotrexate_monitoring_due(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    if not history.is_on_treatment(as_of):
        return []
    since = history.taking_since(METHOTREXATE, as_of)
    if since is None:
        return []
    interval = g.methotrexate_monitoring_days
    latest = {analyte: _latest_of(history, analyte) for analyte, _name in METHOTREXATE_TESTS}
    due: dict[str, dt.date] = {}  # the missing tests: since when each is due
    for analyte, _name in METHOTREXATE_TESTS:
        lab = latest[analyte]
        if lab is not None and not ctx.past(lab.collected_on + _days(interval)):
            continue  # in time ("within 98 days": 98 days ago still counts)
        # Due `interval` days after the last result, but never before methotrexate started.
        due[analyte] = since if lab is None else max(since, lab.collected_on + _days(interval))
    if not due:
        return []
    first_due = min(due.values())
    missing = [name for analyte, name in METHOTREXATE_TESTS if analyte in due]
    gaps = [
        _last_result(name, latest[analyte])
        for analyte, name in METHOTREXATE_TESTS
        if analyte in due
    ]
    draw = []
    if NEUTROPHILS in due or PLATELETS in due:
        draw.append("a full blood count")
    if ALT in due:
        draw.append("ALT")
    detail = (
        f"On methotrexate since {_date(since)}: a blood count (neutrophils and platelets) and ALT "
        f"are due at least every {interval} days. Missing: {_listed(gaps)}. Draw "
        f"{' and '.join(draw)} and record the results."
    )
    return [
        _finding(
            "methotrexate_monitoring_due",
            Severity.INFO,
            first_due.isoformat(),
            detail,
            due_on=first_due,
            methotrexate_since=since,
            missing=missing,
            last_neutrophils=_lab(lab) if (lab := latest[NEUTROPHILS]) else None,
            last_platelets=_lab(lab) if (lab := latest[PLATELETS]) else None,
            last_alt=_lab(lab) if (lab := latest[ALT]) else None,
            monitoring_interval_days=interval,
        )
    ]


# --- Screening before and during treatment -----------------------------------------------------

SCREENING_BEFORE = (
    "Before infliximab, screen for latent tuberculosis (an IGRA or a tuberculin skin test) and for "
    "hepatitis B (HBsAg and anti-HBc), and act on what is found before the first infusion."
)
SCREENING_REVIEW = (
    "A positive or indeterminate TB or hepatitis B screen is reviewed by a specialist (latent TB "
    "treatment, antiviral prophylaxis or monitoring) before the next infusion."
)
SCREENING_SOURCE = (
    "registry guideline after the infliximab label (boxed warning: serious infections and "
    "tuberculosis; warnings: hepatitis B reactivation), BSR 2019 (Holroyd 2019) and AASLD 2018 "
    "(Terrault 2018)"
)
# The tests as the alert names them.
SCREENING_NAMES = MappingProxyType(
    {
        TB_IGRA: "IGRA (TB)",
        TB_SKIN_TEST: "tuberculin skin test",
        TB_CHEST_XRAY: "chest X-ray (TB)",
        HBV_SURFACE_ANTIGEN: "HBsAg",
        HBV_CORE_ANTIBODY: "anti-HBc",
    }
)
# What a result that is not negative may mean, and who reviews it.
SCREENING_MEANING = MappingProxyType(
    {
        TB_IGRA: "latent or active tuberculosis must be excluded or treated (a TB specialist)",
        TB_SKIN_TEST: "latent or active tuberculosis must be excluded or treated (a TB specialist)",
        TB_CHEST_XRAY: "signs of tuberculosis on the X-ray (a TB specialist)",
        HBV_SURFACE_ANTIGEN: "a hepatitis B infection that infliximab can flare (a hepatologist: "
        "antiviral prophylaxis)",
        HBV_CORE_ANTIBODY: "a past hepatitis B infection that infliximab can reactivate (a "
        "hepatologist: prophylaxis or HBV DNA monitoring)",
    }
)
TB_SCREEN_WORDS = "a TB screen (an IGRA or a tuberculin skin test; a chest X-ray alone is not one)"


def _screening(row: ScreeningRow) -> dict[str, Any]:
    return dataclasses.asdict(row)


def _latest_screen(history: CourseHistory, tests: Iterable[str]) -> ScreeningRow | None:
    found = [s for s in history.screenings if s.test in tests]
    return max(found, key=lambda s: (s.tested_on, s.id), default=None)


@rule(
    raises=(
        "a course not stopped without a TB screen (an IGRA or a tuberculin skin test, any result) "
        "or without both HBsAg and anti-HBc (any result) taken at most screening_window_days "
        "before its start, or since (each course on its own start; the missing tests are named)"
    ),
    title="TB or hepatitis B screening not recorded",
    severity="warning before the course starts; urgent from its start",
    grade="B",
    quote=SCREENING_BEFORE,
    source=SCREENING_SOURCE,
    key="course",
    clears="the missing results recorded (a late screen counts); course stopped",
    clears_on_stop=True,
)
def screening_missing(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    if history.is_stopped(as_of):
        return []
    window = g.screening_window_days
    start = history.started_on
    counts_from = start - _days(window)
    # Any result counts as screened (a positive one is screening_positive's); one taken after the
    # start counts too: late screening is still screening.
    taken = {s.test for s in history.screenings if s.tested_on >= counts_from}
    missing_tests: list[tuple[str, ...]] = [] if taken & set(TB_SCREENS) else [TB_SCREENS]
    missing_tests += [(test,) for test in HBV_SCREENS if test not in taken]
    if not missing_tests:
        return []
    hbv = [SCREENING_NAMES[test] for test in HBV_SCREENS if test not in taken]
    missing = [TB_SCREEN_WORDS] if TB_SCREENS in missing_tests else []
    missing += [f"hepatitis B: {_listed(hbv)}"] if hbv else []
    started = ctx.reached(start)
    detail = (
        f"Missing: {_listed(missing)}, none taken within {window} days before this course's start "
        f"({_date(start)}) or since."
    )
    older = [  # a missing test's last result, too old to count
        f"{SCREENING_NAMES[s.test]} of {_date(s.tested_on)}"
        for tests in missing_tests
        if (s := _latest_screen(history, tests)) is not None
    ]
    if older:
        detail += f" Too long before the start to count: the {_listed(older)}."
    given = history.infusions_until(as_of)
    retrospective = bool(given) and ctx.past(given[0].given_on + _days(window))
    if not started:
        detail += f" Screen before the first infusion, planned for {_date(start)}."
    elif retrospective:
        detail += (
            f" Retrospective: this course's first infusion ({_date(given[0].given_on)}) was more "
            f"than {window} days ago, and it goes on: record the screening done before it, if "
            "there was one; if not, screen now."
        )
    else:
        detail += (
            " No infusion is safe until the results are known: record the screening done before "
            "the course, or screen now."
        )
    if given:
        detail += f" {len(given)} infusion(s) of this course were given without it on record."
    return [
        _finding(
            "screening_missing",
            Severity.URGENT if started else Severity.WARNING,
            "course",
            detail,
            due_on=start,
            course_started_on=start,
            missing=[
                "TB screen (IGRA or tuberculin skin test)"
                if tests == TB_SCREENS
                else SCREENING_NAMES[tests[0]]
                for tests in missing_tests
            ],
            counts_from=counts_from,
            screening_window_days=window,
            infusions_given=len(given),
            retrospective=retrospective,
        )
    ]


@rule(
    raises=(
        "a positive or indeterminate TB screen (IGRA, tuberculin skin test, chest X-ray) or "
        "hepatitis B screen (HBsAg, anti-HBc; not anti-HBs) dated before or during a course not "
        "stopped, without a specialist review (infusions refused until it is recorded)"
    ),
    title="TB or hepatitis B screen: specialist review before the next infusion",
    severity="urgent",
    grade="B",
    quote=SCREENING_REVIEW,
    source=SCREENING_SOURCE,
    key="screening result",
    clears="a clinician records the specialist review; course stopped",
    clears_on_stop=True,
)
def screening_positive(ctx: Context) -> list[Finding]:
    history, as_of = ctx.history, ctx.as_of
    if history.is_stopped(as_of):
        return []
    findings = []
    for screening in history.screenings:
        # The history is cut at as_of: a later result is not there, a later review not known.
        if screening.test not in SCREENING_NAMES:  # not a TB or hepatitis B screen: not read
            continue
        if not screening.needs_specialist or screening.reviewed_on is not None:
            continue
        name = SCREENING_NAMES[screening.test]
        given_since = [
            _infusion(i) for i in history.all_infusions if i.given_on >= screening.tested_on
        ]
        detail = (
            f"The {name} of {_date(screening.tested_on)} is {screening.result}, and no specialist "
            f"review is recorded: {SCREENING_MEANING[screening.test]}. A specialist reviews it "
            "before the next infusion; the registry refuses an infusion until a clinician records "
            "that review."
        )
        if given_since:
            detail += f" {len(given_since)} infusion(s) were given since the test without one."
        findings.append(
            _finding(
                "screening_positive",
                Severity.URGENT,
                f"screening-{screening.id}",
                detail,
                due_on=screening.tested_on,
                screening=_screening(screening),
                given_since=given_since,
            )
        )
    return findings


# --- Safety: live vaccines, serious adverse events ----------------------------------------------

LIVE_VACCINE = "It is recommended that live vaccines not be given concurrently with [infliximab]."
LIVE_VACCINE_SOURCE = "infliximab label (Remicade SmPC, sections 4.4 and 4.5)"


def _vaccination(row: VaccinationRow) -> dict[str, Any]:
    return {"id": row.id, "vaccine": row.vaccine, "given_on": row.given_on}


@rule(
    raises=(
        "an unreviewed live vaccine, on an active course: given on treatment (on or after one of "
        "the course's infusions), or followed by an infusion within live_vaccine_interval_days "
        "(it happened); or given before the course's next infusion, which is due within "
        "live_vaccine_interval_days of it (the alert names the earliest date it may be given)"
    ),
    title="Live vaccine on infliximab: clinician review",
    severity="urgent",
    grade="B",
    quote=LIVE_VACCINE,
    source=f"registry guideline after the {LIVE_VACCINE_SOURCE}; the interval, "
    "live_vaccine_interval_days, is a registry default of grade C",
    key="vaccination",
    clears="a clinician records the review of the vaccination (infusion deferred, or risk "
    "accepted); course stopped",
    clears_on_stop=True,
)
def live_vaccine_on_treatment(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    if not history.is_on_treatment(as_of):
        return []
    interval = g.live_vaccine_interval_days
    next_dose = ctx.schedule.next_dose
    findings = []
    for vaccination in history.live_vaccinations:
        if vaccination.reviewed_on is not None:
            continue
        given_on = vaccination.given_on
        closes_on = given_on + _days(interval)  # the last day an infusion is "within" it
        on_treatment_since = [i for i in history.infusions if i.given_on <= given_on]
        infused_within = [i for i in history.infusions if given_on <= i.given_on <= closes_on]
        earliest = closes_on + _days(1)
        upcoming = (
            next_dose is not None and next_dose.due_on < earliest and not ctx.reached(earliest)
        )
        if not (on_treatment_since or infused_within or upcoming):
            continue  # long enough before this course's infusions: no concern
        parts = [f"A live vaccine was given on {_date(given_on)}"]
        if on_treatment_since:
            parts.append(
                f", on treatment (the course's last infusion before it: "
                f"{_date(on_treatment_since[-1].given_on)})"
            )
        if infused_within:
            parts.append(
                f"; {len(infused_within)} infusion(s) followed within {interval} days "
                f"(first {_date(infused_within[0].given_on)})"
            )
        detail = "".join(parts) + "."
        if upcoming and next_dose is not None:
            detail += (
                f" The next infusion is due {_date(next_dose.due_on)}: not before "
                f"{_date(earliest)} ({interval} days after the vaccine) unless a clinician accepts "
                "the risk."
            )
        detail += (
            " Live vaccines are not given on infliximab: a clinician assesses the patient "
            "(vaccine-strain infection) and records a review: defer the infusion, or accept the "
            "risk."
        )
        findings.append(
            _finding(
                "live_vaccine_on_treatment",
                Severity.URGENT,
                f"vaccination-{vaccination.id}",
                detail,
                due_on=given_on,
                vaccination=_vaccination(vaccination),
                infused_within=[_infusion(i) for i in infused_within],
                next_due_on=next_dose.due_on if upcoming and next_dose else None,
                earliest_infusion_on=earliest if upcoming else None,
                live_vaccine_interval_days=interval,
            )
        )
    return findings


SERIOUS_EVENT_REVIEW = (
    "A serious adverse event (it results in death, is life-threatening, requires or prolongs "
    "hospitalisation, results in persistent or significant disability, is a congenital anomaly, "
    "or is another important medical event) or an event of special interest of a TNF inhibitor "
    "is reviewed by a clinician: the decision on infliximab."
)


def _event(row: AdverseEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "onset_on": row.onset_on,
        "term": row.term_label or row.term,
        "serious": row.serious,
    }


@rule(
    raises=(
        "an adverse event (not an infusion reaction: severe_reaction_review) that is serious "
        "(ICH E2A) or of special interest, with no clinician review; raised once, on the course "
        "it was recorded against, else the course on treatment at its onset, else the patient's "
        "latest course"
    ),
    title="Serious adverse event: clinician review",
    severity="urgent",
    grade="B",
    quote=SERIOUS_EVENT_REVIEW,
    source="registry guideline after ICH E2A (1994: seriousness) and the infliximab label "
    "(warnings: serious infections, tuberculosis, malignancy, demyelination, lupus-like syndrome, "
    "psoriasis)",
    key="adverse event",
    clears="a clinician records the review (continue, hold or stop infliximab); not the course's "
    "stop: an event that led to stopping still needs its review",
)
def serious_adverse_event_review(ctx: Context) -> list[Finding]:
    history, as_of = ctx.history, ctx.as_of
    findings = []
    for event in history.adverse_events:
        if event.reviewed_on is not None:
            continue
        what = []
        if event.serious:
            what.append("serious")
        if event.special_interest:
            what.append(f"of special interest ({', '.join(event.special_interest)})")
        detail = (
            f"An adverse event ({event.term_label or event.term}) began on "
            f"{_date(event.onset_on)} and is {' and '.join(what)}: no "
            "clinician review is recorded. A clinician reviews it and records the decision on "
            "infliximab (continue, hold until it resolves, or stop)."
        )
        if history.is_stopped(as_of):
            detail += " The course has stopped; the event still needs its review."
        findings.append(
            _finding(
                "serious_adverse_event_review",
                Severity.URGENT,
                f"event-{event.id}",
                detail,
                due_on=event.onset_on,
                adverse_event=_event(event),
                special_interest=list(event.special_interest),
            )
        )
    return findings


# --- Consent -----------------------------------------------------------------------------------

RECONSENT = (
    "A child's registry consent is given by a parent or guardian; when the patient reaches the "
    "age of majority, ask for their own consent to continue."
)


CONSENTED_BY_WORDS = (
    ("parent_guardian", "a parent or guardian"),
    ("not_recorded", "someone not recorded (consent taken before consent versions)"),
)


def _birthday(born_on: dt.date, years: int) -> dt.date:
    """The day the patient turns `years` (a 29 February birthday falls on 1 March)."""
    try:
        return born_on.replace(year=born_on.year + years)
    except ValueError:
        return dt.date(born_on.year + years, 3, 1)


def _consent(row: ConsentRow, as_of: dt.date) -> dict[str, Any]:
    return {
        "id": row.id,
        "given_on": row.given_on,
        "consented_by": row.consented_by,
        "scopes": list(row.scopes_in_force(as_of)),
    }


@rule(
    raises=(
        "a patient who has reached the site's age_of_majority_years, whose consent in force (any "
        "scope given and not withdrawn) was given only by a parent or guardian, or by someone not "
        "recorded; raised on the patient's latest course only (one alert per patient)"
    ),
    title="Consent: ask the patient's own consent at majority",
    severity="info",
    grade="C",
    quote=RECONSENT,
    source="registry guideline (research ethics practice for paediatric registries)",
    key="the day the patient reached majority",
    clears="the patient's own consent is recorded; consent withdrawn entirely",
)
def reconsent_at_majority(ctx: Context) -> list[Finding]:
    history, g, as_of = ctx.history, ctx.g, ctx.as_of
    born_on = history.patient_born_on
    if born_on is None or not history.is_latest_course:
        return []  # one alert per patient: on the latest course
    majority_on = _birthday(born_on, g.age_of_majority_years)
    if not ctx.reached(majority_on):
        return []
    in_force = [c for c in history.consents if c.scopes_in_force(as_of)]
    if not in_force or any(c.consented_by == CONSENTED_BY_PATIENT for c in in_force):
        return []
    words = dict(CONSENTED_BY_WORDS)
    given_by = sorted({words.get(c.consented_by, c.consented_by) for c in in_force})
    detail = (
        f"The patient reached the age of majority ({g.age_of_majority_years}) on "
        f"{_date(majority_on)}; the consent in force was given by {' and '.join(given_by)} "
        f"(latest given {_date(in_force[-1].given_on)}). Ask the patient for their own consent "
        "and record it (or record the withdrawal if they decline)."
    )
    return [
        _finding(
            "reconsent_at_majority",
            Severity.INFO,
            majority_on.isoformat(),
            detail,
            due_on=majority_on,
            age_of_majority_years=g.age_of_majority_years,
            consents_in_force=[_consent(c, as_of) for c in in_force],
        )
    ]
