"""The export's row polls (htmx, every 2 s) while it is in progress and never in a final state."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from research import services
from research.models import FINAL_STATUSES, IN_PROGRESS_STATUSES, ExportRequest

POLLING = 'hx-trigger="every 2s"'


def row(client, export: ExportRequest) -> str:
    return client.get(
        f"/research/exports/{export.pk}/row/", HTTP_HX_REQUEST="true"
    ).content.decode()


@pytest.fixture
def export(client, researcher_a, site_a) -> ExportRequest:
    client.force_login(researcher_a)
    return services.export_request(by=researcher_a, sites=[site_a], format="csv")


def as_status(export: ExportRequest, status: str, **fields) -> ExportRequest:
    ExportRequest.objects.filter(pk=export.pk).update(status=status, **fields)
    export.refresh_from_db()
    return export


@pytest.mark.parametrize("status", IN_PROGRESS_STATUSES)
def test_it_polls_while_in_progress(client, export, status):
    html = row(client, as_status(export, status, progress=40, attempts=2))
    assert POLLING in html
    assert f"/research/exports/{export.pk}/row/" in html
    assert "attempt 2" in html


@pytest.mark.parametrize("status", FINAL_STATUSES)
def test_it_stops_polling_in_every_final_state(client, export, status):
    html = row(client, as_status(export, status, error="RuntimeError"))
    assert "hx-trigger" not in html
    assert "hx-get" not in html


def test_a_failed_row_says_why_and_to_try_again(client, export):
    html = row(
        client, as_status(export, "failed", error=services.WORKER_LOST.format(times="twice"))
    )
    assert "Failed" in html
    assert "The build stopped twice (its worker was lost)" in html
    assert "Try again: request the same export with the form above." in html


def test_a_build_error_is_named_not_quoted(client, export):
    html = row(client, as_status(export, "failed", error="OperationalError"))
    assert "The build stopped with an error (OperationalError)." in html


def test_a_done_row_shows_when_it_expires_and_an_expired_one_when_it_did(client, export):
    expires_at = timezone.now() + dt.timedelta(days=30)
    html = row(client, as_status(export, "done", expires_at=expires_at, file_path="/x.zip"))
    assert "Expires on 24 Dec 2026" in html
    assert f"/research/exports/{export.pk}/download/" in html
    html = row(client, as_status(export, "expired", file_path=""))
    assert "Expired on 24 Dec 2026" in html
    assert "/download/" not in html


def test_someone_who_lost_every_role_stops_the_polling(client, export, researcher_a):
    researcher_a.memberships.all().delete()
    answer = client.get(f"/research/exports/{export.pk}/row/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 286  # htmx: stop polling
    assert answer.content == b""
