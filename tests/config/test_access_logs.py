"""No personal data in access logs: searches carry names and MRNs in query strings (?q=, ?mrn=).

gunicorn (config/gunicorn.conf.py, the image's and compose's web server) and runserver (`make
run`) are started for real on a free port and asked for a search; their access lines keep the
path but not the query string, nor the referrer (which holds the previous page's query).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from config.log_filters import NoQueryStrings

SECRET_NAME = "Okafor"
SECRET_MRN = "MRN-4471"
SEARCH = f"/patients/?q={SECRET_NAME}&mrn={SECRET_MRN}"
REFERRER = f"http://127.0.0.1/patients/?q={SECRET_NAME}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_environment(tmp_path: Path) -> dict[str, str]:
    """The demo's settings (SQLite, plain HTTP): the requests below touch no table."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY")
    }
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def request(port: int, path: str) -> int:
    sent = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Referer": REFERRER})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(sent, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as answer:
        return int(answer.code)


def serve_and_ask(command: list[str], tmp_path: Path, port: int) -> str:
    """Start the server, wait until it answers, ask for the search, stop it; its output."""
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=demo_environment(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    request(port, "/healthz")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise AssertionError(log.read_text()) from None
                    time.sleep(0.2)
            assert request(port, SEARCH) == 302  # to the sign-in page
            time.sleep(0.5)  # let the access line be written
        finally:
            server.terminate()
            server.wait(timeout=30)
    return log.read_text()


def access_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "/patients/" in line]


def test_gunicorns_access_log_has_no_query_string_and_no_referrer(tmp_path):
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn",
        "--config", "config/gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "config.wsgi:application",
    ]  # fmt: skip
    output = serve_and_ask(command, tmp_path, port)
    lines = access_lines(output)
    assert len(lines) == 1, output
    assert '"GET /patients/ HTTP/1.1" 302' in lines[0]
    assert SECRET_NAME not in output
    assert SECRET_MRN not in output


def test_runservers_request_lines_have_no_query_string(tmp_path):
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    output = serve_and_ask(command, tmp_path, port)
    lines = access_lines(output)
    assert len(lines) == 1, output
    assert '"GET /patients/ HTTP/1.1" 302' in lines[0]
    assert SECRET_NAME not in output
    assert SECRET_MRN not in output


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("django.server", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    ("message", "args", "logged"),
    [
        ('"%s" %s %s', ("GET /patients/?q=Okafor HTTP/1.1", "200", "512"),
         '"GET /patients/ HTTP/1.1" 200 512'),
        ("Not Found: %s", ("/patients/?mrn=MRN-1&q=a b",), "Not Found: /patients/ b"),
        ('"%s" %s %s', ("GET /worklist/ HTTP/1.1", "200", "10"),
         '"GET /worklist/ HTTP/1.1" 200 10'),
        ("Bad Request: /x/?q=%s", ("Okafor",), "Bad Request: /x/"),
    ],
)  # fmt: skip
def test_the_filter_cuts_every_query_string_from_the_rendered_line(message, args, logged):
    line = record(message, *args)
    assert NoQueryStrings().filter(line) is True
    assert line.getMessage() == logged


def test_the_filter_is_on_djangos_request_loggers():
    logging_config: dict = settings.LOGGING
    loggers = logging_config["loggers"]
    assert "no_query_strings" in loggers["django.server"]["filters"]
    assert "no_query_strings" in loggers["django.request"]["filters"]
