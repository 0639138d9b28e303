"""The screening hold (GUIDELINE.md "Entry safeguards"): a positive or indeterminate TB or hepatitis
B result awaiting its specialist review holds every infusion taken on or after its date, through
the service (every door) and at the admin; the specialist review, recorded by a clinician (here
through the admin's action), lifts it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry import safeguards, services
from registry.models import Infusion, ScreeningResult
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, ReactionFactory, screen
from tests.registry.test_admin import form_data, form_errors, logged_in, url

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
START = TODAY - 70 * DAY


@pytest.fixture
def course(site_a):
    course = CourseFactory(patient__site=site_a, started_on=START)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=START + offset * DAY)
    return course


def held(course, test: str = "tb_igra", result: str = "positive", days_before_start: int = 20):
    [result_row] = [
        row
        for row in screen(course.patient, START - days_before_start * DAY, **{test: result})
        if row.test == test
    ]
    return result_row


def give(course, by, given_on=TODAY) -> Infusion:
    return services.infusion_record(
        course=course,
        given_on=given_on,
        weight_kg=Decimal("40"),
        weight_measured_on=given_on,
        dose_mg=Decimal("200"),
        by=by,
    )


def hold_message(screening: ScreeningResult) -> str:
    return (
        f"{screening.get_test_display()} of {screening.tested_on:%d %b %Y} is "
        f"{screening.result_words}, and no specialist review is recorded: no further infusion "
        "until a clinician records the specialist's review of it (GUIDELINE: screening_positive)."
    )


@pytest.mark.parametrize(
    ("test", "result"),
    [
        ("tb_igra", "positive"),
        ("tb_igra", "indeterminate"),
        ("tb_skin_test", "positive"),
        ("tb_chest_xray", "positive"),
        ("hbv_hbsag", "positive"),
        ("hbv_anti_hbc", "positive"),
    ],
)
def test_an_unreviewed_tb_or_hepatitis_b_result_not_negative_holds_an_infusion(
    course, nurse_a, test, result
):
    screening = held(course, test, result)
    with pytest.raises(ValidationError) as refused:
        give(course, nurse_a)
    assert refused.value.message_dict == {"__all__": [hold_message(screening)]}
    assert not course.infusions.filter(given_on=TODAY).exists()


def test_the_message_names_the_test_its_date_and_what_lifts_it(course, nurse_a):
    screening = held(course, "hbv_anti_hbc")
    with pytest.raises(ValidationError) as refused:
        give(course, nurse_a)
    assert refused.value.messages == [
        f"Hepatitis B core antibody (anti-HBc) of {screening.tested_on:%d %b %Y} is positive, and "
        "no specialist review is recorded: no further infusion until a clinician records the "
        "specialist's review of it (GUIDELINE: screening_positive)."
    ]


@pytest.mark.parametrize(
    ("test", "result"),
    [
        ("tb_igra", "negative"),
        ("hbv_anti_hbs", "positive"),  # immune
        ("varicella_igg", "positive"),  # immune
        ("hcv_antibody", "positive"),  # awaits its review, outside the hold
        ("hiv", "indeterminate"),
    ],
)
def test_other_results_do_not_hold(course, nurse_a, test, result):
    screen(course.patient, START - 20 * DAY, **{test: result})
    assert give(course, nurse_a).pk


def test_an_infusion_given_before_the_sample_was_taken_is_not_held(course, nurse_a):
    """A late entry of an infusion given before the positive re-screen."""
    screen(course.patient, START - 20 * DAY)
    rescreen = screen(course.patient, TODAY - 3 * DAY, tb_igra="positive")[0]
    assert give(course, nurse_a, given_on=TODAY - 4 * DAY).pk
    with pytest.raises(ValidationError):
        give(course, nurse_a, given_on=TODAY - 3 * DAY)
    assert safeguards.screening_holds([course.patient_id]) == {course.patient_id: rescreen}


def test_the_specialist_review_lifts_it_and_only_a_clinician_records_it(
    course, nurse_a, clinician_a
):
    screening = held(course)
    with pytest.raises(PermissionDenied):
        services.screening_review_record(screening=screening, reviewed_on=TODAY, by=nurse_a)
    services.screening_review_record(screening=screening, reviewed_on=TODAY, by=clinician_a)
    assert give(course, nurse_a).pk


def test_a_severe_reaction_and_a_screen_both_say_why(course, nurse_a):
    ReactionFactory(infusion=course.infusions.last(), severity="severe")
    screening = held(course)
    with pytest.raises(ValidationError) as refused:
        give(course, nurse_a)
    [reaction_message, screening_message] = refused.value.messages
    assert "severe reaction" in reaction_message
    assert screening_message == hold_message(screening)


# --- The admin door ------------------------------------------------------------------------------


def add_infusion(client, course):
    data = form_data(client.get(url(Infusion, "add")))
    data |= {
        "course": str(course.pk),
        "given_on": TODAY.isoformat(),
        "weight_kg": "40",
        "weight_measured_on": TODAY.isoformat(),
        "dose_mg": "200",
    }
    return client.post(url(Infusion, "add"), data)


def test_the_admin_refuses_the_infusion_and_its_action_records_the_review(
    course, nurse_a, clinician_a, data_manager_a
):
    screening = held(course)
    evaluate_courses([course.pk], TODAY)
    alert = Alert.objects.get(course=course, rule="screening_positive", status="open")
    before = Infusion.objects.count()
    response = add_infusion(logged_in(data_manager_a), course)
    assert form_errors(response)["__all__"] == [hold_message(screening)]
    assert Infusion.objects.count() == before

    changelist = reverse("admin:registry_screeningresult_changelist")
    action = {"action": "record_specialist_review", "_selected_action": [screening.pk]}
    awaiting = logged_in(data_manager_a).get(changelist, {"awaiting_review": "yes"})
    assert [row.pk for row in awaiting.context["cl"].result_list] == [screening.pk]
    logged_in(data_manager_a).post(changelist, action)  # not a clinician: refused, said why
    screening.refresh_from_db()
    assert screening.reviewed_on is None

    logged_in(clinician_a).post(changelist, action)
    screening.refresh_from_db()
    assert (screening.reviewed_on, screening.reviewed_by) == (TODAY, clinician_a)
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert add_infusion(logged_in(data_manager_a), course).status_code == 302
