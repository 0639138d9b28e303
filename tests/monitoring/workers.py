"""A real Celery worker process for the tests: on the real Redis and the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connection


def database_url_of_the_tests() -> str:
    """The test database as a DATABASE_URL, for a process of its own."""
    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@contextmanager
def celery_worker(
    *options: str, log: Path, env: dict[str, str], start_within: float
) -> Iterator[subprocess.Popen[bytes]]:
    """`celery worker OPTIONS` until the block ends, started once it answers a ping. Its output
    goes to `log` (a pipe nobody reads would fill and stall the worker); messages left in the
    queue by earlier tests are purged before and after."""
    current_app.control.purge()
    environment = os.environ | {
        "DATABASE_URL": database_url_of_the_tests(),
        "REDIS_URL": settings.REDIS_URL,
        **env,
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "--without-gossip", "--without-mingle", *options],
            env=environment, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + start_within
        while not current_app.control.ping(timeout=0.5):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not start"
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        current_app.control.purge()
