"""Evaluation against the database: bulk loading, reconciliation, scope, runs."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring import evaluation, services
from monitoring.evaluation import evaluate_courses, load_histories, run_evaluation
from monitoring.models import Alert, AlertEvent, AlertStatus, EvaluationRun, SiteGuideline
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    MedicationFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def overdue_course(last_given_on: dt.date, **course_fields):
    """A course in maintenance whose next dose was due 8 weeks after `last_given_on`."""
    start = last_given_on - dt.timedelta(days=42)
    course = CourseFactory(started_on=start, **course_fields)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + dt.timedelta(days=offset))
    return course


def alerts(course, rule="maintenance_dose_overdue"):
    return list(Alert.objects.filter(course=course, rule=rule).order_by("pk"))


def rich_course():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    infusion = course.infusions.last()
    ReactionFactory(infusion=infusion, severity="severe")
    RegimenChangeFactory(course=course, effective_on=infusion.given_on, interval_weeks=10)
    LabResultFactory(patient=course.patient, collected_on=course.started_on, analyte="crp")
    ImagingStudyFactory(patient=course.patient, performed_on=course.started_on)
    AssessmentFactory(patient=course.patient, assessed_on=course.started_on)
    MedicationFactory(patient=course.patient, drug="methotrexate", started_on=course.started_on)
    LabResultFactory(patient=course.patient, collected_on=course.started_on, analyte="alt")
    return course


def test_it_loads_a_chunk_in_a_constant_number_of_queries(django_assert_max_num_queries):
    one = [rich_course().pk]
    with CaptureQueriesContext(connection) as small:
        load_histories(one)
    many = [rich_course().pk for _ in range(12)]
    with django_assert_max_num_queries(len(small.captured_queries)):
        histories = load_histories(many)
    assert len(histories) == 12
    assert all(len(h.infusions) == 3 and len(h.reactions) == 1 for h in histories)
    assert all(len(h.medications) == 1 for h in histories)


def test_it_evaluates_a_chunk_in_a_constant_number_of_queries(django_assert_max_num_queries):
    first = [rich_course().pk]
    with CaptureQueriesContext(connection) as small:
        evaluate_courses(first, TODAY)
    assert Alert.objects.count() > 0
    chunk = [rich_course().pk for _ in range(15)]
    with django_assert_max_num_queries(len(small.captured_queries)):
        evaluate_courses(chunk, TODAY)
    with django_assert_max_num_queries(len(small.captured_queries)):
        evaluate_courses(chunk, TODAY)  # the refresh path too


def test_it_opens_an_alert_with_its_explanation_evidence_and_raised_event():
    course = overdue_course(TODAY - dt.timedelta(days=70))  # due 14 days ago: warning
    outcome = evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course)
    assert outcome.opened >= 1
    assert (alert.status, alert.severity, alert.key) == ("open", "warning", str(TODAY - 14 * DAY))
    assert "Guideline (grade A, source document)" in alert.explanation
    # Late from the 8th day after the due date, overdue (urgent) from the 15th: dates, not a count
    # of days that would go stale between evaluations.
    assert alert.evidence["late_from"] == str(TODAY - 6 * DAY)
    assert alert.evidence["overdue_from"] == str(TODAY + DAY)
    assert f"late from {TODAY - 6 * DAY:%d %b %Y}, overdue from" in alert.explanation
    assert alert.guideline_version == "2026.12"
    assert [e.kind for e in alert.events.all()] == ["raised"]


def test_running_it_twice_changes_nothing_but_last_seen():
    course = rich_course()
    evaluate_courses([course.pk], TODAY)
    before = {a.pk: (a.status, a.severity, a.explanation) for a in Alert.objects.all()}
    seen = {a.pk: a.last_seen_at for a in Alert.objects.all()}
    events = AlertEvent.objects.count()
    outcome = evaluate_courses([course.pk], TODAY)
    assert all(alert.last_seen_at > seen[alert.pk] for alert in Alert.objects.all())
    assert outcome.opened == outcome.resolved == 0
    assert {a.pk: (a.status, a.severity, a.explanation) for a in Alert.objects.all()} == before
    assert AlertEvent.objects.count() == events


def test_it_escalates_the_same_alert_when_overdue():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    evaluate_courses([course.pk], TODAY - 6 * DAY)  # 8 days late: warning
    evaluate_courses([course.pk], TODAY)  # 14 days late: still warning
    evaluate_courses([course.pk], TODAY + DAY)  # 15 days late: urgent
    [alert] = alerts(course)
    assert alert.severity == "urgent"
    assert [e.kind for e in alert.events.all()] == ["raised", "escalated"]


def test_it_resolves_an_alert_whose_condition_cleared():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    evaluate_courses([course.pk], TODAY)
    InfusionFactory(course=course, given_on=TODAY)
    outcome = evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course)
    assert outcome.resolved >= 1
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert alert.resolved_at is not None
    assert [e.kind for e in alert.events.all()] == ["raised", "resolved"]


def test_an_acknowledged_alert_stays_acknowledged_while_present(site_a, clinician_a):
    course = overdue_course(TODAY - dt.timedelta(days=70), patient=PatientFactory(site=site_a))
    evaluate_courses([course.pk], TODAY)
    services.alert_acknowledge(alert=alerts(course)[0], by=clinician_a)
    evaluate_courses([course.pk], TODAY + DAY)
    [alert] = alerts(course)
    assert (alert.status, alert.severity) == ("acknowledged", "urgent")


def test_a_dismissed_alert_stays_dismissed_for_that_key(site_a, clinician_a):
    course = overdue_course(TODAY - dt.timedelta(days=70), patient=PatientFactory(site=site_a))
    evaluate_courses([course.pk], TODAY)
    services.alert_dismiss(alert=alerts(course)[0], by=clinician_a, reason="Dose given elsewhere")
    evaluate_courses([course.pk], TODAY + DAY)
    assert [a.status for a in alerts(course)] == ["dismissed"]


def test_a_resolved_alert_is_raised_again_if_the_condition_comes_back():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    evaluate_courses([course.pk], TODAY)
    # Resolved as the engine resolves it (a manual resolve no longer exists), say by a dose
    # recorded and then corrected away: the same condition is a new alert.
    Alert.objects.filter(course=course).update(status="resolved", resolved_at=timezone.now())
    evaluate_courses([course.pk], TODAY)
    assert [a.status for a in alerts(course)] == ["resolved", "open"]


def test_it_uses_the_sites_parameters():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    SiteGuideline.objects.create(site=course.patient.site, overrides={"dose_grace_days": 20})
    evaluate_courses([course.pk], TODAY)
    assert alerts(course) == []  # 14 days late is within this site's grace
    evaluate_courses([course.pk], TODAY + 7 * DAY)
    [alert] = alerts(course)
    assert alert.guideline_version.startswith("2026.12+site.")


def test_the_scope_is_active_courses_and_those_stopped_until_the_last_visit_window_closes():
    active = CourseFactory(started_on=dt.date(2025, 1, 1))
    # The 24-month visit (day 730 after the stop) is watched for 30 days: in scope up to day 760.
    watched = CourseFactory(
        started_on=dt.date(2023, 1, 1), stopped_on=TODAY - 760 * DAY, stop_reason="remission"
    )
    CourseFactory(
        started_on=dt.date(2022, 1, 1), stopped_on=TODAY - 761 * DAY, stop_reason="remission"
    )
    CourseFactory(started_on=TODAY + DAY)  # starts after the evaluation date
    assert set(evaluation.courses_in_scope(TODAY)) == {active, watched}


def test_a_run_records_its_counts_and_resolves_alerts_of_courses_leaving_scope():
    course = overdue_course(TODAY - dt.timedelta(days=70))
    run_evaluation(as_of=TODAY)
    course.stopped_on, course.stop_reason = TODAY - 800 * DAY, "remission"
    # Out of scope now (a stop long ago is only possible by correcting the record).
    type(course).objects.filter(pk=course.pk).update(
        started_on=TODAY - 900 * DAY, stopped_on=TODAY - 800 * DAY, stop_reason="remission"
    )
    run, outcome = run_evaluation(as_of=TODAY)
    assert outcome.courses == 0
    assert all(a.status == AlertStatus.RESOLVED for a in Alert.objects.all())
    run = EvaluationRun.objects.get(pk=run.pk)
    assert (run.status, run.kind, run.resolved) == ("done", "command", Alert.objects.count())
    assert run.duration_ms is not None


def test_it_keeps_a_finding_per_dose_mismatch_infusion():
    course = CourseFactory(started_on=TODAY - 20 * DAY)
    InfusionFactory(course=course, given_on=course.started_on, dose_mg=Decimal("300"))
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, "dose_mismatch")
    assert alert.evidence["infusion"]["mg_per_kg"] == "7.5"


# --- Version 2: exposure across courses, the upgrade from version 1 ------------------------------


def retreated_patient():
    """A first course stopped 300 days ago after a moderate reaction, retreated 10 days ago with
    a positive antibody result drawn 12 days before."""
    first = overdue_course(TODAY - 300 * DAY, stopped_on=TODAY - 300 * DAY, stop_reason="remission")
    ReactionFactory(infusion=first.infusions.last(), severity="moderate")
    second = CourseFactory(patient=first.patient, started_on=TODAY - 10 * DAY)
    InfusionFactory(course=second, given_on=second.started_on)
    LabResultFactory(
        patient=first.patient,
        collected_on=TODAY - 22 * DAY,
        analyte="anti_ifx",
        value=None,
        antibodies_positive=True,
    )
    return first, second


def test_it_loads_the_exposure_of_the_patients_other_courses(django_assert_max_num_queries):
    first, second = retreated_patient()
    with CaptureQueriesContext(connection) as one:
        [history] = load_histories([second.pk])
    assert [i.course_id for i in history.exposure.infusions] == [first.pk] * 3
    assert len(history.exposure.reactions) == 1
    assert history.reactions == ()
    assert history.days_off_drug == 290
    more = [retreated_patient()[1].pk for _ in range(8)]
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(load_histories(more)) == 8


def test_a_retreatment_carries_the_antibodies_and_the_reaction_of_the_first_course():
    first, second = retreated_patient()
    evaluate_courses([first.pk, second.pk], TODAY)
    raised = {(a.course_id, a.rule) for a in Alert.objects.all()}
    for rule in ("treatment_interrupted", "antibodies_detected", "premedication_advised"):
        assert (second.pk, rule) in raised
        assert (first.pk, rule) not in raised


def test_version_1_alerts_that_version_2_no_longer_raises_resolve_as_guideline_updated():
    # v1 kept one dose_mismatch alert per past infusion; v2 looks at the latest only.
    course = CourseFactory(started_on=TODAY - 20 * DAY)
    wrong = InfusionFactory(course=course, given_on=course.started_on, dose_mg=Decimal("300"))
    InfusionFactory(course=course, given_on=TODAY - 6 * DAY)
    Alert.objects.create(
        course=course,
        rule="dose_mismatch",
        key=f"infusion-{wrong.pk}",
        severity="warning",
        title="Dose does not match the weight",
        first_raised_at=timezone.now(),
        last_seen_at=timezone.now(),
        guideline_version="2026.11",
    )
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, "dose_mismatch")
    assert (alert.status, alert.resolution_reason) == ("resolved", "guideline updated")
    assert alert.events.last().note == "guideline updated (2026.11 → 2026.12)"


def test_an_intensification_decided_between_doses_moves_the_overdue_alert_as_regimen_changed():
    course = overdue_course(TODAY - 70 * DAY)  # q8w: due 14 days ago, overdue
    evaluate_courses([course.pk], TODAY)
    [overdue] = alerts(course)
    RegimenChangeFactory(
        course=course, effective_on=TODAY, interval_weeks=4, reason="intensification"
    )
    evaluate_courses([course.pk], TODAY)
    overdue.refresh_from_db()
    assert (overdue.status, overdue.resolution_reason) == ("resolved", "regimen changed")
    assert alerts(course) == [overdue]  # due today under the new regimen: not overdue
