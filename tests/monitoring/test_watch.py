"""A night whose evaluation did not finish: the digest stops waiting, says so, and the data
managers are emailed once (real SMTP on loopback, aiosmtpd)."""

import datetime as dt
import logging

import pytest
from celery import current_app
from django.utils import timezone

from monitoring import tasks, watch
from monitoring.models import EvaluationRun, MissedNightNotice
from tests.conftest import TODAY
from tests.monitoring.test_digests import alert_at, parts, smtp, smtp_down  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


def run_of_today(status: str, *, hours_ago: float = 1) -> EvaluationRun:
    run = EvaluationRun.objects.create(kind="nightly", as_of=TODAY, status=status)
    started = timezone.now() - dt.timedelta(hours=hours_ago)
    EvaluationRun.objects.filter(pk=run.pk).update(
        started_at=started, finished_at=None if status == "running" else started
    )
    return run


def missed_night_mails(smtp):  # noqa: F811
    return [m for m in smtp.messages if "nightly evaluation" in m["Subject"]]


def test_a_failed_run_is_not_waited_for_the_digest_says_so_and_data_managers_are_told(
    smtp,  # noqa: F811
    eager,
    caplog,
    site_a,
    site_b,
    nurse_a,
    data_manager_a,
    nurse_b,
):
    alert_at(site_a, registry_code="CRMO-000777")
    run_of_today("failed")
    with caplog.at_level(logging.ERROR, logger="monitoring"):
        result = tasks.send_digests.apply(args=[TODAY.isoformat()])
    assert result.get() == 3  # sent at once (no retry, no wait) to the three staff
    [digest] = [m for m in smtp.to(nurse_a.email) if "digest" in m["Subject"]]
    text, html = parts(digest)
    assert "last night's evaluation did not finish" in text.lower()
    assert "Last night's evaluation did not finish." in html
    assert "CRMO-000777" in text  # the alerts there are still sent
    [notice] = missed_night_mails(smtp)
    assert notice["To"] == data_manager_a.email  # data managers only, one message each
    assert "the evaluation failed" in notice.get_content()
    assert "CRMO-000777" not in notice.get_content()  # no patient in it
    assert "/health/" in notice.get_content()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("without a finished nightly evaluation" in message for message in errors)

    # Another look (beat's watch, a second digest run) tells nobody again.
    assert tasks.watch_nightly.apply(args=[TODAY.isoformat()]).get() == 0
    tasks.send_digests.apply(args=[TODAY.isoformat()]).get()
    assert len(missed_night_mails(smtp)) == 1
    assert MissedNightNotice.objects.get().night == TODAY


def test_a_running_run_is_waited_for_then_the_give_up_is_loud(
    smtp,  # noqa: F811
    eager,
    caplog,
    site_a,
    data_manager_a,
):
    run_of_today("running")
    # Still going: the job waits (retries every 10 minutes, up to 24 times; Celery's eager mode
    # would run those retries at once, so the last one is asked for directly).
    assert watch.nightly_state(TODAY) == "pending"
    assert missed_night_mails(smtp) == []
    with caplog.at_level(logging.ERROR, logger="monitoring"):
        last = tasks.send_digests.apply(args=[TODAY.isoformat()], retries=24)
    assert last.state == "SUCCESS"
    [notice] = missed_night_mails(smtp)
    assert "had not finished when the morning digest stopped waiting" in notice.get_content()
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_a_run_stuck_past_its_deadline_is_marked_failed_and_the_digest_goes(
    smtp,  # noqa: F811
    eager,
    site_a,
    data_manager_a,
    settings,
):
    settings.EVALUATION_RUN_DEADLINE = dt.timedelta(hours=6)
    stuck = run_of_today("running", hours_ago=7)
    recent = run_of_today("running", hours_ago=1)
    assert watch.fail_stale_runs() == [stuck.pk]
    stuck.refresh_from_db()
    assert (stuck.status, stuck.finished_at is not None) == ("failed", True)
    assert EvaluationRun.objects.get(pk=recent.pk).status == "running"
    EvaluationRun.objects.filter(pk=recent.pk).delete()
    assert tasks.send_digests.apply(args=[TODAY.isoformat()]).state == "SUCCESS"
    assert len(missed_night_mails(smtp)) == 1


def test_the_watch_emails_only_when_no_nightly_run_finished_within_26_hours(
    smtp,  # noqa: F811
    eager,
    site_a,
    data_manager_a,
):
    yesterday = EvaluationRun.objects.create(
        kind="nightly", as_of=TODAY - dt.timedelta(days=1), status="done"
    )
    EvaluationRun.objects.filter(pk=yesterday.pk).update(
        finished_at=timezone.now() - dt.timedelta(hours=20)
    )
    assert tasks.watch_nightly.apply(args=[TODAY.isoformat()]).get() == 0
    assert missed_night_mails(smtp) == []
    EvaluationRun.objects.filter(pk=yesterday.pk).update(
        finished_at=timezone.now() - dt.timedelta(hours=27)
    )
    assert tasks.watch_nightly.apply(args=[TODAY.isoformat()]).get() == 1
    [notice] = missed_night_mails(smtp)
    assert "no evaluation finished (none finished within 26 hours)" in notice.get_content()
    assert tasks.watch_nightly.apply(args=[TODAY.isoformat()]).get() == 0  # once per night
    assert len(missed_night_mails(smtp)) == 1


def test_an_email_that_could_not_be_sent_is_tried_again(smtp_down, site_a, data_manager_a):  # noqa: F811
    with pytest.raises(ConnectionRefusedError):
        watch.notify_missed_night(TODAY, "the evaluation failed")
    assert not MissedNightNotice.objects.exists()  # not claimed: the next look sends it


def test_the_beat_schedule_runs_the_watch_after_the_digest_gives_up(settings):
    watch_at = settings.CELERY_BEAT_SCHEDULE["nightly-watch"]["schedule"]
    digest_at = settings.CELERY_BEAT_SCHEDULE["morning-digests"]["schedule"]
    assert (min(digest_at.hour), min(digest_at.minute)) == (6, 30)
    assert (min(watch_at.hour), min(watch_at.minute)) == (11, 0)  # 06:30 + 4 h of waiting + 30 min
