"""A request whose build cannot be queued fails at once and says so (services.export_queue).

The Celery app's broker and result store are pointed at a Redis that is not there (as in
tests/monitoring/test_broker_outage.py): nothing listening (connects refused), connects that
hang (black hole) or a server that accepts and never answers (hung). The request is committed
first, as in production (the views are not atomic and these tests are transactional), so the
answer already knows."""

from __future__ import annotations

import time

import pytest
from celery import current_app
from django.conf import settings

from research import services
from research.models import ExportEvent, ExportRequest, ExportStatus
from tests.monitoring.test_broker_outage import DEAD, celery_redis_at, refused

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/research/"
API = "/api/v1/exports/"
LIMIT = 3.0  # seconds: two tries of about 1 s each at most, with room for a loaded machine


@pytest.fixture(params=list(DEAD))
def dead_broker(request):
    with DEAD[request.param]() as url, celery_redis_at(url):
        yield url


def only_export() -> ExportRequest:
    [export] = ExportRequest.objects.all()
    return export


def assert_failed_as_not_queued(export: ExportRequest) -> None:
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error == services.NOT_QUEUED
    assert export.finished_at is not None
    assert (export.attempts, export.started_at, export.file_path) == (0, None, "")
    failure = ExportEvent.objects.get(export=export, kind="failed")
    assert failure.details == {"reason": "not queued"}
    assert list(export.events.values_list("kind", flat=True)) == ["requested", "failed"]
    assert not ExportRequest.objects.filter(status=ExportStatus.QUEUED).exists()


def test_it_fails_the_request_within_seconds_and_records_why(
    dead_broker, researcher_a, site_a, consenting_course
):
    started = time.perf_counter()
    export = services.export_request(by=researcher_a, sites=[site_a], format="csv")
    elapsed = time.perf_counter() - started
    assert elapsed < LIMIT, f"the request waited {elapsed:.1f} s for the broker"
    assert export.status == ExportStatus.FAILED  # the caller's object says so too
    assert_failed_as_not_queued(export)


def test_the_page_says_so_at_once_and_the_row_does_not_poll(
    client, researcher_a, site_a, consenting_course
):
    client.force_login(researcher_a)
    with refused() as url, celery_redis_at(url):
        started = time.perf_counter()
        response = client.post(PAGE, {"sites": [site_a.pk], "format": "csv"})
        elapsed = time.perf_counter() - started
    assert response.status_code == 302
    assert elapsed < LIMIT
    export = only_export()
    assert_failed_as_not_queued(export)
    page = client.get(PAGE).content.decode()
    assert f"Export {export.pk}: The export could not be queued: the task queue is not " in page
    assert "being built" not in page
    row = client.get(f"/research/exports/{export.pk}/row/").content.decode()
    assert "Failed" in row
    assert services.NOT_QUEUED in row
    assert "Try again" in row
    assert "hx-trigger" not in row


def test_the_api_answers_503_with_the_failed_export(
    client, researcher_a, site_a, consenting_course
):
    client.force_login(researcher_a)
    with refused() as url, celery_redis_at(url):
        started = time.perf_counter()
        response = client.post(
            API, {"sites": ["north"], "format": "csv"}, content_type="application/json"
        )
        elapsed = time.perf_counter() - started
    assert elapsed < LIMIT
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "60"
    export = only_export()
    assert response.json() == {
        "detail": services.NOT_QUEUED,
        "id": export.pk,
        "status": "failed",
    }
    assert_failed_as_not_queued(export)
    detail = client.get(f"{API}{export.pk}/").json()
    assert (detail["status"], detail["error"], detail["download_url"]) == (
        "failed",
        services.NOT_QUEUED,
        None,
    )


def test_the_schema_documents_the_503(client, researcher_a):
    client.force_login(researcher_a)
    schema = client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    create = schema["paths"]["/api/v1/exports/"]["post"]
    assert set(create["responses"]) >= {"201", "503"}
    assert "task queue" in create["responses"]["503"]["description"]


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis (REDIS_URL)")
def test_the_next_request_is_queued_once_the_broker_is_back(researcher_a, site_a):
    with refused() as url, celery_redis_at(url):
        first = services.export_request(by=researcher_a, sites=[site_a], format="csv")
    assert first.status == ExportStatus.FAILED
    current_app.control.purge()
    second = services.export_request(by=researcher_a, sites=[site_a], format="csv")
    second.refresh_from_db()
    assert second.status == ExportStatus.QUEUED
    assert current_app.control.purge() == 1  # its build is waiting for a worker
