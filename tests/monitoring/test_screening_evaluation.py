"""screening_missing and screening_positive against the database: the loader reads the patient's TB
and hepatitis B results only, and each alert opens, then clears without waiting for the nightly
run when a user records what clears it (the screening, the specialist review), or with the course
stop."""

import datetime as dt

import pytest
from celery import current_app

from monitoring.evaluation import evaluate_courses, load_histories
from monitoring.models import Alert
from registry import services
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    ScreeningResultFactory,
    screen,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
MISSING, POSITIVE = "screening_missing", "screening_positive"


@pytest.fixture
def eager(settings):
    """The re-evaluation a save asks for runs in the test (as a worker would run it)."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def course(site_a):
    """Week 14 of a course on schedule at site A."""
    started = TODAY - 14 * 7 * DAY
    course = CourseFactory(patient__site=site_a, started_on=started)
    for week in (0, 2, 6, 14):
        InfusionFactory(course=course, given_on=started + week * 7 * DAY)
    return course


def live(course, rule: str) -> list[Alert]:
    return list(Alert.objects.filter(course=course, rule=rule, status="open").order_by("pk"))


def test_the_loader_reads_the_tb_and_hepatitis_b_results_of_the_patient_only(course):
    screen(course.patient, course.started_on - 20 * DAY)
    for test in ("tb_chest_xray", "tb_skin_test"):
        ScreeningResultFactory(patient=course.patient, test=test, tested_on=TODAY - 5 * DAY)
    for test in ("hbv_anti_hbs", "hcv_antibody", "hiv", "varicella_igg"):
        ScreeningResultFactory(patient=course.patient, test=test, result="positive")
    ScreeningResultFactory(test="tb_igra", result="positive")  # another patient's
    [history] = load_histories([course.pk])
    # By date, then in the order recorded.
    assert [s.test for s in history.screenings] == [
        "tb_igra",
        "hbv_hbsag",
        "hbv_anti_hbc",
        "tb_chest_xray",
        "tb_skin_test",
    ]


def test_a_course_without_screening_opens_an_urgent_alert_naming_what_is_missing(course):
    ScreeningResultFactory(
        patient=course.patient, test="tb_igra", tested_on=course.started_on - 10 * DAY
    )
    evaluate_courses([course.pk], TODAY)
    [alert] = live(course, MISSING)
    assert (alert.severity, alert.key, alert.due_on) == ("urgent", "course", course.started_on)
    assert alert.title == "TB or hepatitis B screening not recorded"
    assert alert.evidence["missing"] == ["HBsAg", "anti-HBc"]
    assert "Missing: hepatitis B: HBsAg and anti-HBc, none taken within 365 days" in (
        alert.explanation
    )


def test_recording_the_screening_clears_it_without_waiting_for_the_night(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    evaluate_courses([course.pk], TODAY)
    [alert] = live(course, MISSING)
    with django_capture_on_commit_callbacks(execute=True):
        services.screening_panel_record(
            patient=course.patient,
            tested_on=TODAY - DAY,  # late screening is still screening
            results={"tb_igra": "negative", "hbv_hbsag": "negative", "hbv_anti_hbc": "negative"},
            by=clinician_a,
        )
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_a_partial_screening_keeps_the_alert_and_updates_what_it_names(course, clinician_a):
    evaluate_courses([course.pk], TODAY)
    [alert] = live(course, MISSING)
    services.screening_result_record(
        patient=course.patient, test="tb_skin_test", tested_on=TODAY, result="negative",
        by=clinician_a,
    )  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert alert.status == "open"
    assert alert.evidence["missing"] == ["HBsAg", "anti-HBc"]


def test_stopping_the_course_resolves_both_as_course_stopped(course, clinician_a):
    ScreeningResultFactory(patient=course.patient, test="hbv_anti_hbc", result="positive")
    evaluate_courses([course.pk], TODAY)
    alerts = [*live(course, MISSING), *live(course, POSITIVE)]
    assert len(alerts) == 2
    services.course_stop(course=course, stopped_on=TODAY, reason="remission", by=clinician_a)
    evaluate_courses([course.pk], TODAY)
    for alert in alerts:
        alert.refresh_from_db()
        assert (alert.status, alert.resolution_reason) == ("resolved", "course stopped")


def test_a_positive_result_opens_one_urgent_alert_per_result(course):
    screen(course.patient, course.started_on - 20 * DAY, hbv_anti_hbc="positive")
    rescreen = ScreeningResultFactory(
        patient=course.patient, test="tb_igra", tested_on=TODAY - 3 * DAY, result="indeterminate"
    )
    evaluate_courses([course.pk], TODAY)
    alerts = live(course, POSITIVE)
    assert len(alerts) == 2
    assert {a.severity for a in alerts} == {"urgent"}
    assert f"screening-{rescreen.pk}" in {a.key for a in alerts}
    assert live(course, MISSING) == []  # a positive result is a screen


def test_the_specialist_review_clears_it_without_waiting_for_the_night(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    [*_negative, core] = screen(
        course.patient, course.started_on - 20 * DAY, hbv_anti_hbc="positive"
    )
    evaluate_courses([course.pk], TODAY)
    [alert] = live(course, POSITIVE)
    assert alert.key == f"screening-{core.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        services.screening_review_record(screening=core, reviewed_on=TODAY, by=clinician_a)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_a_review_cannot_be_corrected_away_and_a_corrected_result_opens_its_alert(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    """A review is recorded once, by its action; a result corrected from negative to positive is
    an engine input (a clinician's correction), and raises the rule at once."""
    [igra, *_rest] = screen(course.patient, course.started_on - 20 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        services.screening_result_correct(
            screening=igra, changes={"result": "positive"}, by=clinician_a
        )
    [alert] = live(course, POSITIVE)
    with django_capture_on_commit_callbacks(execute=True):
        services.screening_review_record(screening=igra, reviewed_on=TODAY, by=clinician_a)
    assert live(course, POSITIVE) == []
    with pytest.raises(Exception, match="review"):
        services.screening_result_correct(
            screening=igra, changes={"reviewed_on": None}, by=clinician_a
        )
    with pytest.raises(Exception, match="was reviewed on"):
        services.screening_review_record(screening=igra, reviewed_on=TODAY, by=clinician_a)
    alert.refresh_from_db()
    assert alert.status == "resolved"
