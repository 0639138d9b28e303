"""A requested export's file can be downloaded for EXPORT_DOWNLOAD_DAYS; then it is deleted and
the export is expired (services.exports_expire, run by the watcher). Operators' files are theirs."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from research import services, tasks
from research.models import ExportEvent, ExportRequest, ExportStatus

PAGE = "/research/"
API = "/api/v1/exports/"


def web_download(export: ExportRequest) -> str:
    return f"/research/exports/{export.pk}/download/"


@pytest.fixture
def export(researcher_a, site_a, consenting_course) -> ExportRequest:
    return services.export_build(
        export=services.export_request(by=researcher_a, sites=[site_a], format="csv")
    )


def test_a_built_export_expires_after_the_download_days(export, client, researcher_a):
    assert export.expires_at == export.finished_at + dt.timedelta(days=30)
    client.force_login(researcher_a)
    page = client.get(PAGE).content.decode()
    assert f"Expires on {timezone.localtime(export.expires_at):%d %b %Y}" in page
    assert "Expires on 24 Dec 2026" in page


def test_the_download_days_come_from_the_settings(settings, researcher_a, site_a):
    settings.EXPORT_DOWNLOAD_DAYS = 7
    export = services.export_build(
        export=services.export_request(by=researcher_a, sites=[site_a], format="csv")
    )
    assert export.finished_at is not None
    assert export.expires_at == export.finished_at + dt.timedelta(days=7)


def test_an_expired_download_says_so_even_before_the_watcher_has_run(export, client, researcher_a):
    with time_machine.travel(export.expires_at + dt.timedelta(minutes=1)):
        client.force_login(researcher_a)  # (a month later: a new session)
        assert export.file.exists()
        response = client.get(web_download(export), follow=True)
        assert response.redirect_chain == [(PAGE, 302)]
        message = f"Export {export.pk} expired on 24 Dec 2026: its file is deleted 30 days after"
        assert message in response.content.decode()
        api = client.get(f"{API}{export.pk}/download/")
        assert api.status_code == 410
        assert api.json()["detail"].startswith(message)
        assert client.get(f"{API}{export.pk}/").json()["download_url"] is None
    assert not ExportEvent.objects.filter(kind="downloaded").exists()


def test_the_watcher_deletes_expired_files_and_records_it(export, client, researcher_a):
    file = export.file
    with time_machine.travel(export.expires_at - dt.timedelta(minutes=1)):
        assert tasks.watch_exports() == {"requeued": 0, "failed": 0, "expired": 0}
        assert file.exists()
    with time_machine.travel(export.expires_at + dt.timedelta(minutes=1)):
        assert tasks.watch_exports() == {"requeued": 0, "failed": 0, "expired": 1}
        assert tasks.watch_exports()["expired"] == 0  # once
        client.force_login(researcher_a)
        row = client.get(f"/research/exports/{export.pk}/row/").content.decode()
        api = client.get(f"{API}{export.pk}/download/")
    assert not file.exists()
    export.refresh_from_db()
    assert (export.status, export.file_path) == (ExportStatus.EXPIRED, "")
    assert export.is_final
    assert export.is_expired
    assert not export.is_downloadable
    event = export.events.get(kind="expired")
    assert event.details == {"expires_at": export.expires_at.isoformat(), "file_deleted": True}
    assert event.actor is None
    assert "Expired on 24 Dec 2026" in row
    assert "hx-trigger" not in row
    assert web_download(export) not in row
    assert api.status_code == 410


def test_an_operators_export_never_expires(site_a, consenting_course, tmp_path):
    out = tmp_path / "operator.zip"  # outside EXPORT_ROOT, where the operator said
    call_command("export_registry", "--format", "csv", "--out", str(out), "--site", "north")
    operator = ExportRequest.objects.get()
    assert operator.expires_at is None
    with time_machine.travel(timezone.now() + dt.timedelta(days=400)):
        assert services.exports_expire() == 0
    assert out.exists()
    operator.refresh_from_db()
    assert operator.status == ExportStatus.DONE


def test_a_file_outside_the_export_root_is_left_in_place(export, settings, tmp_path, caplog):
    file = export.file
    settings.EXPORT_ROOT = tmp_path / "elsewhere"  # the root moved since the build
    with (
        time_machine.travel(export.expires_at + dt.timedelta(days=1)),
        caplog.at_level(logging.WARNING, logger="research.services"),
    ):
        assert services.exports_expire() == 1
    assert file.exists()
    assert f"export {export.pk}: its file is outside EXPORT_ROOT; left in place" in caplog.text
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert export.events.get(kind="expired").details["file_deleted"] is False
