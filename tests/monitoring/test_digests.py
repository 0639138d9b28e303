"""Morning digests: content, exactly-once delivery over real SMTP, failures, preferences."""

import datetime as dt
import io
import socket
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core.management import call_command

from monitoring import digests, tasks, watch
from monitoring.evaluation import evaluate_courses, run_evaluation
from monitoring.models import (
    Alert,
    DigestDelivery,
    EvaluationRun,
    NotificationPreference,
    RunStatus,
)
from registry.models import Patient
from tests.conftest import TODAY, _member
from tests.factories import CourseFactory, InfusionFactory, PatientFactory, screen

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


class Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    settings.EMAIL_TIMEOUT = 2


def alert_at(site, *, days_ago_last: int = 70, registry_code: str | None = None) -> Alert:
    """An overdue maintenance dose at `site` (warning at 8-14 days late, urgent after)."""
    fields = {"registry_code": registry_code} if registry_code else {}
    start = TODAY - (days_ago_last + 42) * DAY
    course = CourseFactory(patient=PatientFactory(site=site, **fields), started_on=start)
    screen(course.patient, start - 20 * DAY)  # screened: the overdue dose is the only alert
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


def parts(message: Message) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "text/plain":
            text = payload.decode()
        elif part.get_content_type() == "text/html":
            html = payload.decode()
    return text, html


def test_it_sends_each_recipient_one_digest_however_often_it_runs(smtp, site_a, nurse_a):
    alert_at(site_a)
    assert digests.deliver(nurse_a, TODAY) == "sent"
    assert digests.deliver(nurse_a, TODAY) == "already claimed"
    call_command("send_digests", stdout=io.StringIO())
    assert len(smtp.to(nurse_a.email)) == 1
    delivery = DigestDelivery.objects.get(user=nurse_a, digest_on=TODAY)
    open_alerts = Alert.objects.filter(status="open").count()
    assert (delivery.status, delivery.alerts, delivery.attempts) == ("sent", open_alerts, 1)


def test_the_digest_groups_urgent_first_by_site_with_links_and_no_identifiers(smtp, site_a, site_b):
    both = _member("bea", site_a, "clinician")
    _member("bea", site_b, "clinician")
    warning = alert_at(site_b, days_ago_last=66, registry_code="CRMO-000101")  # 10 days late
    urgent = alert_at(site_a, days_ago_last=90, registry_code="CRMO-000102")  # 34 days late
    digests.deliver(both, TODAY)
    [message] = smtp.to(both.email)
    text, html = parts(message)
    total = Alert.objects.count()
    assert (
        message["Subject"]
        == f"CRMO registry digest 24 Nov 2026: 1 urgent, {total} alerts, {total} new"
    )
    assert text.index("URGENT") < text.index("WARNING")
    assert text.index("CRMO-000102") < text.index("CRMO-000101")
    assert "34 days overdue" in text
    assert "10 days overdue" in text
    for alert in (urgent, warning):
        url = f"http://127.0.0.1:8000/patients/{alert.course.patient_id}/"
        assert url in text
        assert url in html
    assert "/settings/notifications/" in text
    assert (
        message["List-Unsubscribe"]
        .strip()
        .startswith("<http://127.0.0.1:8000/notifications/unsubscribe/")
    )
    for patient in Patient.objects.all():
        for identifier in (patient.family_name, patient.mrn, f"{patient.date_of_birth:%d %b %Y}"):
            assert identifier not in text + html + message["Subject"]


def test_new_alerts_come_before_the_still_open_ones(smtp, site_a, nurse_a):
    alert_at(site_a)
    digests.deliver(nurse_a, TODAY - DAY)
    alert_at(site_a, registry_code="CRMO-000200")
    digests.deliver(nurse_a, TODAY)
    text, _html = parts(smtp.to(nurse_a.email)[-1])
    assert (
        text.index("NEW SINCE YOUR LAST DIGEST")
        < text.index("CRMO-000200")
        < text.index("STILL OPEN")
    )


def test_nothing_to_report_sends_nothing(smtp, site_a, nurse_a):
    assert digests.deliver(nurse_a, TODAY) == "nothing"
    assert smtp.messages == []
    assert DigestDelivery.objects.get(user=nurse_a).status == "nothing"


def test_preferences_choose_severity_sites_and_whether_at_all(smtp, site_a, site_b, nurse_a):
    alert_at(site_a)  # a warning
    preference = digests.preference_of(nurse_a)
    preference.minimum_severity = "urgent"
    preference.save()
    assert digests.deliver(nurse_a, TODAY) == "nothing"
    preference.digest_enabled = False
    preference.save()
    assert nurse_a not in digests.recipients()
    researcher = _member("ross", site_a, "researcher")
    assert researcher not in digests.recipients()


def test_a_failed_send_is_recorded_and_a_later_run_delivers(smtp_down, settings, site_a, nurse_a):
    alert_at(site_a)
    with pytest.raises(ConnectionRefusedError):
        digests.deliver(nurse_a, TODAY)
    delivery = DigestDelivery.objects.get(user=nurse_a)
    assert delivery.status == "failed"
    assert "ConnectionRefusedError" in delivery.last_error
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings.EMAIL_PORT = controller.port
        call_command("send_digests", stdout=io.StringIO())
    finally:
        controller.stop()
    assert len(inbox.to(nurse_a.email)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_the_job_fails_softly_when_smtp_is_down(smtp_down, site_a, nurse_a):
    alert_at(site_a)
    out, err = io.StringIO(), io.StringIO()
    call_command("send_digests", stdout=out, stderr=err)
    assert "1 failed" in out.getvalue()
    assert "failed" in err.getvalue()


def test_the_dry_run_shows_the_digests_and_records_nothing(site_a, nurse_a):
    alert_at(site_a, registry_code="CRMO-000300")
    out = io.StringIO()
    call_command("send_digests", "--dry-run", stdout=out)
    assert "CRMO-000300" in out.getvalue()
    assert "Dry run: digests of 2026-11-24: 1 would send." in out.getvalue()
    assert not DigestDelivery.objects.exists()


def test_the_morning_job_waits_for_the_nightly_evaluation(site_a):
    assert watch.nightly_state(TODAY) != RunStatus.DONE
    run, _outcome = run_evaluation(as_of=TODAY)
    EvaluationRun.objects.filter(pk=run.pk).update(kind="nightly")
    assert watch.nightly_state(TODAY) == RunStatus.DONE


def test_the_morning_job_queues_one_digest_per_recipient(smtp, settings, site_a, nurse_a):
    from celery import current_app

    alert_at(site_a)
    EvaluationRun.objects.create(kind="nightly", as_of=TODAY, status="done")
    current_app.conf.task_always_eager = True
    try:
        assert tasks.send_digests.apply(args=[TODAY.isoformat()]).get() == 1
    finally:
        current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert len(smtp.to(nurse_a.email)) == 1


def test_one_click_unsubscribe_turns_the_digest_off(client, nurse_a):
    token = digests.unsubscribe_token(nurse_a)
    assert client.get(f"/notifications/unsubscribe/{token}/").status_code == 200
    client.post(f"/notifications/unsubscribe/{token}/")
    assert NotificationPreference.objects.get(user=nurse_a).digest_enabled is False
    assert client.post("/notifications/unsubscribe/forged/").status_code == 400


def test_the_settings_page_saves_preferences(client, site_a, nurse_a):
    client.force_login(nurse_a)
    page = client.get("/settings/notifications/")
    assert page.status_code == 200
    client.post(
        "/settings/notifications/",
        {"digest_enabled": "on", "minimum_severity": "warning", "sites": [site_a.pk]},
    )
    preference = NotificationPreference.objects.get(user=nurse_a)
    assert preference.minimum_severity == "warning"
    assert list(preference.sites.all()) == [site_a]


def test_no_demo_identifier_appears_in_any_digest(smtp):
    call_command("seed_demo", stdout=io.StringIO())
    run_evaluation(as_of=TODAY)
    call_command("send_digests", stdout=io.StringIO())
    assert len(smtp.messages) >= 6  # clinician, nurse and data manager at each site
    identifiers = set()
    for patient in Patient.objects.all():
        identifiers |= {patient.given_name, patient.family_name, patient.mrn}
        identifiers |= {f"{patient.date_of_birth:%d %b %Y}", patient.date_of_birth.isoformat()}
    for message in smtp.messages:
        text, html = parts(message)
        for identifier in identifiers:
            assert identifier not in text
            assert identifier not in html
            assert identifier not in message["Subject"]
    assert get_user_model().objects.filter(digest_deliveries__status="sent").count() == len(
        smtp.messages
    )
