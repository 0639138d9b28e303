"""/health/ (readiness): each check turns it red, and only operators learn which one.

Real services throughout: the test database, the real Redis, Celery's real ping (no worker
listens here, so it times out; a real worker answers in tests/monitoring/test_worker_loss.py).
"""

import datetime as dt
import socket

import pytest
from celery import current_app
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from monitoring.models import EvaluationRun

pytestmark = pytest.mark.django_db

TOKEN = "a-monitoring-token-for-the-tests"


@pytest.fixture
def eager(settings):
    """The embedded demo's mode: no worker to ask, tasks run in-process."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def token(settings):
    settings.HEALTH_CHECK_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def nightly_done(hours_ago: float) -> EvaluationRun:
    finished = timezone.now() - dt.timedelta(hours=hours_ago)
    run = EvaluationRun.objects.create(
        kind="nightly", as_of=timezone.localdate(finished), status="done"
    )
    EvaluationRun.objects.filter(pk=run.pk).update(finished_at=finished)
    return run


def checks(client, token) -> dict[str, dict]:
    response = client.get("/health/", **token)
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == ("ok" if response.status_code == 200 else "unavailable")
    return body["checks"]


def failing(client, token) -> dict[str, str]:
    return {name: c["detail"] for name, c in checks(client, token).items() if not c["ok"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_all_green_is_200_and_the_liveness_probe_stays_cheap(client, eager, token):
    nightly_done(hours_ago=5)
    response = client.get("/health/")
    assert (response.status_code, response.content) == (200, b"ok")
    assert "no-store" in response["Cache-Control"]
    details = checks(client, token)
    assert set(details) == {
        "database", "migrations", "redis", "celery workers", "nightly evaluation"
    }  # fmt: skip
    assert all(check["ok"] for check in details.values())
    assert details["celery workers"]["detail"] == "eager (tasks run in the web process)"
    assert client.get("/healthz").content == b"ok"


def test_anonymous_callers_learn_the_status_code_only(client, eager, settings):
    settings.HEALTH_CHECK_TOKEN = TOKEN
    response = client.get("/health/")  # no nightly run: red
    assert (response.status_code, response.content) == (503, b"unavailable")
    for wrong in ("Bearer nope", f"Token {TOKEN}", TOKEN, ""):
        response = client.get("/health/", HTTP_AUTHORIZATION=wrong)
        assert (response.status_code, response.content) == (503, b"unavailable")
    # Never from the URL (access logs keep query strings).
    assert client.get(f"/health/?token={TOKEN}").content == b"unavailable"


def test_no_token_configured_means_no_token_works(client, eager, settings):
    settings.HEALTH_CHECK_TOKEN = ""
    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer ").content == b"unavailable"


@pytest.mark.parametrize(
    ("who", "sees_details"),
    [("superuser", True), ("data_manager_a", True), ("clinician_a", False), ("nurse_a", False)],
)
def test_superusers_and_data_managers_see_which_check_failed(
    client, eager, request, who, sees_details
):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/health/")
    assert response.status_code == 503
    if sees_details:
        assert response.json()["checks"]["nightly evaluation"] == {
            "ok": False,
            "detail": "Unavailable: no nightly evaluation has finished yet",
            "seconds": response.json()["checks"]["nightly evaluation"]["seconds"],
        }
    else:
        assert response.content == b"unavailable"


def test_a_nightly_run_older_than_26_hours_is_red(client, eager, token):
    nightly_done(hours_ago=27)
    assert list(failing(client, token)) == ["nightly evaluation"]
    assert "none finished within 26 hours" in failing(client, token)["nightly evaluation"]
    nightly_done(hours_ago=25)
    assert failing(client, token) == {}


def test_a_failed_or_running_nightly_run_does_not_count(client, eager, token):
    EvaluationRun.objects.create(kind="nightly", as_of=timezone.localdate(), status="failed")
    EvaluationRun.objects.create(kind="nightly", as_of=timezone.localdate(), status="running")
    EvaluationRun.objects.create(kind="command", as_of=timezone.localdate(), status="done")
    assert list(failing(client, token)) == ["nightly evaluation"]


def test_a_missing_database_is_red(client, eager, token):
    """The database check opens its own connection (in a worker thread): point it elsewhere."""
    nightly_done(hours_ago=1)
    database = connections.settings["default"]
    saved = database["NAME"]
    database["NAME"] = "crmo_no_such_database"
    try:
        response = client.get("/health/", **token)
    finally:
        database["NAME"] = saved
    assert response.status_code == 503
    assert [name for name, c in response.json()["checks"].items() if not c["ok"]] == ["database"]


def test_an_unapplied_migration_is_red(client, eager, token):
    """A deploy whose code has a migration the database lacks (`migrate` was skipped)."""
    nightly_done(hours_ago=1)
    [(app, latest)] = MigrationLoader(None).graph.leaf_nodes("monitoring")
    MigrationRecorder(connections["default"]).record_unapplied(app, latest)
    assert failing(client, token) == {"migrations": f"Unavailable: 1 unapplied: {app}.{latest}"}


def test_redis_not_answering_is_red(client, eager, token, settings):
    nightly_done(hours_ago=1)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    assert list(failing(client, token)) == ["redis"]


@pytest.mark.skipif(not current_app.conf.broker_url.startswith("redis"), reason="needs Redis")
def test_no_worker_answering_is_red_within_the_timeout(client, token, settings):
    settings.HEALTH_CELERY_TIMEOUT = dt.timedelta(seconds=0.5)
    nightly_done(hours_ago=1)
    started = timezone.now()
    assert failing(client, token) == {"celery workers": "Unavailable: Celery workers unavailable"}
    assert timezone.now() - started < dt.timedelta(seconds=3)
