"""The clinic's door of the screening rules: the infusion form shows the screening hold and refuses
the infusion; the infusion list holds the dose and offers the clinician the review; the review
form clears the alert and lifts the hold; the screening form clears screening_missing."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import Infusion
from tests.clinic.support import DAY, START, refused
from tests.clinic.test_infusion_list import INFUSION_LIST, due_course, row_html
from tests.conftest import TODAY
from tests.factories import screen

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()
INFUSION = {
    "given_on": ISO_TODAY,
    "weight_kg": "41",
    "weight_measured_on": ISO_TODAY,
    "dose_mg": "205",
    "duration_minutes": "120",
}


def hold_of(screening) -> str:
    return (
        f"{screening.get_test_display()} of {screening.tested_on:%d %b %Y} is "
        f"{screening.result_words}, and no specialist review is recorded: no further infusion "
        "until a clinician records the specialist's review of it (GUIDELINE: screening_positive)."
    )


def test_the_infusion_form_shows_the_hold_and_refuses_until_the_review_clears_it(
    client, nurse_a, clinician_a, course_a, committed
):
    [igra, *_rest] = screen(course_a.patient, START - 20 * DAY, tb_igra="positive")
    evaluate_courses([course_a.pk], TODAY)
    alert = Alert.objects.get(course=course_a, rule="screening_positive", status="open")
    form = reverse("clinic:record_infusion", args=[course_a.pk])
    client.force_login(nurse_a)
    assert escape(hold_of(igra)) in client.get(form).text
    refused(client.post(form, INFUSION), "__all__", hold_of(igra))
    assert not Infusion.objects.filter(given_on=TODAY).exists()

    client.force_login(clinician_a)
    with committed():
        reviewed = client.post(
            reverse("clinic:review_screening", args=[igra.pk]), {"reviewed_on": ISO_TODAY}
        )
    assert reviewed.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    client.force_login(nurse_a)
    assert escape(hold_of(igra)) not in client.get(form).text
    assert client.post(form, INFUSION).status_code == 302


def test_the_infusion_list_holds_the_dose_and_offers_the_clinician_the_review(
    client, nurse_a, clinician_a
):
    course = due_course(nurse_a.memberships.get().site, 0)
    [_igra, hbsag, _core] = screen(
        course.patient, course.started_on - 20 * DAY, hbv_hbsag="positive"
    )
    review = reverse("clinic:review_screening", args=[hbsag.pk])
    record = reverse("clinic:record_infusion", args=[course.pk])

    client.force_login(nurse_a)
    as_nurse = row_html(client.get(INFUSION_LIST), course)
    client.force_login(clinician_a)
    as_clinician = row_html(client.get(INFUSION_LIST), course)

    for row in (as_nurse, as_clinician):
        assert escape(hold_of(hbsag)) in row
        assert record not in row  # the registry would refuse it
    assert review not in as_nurse
    assert review in as_clinician


def test_recording_the_screening_clears_screening_missing(client, clinician_a, course_a, committed):
    evaluate_courses([course_a.pk], TODAY)
    alert = Alert.objects.get(course=course_a, rule="screening_missing", status="open")
    client.force_login(clinician_a)
    url = reverse("clinic:record_screening", args=[course_a.patient.pk])
    panel = {"tested_on": ISO_TODAY, "tb_igra": "negative", "hbv_hbsag": "negative"}
    with committed():
        assert client.post(url, panel | {"hbv_anti_hbc": "negative"}).status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
