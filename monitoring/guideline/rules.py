"""The 15 rules of GUIDELINE.md, one pure function each, named by rule id.

Each takes a course history (already cut at `as_of`: see `evaluate`), the date and the guideline
parameters, and returns its findings (usually none or one). Thresholds are strict, as the guideline
words them: "late after 7 days past due" means day 8 is late and day 7 is not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from monitoring.guideline.findings import Finding, RuleInfo, Severity, plain
from monitoring.guideline.history import (
    ACTIVE,
    ANTIBODIES,
    CRP,
    ESR,
    INACTIVE,
    TAPER,
    TROUGH,
    AssessmentRow,
    CourseHistory,
    ImagingRow,
    InfusionRow,
    LabRow,
)
from monitoring.guideline.parameters import Guideline
from monitoring.guideline.schedule import INDUCTION, MAINTENANCE, ScheduledDose, schedule

RuleFunction = Callable[[CourseHistory, dt.date, Guideline], list[Finding]]

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

RULES: dict[str, tuple[RuleInfo, RuleFunction]] = {}


def rule(
    *,
    title: str,
    severity: str,
    grade: str,
    quote: str,
    source: str,
    key: str,
    clears_on_stop: bool = False,
) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule; its id is the function's name. `clears_on_stop`: GUIDELINE.md's "clears
    when" column includes "course stopped" (the reconciliation resolves it with that reason)."""

    def register(function: RuleFunction) -> RuleFunction:
        info = RuleInfo(
            function.__name__, title, severity, grade, quote, source, key, clears_on_stop
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
    **evidence: Any,
) -> Finding:
    info = RULES[rule_id][0]
    explanation = f"{detail}\n\nGuideline (grade {info.grade}, {info.source}): “{info.quote}”"
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


def _lateness(days_late: int, g: Guideline) -> Severity | None:
    if days_late > g.dose_overdue_days:
        return Severity.URGENT
    if days_late > g.dose_grace_days:
        return Severity.WARNING
    return None


def _late_dose(
    history: CourseHistory, as_of: dt.date, g: Guideline, phase: str
) -> tuple[ScheduledDose, int, Severity] | None:
    """The next dose of `phase` if it is late past the grace: (dose, days late, severity)."""
    dose = schedule(history, as_of).next_dose
    if dose is None or dose.phase != phase:
        return None
    late = dose.days_late(as_of)
    severity = _lateness(late, g)
    return None if severity is None else (dose, late, severity)


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
    return {name: value for name, value in fields.items() if value is not None}


def _mri(row: ImagingRow) -> dict[str, Any]:
    return dataclasses.asdict(row)


def _assessment(row: AssessmentRow) -> dict[str, Any]:
    return {
        name: value for name, value in dataclasses.asdict(row).items() if value not in (None, "")
    }


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


def is_inactive(assessment: AssessmentRow, latest_mri: ImagingRow | None) -> bool:
    """GUIDELINE.md's disease state (grade C): judged inactive, or no clinically active lesion with
    physician global ≤ 1 and pain ≤ 1; and no active lesion on the latest MRI."""
    if assessment.disease_state == ACTIVE:
        return False
    scored_inactive = (
        assessment.clinically_active_lesions == 0
        and assessment.physician_global is not None
        and assessment.physician_global <= 1
        and assessment.pain_score is not None
        and assessment.pain_score <= 1
    )
    mri_clear = latest_mri is None or not latest_mri.active_lesions
    return (assessment.disease_state == INACTIVE or scored_inactive) and mri_clear


# --- Doses ---------------------------------------------------------------------------------------


@rule(
    title="Induction dose missed",
    severity="warning → urgent past overdue",
    grade="A",
    quote=DOSING,
    source=SOURCE_DOC,
    key="dose number",
    clears_on_stop=True,
)
def induction_dose_missed(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    late_dose = _late_dose(history, as_of, g, INDUCTION)
    if late_dose is None:
        return []
    dose, late, severity = late_dose
    week = history.induction_weeks[dose.number - 1]
    return [
        _finding(
            "induction_dose_missed",
            severity,
            f"dose-{dose.number}",
            f"Induction dose {dose.number} (week {week}) was due on {dose.due_on:%d %b %Y} and "
            f"has not been given: {late} days late (late after {g.dose_grace_days} days, "
            f"overdue after {g.dose_overdue_days}).",
            due_on=dose.due_on,
            title=f"Induction dose {dose.number} (week {week}) missed",
            dose_number=dose.number,
            days_late=late,
            day_zero=history.day_zero,
            infusions=[_infusion(i) for i in history.infusions],
        )
    ]


@rule(
    title="Maintenance dose overdue",
    severity="warning → urgent past overdue",
    grade="A",
    quote=DOSING,
    source=SOURCE_DOC,
    key="due date",
    clears_on_stop=True,
)
def maintenance_dose_overdue(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    late_dose = _late_dose(history, as_of, g, MAINTENANCE)
    if late_dose is None:
        return []
    dose, late, severity = late_dose
    last = history.infusions[-1]
    _mg_per_kg, interval = history.regimen_on(as_of)
    return [
        _finding(
            "maintenance_dose_overdue",
            severity,
            dose.due_on.isoformat(),
            f"The last infusion was on {last.given_on:%d %b %Y}; with an interval of {interval} "
            f"weeks the next dose was due on {dose.due_on:%d %b %Y}: {late} days late "
            f"(late after {g.dose_grace_days} days, overdue after {g.dose_overdue_days}).",
            due_on=dose.due_on,
            last_infusion=_infusion(last),
            interval_weeks=interval,
            days_late=late,
        )
    ]


@rule(
    title="Treatment interrupted",
    severity="warning",
    grade="A/B",
    quote=CONTINUOUS,
    source="source document; ACCENT I, Baert 2014, Chaparro 2010 (re-exposure)",
    key="restart infusion",
)
def treatment_interrupted(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    findings = []
    advice = (
        "Re-exposure after a long gap raises the risk of anti-drug antibodies and delayed "
        "reactions: check the trough level and antibodies, and review premedication."
    )
    for gap in schedule(history, as_of).gaps:
        if gap.days <= g.interruption_days:
            continue
        if gap.after is None:
            findings.append(
                _finding(
                    "treatment_interrupted",
                    Severity.WARNING,
                    f"open-after-{gap.before.id}",
                    f"No infusion for {gap.days} days since {gap.before.given_on:%d %b %Y} "
                    f"(more than {g.interruption_days} days is intermittent therapy). {advice}",
                    due_on=gap.before.given_on + _days(g.interruption_days + 1),
                    title="Treatment interrupted: no infusion for over 16 weeks",
                    last_infusion=_infusion(gap.before),
                    gap_days=gap.days,
                )
            )
            continue
        restart = gap.after
        checked = [
            lab
            for lab in history.labs
            if lab.analyte in (TROUGH, ANTIBODIES) and lab.collected_on >= restart.given_on
        ]
        if checked:
            continue  # the re-exposure work-up has been done
        findings.append(
            _finding(
                "treatment_interrupted",
                Severity.WARNING,
                f"restart-{restart.id}",
                f"Infliximab restarted on {restart.given_on:%d %b %Y} after {gap.days} days "
                f"without an infusion (more than {g.interruption_days} days). {advice} "
                "No trough or antibody result since the restart.",
                due_on=restart.given_on,
                title="Restarted after an interruption: check trough and antibodies",
                before=_infusion(gap.before),
                restart=_infusion(restart),
                gap_days=gap.days,
            )
        )
    return findings


@rule(
    title="Dose does not match the weight",
    severity="warning",
    grade="A/B",
    quote=DOSING,
    source="source document; infliximab label (maximum 10 mg/kg)",
    key="infusion",
)
def dose_mismatch(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    findings = []
    for infusion in history.infusions:
        mg_per_kg, _interval = history.regimen_on(infusion.given_on)
        expected = mg_per_kg * infusion.weight_kg
        off_by_pct = abs(infusion.dose_mg - expected) / expected * 100
        weighed_on = infusion.weighed_on or infusion.given_on
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
                f"{expected:.0f} mg "
                f"(tolerance {plain(g.dose_tolerance_pct)} %)"
            )
        # Above the cap is a problem unless the regimen in force prescribes it (only a
        # clinician's intensification can: a course's own dose stays within the label).
        if infusion.mg_per_kg > g.max_dose_mg_per_kg and mg_per_kg <= g.max_dose_mg_per_kg:
            problems.append(
                f"{infusion.mg_per_kg} mg/kg is above the labelled maximum of "
                f"{plain(g.max_dose_mg_per_kg)} mg/kg"
            )
        if problems:
            findings.append(
                _finding(
                    "dose_mismatch",
                    Severity.WARNING,
                    f"infusion-{infusion.id}",
                    f"Infusion of {infusion.given_on:%d %b %Y}: " + "; ".join(problems) + ".",
                    due_on=infusion.given_on,
                    infusion=_infusion(infusion),
                    weighed_on=weighed_on,
                    mg_per_kg_in_force=mg_per_kg,
                    expected_mg=expected.quantize(Decimal("0.1")),
                    off_by_pct=off_by_pct.quantize(Decimal("0.1")),
                )
            )
    return findings


# --- Response and monitoring -------------------------------------------------------------------


@rule(
    title="Response assessment at week 10 not recorded",
    severity="warning",
    grade="A",
    quote=(
        "Approximately 80% of patients achieve significant clinical response, such as PASI-75, "
        "at week 10, indicating the rapid efficacy of infliximab."
    ),
    source=SOURCE_DOC,
    key="course",
    clears_on_stop=True,
)
def response_assessment_due(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    if not history.infusions:
        return []
    opens = history.day_zero + _days(g.response_window_start_day)
    closes = history.day_zero + _days(g.response_window_end_day)
    stopped_early = history.stopped_on is not None and history.stopped_on <= closes
    if as_of <= closes or stopped_early:
        return []
    if any(opens <= a.assessed_on <= closes for a in history.assessments):
        return []
    return [
        _finding(
            "response_assessment_due",
            Severity.WARNING,
            "course",
            f"No clinical assessment between day {g.response_window_start_day} "
            f"({opens:%d %b %Y}) and day {g.response_window_end_day} ({closes:%d %b %Y}) of the "
            f"course: the response at week 10 (day {g.response_assessment_day}) is unknown.",
            due_on=history.day_zero + _days(g.response_assessment_day),
            day_zero=history.day_zero,
            window=[opens, closes],
        )
    ]


@rule(
    title="CRP and ESR overdue",
    severity="info",
    grade="A/C",
    quote=MONITORING,
    source="source document (interval: registry default)",
    key="due date",
    clears_on_stop=True,
)
def markers_overdue(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    if not history.is_on_treatment(as_of) or not history.infusions:
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
    if as_of <= due:
        return []
    missing = [name.upper() for name, lab in last.items() if lab is None]
    detail = (
        f"No {' or '.join(missing)} at baseline or since."
        if missing
        else f"CRP and ESR are due every {g.marker_interval_days} days; the next was due on "
        f"{due:%d %b %Y}."
    )
    return [
        _finding(
            "markers_overdue",
            Severity.INFO,
            due.isoformat(),
            detail,
            due_on=due,
            last_crp=_lab(crp) if (crp := last[CRP]) else None,
            last_esr=_lab(esr) if (esr := last[ESR]) else None,
        )
    ]


def mri_milestones(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[dt.date]:
    """Baseline, 6 and 12 months, then yearly: the due dates up to `as_of`."""
    day_zero = history.day_zero
    offsets = [0, *g.mri_follow_up_days]
    while day_zero + _days(offsets[-1]) <= as_of:
        offsets.append(offsets[-1] + g.mri_yearly_days)
    return [day_zero + _days(offset) for offset in offsets if day_zero + _days(offset) <= as_of]


@rule(
    title="MRI overdue",
    severity="info",
    grade="A/B",
    quote=MONITORING,
    source="source document; Schnabel 2016, 2022; Capponi 2021 (MRI at 6 and 12 months)",
    key="due date",
    clears_on_stop=True,
)
def imaging_overdue(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    if not history.is_on_treatment(as_of) or not history.infusions:
        return []
    passed = [due for due in mri_milestones(history, as_of, g) if due < as_of]
    if not passed:
        return []
    due = passed[-1]  # only the latest matters: an earlier missed MRI cannot be caught up
    if any(s.is_mri and s.performed_on >= due - _days(g.mri_window_days) for s in history.imaging):
        return []
    label = "baseline" if due == history.day_zero else f"day {(due - history.day_zero).days}"
    latest = _latest_mri_on(history, as_of)
    return [
        _finding(
            "imaging_overdue",
            Severity.INFO,
            due.isoformat(),
            f"The {label} MRI was due on {due:%d %b %Y} (an MRI within {g.mri_window_days} "
            "days counts) and none is recorded.",
            due_on=due,
            milestone=label,
            latest_mri=_mri(latest) if latest else None,
        )
    ]


@rule(
    title="Infliximab trough level low",
    severity="warning",
    grade="B",
    quote=ADJUST,
    source="source document; AGA 2017 therapeutic drug monitoring (IBD target)",
    key="lab result",
    clears_on_stop=True,
)
def low_trough(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    induction_doses = len(history.induction_weeks)

    def in_maintenance(lab: LabRow) -> bool:
        given_before = sum(1 for i in history.infusions if i.given_on < lab.collected_on)
        stopped = history.stopped_on is not None and lab.collected_on > history.stopped_on
        return given_before >= induction_doses and not stopped

    troughs = [
        lab
        for lab in history.labs
        if lab.analyte == TROUGH and lab.value is not None and in_maintenance(lab)
    ]
    latest = _latest(troughs, lambda lab: lab.collected_on)
    if latest is None or latest.value >= g.trough_min_ug_ml:
        return []
    return [
        _finding(
            "low_trough",
            Severity.WARNING,
            f"lab-{latest.id}",
            f"The trough level of {latest.collected_on:%d %b %Y} was {plain(latest.value)} µg/mL, "
            f"below the target of {plain(g.trough_min_ug_ml)} µg/mL during maintenance: consider a "
            "higher dose or a shorter interval, and check for antibodies.",
            due_on=latest.collected_on,
            trough=_lab(latest),
            target_ug_ml=g.trough_min_ug_ml,
        )
    ]


@rule(
    title="Anti-infliximab antibodies detected",
    severity="urgent",
    grade="A/B",
    quote=CONTINUOUS,
    source="source document; ACCENT I",
    key="lab result",
)
def antibodies_detected(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    end = history.stopped_on or as_of
    results = [
        lab
        for lab in history.labs
        if lab.analyte == ANTIBODIES and history.started_on <= lab.collected_on <= end
    ]
    latest = _latest(results, lambda lab: lab.collected_on)
    if latest is None or not latest.antibodies_positive:
        return []
    return [
        _finding(
            "antibodies_detected",
            Severity.URGENT,
            f"lab-{latest.id}",
            f"Anti-infliximab antibodies were detected on {latest.collected_on:%d %b %Y}: they "
            "lower drug levels and raise the risk of infusion reactions. Review the regimen.",
            due_on=latest.collected_on,
            result=_lab(latest),
        )
    ]


# --- Taper, stop and relapse ---------------------------------------------------------------


@rule(
    title="Ready to consider tapering",
    severity="info (actionable)",
    grade="A",
    quote=(
        "Once remission is achieved and maintained for 6-12 months, gradual dose tapering can be "
        "considered before complete discontinuation."
    ),
    source=SOURCE_DOC,
    key="course",
    clears_on_stop=True,
)
def taper_readiness(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    if not history.is_on_treatment(as_of) or not history.infusions:
        return []
    if any(change.reason == TAPER for change in history.regimen_changes):
        return []
    days_on = (as_of - history.day_zero).days
    if days_on < g.min_course_days:
        return []
    remission_since = _inactive_since(history)
    if remission_since is None:
        return []
    last_assessment = history.assessments[-1]
    inactive_days = (last_assessment.assessed_on - remission_since).days
    if inactive_days < g.remission_days_for_taper:
        return []
    mri = _latest_mri_on(history, as_of)
    if (
        mri is None
        or mri.performed_on < as_of - _days(g.mri_window_days)
        or mri.active_lesions != 0
    ):
        return []
    markers = {}
    for analyte in (CRP, ESR):
        last_two = [lab for lab in history.labs if lab.analyte == analyte and lab.value is not None]
        last_two = last_two[-2:]
        if len(last_two) < 2 or any(_is_raised(lab, g) for lab in last_two):
            return []
        markers[analyte] = [_lab(lab) for lab in last_two]
    return [
        _finding(
            "taper_readiness",
            Severity.INFO,
            "course",
            f"On infliximab for {days_on} days (at least {g.min_course_days}); disease inactive "
            f"since {remission_since:%d %b %Y}, {inactive_days} days up to the assessment of "
            f"{last_assessment.assessed_on:%d %b %Y} (at least {g.remission_days_for_taper}); the "
            f"MRI of {mri.performed_on:%d %b %Y} shows no active lesion; the last two CRP and ESR "
            "are normal; no taper started. Consider a gradual taper (longer interval).",
            due_on=max(
                history.day_zero + _days(g.min_course_days),
                remission_since + _days(g.remission_days_for_taper),
            ),
            days_on_treatment=days_on,
            inactive_since=remission_since,
            latest_assessment=_assessment(last_assessment),
            latest_mri=_mri(mri),
            crp=markers[CRP],
            esr=markers[ESR],
        )
    ]


def _inactive_since(history: CourseHistory) -> dt.date | None:
    """Start of the unbroken run of inactive assessments that reaches the latest one."""
    since = None
    for assessment in reversed(history.assessments):
        if not is_inactive(assessment, _latest_mri_on(history, assessment.assessed_on)):
            break
        since = assessment.assessed_on
    return since


@rule(
    title="Stopped before 12 months",
    severity="warning",
    grade="A",
    quote=(
        "Infliximab treatment for CRMO should be continued for at least 12 months to achieve "
        "optimal clinical response and minimize the risk of disease relapse."
    ),
    source=SOURCE_DOC,
    key="course",
)
def early_discontinuation(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    if history.stopped_on is None or history.stopped_on > as_of:
        return []
    if history.stop_reason in ("adverse_event", "inefficacy"):
        return []
    days = (history.stopped_on - history.day_zero).days
    if days >= g.min_course_days:
        return []
    return [
        _finding(
            "early_discontinuation",
            Severity.WARNING,
            "course",
            f"The course stopped on {history.stopped_on:%d %b %Y} after {days} days (fewer than "
            f"{g.min_course_days}), for {history.stop_reason.replace('_', ' ') or 'no reason'}: "
            "the relapse risk is higher; watch closely.",
            due_on=history.stopped_on,
            day_zero=history.day_zero,
            stopped_on=history.stopped_on,
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


@rule(
    title="Relapse after stopping",
    severity="urgent",
    grade="A",
    quote=RELAPSE,
    source=SOURCE_DOC,
    key="first evidence date",
)
def relapse_after_stopping(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    stopped_on = _watching_after_stop(history, as_of)
    if stopped_on is None or history.relapse_noted_on is not None:
        return []
    start, end = stopped_on, min(as_of, stopped_on + _days(g.post_stop_watch_days))

    def watched(day: dt.date) -> bool:
        return start < day <= end

    mri = [
        s
        for s in history.imaging
        if s.is_mri and watched(s.performed_on) and ((s.new_lesions or 0) + (s.active_lesions or 0))
    ]
    clinical = [
        a
        for a in history.assessments
        if watched(a.assessed_on)
        and (a.disease_state == ACTIVE or (a.clinically_active_lesions or 0))
    ]
    if not mri and not clinical:
        return []
    first = min([s.performed_on for s in mri] + [a.assessed_on for a in clinical])
    raised = [
        lab for lab in history.labs if lab.analyte in (CRP, ESR) and watched(lab.collected_on)
    ]
    raised = [lab for lab in raised if _is_raised(lab, g)]
    what = []
    if mri:
        what.append(f"{len(mri)} MRI with new or active lesions")
    if clinical:
        what.append(f"{len(clinical)} assessment(s) with active disease")
    if raised:
        what.append(f"supported by {len(raised)} raised CRP/ESR")
    return [
        _finding(
            "relapse_after_stopping",
            Severity.URGENT,
            first.isoformat(),
            f"Stopped on {stopped_on:%d %b %Y}; since {first:%d %b %Y}: "
            + ", ".join(what)
            + ". Confirm the relapse and consider retreatment.",
            due_on=first,
            stopped_on=stopped_on,
            mri=[_mri(s) for s in mri],
            assessments=[_assessment(a) for a in clinical],
            raised_markers=[_lab(lab) for lab in raised],
        )
    ]


@rule(
    title="Follow-up visit after stopping due",
    severity="info",
    grade="B/C",
    quote=RELAPSE,
    source="source document; Lovell 2018, Gieling 2022 (relapse after stopping biologics)",
    key="visit",
)
def post_stop_follow_up_due(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    stopped_on = _watching_after_stop(history, as_of)
    if stopped_on is None:
        return []
    due_visits = [
        (offset, stopped_on + _days(offset))
        for offset in g.post_stop_visit_days
        if stopped_on + _days(offset) <= as_of
    ]
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
            f"The {months}-month follow-up after stopping (due {visit_on:%d %b %Y}) has no "
            f"assessment within {g.post_stop_visit_window_days} days of it.",
            due_on=visit_on,
            title=f"{months}-month follow-up after stopping due",
            stopped_on=stopped_on,
            visit_day=offset,
        )
    ]


# --- Reactions ---------------------------------------------------------------------------------


@rule(
    title="Premedicate: reaction at the last infusion",
    severity="warning",
    grade="A",
    quote=(
        "Good clinical practices, such as low infusion rates and pre-treatment with "
        "anti-histamine and prednisone, can help reduce the risk of adverse reactions."
    ),
    source=SOURCE_DOC,
    key="reaction",
    clears_on_stop=True,
)
def premedication_advised(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    infusions = {i.id: i for i in history.infusions}
    reactions = [
        r
        for r in history.reactions
        if r.severity in ("mild", "moderate") and r.infusion_id in infusions
    ]
    if not reactions:
        return []
    reaction = max(reactions, key=lambda r: (infusions[r.infusion_id].given_on, r.id))
    reacted = infusions[reaction.infusion_id]
    later = [i for i in history.infusions if i.given_on > reacted.given_on]
    if any(i.premedicated for i in later):
        return []
    next_dose = schedule(history, as_of).next_dose
    if not later and next_dose is None:
        return []  # stopped: no next infusion to prepare
    unpremedicated = [_infusion(i) for i in later]
    detail = (
        f"A {reaction.severity} {reaction.onset} reaction followed the infusion of "
        f"{reacted.given_on:%d %b %Y}. Premedicate (antihistamine, corticosteroid) and slow the "
        "rate at the next infusion"
    )
    detail += f", due {next_dose.due_on:%d %b %Y}." if next_dose else "."
    if later:
        detail += f" {len(later)} infusion(s) since were given without premedication."
    return [
        _finding(
            "premedication_advised",
            Severity.WARNING,
            f"reaction-{reaction.id}",
            detail,
            due_on=next_dose.due_on if next_dose else later[-1].given_on,
            reaction={"id": reaction.id, "severity": reaction.severity, "onset": reaction.onset},
            reaction_infusion=_infusion(reacted),
            given_without_premedication=unpremedicated,
        )
    ]


@rule(
    title="Severe reaction: clinician review before the next infusion",
    severity="urgent",
    grade="B",
    quote="A severe reaction: no further infusion until a clinician records a review.",
    source="registry guideline after the infliximab label; Cheifetz 2003",
    key="reaction",
)
def severe_reaction_review(history: CourseHistory, as_of: dt.date, g: Guideline) -> list[Finding]:
    infusions = {i.id: i for i in history.infusions}
    findings = []
    for reaction in history.reactions:
        if reaction.severity != "severe" or reaction.infusion_id not in infusions:
            continue
        if reaction.reviewed_on is not None and reaction.reviewed_on <= as_of:
            continue
        reacted = infusions[reaction.infusion_id]
        given_since = [_infusion(i) for i in history.infusions if i.given_on > reacted.given_on]
        detail = (
            f"A severe {reaction.onset} reaction followed the infusion of "
            f"{reacted.given_on:%d %b %Y} and no clinician review is recorded. No further "
            "infusion until a clinician reviews it."
        )
        if given_since:
            detail += f" {len(given_since)} infusion(s) were given since without a review."
        findings.append(
            _finding(
                "severe_reaction_review",
                Severity.URGENT,
                f"reaction-{reaction.id}",
                detail,
                due_on=reacted.given_on,
                reaction={
                    "id": reaction.id,
                    "severity": reaction.severity,
                    "onset": reaction.onset,
                },
                reaction_infusion=_infusion(reacted),
                given_since=given_since,
            )
        )
    return findings
