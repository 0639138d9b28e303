"""Property tests of the guideline engine (hypothesis).

1. Every rule's finding disappears after the action its "clears when" (GUIDELINE.md, "Rules")
   names: for each rule, a history raising it (days and values varied within the rule's ranges),
   then the clearing action; the finding (same rule, same key) is gone. For the rules that also
   clear on course stop (`clears_on_stop`), only the other actions are tested here: the engine may
   still return their finding for a stopped course (the reconciliation resolves it).
2. An adherent course on any regimen sequence raises no dose alert.
3. A re-exposure is raised whatever the number of courses between.
4. Evaluating one patient never reads another's data (database level).

Days count from day 0 (`builders.D0`), as in the other engine tests.
"""

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitoring.evaluation import load_histories
from monitoring.guideline import RULES, CourseHistory, Finding, Severity, evaluate, evaluate_course
from monitoring.guideline.history import AssessmentRow, ConsentRow, InfusionRow
from monitoring.guideline.schedule import INDUCTION, MAINTENANCE, schedule
from registry.models import ANALYTE_UNITS
from tests.factories import (
    AdverseEventFactory,
    AssessmentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    MedicationFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    RelapseFactory,
    ScreeningResultFactory,
    SiteFactory,
    VaccinationFactory,
    screen,
)
from tests.monitoring.builders import (
    D0,
    adherent_days,
    adverse_event,
    assessment,
    day,
    history,
    infusion,
    infusions,
    lab,
    live_vaccine,
    methotrexate,
    mri,
    reaction,
    regimen,
    retreatment,
    screening,
)
from tests.monitoring.test_horizon import assert_holds_until_its_horizon

W, U, INFO = Severity.WARNING, Severity.URGENT, Severity.INFO
GRACE = 7  # DEFAULT.dose_grace_days
RULE_EXAMPLES = settings(max_examples=25, deadline=None)

# The order the loader gives each kind of row (by date, then id): the engine relies on it.
DATE_OF = {
    "infusions": "given_on",
    "regimen_changes": "effective_on",
    "labs": "collected_on",
    "imaging": "performed_on",
    "assessments": "assessed_on",
}


def ordered(name: str, rows: Any) -> tuple[Any, ...]:
    return tuple(sorted(rows, key=lambda row: (getattr(row, DATE_OF[name]), row.id)))


def course(**fields: Any) -> CourseHistory:
    """`builders.history`, its rows in the loader's order."""
    for name in DATE_OF:
        if name in fields:
            fields[name] = ordered(name, fields[name])
    return history(**fields)


def add(history_: CourseHistory, **rows: Any) -> CourseHistory:
    """The history with more rows (kept in the loader's order)."""
    changes = {name: ordered(name, (*getattr(history_, name), *new)) for name, new in rows.items()}
    return dataclasses.replace(history_, **changes)


def offset(date: Any) -> int:
    return (date - D0).days


def found(history_: CourseHistory, as_of: int, rule_id: str) -> list[Finding]:
    """The findings of `rule_id` on day `as_of`; the verdict must hold until its horizon."""
    verdict = evaluate_course(history_, day(as_of))
    assert_holds_until_its_horizon(history_, day(as_of), verdict)
    return [f for f in verdict.findings if f.rule_id == rule_id]


def keys(history_: CourseHistory, as_of: int, rule_id: str) -> set[str]:
    return {f.key for f in found(history_, as_of, rule_id)}


def raised(history_: CourseHistory, as_of: int, rule_id: str, key: str) -> Finding:
    """The finding of `rule_id` with `key`, which must be raised."""
    findings = {f.key: f for f in found(history_, as_of, rule_id)}
    assert key in findings, (rule_id, key, sorted(findings))
    return findings[key]


def next_due(history_: CourseHistory, as_of: int) -> tuple[int, str]:
    """The next dose's due day and phase, as the schedule computes it on `as_of`."""
    dose = schedule(history_, day(as_of)).next_dose
    assert dose is not None
    return offset(dose.due_on), dose.phase


def early_allowed(phase: str) -> int:
    return 3 if phase == INDUCTION else 14  # DEFAULT.early_induction_dose_days / early_dose_days


def on_schedule(data: st.DataObject, history_: CourseHistory, as_of: int) -> int:
    """A day for the next dose that is on schedule: neither early nor past the grace."""
    due, phase = next_due(history_, as_of)
    return due + data.draw(st.integers(-early_allowed(phase), GRACE), label="next dose vs due")


def draw_adherent(
    data: st.DataObject, *, fewest: int = 1, most: int = 7, interval: int = 8
) -> list[int]:
    """The first 1–7 infusion days of a course given on its schedule."""
    count = data.draw(st.integers(fewest, most), label="infusions given")
    return adherent_days(max(0, count - 3), interval)[:count]


intervals = st.integers(4, 16)
stop_reasons = st.sampled_from(["remission", "patient_choice", "other", "adverse_event"])


# --- 1. Every rule clears after the action its "clears when" names -----------------------------

CLEARING_TESTED: set[str] = set()


def clears(rule_id: str) -> Any:
    """Marks a test as the clearing property of `rule_id` (see the completeness test below)."""
    assert rule_id in RULES, rule_id
    CLEARING_TESTED.add(rule_id)
    return lambda test: test


def test_every_rule_has_a_clearing_property():
    assert set(RULES) == CLEARING_TESTED
    assert len(RULES) == 23


# Doses ------------------------------------------------------------------------------------------


@clears("induction_dose_missed")
@RULE_EXAMPLES
@given(data=st.data())
def test_induction_dose_missed_clears_when_the_dose_is_given(data):
    given_count = data.draw(st.integers(0, 2), label="induction doses given")
    spacing = [0, 14, 28]
    days: list[int] = []
    for n in range(given_count):  # each dose up to the grace late
        base = days[-1] + spacing[n] if days else 0
        days.append(base + data.draw(st.integers(0, GRACE)))
    due = days[-1] + spacing[given_count] if days else 0
    late = data.draw(st.integers(GRACE + 1, 60), label="days late")
    as_of = due + late
    before = course(infusions=infusions(*days))
    finding = raised(before, as_of, "induction_dose_missed", f"dose-{given_count + 1}")
    assert finding.severity is (W if late <= 14 else U)

    given_on = data.draw(st.integers(max(0, due - 3), as_of), label="dose given on")
    after = add(before, infusions=[infusion(given_on)])
    assert finding.key not in keys(after, as_of, "induction_dose_missed")


def overdue_maintenance(data: st.DataObject) -> tuple[CourseHistory, int, int, Finding]:
    """A course on schedule until its last infusion, then a maintenance dose overdue."""
    interval = data.draw(intervals, label="course interval")
    days = adherent_days(data.draw(st.integers(0, 3)), interval)
    last, due = days[-1], days[-1] + interval * 7
    late = data.draw(st.integers(GRACE + 1, 120), label="days late")
    before = course(infusions=infusions(*days), maintenance_interval_weeks=interval)
    finding = raised(before, due + late, "maintenance_dose_overdue", day(due).isoformat())
    assert finding.severity is (W if late <= 14 else U)
    return before, last, due + late, finding


@clears("maintenance_dose_overdue")
@RULE_EXAMPLES
@given(data=st.data())
def test_maintenance_dose_overdue_clears_when_an_infusion_is_given(data):
    before, last, as_of, finding = overdue_maintenance(data)
    given_on = data.draw(st.integers(last + 1, as_of), label="infusion given on")
    after = add(before, infusions=[infusion(given_on)])
    assert finding.key not in keys(after, as_of, "maintenance_dose_overdue")
    new_due, _phase = next_due(after, as_of)
    if as_of <= new_due + GRACE:
        assert found(after, as_of, "maintenance_dose_overdue") == []


@RULE_EXAMPLES
@given(data=st.data())
def test_maintenance_dose_overdue_clears_when_a_regimen_change_moves_the_due_date(data):
    before, last, as_of, finding = overdue_maintenance(data)
    decided_on = data.draw(st.integers(last + 1, as_of), label="change decided on")
    weeks = data.draw(intervals, label="new interval")
    reason = data.draw(st.sampled_from(["taper", "intensification", "other"]))
    moved_to = max(last + weeks * 7, decided_on)  # GUIDELINE.md "The schedule"
    assume(day(moved_to).isoformat() != finding.key)  # a change that moves the due date
    after = add(before, regimen_changes=[regimen(decided_on, interval=weeks, reason=reason)])
    assert finding.key not in keys(after, as_of, "maintenance_dose_overdue")
    if decided_on == as_of:  # a change decided between doses is never overdue on its day
        assert found(after, as_of, "maintenance_dose_overdue") == []


@clears("dose_given_early")
@RULE_EXAMPLES
@given(data=st.data())
def test_dose_given_early_clears_when_the_next_infusion_is_on_schedule(data):
    interval = data.draw(intervals, label="course interval")
    days = draw_adherent(data, most=6, interval=interval)
    before = course(infusions=infusions(*days), maintenance_interval_weeks=interval)
    previous = days[-1]
    due, phase = next_due(before, previous)
    # Early by more than allowed (which includes a duplicate within 7 days).
    given_on = previous + data.draw(
        st.integers(1, due - previous - early_allowed(phase) - 1), label="days after previous"
    )
    early = infusion(given_on)
    with_early = add(before, infusions=[early])
    as_of = given_on + data.draw(st.integers(0, 5))
    raised(with_early, as_of, "dose_given_early", f"infusion-{early.id}")

    next_on = on_schedule(data, with_early, given_on)
    after = add(with_early, infusions=[infusion(next_on)])
    assert found(after, next_on, "dose_given_early") == []


def work_up(data: st.DataObject, since: int, until: int) -> list[Any]:
    """A trough and an antibody result, each drawn between `since` and `until`."""
    trough_on = data.draw(st.integers(since, until), label="trough drawn on")
    antibodies_on = data.draw(st.integers(since, until), label="antibodies drawn on")
    positive = data.draw(st.booleans(), label="antibodies positive")
    trough = data.draw(st.integers(0, 30), label="trough")
    return [
        lab(trough_on, "ifx_trough", trough),
        lab(antibodies_on, "anti_ifx", antibodies_positive=positive),
    ]


def incomplete_work_up(data: st.DataObject, restart_on: int) -> list[Any]:
    """What does not count as the work-up: results too early, or only one of the two."""
    kind = data.draw(st.sampled_from(["none", "too_early", "trough_only", "antibodies_only"]))
    recent = data.draw(st.integers(restart_on - 14, restart_on), label="recent result")
    old = restart_on - data.draw(st.integers(15, 200), label="days before restart")
    return {
        "none": [],
        "too_early": [lab(old, "ifx_trough", 4), lab(old, "anti_ifx", antibodies_positive=False)],
        "trough_only": [lab(recent, "ifx_trough", 4)],
        "antibodies_only": [lab(recent, "anti_ifx", antibodies_positive=False)],
    }[kind]


@clears("treatment_interrupted")
@RULE_EXAMPLES
@given(data=st.data())
def test_treatment_interrupted_clears_when_the_restart_is_worked_up(data):
    interval = data.draw(intervals, label="course interval")
    days = adherent_days(data.draw(st.integers(0, 3)), interval)
    threshold = max(112, interval * 7 + 14)
    restart_on = days[-1] + data.draw(st.integers(threshold + 1, threshold + 300), label="gap")
    restart = infusion(restart_on)
    labs = incomplete_work_up(data, restart_on)
    before = course(
        infusions=[*infusions(*days), restart], maintenance_interval_weeks=interval, labs=labs
    )
    as_of = restart_on + data.draw(st.integers(0, 30), label="days after restart")
    raised(before, as_of, "treatment_interrupted", f"restart-{restart.id}")

    after = add(before, labs=work_up(data, restart_on - 14, as_of))
    assert f"restart-{restart.id}" not in keys(after, as_of, "treatment_interrupted")


@RULE_EXAMPLES
@given(data=st.data())
def test_a_re_exposure_clears_when_the_retreatment_is_worked_up(data):
    days = draw_adherent(data)
    first = course(infusions=infusions(*days), stopped_on=day(days[-1]), stop_reason="remission")
    start = days[-1] + data.draw(st.integers(113, 600), label="days off drug")
    given_now = data.draw(st.booleans(), label="first dose given")
    labs = incomplete_work_up(data, start)
    second = retreatment(
        first, start, infusions=[infusion(start)] if given_now else [], labs=ordered("labs", labs)
    )
    as_of = start + data.draw(st.integers(0, 30))
    raised(second, as_of, "treatment_interrupted", "course-start")

    after = add(second, labs=work_up(data, start - 14, as_of))
    assert "course-start" not in keys(after, as_of, "treatment_interrupted")


def superseding(data: st.DataObject, rule_id: str, prefix: list[int], last: InfusionRow) -> None:
    """`last`, the latest infusion after `prefix`, raises `rule_id`; the next infusion, given on
    schedule and correctly, supersedes it."""
    before = course(infusions=[*infusions(*prefix), last])
    last_on = offset(last.given_on)
    as_of = last_on + data.draw(st.integers(0, 20), label="days after the infusion")
    raised(before, as_of, rule_id, f"infusion-{last.id}")
    next_on = on_schedule(data, before, last_on)
    after = add(before, infusions=[infusion(next_on, duration_minutes=120)])
    assert found(after, next_on, rule_id) == []


@clears("dose_mismatch")
@RULE_EXAMPLES
@given(data=st.data())
def test_dose_mismatch_clears_when_the_next_infusion_is_recorded(data):
    days = draw_adherent(data)
    *prefix, last_on = days
    problem = data.draw(st.sampled_from(["dose", "weight_age", "above_maximum"]))
    if problem == "dose":  # more than 10 % from 5 mg/kg × 40 kg = 200 mg
        dose = data.draw(st.one_of(st.integers(1, 179), st.integers(221, 800)), label="dose mg")
        last = infusion(last_on, dose=str(dose))
    elif problem == "weight_age":  # weighed more than 30 days before
        weighed = last_on - data.draw(st.integers(31, 365), label="weight age")
        last = infusion(last_on, weighed=weighed)
    else:  # above the 10 mg/kg maximum, with no intensification in force
        last = infusion(last_on, dose=str(data.draw(st.integers(401, 800), label="dose mg")))
    superseding(data, "dose_mismatch", prefix, last)


@clears("infusion_too_fast")
@RULE_EXAMPLES
@given(data=st.data())
def test_infusion_too_fast_clears_when_the_next_infusion_is_recorded(data):
    days = draw_adherent(data)
    *prefix, last_on = days
    reacted = bool(prefix) and data.draw(st.booleans(), label="a reaction before")
    if len(prefix) < 3 or reacted:  # at least 120 minutes
        minutes = data.draw(st.integers(1, 119), label="minutes")
    else:  # never shorter than 60
        minutes = data.draw(st.integers(1, 59), label="minutes")
    earlier = [infusion(n, duration_minutes=120) for n in prefix]
    last = infusion(last_on, duration_minutes=minutes)
    before = course(
        infusions=[*earlier, last], reactions=[reaction(earlier[0], "mild")] if reacted else []
    )
    as_of = last_on + data.draw(st.integers(0, 20))
    raised(before, as_of, "infusion_too_fast", f"infusion-{last.id}")
    next_on = on_schedule(data, before, last_on)
    full_time = data.draw(st.one_of(st.none(), st.integers(120, 240)), label="next minutes")
    after = add(before, infusions=[infusion(next_on, duration_minutes=full_time)])
    assert found(after, next_on, "infusion_too_fast") == []


# Response and monitoring --------------------------------------------------------------------


CORE_VALUES = {
    "pain_score": Decimal("3"),
    "physician_global": Decimal("2"),
    "patient_global": Decimal("4"),
    "chaq": Decimal("0.5"),
    "clinically_active_lesions": 0,
    "disease_state": "inactive",
}


def no_core_value(n: int) -> AssessmentRow:
    return assessment(n, pain=None, physician=None, lesions=None)


@clears("response_assessment_due")
@RULE_EXAMPLES
@given(data=st.data())
def test_response_assessment_due_clears_with_an_assessment_after_day_56(data):
    days = draw_adherent(data)
    as_of = data.draw(st.integers(99, 500), label="as of")
    early = data.draw(st.lists(st.integers(-30, 55), max_size=2), label="assessed before 56")
    empty = data.draw(st.lists(st.integers(56, as_of), max_size=2), label="no core value")
    rows = [assessment(n, state="active") for n in early] + [no_core_value(n) for n in empty]
    before = course(infusions=infusions(*days), assessments=rows)
    raised(before, as_of, "response_assessment_due", "course")

    assessed_on = data.draw(st.integers(56, as_of), label="assessed on")
    value = data.draw(st.sampled_from(sorted(CORE_VALUES)), label="core value")
    scored = dataclasses.replace(no_core_value(assessed_on), **{value: CORE_VALUES[value]})
    assert scored.has_core_value
    after = add(before, assessments=[scored])
    assert found(after, as_of, "response_assessment_due") == []


@clears("markers_overdue")
@RULE_EXAMPLES
@given(data=st.data())
def test_markers_overdue_clears_when_both_crp_and_esr_are_measured(data):
    days = draw_adherent(data)
    last_crp = data.draw(st.one_of(st.none(), st.integers(-98, 300)), label="last CRP")
    last_esr = data.draw(st.one_of(st.none(), st.integers(-98, 300)), label="last ESR")
    labs = [
        lab(n, analyte, 3) for n, analyte in ((last_crp, "crp"), (last_esr, "esr")) if n is not None
    ]
    due = min(0 if n is None else n + 98 for n in (last_crp, last_esr))
    known = [n for n in (last_crp, last_esr) if n is not None]  # drawn by the evaluation date
    as_of = max([due, *known]) + data.draw(st.integers(1, 300), label="days past due")
    before = course(infusions=infusions(*days), labs=labs)
    raised(before, as_of, "markers_overdue", day(due).isoformat())

    crp_on = data.draw(st.integers(as_of - 97, as_of), label="CRP on")
    esr_on = data.draw(st.integers(as_of - 97, as_of), label="ESR on")
    after = add(before, labs=[lab(crp_on, "crp", 40), lab(esr_on, "esr", 2)])
    assert found(after, as_of, "markers_overdue") == []


MRI_MILESTONES = [0, 182, 365, 730, 1095, 1460]


@clears("imaging_overdue")
@RULE_EXAMPLES
@given(data=st.data())
def test_imaging_overdue_clears_with_an_mri_in_the_milestones_window(data):
    days = draw_adherent(data)
    as_of = data.draw(st.integers(1, 1400), label="as of")
    milestone = max(m for m in MRI_MILESTONES if m < as_of)
    older = data.draw(st.lists(st.integers(-400, milestone - 91), max_size=2), label="old MRIs")
    before = course(infusions=infusions(*days), imaging=[mri(n, active=2) for n in older])
    raised(before, as_of, "imaging_overdue", day(milestone).isoformat())

    performed_on = data.draw(st.integers(milestone - 90, as_of), label="MRI on")
    after = add(before, imaging=[mri(performed_on, active=data.draw(st.integers(0, 3)))])
    assert found(after, as_of, "imaging_overdue") == []


@clears("low_trough")
@RULE_EXAMPLES
@given(data=st.data())
def test_low_trough_clears_with_a_later_true_trough_at_target(data):
    interval = data.draw(intervals, label="course interval")
    days = adherent_days(data.draw(st.integers(1, 4)), interval)
    drawn_before = data.draw(st.sampled_from(days[3:]), label="trough before the dose of day")
    low = lab(drawn_before - data.draw(st.integers(0, 3)), "ifx_trough", data.draw(
        st.decimals(0, "4.99", places=2), label="low trough"))  # fmt: skip
    antibodies = data.draw(st.sampled_from([None, True, False]), label="antibodies same draw")
    same_draw = [] if antibodies is None else [
        lab(offset(low.collected_on), "anti_ifx", antibodies_positive=antibodies)
    ]  # fmt: skip
    before = course(
        infusions=infusions(*days), maintenance_interval_weeks=interval, labs=[low, *same_draw]
    )
    as_of = days[-1] + data.draw(st.integers(0, interval * 7 + GRACE), label="days after last")
    raised(before, as_of, "low_trough", f"lab-{low.id}")

    due, _phase = next_due(before, days[-1])
    given_on = due + data.draw(st.integers(0, GRACE), label="next dose vs due")  # on time
    at_target = lab(
        given_on - data.draw(st.integers(0, 3)),
        "ifx_trough",
        data.draw(st.decimals(5, 40, places=1), label="trough at target"),
    )
    after = add(before, infusions=[infusion(given_on)], labs=[at_target])
    assert f"lab-{low.id}" not in keys(after, given_on, "low_trough")
    assert found(after, given_on, "low_trough") == []


@clears("antibodies_detected")
@RULE_EXAMPLES
@given(data=st.data())
def test_antibodies_detected_clears_with_a_later_negative_result(data):
    days = draw_adherent(data)
    positive_on = data.draw(st.integers(-60, 400), label="positive on")
    earlier = data.draw(
        st.lists(st.tuples(st.integers(-400, positive_on - 1), st.booleans()), max_size=3),
        label="earlier results",
    )
    positive = lab(positive_on, "anti_ifx", 30, antibodies_positive=True, unit="AU/mL")
    trough = data.draw(st.one_of(st.none(), st.integers(0, 20)), label="trough same draw")
    labs = [lab(n, "anti_ifx", antibodies_positive=result) for n, result in earlier]
    labs += [positive] + ([] if trough is None else [lab(positive_on, "ifx_trough", trough)])
    before = course(infusions=infusions(*days), labs=labs)
    as_of = positive_on + data.draw(st.integers(1, 300), label="days after")
    finding = raised(before, as_of, "antibodies_detected", f"lab-{positive.id}")
    assert finding.severity is (W if trough is not None and trough >= 5 else U)

    negative_on = data.draw(st.integers(positive_on + 1, as_of), label="negative on")
    after = add(before, labs=[lab(negative_on, "anti_ifx", antibodies_positive=False)])
    assert found(after, as_of, "antibodies_detected") == []


# Taper, stop and relapse -------------------------------------------------------------------


def inactive(n: int, data: st.DataObject) -> AssessmentRow:
    """An assessment of inactive disease: judged so, or scored so (CARRA)."""
    if data.draw(st.booleans(), label="judged inactive"):
        return assessment(n, state="inactive", pain=None, physician=None, lesions=None)
    return assessment(n, pain="1", physician="0.5", lesions=0)


@clears("taper_readiness")
@RULE_EXAMPLES
@given(data=st.data())
def test_taper_readiness_clears_when_a_taper_starts_and_returns_when_it_is_reversed(data):
    as_of = data.draw(st.integers(365, 700), label="as of")
    days = [n for n in adherent_days(12) if n <= as_of]
    since = data.draw(st.integers(0, as_of - 180), label="inactive since")
    latest = data.draw(st.integers(since + 180, as_of), label="latest assessment")
    between = data.draw(st.lists(st.integers(since, latest), max_size=3), label="assessed")
    assessments = [inactive(n, data) for n in (since, *between, latest)]
    if since > 0 and data.draw(st.booleans(), label="active before"):
        assessments.append(assessment(since - 1, state="active"))
    mri_on = as_of - data.draw(st.integers(0, 90), label="MRI age")
    labs = [lab(as_of - 300, "crp", 60)]  # an old raised CRP: only the last two count
    for analyte, normal in (("crp", 5), ("esr", 20)):
        first, second = sorted(data.draw(
            st.lists(st.integers(as_of - 98, as_of), min_size=2, max_size=2, unique=True),
            label=f"{analyte} days"))  # fmt: skip
        labs += [
            lab(first, analyte, normal),
            lab(second, analyte, data.draw(st.integers(0, normal))),
        ]
    before = course(
        infusions=infusions(*days), assessments=assessments, imaging=[mri(mri_on)], labs=labs
    )
    key = f"inactive-since-{day(since).isoformat()}"
    raised(before, as_of, "taper_readiness", key)

    taper_on = data.draw(st.integers(0, as_of - 1), label="taper decided on")
    weeks = data.draw(st.integers(9, 16), label="taper interval")
    tapered = add(before, regimen_changes=[regimen(taper_on, interval=weeks, reason="taper")])
    assert found(tapered, as_of, "taper_readiness") == []
    reversed_on = data.draw(st.integers(taper_on + 1, as_of), label="reversed on")
    reason = data.draw(st.sampled_from(["other", "intensification"]))
    reverted = add(tapered, regimen_changes=[regimen(reversed_on, interval=8, reason=reason)])
    assert keys(reverted, as_of, "taper_readiness") == {key}


@clears("early_discontinuation")
@RULE_EXAMPLES
@given(data=st.data())
def test_early_discontinuation_clears_when_a_retreatment_course_starts(data):
    days = draw_adherent(data)
    stopped_on = data.draw(st.integers(days[-1], 364), label="stopped on")
    reason = data.draw(st.sampled_from(["remission", "patient_choice", "other"]))
    before = course(infusions=infusions(*days), stopped_on=day(stopped_on), stop_reason=reason)
    as_of = stopped_on + data.draw(st.integers(0, 700), label="days after the stop")
    raised(before, as_of, "early_discontinuation", "course")

    next_start = data.draw(st.integers(stopped_on, as_of), label="next course starts")
    after = dataclasses.replace(before, next_course_started_on=day(next_start))
    assert found(after, as_of, "early_discontinuation") == []


def relapse_evidence(data: st.DataObject, on: int) -> dict[str, list[Any]]:
    kind = data.draw(
        st.sampled_from(["mri_lesions", "mri_worse", "judged_active", "active_lesion", "scores"])
    )
    if kind == "mri_lesions":
        active, new = data.draw(st.sampled_from([(1, 0), (0, 1), (2, 3), (None, 1)]))
        return {"imaging": [mri(on, active=active, new=new)]}
    if kind == "mri_worse":
        return {"imaging": [mri(on, active=None, new=None, impression="worse")]}
    if kind == "judged_active":
        return {"assessments": [assessment(on, state="active", pain=None, physician=None)]}
    if kind == "active_lesion":
        return {"assessments": [assessment(on, lesions=data.draw(st.integers(1, 4)))]}
    pain = data.draw(st.integers(4, 10), label="pain")
    return {"assessments": [assessment(on, pain=str(pain), physician="0", lesions=None)]}


def relapsed_after_stopping(data: st.DataObject) -> tuple[CourseHistory, int, int, str]:
    days = draw_adherent(data)
    stopped_on = days[-1] + data.draw(st.integers(0, 60), label="stopped after the last dose")
    evidence_on = stopped_on + data.draw(st.integers(1, 730), label="evidence after the stop")
    taper_relapses = data.draw(st.lists(st.integers(0, stopped_on), max_size=2))
    before = course(
        infusions=infusions(*days),
        stopped_on=day(stopped_on),
        stop_reason=data.draw(stop_reasons),
        relapses_noted_on=tuple(day(n) for n in sorted(taper_relapses)),
        **relapse_evidence(data, evidence_on),
    )
    as_of = evidence_on + data.draw(st.integers(0, 100), label="days after the evidence")
    key = day(evidence_on).isoformat()
    raised(before, as_of, "relapse_after_stopping", key)
    return before, stopped_on, as_of, key


@clears("relapse_after_stopping")
@RULE_EXAMPLES
@given(data=st.data())
def test_relapse_after_stopping_clears_when_a_relapse_is_recorded_after_the_stop(data):
    before, stopped_on, as_of, key = relapsed_after_stopping(data)
    noted_on = data.draw(st.integers(stopped_on + 1, as_of), label="relapse noted on")
    after = dataclasses.replace(
        before, relapses_noted_on=(*before.relapses_noted_on, day(noted_on))
    )
    assert key not in keys(after, as_of, "relapse_after_stopping")


@RULE_EXAMPLES
@given(data=st.data())
def test_relapse_after_stopping_clears_when_a_retreatment_starts(data):
    before, stopped_on, as_of, key = relapsed_after_stopping(data)
    next_start = data.draw(st.integers(stopped_on, as_of), label="retreatment starts")
    after = dataclasses.replace(before, next_course_started_on=day(next_start))
    assert key not in keys(after, as_of, "relapse_after_stopping")


VISITS = (91, 182, 365, 730)


def missed_follow_up(data: st.DataObject) -> tuple[CourseHistory, int, int, int, str]:
    days = draw_adherent(data)
    stopped_on = days[-1] + data.draw(st.integers(0, 60), label="stopped after the last dose")
    as_of = stopped_on + data.draw(st.integers(91, 800), label="days after the stop")
    visit = max(v for v in VISITS if stopped_on + v <= as_of)
    earlier = data.draw(
        st.lists(st.integers(stopped_on - 100, stopped_on + visit - 31), max_size=3),
        label="assessed before the window",
    )
    before = course(
        infusions=infusions(*days),
        stopped_on=day(stopped_on),
        stop_reason=data.draw(stop_reasons),
        assessments=[inactive(n, data) for n in earlier],
    )
    key = f"{round(visit / 30.44)}m"
    raised(before, as_of, "post_stop_follow_up_due", key)
    return before, stopped_on, stopped_on + visit, as_of, key


@clears("post_stop_follow_up_due")
@RULE_EXAMPLES
@given(data=st.data())
def test_post_stop_follow_up_due_clears_with_an_assessment_in_the_visits_window(data):
    before, _stopped_on, visit_on, as_of, key = missed_follow_up(data)
    assessed_on = data.draw(st.integers(visit_on - 30, min(as_of, visit_on + 30)), label="seen")
    after = add(before, assessments=[inactive(assessed_on, data)])
    assert key not in keys(after, as_of, "post_stop_follow_up_due")
    assert found(after, as_of, "post_stop_follow_up_due") == []


@RULE_EXAMPLES
@given(data=st.data())
def test_post_stop_follow_up_due_clears_when_a_retreatment_starts(data):
    before, stopped_on, _visit_on, as_of, _key = missed_follow_up(data)
    next_start = data.draw(st.integers(stopped_on, as_of), label="retreatment starts")
    after = dataclasses.replace(before, next_course_started_on=day(next_start))
    assert found(after, as_of, "post_stop_follow_up_due") == []


# Reactions ------------------------------------------------------------------------------------


@clears("premedication_advised")
@RULE_EXAMPLES
@given(data=st.data())
def test_premedication_advised_clears_after_a_premedicated_infusion_without_reaction(data):
    days = draw_adherent(data)
    reacted_index = data.draw(st.integers(0, len(days) - 1), label="reaction after dose")
    despite = data.draw(st.booleans(), label="reacted despite premedication")
    given = [infusion(n, premedicated=despite and i == reacted_index) for i, n in enumerate(days)]
    severity = data.draw(st.sampled_from(["mild", "moderate", "severe"]))
    onset = data.draw(st.sampled_from(["acute", "delayed"]))
    reacted_on = days[reacted_index]
    reviewed = reacted_on if severity == "severe" else None  # a severe one counts once reviewed
    decision = data.draw(st.sampled_from(["continue_premedicated", "continue_unchanged"]))
    the_reaction = reaction(
        given[reacted_index], severity, reviewed, onset=onset, decision=decision
    )
    before = course(infusions=given, reactions=[the_reaction])
    as_of = days[-1] + data.draw(st.integers(0, 63), label="days after the last dose")
    finding = raised(before, as_of, "premedication_advised", f"reaction-{the_reaction.id}")
    assert finding.severity is (U if despite else W)

    due, _phase = next_due(before, days[-1])
    given_on = due + data.draw(st.integers(0, GRACE), label="next dose vs due")
    after = add(before, infusions=[infusion(given_on, premedicated=True)])
    assert found(after, given_on, "premedication_advised") == []


@clears("severe_reaction_review")
@RULE_EXAMPLES
@given(data=st.data())
def test_severe_reaction_review_clears_when_a_clinician_records_the_review(data):
    days = draw_adherent(data)
    reacted_index = data.draw(st.integers(0, len(days) - 1), label="reaction after dose")
    given = infusions(*days)
    reacted_on = days[reacted_index]
    stopped_on = data.draw(
        st.one_of(st.none(), st.integers(days[-1], days[-1] + 60)), label="stopped on"
    )
    as_of = reacted_on + data.draw(st.integers(0, 400), label="days after the reaction")
    onset = data.draw(st.sampled_from(["acute", "delayed"]))
    severe = reaction(given[reacted_index], "severe", onset=onset)
    stop = {} if stopped_on is None else {"stopped_on": day(stopped_on), "stop_reason": "other"}
    before = course(infusions=given, reactions=[severe], **stop)
    finding = raised(before, as_of, "severe_reaction_review", f"reaction-{severe.id}")
    on_treatment = stopped_on is None or stopped_on > as_of
    assert finding.severity is (U if on_treatment else INFO)

    decision = data.draw(st.sampled_from(["continue_premedicated", "continue_unchanged", "stop"]))
    reviewed_on = data.draw(st.integers(reacted_on, as_of + 30), label="reviewed on")
    reviewed = dataclasses.replace(severe, reviewed_on=day(reviewed_on), review_decision=decision)
    after = dataclasses.replace(before, reactions=(reviewed,))
    # Cleared once the review is dated; a review dated after the evaluation is not known yet.
    assert bool(found(after, as_of, "severe_reaction_review")) is (reviewed_on > as_of)


# Screening --------------------------------------------------------------------------------------

BASELINE_TESTS = ("tb_igra", "hbv_hbsag", "hbv_anti_hbc")
OUTCOMES = st.sampled_from(["negative", "positive", "indeterminate"])


@clears("screening_missing")
@RULE_EXAMPLES
@given(data=st.data())
def test_screening_missing_clears_when_the_missing_results_are_recorded(data):
    """Some of the screen taken in time, some too early or never; recording the rest, at any
    date from 365 days before the start to the evaluation (late screening counts), clears it."""
    days = draw_adherent(data, fewest=0)
    start = data.draw(st.integers(-30, 30), label="course start")
    as_of = max([start, *days]) + data.draw(st.integers(-40, 800), label="as of")
    assume(as_of >= -365 + start)
    taken = []
    for test in BASELINE_TESTS:
        when = data.draw(
            st.one_of(
                st.none(), st.integers(start - 900, start - 366), st.integers(start - 365, as_of)
            ),
            label=f"{test} on",
        )
        if when is not None:
            taken.append(screening(when, test, data.draw(OUTCOMES, label=f"{test} result")))
    chest_xray = data.draw(st.booleans(), label="a chest X-ray too")
    if chest_xray:  # never a TB screen on its own
        taken.append(screening(min(as_of, start), "tb_chest_xray"))
    counted = {s.test for s in taken if s.tested_on >= day(start - 365)}
    assume(not set(BASELINE_TESTS) <= counted)
    before = course(
        started_on=day(start), infusions=[infusion(start + n) for n in days], screenings=taken
    )
    finding = raised(before, as_of, "screening_missing", "course")
    assert finding.severity is (U if as_of >= start else W)
    assert finding.due_on == day(start)

    late = [
        screening(data.draw(st.integers(start - 365, as_of), label=f"{test} recorded"), test)
        for test in BASELINE_TESTS
        if test not in counted
    ]
    assert found(add_screenings(before, late), as_of, "screening_missing") == []


@RULE_EXAMPLES
@given(data=st.data())
def test_a_skin_test_is_a_tb_screen_as_an_igra_is(data):
    start, as_of = 0, data.draw(st.integers(0, 400), label="as of")
    skin = screening(data.draw(st.integers(-365, as_of), label="skin test on"), "tb_skin_test")
    hbv = [screening(-10, "hbv_hbsag"), screening(-10, "hbv_anti_hbc")]
    assert (
        found(course(started_on=day(start), screenings=[skin, *hbv]), as_of, "screening_missing")
        == []
    )
    assert keys(course(started_on=day(start), screenings=hbv), as_of, "screening_missing") == {
        "course"
    }


def add_screenings(history_: CourseHistory, rows: list[Any]) -> CourseHistory:
    screenings = sorted((*history_.screenings, *rows), key=lambda s: (s.tested_on, s.id))
    return dataclasses.replace(history_, screenings=tuple(screenings))


@clears("screening_positive")
@RULE_EXAMPLES
@given(data=st.data())
def test_screening_positive_clears_when_a_clinician_records_the_specialist_review(data):
    days = draw_adherent(data, fewest=0)
    as_of = max([0, *days]) + data.draw(st.integers(0, 400), label="as of")
    test = data.draw(
        st.sampled_from(["tb_igra", "tb_skin_test", "tb_chest_xray", "hbv_hbsag", "hbv_anti_hbc"])
    )
    tested_on = data.draw(st.integers(-400, as_of), label="tested on")
    result = data.draw(st.sampled_from(["positive", "indeterminate"]), label="result")
    found_one = screening(tested_on, test, result)
    before = course(infusions=infusions(*days), screenings=[found_one])
    finding = raised(before, as_of, "screening_positive", f"screening-{found_one.id}")
    assert finding.severity is U

    reviewed_on = data.draw(st.integers(tested_on, as_of + 30), label="reviewed on")
    after = dataclasses.replace(
        before, screenings=(dataclasses.replace(found_one, reviewed_on=day(reviewed_on)),)
    )
    # Cleared once the review is dated; a review dated after the evaluation is not known yet.
    assert bool(found(after, as_of, "screening_positive")) is (reviewed_on > as_of)


# Co-medication --------------------------------------------------------------------------------

METHOTREXATE_TESTS = ("neutrophils", "platelets", "alt")


def methotrexate_lapsed(data: st.DataObject) -> tuple[CourseHistory, int, int, Finding]:
    """An active course, methotrexate since `started`, and at least one of its bloods not in
    the last 98 days; returns (history, started, as of, the finding)."""
    days = draw_adherent(data)
    started = data.draw(st.integers(-400, 300), label="methotrexate started")
    last = {
        analyte: data.draw(st.one_of(st.none(), st.integers(-500, 300)), label=f"last {analyte}")
        for analyte in METHOTREXATE_TESTS
    }
    known = [n for n in last.values() if n is not None]
    as_of = max([started, days[-1], *known]) + data.draw(st.integers(0, 300), label="as of")
    lapsed = [a for a, n in last.items() if n is None or as_of - n > 98]
    assume(lapsed)
    due = min(started if (n := last[a]) is None else max(started, n + 98) for a in lapsed)
    labs = [lab(n, analyte, 3) for analyte, n in last.items() if n is not None]
    before = course(infusions=infusions(*days), labs=labs, medications=[methotrexate(started)])
    return (
        before,
        started,
        as_of,
        raised(before, as_of, "methotrexate_monitoring_due", day(due).isoformat()),
    )


@clears("methotrexate_monitoring_due")
@RULE_EXAMPLES
@given(data=st.data())
def test_methotrexate_monitoring_due_clears_when_its_bloods_are_recorded(data):
    before, _started, as_of, finding = methotrexate_lapsed(data)
    assert finding.severity is INFO
    drawn = [
        lab(data.draw(st.integers(as_of - 98, as_of), label=f"{analyte} on"), analyte, 2)
        for analyte in METHOTREXATE_TESTS
    ]
    assert found(add(before, labs=drawn), as_of, "methotrexate_monitoring_due") == []


@RULE_EXAMPLES
@given(data=st.data())
def test_methotrexate_monitoring_due_clears_when_methotrexate_stops(data):
    before, started, as_of, _finding = methotrexate_lapsed(data)
    stopped = data.draw(st.integers(started, as_of), label="methotrexate stopped")
    after = dataclasses.replace(before, medications=(methotrexate(started, stopped),))
    assert found(after, as_of, "methotrexate_monitoring_due") == []


# Safety: live vaccines, serious adverse events ------------------------------------------------


def live_vaccine_raised(data: st.DataObject) -> tuple[CourseHistory, Any, int]:
    """An active course given on schedule and a live vaccine near it that raises the rule;
    returns (history, the vaccination, as of)."""
    days = draw_adherent(data)
    given_on = data.draw(st.integers(-120, days[-1] + 60), label="vaccine given")
    vaccine = live_vaccine(
        given_on, vaccine=data.draw(st.sampled_from(["mmr", "bcg", "varicella"]))
    )
    before = course(infusions=infusions(*days), live_vaccinations=[vaccine])
    as_of = max(given_on, days[-1]) + data.draw(st.integers(0, 60), label="as of")
    key = f"vaccination-{vaccine.id}"
    assume(key in keys(before, as_of, "live_vaccine_on_treatment"))
    return before, vaccine, as_of


@clears("live_vaccine_on_treatment")
@RULE_EXAMPLES
@given(data=st.data())
def test_live_vaccine_on_treatment_clears_when_a_clinician_reviews_it(data):
    before, vaccine, as_of = live_vaccine_raised(data)
    finding = raised(before, as_of, "live_vaccine_on_treatment", f"vaccination-{vaccine.id}")
    assert finding.severity is U
    decision = data.draw(st.sampled_from(["infusion_deferred", "risk_accepted"]))
    reviewed_on = data.draw(st.integers(offset(vaccine.given_on), as_of + 30), label="reviewed on")
    reviewed = dataclasses.replace(vaccine, reviewed_on=day(reviewed_on), review_decision=decision)
    after = dataclasses.replace(before, live_vaccinations=(reviewed,))
    # Cleared once the review is dated; a review dated after the evaluation is not known yet.
    assert bool(found(after, as_of, "live_vaccine_on_treatment")) is (reviewed_on > as_of)


@clears("serious_adverse_event_review")
@RULE_EXAMPLES
@given(data=st.data())
def test_serious_adverse_event_review_clears_when_reviewed_and_not_when_the_course_stops(data):
    days = draw_adherent(data)
    onset = data.draw(st.integers(-60, days[-1] + 100), label="onset")
    serious = data.draw(st.booleans(), label="serious")
    event = adverse_event(
        onset,
        term="lung_infection" if serious else "psoriasis",
        serious=serious,
        special_interest=() if serious else ("paradoxical psoriasis",),
    )
    as_of = max(onset, days[-1]) + data.draw(st.integers(0, 200), label="as of")
    before = course(infusions=infusions(*days), adverse_events=[event])
    assert raised(before, as_of, "serious_adverse_event_review", f"event-{event.id}").severity is U
    # The course's stop (on or after the onset) does not clear it.
    stopped_on = data.draw(st.integers(max(onset, days[-1]), as_of), label="stopped on")
    stopped = dataclasses.replace(before, stopped_on=day(stopped_on), stop_reason="adverse_event")
    raised(stopped, as_of, "serious_adverse_event_review", f"event-{event.id}")
    decision = data.draw(st.sampled_from(["continue", "hold", "stop"]))
    reviewed_on = data.draw(st.integers(onset, as_of + 30), label="reviewed on")
    reviewed = dataclasses.replace(event, reviewed_on=day(reviewed_on), review_decision=decision)
    for history_ in (before, stopped):
        after = dataclasses.replace(history_, adverse_events=(reviewed,))
        assert bool(found(after, as_of, "serious_adverse_event_review")) is (reviewed_on > as_of)


# Consent ----------------------------------------------------------------------------------------

consenters = st.sampled_from(["parent_guardian", "not_recorded"])


@clears("reconsent_at_majority")
@RULE_EXAMPLES
@given(data=st.data())
def test_reconsent_at_majority_clears_with_the_patients_own_consent_or_a_full_withdrawal(data):
    """A patient of 18 on a parent's (or an unrecorded) consent to any scopes: the patient's own
    consent clears it from its day, and so does every scope withdrawn."""
    as_of = data.draw(st.integers(60, 900), label="as of")
    born = day(as_of) - dt.timedelta(days=18 * 366 + data.draw(st.integers(0, 2000), label="days"))
    given_on = data.draw(st.integers(-3000, as_of), label="consent given")
    scopes = data.draw(
        st.sets(st.sampled_from(["care_data", "research", "contact"]), min_size=1), label="scopes"
    )
    parents = ConsentRow(
        id=1,
        given_on=day(given_on),
        consented_by=data.draw(consenters, label="consented by"),
        **{f"{scope}_given": True for scope in scopes},
    )
    before = course(infusions=infusions(0), patient_born_on=born, consents=(parents,))
    finding = found(before, as_of, "reconsent_at_majority")[0]
    assert finding.severity is INFO
    own_on = data.draw(st.integers(given_on, as_of + 30), label="own consent given")
    own = ConsentRow(id=2, given_on=day(own_on), consented_by="patient", research_given=True)
    after = dataclasses.replace(before, consents=(parents, own))
    assert bool(found(after, as_of, "reconsent_at_majority")) is (own_on > as_of)
    withdrawn_on = data.draw(st.integers(given_on, as_of + 30), label="withdrawn on")
    withdrawn = dataclasses.replace(
        parents, **{f"{scope}_withdrawn_on": day(withdrawn_on) for scope in scopes}
    )
    after = dataclasses.replace(before, consents=(withdrawn,))
    assert bool(found(after, as_of, "reconsent_at_majority")) is (withdrawn_on > as_of)


# --- 2. An adherent course on any regimen sequence raises no dose alert ------------------------

DOSE_RULES = {
    "induction_dose_missed",
    "maintenance_dose_overdue",
    "treatment_interrupted",
    "dose_given_early",
    "dose_mismatch",
}
WEIGHT = Decimal("40")
mg_per_kg = st.decimals(min_value=5, max_value=10, places=1)
reasons = st.sampled_from(["taper", "intensification", "other"])


def new_regimen(data: st.DataObject, decided_on: int) -> Any:
    return regimen(
        decided_on,
        interval=data.draw(intervals, label="interval"),
        dose=str(data.draw(mg_per_kg, label="mg/kg")),
        reason=data.draw(reasons, label="reason"),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_an_adherent_course_on_any_regimen_sequence_raises_no_dose_alert(data):
    treated = course(
        planned_dose_mg_per_kg=data.draw(mg_per_kg, label="planned mg/kg"),
        maintenance_interval_weeks=data.draw(intervals, label="planned interval"),
    )
    checked: set[int] = set()
    last: int | None = None
    for _ in range(data.draw(st.integers(1, 10), label="doses")):
        when = "none" if last is None else data.draw(
            st.sampled_from(["none", "on_infusion_day", "between"]), label="regimen change"
        )  # fmt: skip
        if last is not None and when == "between":
            old_due, _phase = next_due(treated, last)
            decided_on = data.draw(
                st.one_of(  # any day up to the grace, the edges more often
                    st.integers(last + 1, old_due + GRACE),
                    st.sampled_from([last + 1, old_due - 1, old_due, old_due + GRACE]),
                    st.integers(max(last + 1, old_due - 21), old_due + GRACE),
                ),
                label="decided on",
            )
            change = new_regimen(data, decided_on)
            treated = add(treated, regimen_changes=[change])
            due, _phase = next_due(treated, decided_on)
            earliest = max(0, decided_on - due)  # the dose follows the decision
            given_on = due + data.draw(st.integers(earliest, GRACE), label="days after due")
            checked.add(decided_on)
        else:
            due, _phase = next_due(treated, 0 if last is None else last)
            given_on = due + data.draw(st.integers(0, GRACE), label="days after due")
            if when == "on_infusion_day":
                treated = add(treated, regimen_changes=[new_regimen(data, given_on)])
        in_force, _interval = treated.regimen_on(day(given_on))
        dose = in_force * WEIGHT
        treated = add(treated, infusions=[infusion(given_on, weight=str(WEIGHT), dose=str(dose))])
        since = 0 if last is None else last
        checked |= {since, given_on - 1, given_on}
        checked |= set(data.draw(st.lists(st.integers(since, given_on), max_size=3)))
        last = given_on
    assert last is not None
    final_due, _phase = next_due(treated, last)
    checked |= {final_due, final_due + GRACE}
    checked |= set(data.draw(st.lists(st.integers(last, final_due + GRACE), max_size=4)))
    for as_of in sorted(checked):
        alerts = {
            (f.rule_id, f.key) for f in evaluate(treated, day(as_of)) if f.rule_id in DOSE_RULES
        }
        assert not alerts, (as_of, alerts)


def test_a_dose_given_on_the_day_a_regimen_change_made_it_due_is_not_early():
    # q8w, last dose on day 98 (due day 154); intensification to q4w decided on day 130: the
    # schedule says due max(98 + 28, 130) = day 130. The dose given that day is on time.
    change = regimen(130, interval=4, reason="intensification")
    planned = course(infusions=infusions(0, 14, 42, 98), regimen_changes=[change])
    assert next_due(planned, 130) == (130, MAINTENANCE)
    given = add(planned, infusions=[infusion(130)])
    assert found(given, 130, "dose_given_early") == []


def test_shortening_a_q16w_interval_late_in_the_gap_is_not_an_interruption():
    # q16w from day 98 (due day 210); on day 216 (within the grace) a q4w intensification is
    # decided: due max(98 + 28, 216) = day 216, given that day or within the grace.
    changes = [regimen(98, interval=16), regimen(216, interval=4, reason="intensification")]
    planned = course(infusions=infusions(0, 14, 42, 98), regimen_changes=changes)
    assert found(planned, 216, "maintenance_dose_overdue") == []
    assert found(planned, 216, "treatment_interrupted") == []  # 118 days since day 98


# --- 3. A re-exposure is raised whatever the number of courses between -------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_re_exposure_is_raised_whatever_the_number_of_courses_between(data):
    days = draw_adherent(data, most=6)
    treated = course(infusions=infusions(*days), stopped_on=day(days[-1]), stop_reason="remission")
    last = days[-1]
    for _ in range(data.draw(st.integers(1, 4), label="earlier courses") - 1):
        start = last + 112 - data.draw(st.integers(0, 111), label="short gap, days under 112")
        given = [start + n for n in draw_adherent(data, most=6)]
        treated = retreatment(
            treated,
            start,
            infusions=infusions(*given),
            stopped_on=day(given[-1]),
            stop_reason="remission",
        )
        last = given[-1]
    reexposed = data.draw(st.booleans(), label="re-exposed")
    # Drawn as the distance from the threshold, so that hypothesis tries 112 and 113 first.
    if reexposed:
        gap = 113 + data.draw(st.integers(0, 600), label="last gap, days over 113")
    else:
        gap = 112 - data.draw(st.integers(0, 111), label="last gap, days under 112")
    start = last + gap
    first_dose = [infusion(start)] if data.draw(st.booleans(), label="first dose given") else []
    final = retreatment(treated, start, infusions=first_dose)
    assert final.days_off_drug == gap
    as_of = start + data.draw(st.integers(0, 14), label="days after the start")
    assert ("course-start" in keys(final, as_of, "treatment_interrupted")) is reexposed


# --- 4. Evaluating one patient never reads another's data --------------------------------------

A_AS_OF = D0.replace(year=2026, month=3, day=16)


def patient_a(site: Any) -> list[int]:
    """Two courses (a re-exposure after 2025's), reactions, labs, imaging, assessments, a
    relapse, a regimen change, methotrexate with a lapsed blood count, a screen too old for the
    retreatment, a live vaccine and a serious adverse event without a course: enough that B's
    rows, if read, would change A's findings."""
    patient = PatientFactory(site=site)
    first = CourseFactory(
        patient=patient, started_on=D0, stopped_on=day(200), stop_reason="remission"
    )
    given = [InfusionFactory(course=first, given_on=day(n)) for n in adherent_days(2)]
    ReactionFactory(infusion=given[3], severity="moderate")
    RelapseFactory(course=first, patient=patient, noted_on=day(330))
    second = CourseFactory(patient=patient, started_on=day(371))
    for n in (371, 385):
        InfusionFactory(course=second, given_on=day(n), duration_minutes=90)
    RegimenChangeFactory(
        course=second, effective_on=day(385), dose_mg_per_kg=Decimal("7.5"), interval_weeks=6
    )
    LabResultFactory(patient=patient, collected_on=day(0), analyte="crp", value=Decimal("30"))
    LabResultFactory(patient=patient, collected_on=day(0), analyte="esr", value=Decimal("45"))
    LabResultFactory(
        patient=patient,
        collected_on=day(150),
        analyte="anti_ifx",
        value=None,
        unit="AU/mL",
        antibodies_positive=False,
    )
    LabResultFactory(
        patient=patient, collected_on=day(150), analyte="ifx_trough", value=Decimal("2")
    )
    ImagingStudyFactory(patient=patient, performed_on=day(-4))
    MedicationFactory(
        patient=patient, drug="methotrexate", dose_unit="mg/m2", frequency="weekly",
        started_on=day(250),
    )  # fmt: skip
    LabResultFactory(patient=patient, collected_on=day(240), analyte="alt", value=Decimal("20"))
    AssessmentFactory(patient=patient, assessed_on=day(70))
    AssessmentFactory(patient=patient, assessed_on=day(300), clinically_active_lesions=2)
    # Screened before the first course only: the retreatment's screening is missing.
    screen(patient, day(-20))
    VaccinationFactory(patient=patient, vaccine="mmr", given_on=day(380))
    AdverseEventFactory(
        patient=patient, onset_on=day(390), term="lung_infection", grade=3, serious=True,
        seriousness_hospitalisation=True, resolved_on=day(400),
    )  # fmt: skip
    return [first.pk, second.pk]


def summary(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.rule_id, f.key, f.severity, f.explanation) for f in findings]


# Patient B's data: days from D0, over the same months as A's.
b_days = st.integers(-30, 430)
b_infusion = st.tuples(
    b_days, st.integers(20, 80), st.integers(50, 800), st.booleans()
)  # day, weight kg, dose mg (capped at 20 mg/kg when written), premedicated
b_lab = st.one_of(
    st.tuples(st.just("crp"), b_days, st.integers(0, 300), st.none()),
    st.tuples(st.just("esr"), b_days, st.integers(0, 150), st.none()),
    st.tuples(st.just("ifx_trough"), b_days, st.integers(0, 40), st.none()),
    st.tuples(st.just("anti_ifx"), b_days, st.none(), st.booleans()),
    st.tuples(st.sampled_from(["neutrophils", "platelets", "alt"]), b_days, st.integers(0, 90),
              st.none()),
)  # fmt: skip
b_data = st.fixed_dictionaries(
    {
        "first_course_infusions": st.lists(b_infusion, max_size=5, unique_by=lambda i: i[0]),
        "new_course": st.one_of(
            st.none(),
            st.tuples(
                st.integers(240, 400),  # starts after the first course stopped (day 238)
                st.lists(st.integers(0, 60), min_size=0, max_size=3, unique=True),
            ),
        ),
        "labs": st.lists(b_lab, max_size=6, unique_by=lambda lab_: (lab_[0], lab_[1])),
        "reactions": st.lists(
            st.tuples(
                st.integers(0, 20),
                st.sampled_from(["mild", "moderate", "severe"]),
                st.sampled_from(["acute", "delayed"]),
            ),
            max_size=3,
        ),
        "assessments": st.lists(
            st.tuples(b_days, st.integers(0, 10), st.integers(0, 3)), max_size=2
        ),
        "imaging": st.lists(st.tuples(b_days, st.integers(0, 5)), max_size=2),
        # methotrexate: an entry from a day, stopped after some days or (None) still taken
        "methotrexate": st.one_of(
            st.none(), st.tuples(b_days, st.one_of(st.none(), st.integers(0, 200)))
        ),
        # screening: (day, test, result), one result per test and day, positive ones unreviewed
        "screenings": st.lists(
            st.tuples(
                b_days,
                st.sampled_from(["tb_igra", "tb_chest_xray", "hbv_hbsag", "hbv_anti_hbc"]),
                st.sampled_from(["negative", "positive", "indeterminate"]),
            ),
            max_size=4,
            unique_by=lambda row: (row[0], row[1]),
        ),
        "live_vaccines": st.lists(
            st.tuples(b_days, st.sampled_from(["mmr", "bcg", "varicella"])),
            max_size=2,
            unique_by=lambda v: v,
        ),
        # serious adverse events without a course: the loader attaches each to one of B's
        "serious_events": st.lists(b_days, max_size=2),
    }
)


def write_patient_b(patient: Any, first_course: Any, data: dict[str, Any]) -> int:
    """Writes B's generated rows through the factories; returns how many infusions B has."""
    written = []
    for n, weight, dose, premedicated in data["first_course_infusions"]:
        written.append(
            InfusionFactory(
                course=first_course,
                given_on=day(n),
                weight_kg=Decimal(weight),
                dose_mg=Decimal(min(dose, 20 * weight)),
                premedication_antihistamine=premedicated,
                premedication_corticosteroid=premedicated,
            )
        )
    if data["new_course"] is not None:
        start, offsets = data["new_course"]
        new_course = CourseFactory(patient=patient, started_on=day(start))
        written += [InfusionFactory(course=new_course, given_on=day(start + n)) for n in offsets]
    for index, severity, onset in data["reactions"]:
        if written:
            ReactionFactory(infusion=written[index % len(written)], severity=severity, onset=onset)
    for analyte, n, value, positive in data["labs"]:
        LabResultFactory(
            patient=patient,
            collected_on=day(n),
            analyte=analyte,
            value=None if value is None else Decimal(value),
            unit=ANALYTE_UNITS.get(analyte, "AU/mL"),
            antibodies_positive=positive,
        )
    for n, pain, lesions in data["assessments"]:
        AssessmentFactory(
            patient=patient,
            assessed_on=day(n),
            pain_score=Decimal(pain),
            clinically_active_lesions=lesions,
        )
    for n, active in data["imaging"]:
        ImagingStudyFactory(patient=patient, performed_on=day(n), active_lesions=active)
    if data["methotrexate"] is not None:
        start, length = data["methotrexate"]
        MedicationFactory(
            patient=patient, drug="methotrexate", started_on=day(start),
            stopped_on=None if length is None else day(start + length),
            stop_reason="" if length is None else "remission",
        )  # fmt: skip
    for n, test, result in data["screenings"]:
        ScreeningResultFactory(patient=patient, test=test, tested_on=day(n), result=result)
    for n, vaccine in data["live_vaccines"]:
        VaccinationFactory(patient=patient, vaccine=vaccine, given_on=day(n))
    for n in data["serious_events"]:
        AdverseEventFactory(patient=patient, onset_on=day(n), term="sepsis", grade=4,
                            serious=True, seriousness_life_threatening=True,
                            resolved_on=day(n + 5))  # fmt: skip
    return len(written)


@pytest.mark.django_db
@settings(max_examples=10, deadline=None)
@given(data=b_data)
def test_evaluating_one_patient_never_reads_anothers_data(data):
    with transaction.atomic():  # each example rolls back what it wrote
        site = SiteFactory(code="props")  # both patients at one site
        a_courses = patient_a(site)
        before = load_histories(a_courses)
        findings_before = [summary(evaluate(h, A_AS_OF)) for h in before]
        assert len(before) == 2
        assert any(findings_before), "A's findings must be worth comparing"
        assert "methotrexate_monitoring_due" in {f[0] for f in findings_before[-1]}
        assert "screening_missing" in {f[0] for f in findings_before[-1]}
        assert {"live_vaccine_on_treatment", "serious_adverse_event_review"} <= {
            f[0] for f in findings_before[-1]
        }

        patient_b = PatientFactory(site=site)
        b_first = CourseFactory(
            patient=patient_b, started_on=D0, stopped_on=day(238), stop_reason="remission"
        )
        b_infusions = write_patient_b(patient_b, b_first, data)
        after = load_histories(a_courses)
        assert after == before
        assert [summary(evaluate(h, A_AS_OF)) for h in after] == findings_before
        # B's rows were written where the loader reads: B's histories carry them.
        b_ids = list(patient_b.courses.values_list("pk", flat=True))
        [b_history, *_] = load_histories(b_ids)
        assert len(b_history.all_infusions) == b_infusions
        assert len(b_history.labs) == len(data["labs"])
        assert len(b_history.medications) == (data["methotrexate"] is not None)
        assert len(b_history.screenings) == len(data["screenings"])
        assert len(b_history.live_vaccinations) == len(data["live_vaccines"])
        b_histories = load_histories(b_ids)
        assert sum(len(h.adverse_events) for h in b_histories) == len(data["serious_events"])
        transaction.set_rollback(True)
