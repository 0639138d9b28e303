"""The embedded demo (no REDIS_URL: Celery runs tasks in-process) stays quiet: no broker warning,
no line per task. Run in a fresh process, since the settings read the environment once."""

import os
import subprocess
import sys

from django.conf import settings

EAGER_TASK = """
import logging
from celery import shared_task
from django.conf import settings

@shared_task(name="tests.ping")
def ping():
    return "pong"

assert settings.CELERY_TASK_ALWAYS_EAGER
print(ping.apply_async().get())
logging.getLogger("celery.app.trace").error("a failing task still shows")
"""


def test_an_eager_task_logs_no_broker_warning_and_no_success_line(tmp_path):
    environment = {
        **{name: value for name, value in os.environ.items() if name != "REDIS_URL"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "LOG_LEVEL": "INFO",
    }
    ran = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", EAGER_TASK],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output = ran.stdout + ran.stderr
    assert "pong" in ran.stdout
    assert "a failing task still shows" in output
    assert "No hostname was supplied" not in output
    assert "succeeded" not in output
