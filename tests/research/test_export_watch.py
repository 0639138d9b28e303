"""Claiming a build, the heartbeat, and the watcher's other cases (no worker needed here; a real
worker killed mid-build is test_export_liveness.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from research import services, tasks
from research.models import FINAL_STATUSES, IN_PROGRESS_STATUSES, ExportRequest, ExportStatus
from tests.monitoring.test_worker_loss import lock_waiters, wait_for
from tests.monitoring.workers import database_url_of_the_tests

LONG_AGO = dt.timedelta(minutes=10)  # longer than EXPORT_STALE_AFTER (5 minutes)


def requested(researcher, site) -> ExportRequest:
    """A request whose build message never went anywhere (the test's transaction holds it)."""
    return services.export_request(by=researcher, sites=[site], format="csv")


def running(export: ExportRequest, *, attempts: int, silent_for: dt.timedelta) -> None:
    """As a build whose worker has been gone (or alive) for `silent_for` leaves its row."""
    beat = timezone.now() - silent_for
    ExportRequest.objects.filter(pk=export.pk).update(
        status=ExportStatus.RUNNING,
        attempts=attempts,
        started_at=beat,
        heartbeat_at=beat,
        progress=9,
    )


def kinds(export: ExportRequest) -> list[str]:
    return list(export.events.values_list("kind", flat=True))


def test_every_status_is_either_in_progress_or_final():
    assert set(IN_PROGRESS_STATUSES) | set(FINAL_STATUSES) == set(ExportStatus.values)
    assert not set(IN_PROGRESS_STATUSES) & set(FINAL_STATUSES)


def test_a_copy_of_the_message_leaves_a_build_that_is_alive(researcher_a, site_a):
    export = requested(researcher_a, site_a)
    running(export, attempts=1, silent_for=dt.timedelta(seconds=20))
    assert tasks.build_export(export.pk) == "running"
    export.refresh_from_db()
    assert (export.status, export.attempts, export.progress) == ("running", 1, 9)
    assert kinds(export) == ["requested"]
    assert tasks.watch_exports() == {"requeued": 0, "failed": 0, "expired": 0}


def test_a_copy_of_the_message_takes_over_a_silent_build(
    researcher_a, site_a, consenting_course, settings
):
    export = requested(researcher_a, site_a)
    running(export, attempts=1, silent_for=LONG_AGO)
    dead = settings.EXPORT_ROOT / f"export-{export.pk}-0123456789abcdef.zip.partial"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"PK")
    unrecorded = settings.EXPORT_ROOT / f"export-{export.pk}-fedcba9876543210.zip"
    unrecorded.write_bytes(b"PK")  # finished, but its build died before it recorded it
    other = settings.EXPORT_ROOT / f"export-{export.pk + 1}-0123456789abcdef.zip.partial"
    other.write_bytes(b"PK")
    assert tasks.build_export(export.pk) == "done"
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("done", 2)
    assert kinds(export) == ["requested", "retried", "built"]
    assert export.events.get(kind="retried").details == {"reason": "worker lost", "attempts": 1}
    assert not dead.exists()
    assert not unrecorded.exists()
    assert other.exists()  # another export's
    assert export.file.exists()


def test_a_silent_build_at_its_last_attempt_is_failed_not_taken_over(researcher_a, site_a):
    export = requested(researcher_a, site_a)
    running(export, attempts=2, silent_for=LONG_AGO)
    assert tasks.build_export(export.pk) == "running"
    assert tasks.watch_exports() == {"requeued": 0, "failed": 1, "expired": 0}
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error == services.WORKER_LOST.format(times="twice")
    assert kinds(export) == ["requested", "failed"]


def test_the_watcher_queues_a_silent_build_again(
    researcher_a, site_a, consenting_course, eager, django_capture_on_commit_callbacks
):
    export = requested(researcher_a, site_a)
    running(export, attempts=1, silent_for=LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert tasks.watch_exports() == {"requeued": 1, "failed": 0, "expired": 0}
    assert len(callbacks) == 1  # the build is sent again
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("done", 2)
    assert kinds(export) == ["requested", "retried", "built"]


def test_a_silent_operator_build_is_failed_not_queued_again(site_a):
    export = services.export_request_as_operator(sites=[site_a], format="csv")
    running(export, attempts=1, silent_for=LONG_AGO)
    assert tasks.watch_exports() == {"requeued": 0, "failed": 1, "expired": 0}
    export.refresh_from_db()
    assert (export.status, export.error) == ("failed", services.OPERATOR_STOPPED)


def test_a_request_whose_message_was_lost_is_queued_again_then_failed(
    researcher_a, site_a, django_capture_on_commit_callbacks
):
    export = requested(researcher_a, site_a)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=29)):
        assert tasks.watch_exports() == {"requeued": 0, "failed": 0, "expired": 0}
    with (
        time_machine.travel(timezone.now() + dt.timedelta(minutes=31)),
        django_capture_on_commit_callbacks() as sent,  # and lost again
    ):
        assert tasks.watch_exports() == {"requeued": 1, "failed": 0, "expired": 0}
    assert len(sent) == 1
    export.refresh_from_db()
    assert export.status == ExportStatus.QUEUED
    assert export.events.get(kind="retried").details == {"reason": "never started", "attempts": 0}
    # The deadline counts from the new queueing: 31 minutes after it, the second loss.
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=50)):
        assert tasks.watch_exports() == {"requeued": 0, "failed": 0, "expired": 0}
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=63)):
        assert tasks.watch_exports() == {"requeued": 0, "failed": 1, "expired": 0}
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error.startswith("The export was queued twice but no worker started it")
    assert kinds(export) == ["requested", "retried", "failed"]


def test_the_watcher_is_on_beats_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["export-watch"]
    assert entry["task"] == tasks.watch_exports.name == "research.watch_exports"
    assert entry["schedule"] <= 60
    assert entry["options"]["retry"] is True


@pytest.mark.django_db(transaction=True)
def test_a_build_waiting_on_the_database_keeps_beating(
    researcher_a, site_a, consenting_course, settings
):
    """The heartbeat comes from a thread of its own, with its own connection, closed after."""
    settings.EXPORT_HEARTBEAT_SECONDS = 0.2
    settings.EXPORT_STALE_AFTER = dt.timedelta(seconds=1)
    export = services.export_request_as_operator(sites=[site_a], format="csv")
    outcome: list[str] = []

    def build() -> None:
        try:
            outcome.append(services.export_build(export=export).status)
        finally:
            connections.close_all()

    with (
        psycopg.connect(database_url_of_the_tests()) as locker,
        psycopg.connect(database_url_of_the_tests(), autocommit=True) as monitor,
    ):
        backends_before = backends(monitor)
        locker.execute("LOCK TABLE registry_labresult IN ACCESS EXCLUSIVE MODE")
        builder = threading.Thread(target=build)
        builder.start()
        wait_for(lambda: lock_waiters(monitor), 30, "the build did not reach the labs")
        first = ExportRequest.objects.get(pk=export.pk).heartbeat_at
        time.sleep(1.5)  # longer than EXPORT_STALE_AFTER
        row = ExportRequest.objects.get(pk=export.pk)
        assert first is not None
        assert row.heartbeat_at is not None
        assert row.heartbeat_at > first
        assert not services.silent_builds(timezone.now()).filter(pk=export.pk).exists()
        assert services.exports_watch().as_dict() == {"requeued": 0, "failed": 0, "expired": 0}
        locker.rollback()
        builder.join(timeout=30)
        assert outcome == ["done"]
        assert not [t for t in threading.enumerate() if t.name == "export-heartbeat"]
        # The build's and the heartbeat's connections are closed; a backend leaves
        # pg_stat_activity a moment after its client hangs up, so wait for it.
        wait_for(lambda: backends(monitor) <= backends_before, 10, "a connection was left open")


def backends(monitor: psycopg.Connection) -> set[int]:
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    ).fetchall()
    return {pid for (pid,) in rows}
