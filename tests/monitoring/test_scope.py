"""Why alerts resolve: course stopped, out of monitoring scope, guideline updated — in every run.

Every kind of run resolves what it should: the nightly fan-out (eager Celery), a site's run
(`run_evaluation(site=…)`, the command's `--site`) and a patient's re-evaluation after a save
(`evaluate_patient`). Dismissed alerts stay dismissed in all of them.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring import evaluation, tasks
from monitoring.evaluation import evaluate_courses, run_evaluation, scope_days
from monitoring.guideline import DEFAULT, RULES
from monitoring.models import (
    CLEARS_ON_STOP_RULES,
    Alert,
    AlertEvent,
    EvaluationRun,
    SiteGuideline,
)
from registry.models import TreatmentCourse
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
OLD_VERSION = "2026.11"


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


# --- Kinds of run -------------------------------------------------------------------------------


def by_patient(course: TreatmentCourse, actor_id: int | None) -> None:
    evaluation.evaluate_patient(course.patient_id, actor_id)


# These tests change rows behind the services' back (as only a correction or a deploy could), so
# no record version moves: the site and nightly runs are full ones, which evaluate every course.
# That an incremental night leaves the same alerts is tests/monitoring/test_incremental.py's.
def by_site(course: TreatmentCourse, actor_id: int | None) -> None:
    run_evaluation(as_of=TODAY, site=course.patient.site, full=True)


def nightly(course: TreatmentCourse, actor_id: int | None) -> None:
    run_id = tasks.evaluate_nightly(TODAY.isoformat(), full=True)
    assert EvaluationRun.objects.get(pk=run_id).status == "done"


RUNS: dict[str, Callable[[TreatmentCourse, int | None], None]] = {
    "patient": by_patient,
    "site": by_site,
    "nightly": nightly,
}
EXPECTED_ACTOR = {"patient": True, "site": False, "nightly": False}


# --- Courses ------------------------------------------------------------------------------------


def overdue_course(**course_fields) -> TreatmentCourse:
    """In maintenance, the next dose due 14 days ago (a warning), its alert raised."""
    start = TODAY - 112 * DAY
    course = CourseFactory(started_on=start, **course_fields)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    assert Alert.objects.filter(course=course, rule="maintenance_dose_overdue").exists()
    return course


def low_trough_course(**course_fields) -> TreatmentCourse:
    """On time in maintenance with a true trough of 2 µg/mL (the rule still finds it once the
    course has stopped: only the stop clears it)."""
    start = TODAY - 100 * DAY
    course = CourseFactory(started_on=start, **course_fields)
    for offset in (0, 14, 42, 98):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    LabResultFactory(
        patient=course.patient,
        collected_on=start + 97 * DAY,
        analyte="ifx_trough",
        value=Decimal("2"),
        unit="µg/mL",
    )
    evaluate_courses([course.pk], TODAY)
    assert Alert.objects.filter(course=course, rule="low_trough").exists()
    return course


COURSES = {"maintenance_dose_overdue": overdue_course, "low_trough": low_trough_course}


def set_status(alert: Alert, status: str) -> None:
    Alert.objects.filter(pk=alert.pk).update(status=status)


def stop(course: TreatmentCourse, days_ago: int = 0) -> None:
    TreatmentCourse.objects.filter(pk=course.pk).update(
        stopped_on=TODAY - days_ago * DAY, stop_reason="remission"
    )


def leave_scope(course: TreatmentCourse) -> None:
    """Stopped 800 days ago (only a correction of the record can do that)."""
    TreatmentCourse.objects.filter(pk=course.pk).update(
        started_on=TODAY - 900 * DAY, stopped_on=TODAY - 800 * DAY, stop_reason="remission"
    )


def resolution(alert: Alert) -> tuple[str, str, list[str]]:
    alert.refresh_from_db()
    return alert.status, alert.resolution_reason, [e.kind for e in alert.events.all()]


# --- Course stopped ----------------------------------------------------------------------------


def test_the_rules_that_clear_on_stop_are_those_of_the_guideline_table():
    # GUIDELINE.md v2, "Rules": the rows whose "clears when" says "course stopped".
    assert {
        "induction_dose_missed",
        "maintenance_dose_overdue",
        "response_assessment_due",
        "markers_overdue",
        "imaging_overdue",
        "taper_readiness",
        "premedication_advised",
        "low_trough",
        "methotrexate_monitoring_due",
        "screening_missing",
        "screening_positive",
        "live_vaccine_on_treatment",
    } == CLEARS_ON_STOP_RULES
    assert all(RULES[rule_id][0].clears_on_stop for rule_id in CLEARS_ON_STOP_RULES)


@pytest.mark.parametrize("run", ["patient", "site", "nightly"])
@pytest.mark.parametrize("rule", ["maintenance_dose_overdue", "low_trough"])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", ("resolved", "course stopped", ["raised", "resolved"])),
        ("acknowledged", ("resolved", "course stopped", ["raised", "resolved"])),
        ("dismissed", ("dismissed", "", ["raised"])),
    ],
)
def test_a_stopped_courses_alert_resolves_as_course_stopped(
    eager, clinician_a, site_a, run, rule, status, expected
):
    course = COURSES[rule](patient=PatientFactory(site=site_a))
    [alert] = Alert.objects.filter(course=course, rule=rule)
    set_status(alert, status)
    stop(course)

    RUNS[run](course, clinician_a.pk)

    assert resolution(alert) == expected
    if status != "dismissed":
        event = alert.events.last()
        assert event.note == "course stopped"
        assert (event.from_status, event.to_status) == (status, "resolved")
        assert event.actor == (clinician_a if EXPECTED_ACTOR[run] else None)
    # The rule raises nothing more for the stopped course, and a second run changes nothing.
    events = AlertEvent.objects.count()
    RUNS[run](course, clinician_a.pk)
    assert Alert.objects.filter(course=course, rule=rule).count() == 1
    assert AlertEvent.objects.count() == events


def test_a_rule_that_does_not_clear_on_stop_keeps_its_reason(site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 200 * DAY)
    InfusionFactory(course=course, given_on=course.started_on, dose_mg=Decimal("300"))
    evaluate_courses([course.pk], TODAY)
    [alert] = Alert.objects.filter(course=course, rule="dose_mismatch")
    stop(course)
    evaluate_courses([course.pk], TODAY)
    assert resolution(alert)[0] == "open"  # dose_mismatch clears when superseded or corrected
    course.infusions.update(dose_mg=Decimal("200"))
    evaluate_courses([course.pk], TODAY)
    assert resolution(alert)[:2] == ("resolved", "condition cleared")


# --- Out of monitoring scope -------------------------------------------------------------------


@pytest.mark.parametrize("run", ["patient", "site", "nightly"])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", ("resolved", "out of monitoring scope", ["raised", "resolved"])),
        ("acknowledged", ("resolved", "out of monitoring scope", ["raised", "resolved"])),
        ("dismissed", ("dismissed", "", ["raised"])),
    ],
)
def test_alerts_of_a_course_past_the_scope_resolve_in_every_run(
    eager, clinician_a, site_a, site_b, run, status, expected
):
    course = overdue_course(patient=PatientFactory(site=site_a))
    leave_scope(course)
    active = overdue_course(patient=course.patient)  # the same patient's course in scope
    elsewhere = overdue_course(patient=PatientFactory(site=site_b))
    leave_scope(elsewhere)  # another site's: a site run or a patient's leaves it alone
    alerts = list(Alert.objects.filter(course=course))
    for alert in alerts:
        set_status(alert, status)

    RUNS[run](course, clinician_a.pk)

    assert [resolution(alert) for alert in alerts] == [expected] * len(alerts)
    if status != "dismissed":
        event = alerts[0].events.last()
        assert (event.note, event.from_status) == ("out of monitoring scope", status)
        assert event.actor == (clinician_a if EXPECTED_ACTOR[run] else None)
    assert {a.status for a in Alert.objects.filter(course=active)} == {"open"}
    left_alone = {a.status for a in Alert.objects.filter(course=elsewhere)}
    assert left_alone == ({"resolved"} if run == "nightly" else {"open"})
    events = AlertEvent.objects.count()
    RUNS[run](course, clinician_a.pk)  # idempotent
    assert AlertEvent.objects.count() == events


def test_a_site_run_counts_the_alerts_that_left_the_scope(site_a):
    course = overdue_course(patient=PatientFactory(site=site_a))
    leave_scope(course)
    run, outcome = run_evaluation(as_of=TODAY, site=site_a)
    left = Alert.objects.filter(course=course).count()
    assert outcome.resolved_by_reason == {"out of monitoring scope": left}
    assert EvaluationRun.objects.get(pk=run.pk).resolved == left


def test_resolving_out_of_scope_costs_the_same_queries_for_one_course_or_many(
    django_assert_max_num_queries,
):
    leave_scope(overdue_course())
    with CaptureQueriesContext(connection) as one:
        assert evaluation.resolve_out_of_scope(TODAY) > 0
    for _ in range(8):
        leave_scope(overdue_course())
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert evaluation.resolve_out_of_scope(TODAY) >= 8


# --- The 24-month visit after stopping ---------------------------------------------------------


STOPPED_ON = TODAY - 800 * DAY


def visit_alerts(course: TreatmentCourse) -> list[tuple[str, str, str]]:
    return list(
        Alert.objects.filter(course=course, rule="post_stop_follow_up_due")
        .order_by("pk")
        .values_list("key", "status", "resolution_reason")
    )


@pytest.mark.parametrize(
    ("days_after_stop", "in_scope", "expected"),
    [
        (730, True, [("24m", "open", "")]),  # the visit is due
        (759, True, [("24m", "open", "")]),  # the day before its window closes
        (760, True, [("24m", "open", "")]),  # the day it closes
        (761, False, [("24m", "resolved", "out of monitoring scope")]),  # the day after
    ],
)
def test_the_24_month_visit_is_raised_until_its_window_closes(days_after_stop, in_scope, expected):
    course = CourseFactory(
        started_on=STOPPED_ON - 400 * DAY, stopped_on=STOPPED_ON, stop_reason="remission"
    )
    AssessmentFactory(  # the 12-month visit, inactive: only the 24-month one is missing
        patient=course.patient,
        assessed_on=STOPPED_ON + 370 * DAY,
        pain_score=Decimal("0"),
        physician_global=Decimal("0"),
        clinically_active_lesions=0,
        disease_state="inactive",
    )
    as_of = STOPPED_ON + days_after_stop * DAY
    run_evaluation(as_of=as_of - DAY)  # the evening before
    run_evaluation(as_of=as_of)
    assert (course in evaluation.courses_in_scope(as_of)) is in_scope
    assert visit_alerts(course) == expected


def test_scope_days_is_the_watch_or_the_last_visit_window_whichever_is_later():
    assert scope_days(DEFAULT) == 760  # 730 + 30
    assert scope_days(DEFAULT.with_overrides({"post_stop_visit_window_days": 60})) == 790
    assert scope_days(DEFAULT.with_overrides({"post_stop_watch_days": 1000})) == 1000
    assert scope_days(DEFAULT.with_overrides({"post_stop_visit_days": ()})) == 730


@pytest.mark.parametrize(
    ("overrides", "stopped_days_ago", "in_scope"),
    [
        ({}, 760, True),
        ({}, 761, False),
        ({"post_stop_visit_window_days": 60}, 790, True),
        ({"post_stop_visit_window_days": 60}, 791, False),
        ({"post_stop_watch_days": 1000}, 1000, True),
        ({"post_stop_watch_days": 1000}, 1001, False),
        ({"post_stop_watch_days": 365, "post_stop_visit_days": [91, 182]}, 365, True),
        ({"post_stop_watch_days": 365, "post_stop_visit_days": [91, 182]}, 366, False),
    ],
)
def test_each_site_keeps_its_stopped_courses_for_its_own_scope(
    overrides, stopped_days_ago, in_scope
):
    site, default_site = SiteFactory(code="tuned"), SiteFactory(code="plain")
    SiteGuideline.objects.create(site=site, overrides=overrides)

    def stopped_course(at):
        return CourseFactory(
            patient=PatientFactory(site=at),
            started_on=TODAY - 2000 * DAY,
            stopped_on=TODAY - stopped_days_ago * DAY,
            stop_reason="remission",
        )

    course, default_course = stopped_course(site), stopped_course(default_site)
    scope = set(evaluation.courses_in_scope(TODAY))
    assert (course in scope) is in_scope
    assert (default_course in scope) is (stopped_days_ago <= 760)  # the default scope
    assert set(evaluation.courses_in_scope(TODAY, site)) == scope & {course}


# --- Guideline updated -------------------------------------------------------------------------


def old_alert(course: TreatmentCourse, rule: str, key: str, status: str = "open") -> Alert:
    """An alert raised under version 1 (2026.11) for a finding version 2 does not make."""
    now = timezone.now()
    return Alert.objects.create(
        course=course,
        rule=rule,
        key=key,
        severity="info",
        status=status,
        title="Raised under version 1",
        explanation="Version 1 said so.",
        due_on=TODAY - 30 * DAY,
        first_raised_at=now,
        last_seen_at=now,
        guideline_version=OLD_VERSION,
    )


@pytest.mark.parametrize("run", ["patient", "site", "nightly"])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", ("resolved", "guideline updated", ["resolved"])),
        ("acknowledged", ("resolved", "guideline updated", ["resolved"])),
        ("dismissed", ("dismissed", "", [])),
    ],
)
def test_an_alert_version_2_no_longer_raises_resolves_as_guideline_updated(
    eager, clinician_a, site_a, run, status, expected
):
    course = overdue_course(patient=PatientFactory(site=site_a))
    gone = old_alert(course, "markers_overdue", "2026-10-25", status)  # a key no finding has

    RUNS[run](course, clinician_a.pk)

    assert resolution(gone) == expected
    if status != "dismissed":
        event = gone.events.get()
        assert event.note == "guideline updated (2026.11 → 2026.12)"
        assert (event.from_status, event.to_status) == (status, "resolved")
        assert event.actor == (clinician_a if EXPECTED_ACTOR[run] else None)
    assert gone.guideline_version == OLD_VERSION  # the version it was raised under
    events = AlertEvent.objects.count()
    RUNS[run](course, clinician_a.pk)
    assert AlertEvent.objects.count() == events


@pytest.mark.parametrize("status", ["open", "acknowledged", "dismissed"])
def test_an_alert_still_found_is_refreshed_to_the_new_version(site_a, status):
    course = overdue_course(patient=PatientFactory(site=site_a))
    [alert] = Alert.objects.filter(course=course, rule="maintenance_dose_overdue")
    Alert.objects.filter(pk=alert.pk).update(status=status, guideline_version=OLD_VERSION)
    outcome = evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert outcome.resolved == 0
    assert alert.status == status
    # Dismissed stays as it was dismissed; the others are found again, under version 2.
    assert alert.guideline_version == (OLD_VERSION if status == "dismissed" else "2026.12")
    assert [e.kind for e in alert.events.all()] == ["raised"]


def test_a_site_guideline_change_counts_as_a_guideline_update(site_a):
    course = overdue_course(patient=PatientFactory(site=site_a))
    [alert] = Alert.objects.filter(course=course, rule="maintenance_dose_overdue")
    SiteGuideline.objects.create(site=site_a, overrides={"dose_grace_days": 20})
    evaluate_courses([course.pk], TODAY)  # 14 days late is within the site's new grace
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "guideline updated")


def test_a_stop_wins_over_a_guideline_update(site_a):
    course = overdue_course(patient=PatientFactory(site=site_a))
    [alert] = Alert.objects.filter(course=course, rule="maintenance_dose_overdue")
    Alert.objects.filter(pk=alert.pk).update(guideline_version=OLD_VERSION)
    stop(course)
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "course stopped")


def test_a_condition_cleared_under_the_same_version_says_so(site_a):
    course = overdue_course(patient=PatientFactory(site=site_a))
    [alert] = Alert.objects.filter(course=course, rule="maintenance_dose_overdue")
    InfusionFactory(course=course, given_on=TODAY)
    outcome = evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert outcome.resolved_by_reason == {"condition cleared": 1}
