"""live_vaccine_on_treatment and serious_adverse_event_review against the database: the loader reads
the patient's live vaccines and the adverse events needing review (each on one course), the alerts
open, and they resolve when a clinician records the review, through the action's own
re-evaluation (no nightly run); the live vaccine's also with the course stop, the serious event's
not."""

import datetime as dt

import pytest
from celery import current_app
from django.core.exceptions import ValidationError

from monitoring.evaluation import evaluate_courses, load_histories
from monitoring.models import Alert
from registry import services
from tests.conftest import TODAY
from tests.factories import (
    AdverseEventFactory,
    CourseFactory,
    InfusionFactory,
    PatientFactory,
    VaccinationFactory,
)

pytestmark = pytest.mark.django_db

LIVE, SERIOUS = "live_vaccine_on_treatment", "serious_adverse_event_review"
DAY = dt.timedelta(days=1)


@pytest.fixture
def eager(settings):
    """The re-evaluation an action asks for runs at once, as a worker would run it."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def course(site_a):
    """Week 30 of a course on schedule, at site A (the next dose due in 2 weeks)."""
    started = TODAY - 30 * 7 * DAY
    course = CourseFactory(patient__site=site_a, started_on=started)
    for week in (0, 2, 6, 14, 22, 30):
        InfusionFactory(course=course, given_on=started + week * 7 * DAY)
    return course


def alerts(course, rule: str) -> list[Alert]:
    return list(Alert.objects.filter(course=course, rule=rule).order_by("pk"))


def serious_event(patient, **fields):
    fields = {"term": "lung_infection", "grade": 3, "serious": True,
              "seriousness_hospitalisation": True, "onset_on": TODAY - 10 * DAY,
              "resolved_on": TODAY - 3 * DAY} | fields  # fmt: skip
    return AdverseEventFactory(patient=patient, **fields)


# --- Loading ------------------------------------------------------------------------------------


def test_the_loader_reads_live_vaccines_only_and_their_reviews(course, clinician_a):
    live = VaccinationFactory(patient=course.patient, vaccine="mmr", given_on=TODAY - 5 * DAY)
    VaccinationFactory(patient=course.patient, vaccine="influenza_inactivated",
                       given_on=TODAY - 5 * DAY)  # fmt: skip
    VaccinationFactory(vaccine="bcg", given_on=TODAY - 5 * DAY)  # another patient's
    [history] = load_histories([course.pk])
    assert [(v.id, v.vaccine, v.given_on, v.reviewed_on) for v in history.live_vaccinations] == [
        (live.pk, "mmr", TODAY - 5 * DAY, None)
    ]


def test_the_loader_gives_each_event_needing_review_to_one_course(site_a):
    patient = PatientFactory(site=site_a)
    first = CourseFactory(patient=patient, started_on=TODAY - 700 * DAY,
                          stopped_on=TODAY - 400 * DAY, stop_reason="remission")  # fmt: skip
    second = CourseFactory(patient=patient, started_on=TODAY - 100 * DAY)
    on_first = serious_event(patient, onset_on=TODAY - 500 * DAY, resolved_on=TODAY - 490 * DAY)
    recorded_on_first = serious_event(patient, course=first, onset_on=TODAY - 50 * DAY)
    between = serious_event(patient, onset_on=TODAY - 200 * DAY, resolved_on=TODAY - 190 * DAY)
    on_second = AdverseEventFactory(patient=patient, term="psoriasis", grade=2,
                                    onset_on=TODAY - 20 * DAY)  # of special interest  # fmt: skip
    AdverseEventFactory(patient=patient, onset_on=TODAY - 30 * DAY)  # mild, not serious: no review
    histories = {h.course_id: h for h in load_histories([first.pk, second.pk])}
    assert [e.id for e in histories[first.pk].adverse_events] == [on_first.pk, recorded_on_first.pk]
    assert [e.id for e in histories[second.pk].adverse_events] == [between.pk, on_second.pk]
    [psoriasis] = [e for e in histories[second.pk].adverse_events if e.id == on_second.pk]
    assert (psoriasis.term_label, psoriasis.special_interest) == (
        "Psoriasis (paradoxical)",
        ("paradoxical psoriasis",),
    )
    # Loaded alone, a course still gets only its own events.
    [alone] = load_histories([second.pk])
    assert [e.id for e in alone.adverse_events] == [between.pk, on_second.pk]


def test_one_event_raises_one_alert_whatever_the_number_of_courses(site_a):
    patient = PatientFactory(site=site_a)
    first = CourseFactory(patient=patient, started_on=TODAY - 300 * DAY,
                          stopped_on=TODAY - 200 * DAY, stop_reason="remission")  # fmt: skip
    second = CourseFactory(patient=patient, started_on=TODAY - 100 * DAY)
    event = serious_event(patient, onset_on=TODAY - 150 * DAY, resolved_on=TODAY - 140 * DAY)
    evaluate_courses([first.pk, second.pk], TODAY)
    raised = list(Alert.objects.filter(rule=SERIOUS, course__patient=patient))
    assert [(a.course_id, a.key) for a in raised] == [(second.pk, f"event-{event.pk}")]


# --- live_vaccine_on_treatment -------------------------------------------------------------------


def test_a_live_vaccine_on_treatment_opens_an_urgent_alert(course):
    vaccine = VaccinationFactory(patient=course.patient, vaccine="mmr", given_on=TODAY - 3 * DAY)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, LIVE)
    assert (alert.status, alert.severity, alert.key) == (
        "open",
        "urgent",
        f"vaccination-{vaccine.pk}",
    )
    assert alert.due_on == TODAY - 3 * DAY
    assert f"not before {TODAY + 88 * DAY:%d %b %Y}" in alert.explanation


def test_an_inactivated_vaccine_raises_nothing(course):
    VaccinationFactory(patient=course.patient, vaccine="influenza_inactivated",
                       given_on=TODAY - 3 * DAY)  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    assert alerts(course, LIVE) == []


def test_the_clinicians_review_resolves_it_without_the_nightly_run(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    vaccine = VaccinationFactory(patient=course.patient, vaccine="varicella",
                                 given_on=TODAY - 3 * DAY)  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, LIVE)
    with django_capture_on_commit_callbacks(execute=True):
        services.vaccination_review_record(
            vaccination=vaccine, reviewed_on=TODAY, decision="infusion_deferred",
            note="varicella at the GP; infuse after the 90 days", by=clinician_a,
        )  # fmt: skip
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    vaccine.refresh_from_db()
    assert (vaccine.reviewed_by, vaccine.review_decision, vaccine.review_note) == (
        clinician_a,
        "infusion_deferred",
        "varicella at the GP; infuse after the 90 days",
    )


def test_recording_a_live_vaccine_raises_it_without_the_nightly_run(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.vaccination_record(patient=course.patient, vaccine="bcg",
                                    given_on=TODAY - DAY, by=clinician_a)  # fmt: skip
    [alert] = alerts(course, LIVE)
    assert alert.status == "open"


def test_correcting_the_vaccine_to_an_inactivated_one_resolves_it(course, clinician_a):
    vaccine = VaccinationFactory(patient=course.patient, vaccine="mmr", given_on=TODAY - 3 * DAY)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, LIVE)
    services.vaccination_correct(vaccination=vaccine, changes={"vaccine": "hepatitis_a"},
                                 by=clinician_a)  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_stopping_the_course_resolves_it_as_course_stopped(course, clinician_a):
    VaccinationFactory(patient=course.patient, vaccine="mmr", given_on=TODAY - 3 * DAY)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, LIVE)
    services.course_stop(course=course, stopped_on=TODAY, reason="remission", by=clinician_a)
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "course stopped")


# --- serious_adverse_event_review ----------------------------------------------------------------


def test_a_serious_event_opens_an_urgent_alert_that_its_review_resolves(
    course, clinician_a, eager, django_capture_on_commit_callbacks
):
    event = serious_event(course.patient, course=course)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, SERIOUS)
    assert (alert.status, alert.severity, alert.key) == ("open", "urgent", f"event-{event.pk}")
    assert alert.due_on == event.onset_on
    assert "Lung infection (pneumonia)" in alert.explanation
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_review_record(event=event, reviewed_on=TODAY, decision="continue",
                                             by=clinician_a)  # fmt: skip
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_the_course_stop_does_not_resolve_it_but_the_review_does(course, clinician_a):
    event = serious_event(course.patient, course=course)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, SERIOUS)
    services.course_stop(course=course, stopped_on=TODAY, reason="adverse_event", by=clinician_a)
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert alert.status == "open"
    # A review deciding "stop" on a stopped course: recorded, and the alert resolves.
    services.adverse_event_review_record(event=event, reviewed_on=TODAY, decision="stop",
                                         by=clinician_a)  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_a_mild_event_raises_nothing(course):
    AdverseEventFactory(patient=course.patient, onset_on=TODAY - 10 * DAY)
    evaluate_courses([course.pk], TODAY)
    assert alerts(course, SERIOUS) == []


def test_marking_an_event_not_serious_resolves_it(course, clinician_a):
    event = serious_event(course.patient, course=course)
    evaluate_courses([course.pk], TODAY)
    [alert] = alerts(course, SERIOUS)
    services.adverse_event_correct(
        event=event, changes={"serious": False, "seriousness_hospitalisation": False},
        by=clinician_a,
    )  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


# --- The review service's refusals --------------------------------------------------------------


def test_only_a_live_vaccine_is_reviewed(course, clinician_a):
    vaccine = VaccinationFactory(patient=course.patient, vaccine="influenza_inactivated",
                                 given_on=TODAY - 3 * DAY)  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        services.vaccination_review_record(vaccination=vaccine, reviewed_on=TODAY,
                                           decision="risk_accepted", by=clinician_a)  # fmt: skip
    assert refused.value.message_dict == {
        "vaccine": [
            "Influenza, inactivated (injected) is not a live vaccine: only a live vaccine is "
            "reviewed (an inactivated one is no concern on infliximab)."
        ]
    }
