"""The Celery build, the audit trail and the operator's command."""

from __future__ import annotations

import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from research import services
from research.dictionary import TABLES
from research.models import ExportEvent, ExportRequest, ExportStatus
from research.tasks import build_export


def test_the_task_builds_the_export_reporting_progress_up_to_100(
    consenting_course, researcher_a, site_a, eager, monkeypatch, django_capture_on_commit_callbacks
):
    reported: list[int] = []
    original = services._set_progress

    def spy(export: ExportRequest, percent: int) -> None:
        reported.append(percent)
        original(export, percent)

    monkeypatch.setattr(services, "_set_progress", spy)
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(by=researcher_a, sites=[site_a], format="parquet")
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE
    assert export.progress == 100
    assert reported == sorted(reported)
    assert len(reported) == len(TABLES) + 1  # after each table, and 100 when done
    assert reported[-1] == 100
    assert export.started_at
    assert export.finished_at
    assert zipfile.ZipFile(export.file).testzip() is None
    kinds = list(export.events.values_list("kind", "actor"))
    assert kinds == [("requested", researcher_a.pk), ("built", None)]
    assert export.events.get(kind="requested").details["sites"] == ["north"]


def test_the_task_does_not_build_an_export_twice(consenting_course, site_a):
    export = services.export_request_as_operator(sites=[site_a], format="csv")
    assert build_export(export.pk) == "done"
    first = ExportRequest.objects.get(pk=export.pk).file_path
    assert build_export(export.pk) == "done"
    assert ExportRequest.objects.get(pk=export.pk).file_path == first
    assert ExportEvent.objects.filter(export=export, kind="built").count() == 1


def test_a_failed_build_is_recorded(consenting_course, site_a, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "build_archive", broken)
    export = services.export_request_as_operator(sites=[site_a], format="csv")
    with pytest.raises(RuntimeError):
        services.export_build(export=export)
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error == "RuntimeError"
    assert export.events.filter(kind="failed").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fhir"])
def test_the_command_writes_an_export_and_prints_row_counts(
    consenting_course, site_a, tmp_path, capsys, fmt
):
    out = tmp_path / f"export.{fmt}.zip"
    call_command("export_registry", "--format", fmt, "--out", str(out), "--site", "north")
    printed = capsys.readouterr().out
    assert zipfile.ZipFile(out).testzip() is None
    assert "written to" in printed
    assert ("patients" in printed) or ("Patient" in printed)
    assert ExportRequest.objects.get().requested_by is None


def test_the_command_refuses_an_unknown_site(db, tmp_path):
    with pytest.raises(CommandError, match="No site"):
        call_command(
            "export_registry",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.zip"),
            "--site",
            "nowhere",
        )
