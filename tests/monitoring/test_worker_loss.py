"""A worker's pool child killed mid-chunk (as the OOM killer does), on a real prefork worker.

The chunk is held mid-work by the outside world: another connection holds the row lock of one
of its courses, so the chunk's SELECT … FOR UPDATE waits inside its transaction (seen in
pg_stat_activity). Then the pool child is SIGKILLed. Celery retries the lost chunk
(task_retry_on_worker_lost) and the run finishes; a chunk whose child dies every time fails its
run once its retries are spent, instead of leaving it "running".
"""

import os
import signal
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from django.conf import settings

from monitoring import tasks
from monitoring.models import Alert, EvaluationRun
from tests.conftest import TODAY
from tests.monitoring.test_tasks import overdue_course
from tests.monitoring.workers import celery_worker, database_url_of_the_tests

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs a real broker (REDIS_URL)")

CHUNK_RETRIES = tasks.RETRYING["max_retries"]


@pytest.fixture
def prefork_worker(transactional_db, tmp_path: Path):
    """`celery worker --pool prefork -c 1` on the real Redis and the test database, its log in
    `.log`. A loaded two-core machine starts it slowly."""
    log = tmp_path / "worker.log"
    with celery_worker(
        "--pool=prefork", "--concurrency=1", "-l", "info",
        log=log, env={"EVALUATION_CHUNK_SIZE": "2", "EVALUATION_RETRY_DELAY": "1"},
        start_within=60,
    ) as process:  # fmt: skip
        process.log = log
        yield process


def pool_child(worker) -> psutil.Process:
    deadline = time.monotonic() + 10
    while True:
        children = psutil.Process(worker.pid).children()
        if len(children) == 1:
            return children[0]
        assert time.monotonic() < deadline, f"pool processes: {children}"
        time.sleep(0.05)


def lock_waiters(monitor: psycopg.Connection) -> set[int]:
    """Backends of this database waiting for a lock: a chunk stopped at its courses' row lock."""
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    ).fetchall()
    return {pid for (pid,) in rows}


def kill_the_chunk(worker, monitor: psycopg.Connection, waiters: set[int]) -> None:
    """SIGKILL the pool child running the waiting chunk, and end the backend it left behind."""
    os.kill(pool_child(worker).pid, signal.SIGKILL)
    for pid in waiters:
        monitor.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def test_a_chunk_whose_worker_died_is_retried_and_the_run_finishes(prefork_worker):
    courses = [overdue_course() for _ in range(3)]  # chunks of 2: two chunks
    with (
        psycopg.connect(database_url_of_the_tests()) as locker,
        psycopg.connect(database_url_of_the_tests(), autocommit=True) as monitor,
    ):
        locker.execute(
            "SELECT id FROM registry_treatmentcourse WHERE id = %s FOR UPDATE", [courses[0].pk]
        )
        run_id = tasks.evaluate_nightly.delay(TODAY.isoformat()).get(timeout=30)
        waiters = wait_for(lambda: lock_waiters(monitor), 30, "no chunk reached the lock")
        kill_the_chunk(prefork_worker, monitor, waiters)
        locker.rollback()  # the lock goes: the chunk's next attempt can run

    def finished() -> EvaluationRun | None:
        run = EvaluationRun.objects.get(pk=run_id)
        return run if run.status != "running" else None

    run = wait_for(finished, 40, "the run is still running")
    log = prefork_worker.log.read_text()
    assert "WorkerLostError" in log
    assert "Task monitoring.evaluate_chunk" in log
    assert "retry: Retry in 1s: WorkerLostError" in log
    assert (run.status, run.chunks_total, run.chunks_done, run.courses) == ("done", 2, 2, 3)
    # The killed attempt wrote nothing (it was stopped before its first write): the alerts of its
    # courses come from the retry.
    for course in courses:
        assert Alert.objects.filter(course=course, rule="maintenance_dose_overdue").count() == 1


def test_a_chunk_that_always_dies_fails_its_run(prefork_worker, client, settings):
    course = overdue_course()
    kills = 0
    with (
        psycopg.connect(database_url_of_the_tests()) as locker,
        psycopg.connect(database_url_of_the_tests(), autocommit=True) as monitor,
    ):
        locker.execute(
            "SELECT id FROM registry_treatmentcourse WHERE id = %s FOR UPDATE", [course.pk]
        )
        run_id = tasks.evaluate_nightly.delay(TODAY.isoformat()).get(timeout=30)
        run = EvaluationRun.objects.get(pk=run_id)
        seen: set[int] = set()
        deadline = time.monotonic() + 50
        while run.status == "running":
            assert time.monotonic() < deadline, f"run still running after {kills} kills"
            waiters = lock_waiters(monitor) - seen
            if waiters:
                kill_the_chunk(prefork_worker, monitor, waiters)
                seen |= waiters
                kills += 1
            time.sleep(0.1)
            run.refresh_from_db()
        locker.rollback()
    assert run.status == "failed"
    assert run.finished_at is not None
    assert kills == 1 + CHUNK_RETRIES  # the first attempt and every retry, then it gave up
    assert run.chunks_done == 0
    assert not Alert.objects.filter(course=course).exists()
    assert f"nightly evaluation {run_id} of {TODAY} failed" in prefork_worker.log.read_text()

    # The worker still answers, and the health endpoint says so (while the night is red).
    settings.HEALTH_CHECK_TOKEN = "monitor-token"
    details = client.get("/health/", HTTP_AUTHORIZATION="Bearer monitor-token").json()
    assert details["checks"]["celery workers"] == {
        "ok": True, "detail": "ok", "seconds": details["checks"]["celery workers"]["seconds"]
    }  # fmt: skip
    assert details["checks"]["nightly evaluation"]["ok"] is False
