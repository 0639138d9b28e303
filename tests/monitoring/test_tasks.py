"""Celery: re-evaluation after a save, a broker that is down, a real worker, concurrent chunks."""

import datetime as dt
import logging
import threading
import time
from decimal import Decimal

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection

from monitoring import tasks
from monitoring.models import Alert, EvaluationRun
from registry import services
from registry.reevaluation import one_reevaluation
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    PatientFactory,
    RelapseFactory,
    acting_superuser,
)
from tests.monitoring.workers import celery_worker

DAY = dt.timedelta(days=1)


def overdue_course():
    start = TODAY - 112 * DAY  # maintenance dose due 14 days ago
    course = CourseFactory(started_on=start)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    return course


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.mark.django_db
def test_a_save_re_evaluates_the_patients_courses_after_commit(
    eager, django_capture_on_commit_callbacks
):
    course = overdue_course()
    # Two actions in one request (one_reevaluation, as the admin does for a page): one evaluation.
    with django_capture_on_commit_callbacks(execute=False) as callbacks, one_reevaluation():
        infusion = services.infusion_record(
            course=course,
            given_on=TODAY - DAY,
            weight_kg=Decimal("40"),
            weight_measured_on=TODAY - DAY,
            dose_mg=Decimal("200"),
            by=acting_superuser(),
        )
        services.reaction_record(
            infusion=infusion,
            onset="acute",
            severity="mild",
            symptoms="Rash",
            by=acting_superuser(),
        )
    assert len(callbacks) == 1  # one evaluation per patient per action
    assert not Alert.objects.exists()  # nothing happens before the commit
    callbacks[0]()
    assert Alert.objects.filter(course=course, rule="premedication_advised").exists()


def use_broker(url: str) -> None:
    """Point the Celery app at another broker (kombu keeps one connection pool per broker)."""
    current_app.conf.broker_url = url
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_save_succeeds_and_the_failure_is_logged_when_the_broker_is_down(caplog):
    course = overdue_course()
    broker = current_app.conf.broker_url
    use_broker("redis://127.0.0.1:9/0")  # nothing listens there
    try:
        with caplog.at_level(logging.ERROR, logger="monitoring.tasks"):
            started = time.monotonic()
            services.infusion_record(
                course=course,
                given_on=TODAY,
                weight_kg=Decimal("40"),
                weight_measured_on=TODAY,
                dose_mg=Decimal("200"),
                by=acting_superuser(),
            )
            elapsed = time.monotonic() - started
    finally:
        use_broker(broker)
    assert course.infusions.filter(given_on=TODAY).exists()
    assert f"could not enqueue the evaluation of patients [{course.patient_id}]" in caplog.text
    assert elapsed < 10  # the save does not hang on the broker


@pytest.mark.django_db(transaction=True)
def test_the_chunk_task_run_twice_concurrently_makes_no_duplicates():
    courses = [overdue_course().pk for _ in range(6)]
    barrier = threading.Barrier(2)
    errors = []

    def run_chunk():
        try:
            barrier.wait()
            tasks.evaluate_chunk(courses, TODAY.isoformat())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_chunk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = list(Alert.objects.values_list("course_id", "rule", "key"))
    assert len(keys) == len(set(keys))
    assert Alert.objects.filter(rule="maintenance_dose_overdue").count() == 6


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A real Celery worker process (threads pool) on the real Redis, using the test database."""
    with celery_worker(
        "--pool=threads", "--concurrency=2", "-l", "warning",
        log=tmp_path / "worker.log", env={"EVALUATION_CHUNK_SIZE": "2"}, start_within=30,
    ) as process:  # fmt: skip
        yield process


def test_the_nightly_fan_out_runs_end_to_end_on_a_real_worker(worker):
    courses = [overdue_course() for _ in range(5)]
    run_id = tasks.evaluate_nightly.delay(TODAY.isoformat()).get(timeout=30)
    deadline = time.monotonic() + 60
    run = EvaluationRun.objects.get(pk=run_id)
    while run.status != "done":
        assert time.monotonic() < deadline, f"run stuck: {run.chunks_done}/{run.chunks_total}"
        time.sleep(0.2)
        run.refresh_from_db()
    assert (run.kind, run.chunks_total, run.chunks_done, run.courses) == ("nightly", 3, 3, 5)
    for course in courses:
        assert Alert.objects.filter(course=course, rule="maintenance_dose_overdue").count() == 1
    # Run again: reconciled, nothing duplicated.
    again = tasks.evaluate_nightly.delay(TODAY.isoformat()).get(timeout=30)
    while EvaluationRun.objects.get(pk=again).status != "done":
        assert time.monotonic() < deadline + 60
        time.sleep(0.2)
    assert Alert.objects.filter(rule="maintenance_dose_overdue").count() == 5


@pytest.mark.skipif(not settings.REDIS_URL, reason="counts the messages on the real Redis")
@pytest.mark.django_db
def test_one_action_queues_one_evaluation_task_per_patient(
    site_a, clinician_a, django_capture_on_commit_callbacks
):
    """Counted on the broker itself: the tasks a worker would run."""
    stopped = CourseFactory(
        patient=PatientFactory(site=site_a),
        started_on=TODAY - 500 * DAY,
        stopped_on=TODAY - 100 * DAY,
        stop_reason="remission",
    )
    relapse = RelapseFactory(course=stopped, patient=stopped.patient, noted_on=TODAY - 5 * DAY)
    other = PatientFactory(site=site_a)
    current_app.control.purge()
    with django_capture_on_commit_callbacks(execute=True):
        # Two rows (a course and the link): one action, one task.
        services.retreatment_start(relapse=relapse, started_on=TODAY, by=clinician_a)
    assert current_app.control.purge() == 1
    with django_capture_on_commit_callbacks(execute=True), one_reevaluation():
        # Several actions in one request, for two patients: one task per patient.
        for patient in (stopped.patient, other):
            services.lab_result_record(
                patient=patient,
                collected_on=TODAY,
                analyte="crp",
                value=Decimal("2"),
                by=clinician_a,
            )
            services.lab_result_record(
                patient=patient,
                collected_on=TODAY,
                analyte="esr",
                value=Decimal("9"),
                by=clinician_a,
            )
    assert current_app.control.purge() == 2
