"""The patient page's alerts: acted on in place, and the alert history with who did what and why."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import services
from monitoring.evaluation import evaluate_courses, evaluate_patient
from monitoring.models import Alert
from registry import services as registry_services
from tests.clinic.support import DAY, make_alert, messages_of, overdue_course
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def action_url(alert: Alert, action: str) -> str:
    return reverse("clinic:alert_action", args=[alert.pk, action])


def overdue_alert_of(course) -> Alert:
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


def history_of(html: str) -> str:
    found = re.search(r'<section id="alert-history".*?</section>', html, re.S)
    assert found, "no alert history on the page"
    return found.group()


def test_it_offers_the_actions_of_the_persons_role_on_each_open_alert(
    client, nurse_a, clinician_a, course_a
):
    urgent = make_alert(course_a, severity="urgent", rule="antibodies_detected")
    warning = overdue_alert_of(course_a)
    client.force_login(nurse_a)

    page = client.get(patient_url(course_a.patient)).text

    def article(alert: Alert, html: str) -> str:
        found = re.search(rf'<article [^>]*id="alert-detail-{alert.pk}">.*?</article>', html, re.S)
        assert found
        return found.group()

    assert 'name="shown_in" value="patient"' in article(urgent, page)
    assert "Acknowledge</button>" in article(urgent, page)
    assert "Dismiss</button>" not in article(urgent, page)
    assert "Only a clinician of this site may dismiss an urgent alert." in article(urgent, page)
    assert "Dismiss</button>" in article(warning, page)
    assert f'name="next" value="{patient_url(course_a.patient)}"' in article(warning, page)
    client.force_login(clinician_a)
    assert "Dismiss</button>" in article(urgent, client.get(patient_url(course_a.patient)).text)


def test_acting_through_htmx_updates_the_alert_in_place_and_the_history(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    here = f"http://testserver{patient_url(course_a.patient)}"
    headers = {"HX-Request": "true", "HX-Current-URL": here}
    open_before = len(client.get(patient_url(course_a.patient)).context["alerts"])

    swapped = client.post(action_url(alert, "dismiss"), {"reason": "Given at the satellite clinic",
                          "shown_in": "patient"}, headers=headers)  # fmt: skip

    assert swapped.status_code == 200
    text = swapped.text
    assert text.startswith(
        f'<article class="alert-detail warning dismissed" id="alert-detail-{alert.pk}">'
    )
    assert 'Dismissed</span> <span class="by">by nina' in text
    assert ": Given at the satellite clinic</span>" in text
    assert "Dismiss</button>" not in text.split("</article>")[0]
    assert (
        f'<h2 id="alerts-heading" hx-swap-oob="true">Open alerts '
        f'<span class="count">{open_before - 1}</span></h2>'
    ) in text
    history = history_of(text)
    assert 'hx-swap-oob="true"' in history
    assert f'id="alert-history-{alert.pk}"' in history
    assert (
        '<strong>Dismissed</strong> by nina: <span class="note">Given at the satellite clinic'
        in history
    )


def test_without_javascript_an_action_returns_to_the_patient_page(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    back = patient_url(course_a.patient)

    done = client.post(action_url(alert, "acknowledge"), {"next": back, "shown_in": "patient"},
                       follow=True)  # fmt: skip

    assert done.redirect_chain == [(back, 302)]
    assert messages_of(done) == ["Maintenance dose overdue: acknowledged."]
    assert re.search(
        rf'id="alert-detail-{alert.pk}">.*?Acknowledged</span> <span class="by">by nina',
        done.text,
        re.S,
    )


def test_the_history_shows_every_step_by_whom_and_why_the_latest_alert_first(
    client, nurse_a, clinician_a, course_a
):
    overdue = overdue_alert_of(course_a)
    evaluate_courses([course_a.pk], TODAY + 1 * DAY)  # 15 days late: urgent
    services.alert_acknowledge(alert=overdue, by=nurse_a)
    registry_services.infusion_record(
        course=course_a, given_on=TODAY, weight_kg=Decimal("40"), weight_measured_on=TODAY,
        dose_mg=Decimal("200"), by=nurse_a,
    )  # fmt: skip
    evaluate_patient(course_a.patient_id, actor_id=nurse_a.pk)
    markers = Alert.objects.get(course=course_a, rule="markers_overdue")
    services.alert_dismiss(alert=markers, by=clinician_a, reason="Drawn at the GP, not imported")
    client.force_login(nurse_a)

    history = history_of(client.get(patient_url(course_a.patient)).text)

    assert history.index(f'id="alert-history-{markers.pk}"') < history.index(
        f'id="alert-history-{overdue.pk}"'
    )
    steps = re.findall(r'<li class="event (\w+)"><time [^>]*>[^<]*</time> (.*?)</li>', history)
    said = [(kind, re.sub(r"<[^>]+>", "", text)) for kind, text in steps]
    assert said == [
        ("raised", "Raised by registry"),
        ("dismissed", "Dismissed by carl: Drawn at the GP, not imported"),
        ("raised", "Raised by registry"),
        ("escalated", "Severity changed by registry: warning → urgent"),
        ("acknowledged", "Acknowledged by nina"),
        ("resolved", "Resolved by registry, after a change by nina: condition cleared"),
    ]
    assert 'Alert history <span class="count">2</span>' in history


def test_a_clinicians_acknowledgement_of_a_past_fact_is_in_the_history(
    client, clinician_a, course_a
):
    alert = make_alert(course_a, rule="early_discontinuation", severity="info", title="Early")
    services.alert_acknowledge(alert=alert, by=clinician_a)
    client.force_login(clinician_a)
    history = history_of(client.get(patient_url(course_a.patient)).text)
    assert (
        "<strong>Acknowledged and closed</strong> by carl: "
        '<span class="note">a past fact, acknowledged by a clinician'
    ) in history


def test_the_page_shows_the_newest_five_and_links_to_the_whole_history_paged(
    client, nurse_a, course_a
):
    closed = [make_alert(course_a, status="resolved", title=f"Closed {n}") for n in range(25)]
    client.force_login(nurse_a)

    history = history_of(client.get(patient_url(course_a.patient)).text)
    whole = reverse("clinic:patient_alert_history", args=[course_a.patient.pk])
    first = client.get(whole)
    second = client.get(whole, {"page": 2})

    assert history.count('class="history-entry') == 5
    assert f'<a href="{whole}">The whole alert history (25 alerts)</a>' in history
    assert [i.alert for i in first.context["items"]] == closed[::-1][:20]  # no events: by pk
    assert [i.alert for i in second.context["items"]] == closed[::-1][20:]


def test_the_whole_history_of_another_sites_patient_does_not_exist(client, nurse_a, course_b):
    client.force_login(nurse_a)
    url = reverse("clinic:patient_alert_history", args=[course_b.patient.pk])
    assert client.get(url).status_code == 404


def test_the_patients_alerts_read_a_constant_number_of_queries(
    client, nurse_a, clinician_a, site_a
):
    course = overdue_course(site_a)
    client.force_login(nurse_a)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(patient_url(course.patient))
        return len(captured)

    few = queries()
    for n in range(6):
        alert = make_alert(course, severity="warning", title=f"More {n}")
        services.alert_acknowledge(alert=alert, by=nurse_a)
        services.alert_dismiss(alert=make_alert(course), by=clinician_a, reason="n/a")
    assert queries() <= few + 1  # + the count of a history longer than the page shows
