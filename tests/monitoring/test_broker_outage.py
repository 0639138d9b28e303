"""A broker that is down must not hold up a clinical save (CELERY_BROKER_* in the settings).

The Celery app's broker and result store are pointed at a Redis that is not there, three ways:
refused (nothing listens: connects fail at once), black-holed (connects hang: a listening socket
whose accept queue is full, so the kernel drops further SYNs, like a firewall or a host that is
gone) and hung (connects succeed, nothing ever answers). Each time the on-commit enqueue gives up
within about the 1 s timeout, logs once and raises nothing.
"""

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from logging import ERROR

import pytest
from celery import current_app
from django.conf import settings

from monitoring import tasks
from registry.reevaluation import one_reevaluation, patient_changed
from tests.factories import PatientFactory

PATIENTS = [101, 102, 103]
LIMIT = 3.0  # seconds: about 1 s of timeout, with room for a loaded two-core machine


@contextmanager
def celery_redis_at(url: str) -> Iterator[None]:
    """Point the broker and the result store at `url` (both are REDIS_URL), then put them back."""
    app = current_app
    conf = app.conf
    saved = (conf.broker_url, conf.result_backend, conf.task_always_eager)
    backends = (app._backend_cache, app._local.__dict__.copy())
    conf.broker_url = conf.result_backend = url
    conf.task_always_eager = False  # really publish, even in the embedded (eager) configuration
    app._pool = None  # kombu keeps one connection pool per broker
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
    try:
        yield
    finally:
        conf.broker_url, conf.result_backend, conf.task_always_eager = saved
        app._backend_cache, local = backends
        app._local.__dict__.clear()
        app._local.__dict__.update(local)
        app._pool = None
        app.amqp._producer_pool = None


def _listening(backlog: int) -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(backlog)
    return server


def _url(sock: socket.socket) -> str:
    return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


@contextmanager
def refused() -> Iterator[str]:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    url = _url(free)
    free.close()  # nothing listens there now
    yield url


@contextmanager
def black_hole() -> Iterator[str]:
    server = _listening(0)
    address = server.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # fill the accept queue until a connect hangs
            probe = socket.socket()
            probe.settimeout(0.2)
            fillers.append(probe)
            try:
                probe.connect(address)
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel does not drop connects to a full accept queue")
        yield _url(server)
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@contextmanager
def hung() -> Iterator[str]:
    server = _listening(16)
    server.settimeout(0.05)
    held: list[socket.socket] = []
    over = threading.Event()

    def accept_and_ignore() -> None:
        while not over.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    try:
        yield _url(server)
    finally:
        over.set()
        thread.join(timeout=2)
        server.close()
        for conn in held:
            conn.close()


DEAD = {"refused": refused, "black hole": black_hole, "hung": hung}


@pytest.fixture(params=list(DEAD))
def dead_redis(request) -> Iterator[str]:
    with DEAD[request.param]() as url, celery_redis_at(url):
        yield url


def errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "monitoring.tasks" and r.levelno >= ERROR]


def timed(function, *args) -> float:
    """Run `function` in a thread and time it; fail (rather than hang the suite) past LIMIT."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            function(*args)
            outcome.append(None)
        except BaseException as error:  # reported below
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(timeout=LIMIT)
    elapsed = time.perf_counter() - started
    assert not thread.is_alive(), f"still waiting for the broker after {elapsed:.1f} s"
    assert outcome == [None], f"raised {outcome[0]!r}"
    return elapsed


def test_the_enqueue_gives_up_quickly_logs_once_and_raises_nothing(dead_redis, caplog):
    with caplog.at_level(logging.ERROR, logger="monitoring.tasks"):
        elapsed = timed(tasks.enqueue_patient_evaluations, PATIENTS, 7)
    assert elapsed < LIMIT
    [record] = errors(caplog)  # the first failure stops the rest: one record, not one per patient
    assert "could not enqueue the evaluation of patients [101, 102, 103] (actor 7)" in (
        record.getMessage()
    )
    assert record.exc_info is not None


@pytest.mark.django_db
def test_a_committed_action_returns_quickly_when_the_broker_is_down(
    django_capture_on_commit_callbacks, caplog
):
    patients = [PatientFactory() for _ in range(3)]
    with refused() as url, celery_redis_at(url), caplog.at_level(logging.ERROR):
        started = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True), one_reevaluation():
            for patient in patients:
                patient_changed(patient.pk, actor_id=None)
        elapsed = time.perf_counter() - started
    assert elapsed < LIMIT
    [record] = errors(caplog)
    assert str(sorted(p.pk for p in patients)) in record.getMessage()


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis (REDIS_URL)")
def test_the_enqueue_still_works_once_the_broker_is_back(caplog):
    """Giving up once is not for good: the next save's enqueue reaches the broker again."""
    with refused() as url, celery_redis_at(url):
        tasks.enqueue_patient_evaluations(PATIENTS[:1])
    assert len(errors(caplog)) == 1
    caplog.clear()
    current_app.control.purge()
    with caplog.at_level(logging.ERROR, logger="monitoring.tasks"):
        tasks.enqueue_patient_evaluations(PATIENTS)
    assert errors(caplog) == []
    assert current_app.control.purge() == len(PATIENTS)


def test_the_worker_and_beat_keep_reconnecting():
    """The short timeouts bound one attempt; long-lived processes still retry (see settings)."""
    conf = current_app.conf
    assert conf.broker_connection_retry_on_startup is True
    assert conf.broker_connection_retry is True
    assert conf.broker_connection_max_retries is None or conf.broker_connection_max_retries >= 100
    assert conf.task_publish_retry is True  # publishes from the worker (a chord's callback) retry
    for entry in conf.beat_schedule.values():
        assert entry["options"]["retry"] is True
        assert entry["options"]["retry_policy"]["max_retries"] >= 30
