"""A build whose worker died (its pool child SIGKILLed, as the OOM killer does) still ends.

A real prefork worker builds the export. The outside world holds the build mid-way: another
connection holds `LOCK TABLE registry_labresult IN ACCESS EXCLUSIVE MODE`, so the build, having
written patients, courses, regimen changes and infusions (progress > 0, a `.partial` file on disk),
waits for the labs. Then the pool child is killed. Celery redelivers the message at once
(reject_on_worker_lost); the copy finds the build's heartbeat still fresh and leaves it alone.
Once the heartbeat is stale the watcher queues the build again, or, after the last attempt,
marks it failed with a message for the requester. Heartbeats and staleness are short here
(EXPORT_HEARTBEAT_SECONDS, EXPORT_STALE_AFTER_SECONDS in the worker's environment).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from research import services, tasks
from research.models import ExportRequest, ExportStatus
from tests.factories import LabResultFactory
from tests.monitoring.test_worker_loss import lock_waiters, pool_child, wait_for
from tests.monitoring.workers import celery_worker, database_url_of_the_tests

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs a real broker (REDIS_URL)")

HEARTBEAT_SECONDS = 0.3
STALE_AFTER_SECONDS = 8.0  # well above a pool child's restart, even on a loaded machine
LABS = 3


@pytest.fixture
def _fixed_today():
    """The real clock: the worker's heartbeats (its clock) are compared with the watcher's."""
    return


@pytest.fixture
def liveness(settings) -> dict[str, str]:
    """Short heartbeats and staleness, here and in the worker's environment."""
    settings.EXPORT_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    settings.EXPORT_STALE_AFTER = dt.timedelta(seconds=STALE_AFTER_SECONDS)
    settings.EXPORT_MAX_ATTEMPTS = 2
    return {
        "EXPORT_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "EXPORT_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
        "EXPORT_MAX_ATTEMPTS": "2",
        "EXPORT_ROOT": str(settings.EXPORT_ROOT),
    }


@pytest.fixture
def export_worker(transactional_db, tmp_path: Path, liveness):
    """`celery worker --pool prefork -c 1` on the real Redis and the test database."""
    log = tmp_path / "worker.log"
    with celery_worker(
        "--pool=prefork", "--concurrency=1", "-l", "info",
        log=log, env=liveness, start_within=60,
    ) as process:  # fmt: skip
        process.log = log
        yield process


@pytest.fixture
def with_labs(consenting_course):
    for day in range(LABS):
        LabResultFactory(patient=consenting_course.patient, collected_on=dt.date(2025, 1, 6 + day))


def partials() -> list[Path]:
    return sorted(Path(settings.EXPORT_ROOT).glob("*.partial"))


def waiting_at_the_labs(export: ExportRequest, attempt: int, monitor, seen: set[int]):
    """The lock waiters of this attempt's build once it has got as far as the labs."""
    row = ExportRequest.objects.get(pk=export.pk)
    if (row.status, row.attempts) != (ExportStatus.RUNNING, attempt) or row.progress == 0:
        return None
    return (lock_waiters(monitor) - seen) or None


def kill_the_build(worker, monitor, waiters: set[int]) -> None:
    """SIGKILL the pool child, and end the database backend it left waiting for the lock."""
    os.kill(pool_child(worker).pid, signal.SIGKILL)
    for pid in waiters:
        monitor.execute("SELECT pg_terminate_backend(%s)", [pid])


DECLINED, TAKEN_OVER = "declined", "taken over"


def kill_attempt(export, attempt, worker, monitor, seen: set[int]) -> str:
    """Kill the attempt's build once it waits at the labs; then wait for Celery's copy of the
    message, which comes back at once. It finds the heartbeat fresh and leaves the build to the
    watcher (services._claim): DECLINED, once the heartbeat is stale. On a loaded machine the new
    pool child may start after the heartbeat went stale: the copy then takes the build over
    itself (TAKEN_OVER), which is right too."""
    waiters = wait_for(
        lambda: waiting_at_the_labs(export, attempt, monitor, seen),
        60,
        f"attempt {attempt} did not reach the labs",
    )
    [partial] = partials()  # the attempt's, named after its export
    assert partial.name.startswith(f"export-{export.pk}-")
    declined = f"export {export.pk} is running: not building it"
    declines = worker.log.read_text().count(declined)
    kill_the_build(worker, monitor, waiters)
    seen |= waiters

    def copy_arrived() -> str | None:
        if worker.log.read_text().count(declined) > declines:
            return DECLINED
        if ExportRequest.objects.get(pk=export.pk).attempts > attempt:
            return TAKEN_OVER
        return None

    how = wait_for(copy_arrived, 30, "the redelivered message did not arrive")
    if how == DECLINED:
        assert ExportRequest.objects.get(pk=export.pk).status == ExportStatus.RUNNING
        wait_for(
            lambda: services.silent_builds(timezone.now()).filter(pk=export.pk).exists(),
            STALE_AFTER_SECONDS + 10,
            "the heartbeat did not go stale",
        )
    return how


def watched(requeued: int = 0, failed: int = 0) -> dict[str, int]:
    return {"requeued": requeued, "failed": failed, "expired": 0}


def test_a_build_whose_worker_died_is_built_again_by_the_watcher(
    export_worker, researcher_a, site_a, with_labs
):
    seen: set[int] = set()
    with (
        psycopg.connect(database_url_of_the_tests()) as locker,
        psycopg.connect(database_url_of_the_tests(), autocommit=True) as monitor,
    ):
        locker.execute("LOCK TABLE registry_labresult IN ACCESS EXCLUSIVE MODE")
        export = services.export_request(by=researcher_a, sites=[site_a], format="csv")
        how = kill_attempt(export, 1, export_worker, monitor, seen)
        locker.rollback()  # the lock goes: the next attempt can read the labs

    assert tasks.watch_exports() == watched(requeued=1 if how == DECLINED else 0)
    done = wait_for(
        lambda: ExportRequest.objects.filter(pk=export.pk, status__in=["done", "failed"]).first(),
        60,
        "the export was not built again",
    )
    assert (done.status, done.attempts, done.progress, done.error) == ("done", 2, 100, "")
    assert done.row_counts["labs"] == LABS
    with zipfile.ZipFile(done.file) as archive:
        assert archive.testzip() is None
        assert "labs.csv" in archive.namelist()
    assert partials() == []
    assert sorted(p.name for p in Path(settings.EXPORT_ROOT).iterdir()) == [done.file.name]
    events = list(done.events.values_list("kind", "details"))
    assert [kind for kind, _ in events] == ["requested", "retried", "built"]
    assert events[1][1] == {"reason": "worker lost", "attempts": 1}
    assert "WorkerLostError" in export_worker.log.read_text()
    assert tasks.watch_exports() == watched()


def test_a_build_that_dies_at_every_attempt_fails_with_a_message(
    export_worker, client, researcher_a, site_a, with_labs
):
    seen: set[int] = set()
    with (
        psycopg.connect(database_url_of_the_tests()) as locker,
        psycopg.connect(database_url_of_the_tests(), autocommit=True) as monitor,
    ):
        locker.execute("LOCK TABLE registry_labresult IN ACCESS EXCLUSIVE MODE")
        export = services.export_request(by=researcher_a, sites=[site_a], format="csv")
        if kill_attempt(export, 1, export_worker, monitor, seen) == DECLINED:
            assert tasks.watch_exports() == watched(requeued=1)
        # The last attempt: a copy never takes it over, the watcher fails it.
        assert kill_attempt(export, 2, export_worker, monitor, seen) == DECLINED
        assert tasks.watch_exports() == watched(failed=1)
        locker.rollback()

    export.refresh_from_db()
    assert (export.status, export.attempts, export.file_path) == ("failed", 2, "")
    assert export.error.startswith("The build stopped twice (its worker was lost)")
    assert export.finished_at is not None
    events = list(export.events.values_list("kind", "details"))
    assert [kind for kind, _ in events] == ["requested", "retried", "failed"]
    assert events[-1][1] == {"reason": "worker lost", "attempts": 2}
    assert partials() == []
    assert list(Path(settings.EXPORT_ROOT).iterdir()) == []

    client.force_login(researcher_a)
    row = client.get(f"/research/exports/{export.pk}/row/").content.decode()
    assert "The build stopped twice (its worker was lost)" in row
    assert "hx-trigger" not in row
    time.sleep(1)  # nothing builds it any more
    assert ExportRequest.objects.get(pk=export.pk).status == ExportStatus.FAILED
