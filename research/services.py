"""Every change to an export goes through these functions, and each writes its audit row."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from registry.models import Site
from research.deidentify import consenting_patients, loosened_options, patient_day_zeros
from research.exporters import ExportScope, build_archive, export_parameters
from research.models import (
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    ExportEvent,
    ExportEventKind,
    ExportRequest,
    ExportStatus,
    PseudonymMapping,
)
from research.selectors import can_download, data_manager_site_ids, exporter_site_ids

logger = logging.getLogger(__name__)
MAPPING_BATCH = 1000


def export_request(
    *,
    by: Any,
    sites: Iterable[Site],
    format: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    date_precision: str = DEFAULT_DATE_PRECISION,
    age_precision: str = DEFAULT_AGE_PRECISION,
    suppress_small_cells: bool = True,
) -> ExportRequest:
    """A researcher (or data manager) asks for an export of their sites; the build is queued
    after commit. Options finer than the defaults need a data manager of every site."""
    sites = list(sites)
    if not sites:
        raise ValidationError({"sites": "Choose at least one site."})
    site_ids = {site.pk for site in sites}
    if not site_ids <= exporter_site_ids(by):
        raise PermissionDenied(
            "You can only export sites where you are a researcher or a data manager."
        )
    if errors := option_errors(
        by=by,
        sites=sites,
        date_precision=date_precision,
        age_precision=age_precision,
        suppress_small_cells=suppress_small_cells,
    ):
        raise ValidationError(errors)
    export = _create(
        by=by,
        sites=sites,
        format=format,
        date_from=date_from,
        date_to=date_to,
        date_precision=date_precision,
        age_precision=age_precision,
        suppress_small_cells=suppress_small_cells,
    )
    from research.tasks import build_export  # the task module imports this one

    transaction.on_commit(lambda: build_export.delay(export.pk))
    return export


def option_errors(
    *,
    by: Any,
    sites: Iterable[Site],
    date_precision: str,
    age_precision: str,
    suppress_small_cells: bool,
) -> dict[str, str]:
    """Why these de-identification options are not the requester's to choose (empty: they are)."""
    if {site.pk for site in sites} <= data_manager_site_ids(by):
        return {}
    return loosened_options(
        date_precision=date_precision,
        age_precision=age_precision,
        suppress_small_cells=suppress_small_cells,
    )


def export_request_as_operator(
    *,
    sites: Iterable[Site],
    format: str,
    date_from: dt.date | None = None,
    date_precision: str = DEFAULT_DATE_PRECISION,
    age_precision: str = DEFAULT_AGE_PRECISION,
    suppress_small_cells: bool = True,
) -> ExportRequest:
    """An operator's export from the command line: no requester; built by the caller."""
    return _create(
        by=None,
        sites=list(sites),
        format=format,
        date_from=date_from,
        date_to=None,
        date_precision=date_precision,
        age_precision=age_precision,
        suppress_small_cells=suppress_small_cells,
    )


def _create(
    *,
    by: Any | None,
    sites: list[Site],
    format: str,
    date_from: dt.date | None,
    date_to: dt.date | None,
    date_precision: str,
    age_precision: str,
    suppress_small_cells: bool,
) -> ExportRequest:
    export = ExportRequest(
        requested_by=by,
        format=format,
        date_from=date_from,
        date_to=date_to,
        consent_checked_on=timezone.localdate(),
        date_precision=date_precision,
        age_precision=age_precision,
        suppress_small_cells=suppress_small_cells,
    )
    export.full_clean(exclude=["sites"])
    with transaction.atomic():
        export.save()
        export.sites.set(sites)
        ExportEvent.objects.create(
            export=export,
            kind=ExportEventKind.REQUESTED,
            actor=by,
            details=export_parameters(export),
        )
    return export


def _map_pseudonyms(export: ExportRequest) -> int:
    """A fresh random pseudonym for every consenting patient of the export's sites."""
    patients = patient_day_zeros(
        consenting_patients(
            site_ids=export.sites.values_list("pk", flat=True), on=export.consent_checked_on
        )
    )
    count = 0
    batch: list[PseudonymMapping] = []
    for patient_id, first_started_on in patients.iterator(chunk_size=MAPPING_BATCH):
        batch.append(
            PseudonymMapping(
                export=export, patient_id=patient_id, first_course_started_on=first_started_on
            )
        )
        if len(batch) == MAPPING_BATCH:
            count += len(PseudonymMapping.objects.bulk_create(batch))
            batch = []
    count += len(PseudonymMapping.objects.bulk_create(batch))
    return count


def _set_progress(export: ExportRequest, percent: int) -> None:
    ExportRequest.objects.filter(pk=export.pk).update(progress=percent)


def export_build(*, export: ExportRequest, path: Path | None = None) -> ExportRequest:
    """Build the export's archive (at `path`, or under EXPORT_ROOT) and record the outcome."""
    claimed = ExportRequest.objects.filter(pk=export.pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    if not claimed:
        logger.info("export %s is not queued; not building it twice", export.pk)
        export.refresh_from_db()
        return export
    if path is None:
        root = Path(settings.EXPORT_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"export-{export.pk}-{secrets.token_hex(8)}.zip"
    partial = path.with_name(path.name + ".partial")
    try:
        with transaction.atomic():
            PseudonymMapping.objects.filter(export=export).delete()  # a retried build starts over
            _map_pseudonyms(export)
        counts = build_archive(
            ExportScope(export), partial, lambda percent: _set_progress(export, percent)
        )
        os.replace(partial, path)
    except Exception as error:
        partial.unlink(missing_ok=True)
        logger.exception("export %s failed", export.pk)
        ExportRequest.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, finished_at=timezone.now(), error=type(error).__name__
        )
        ExportEvent.objects.create(
            export=export, kind=ExportEventKind.FAILED, details={"error": type(error).__name__}
        )
        raise
    ExportRequest.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE,
        progress=100,
        finished_at=timezone.now(),
        file_path=str(path),
        row_counts=counts,
    )
    ExportEvent.objects.create(export=export, kind=ExportEventKind.BUILT, details={"rows": counts})
    logger.info("export %s built: %s", export.pk, counts)
    export.refresh_from_db()
    return export


def export_download(*, export: ExportRequest, by: Any) -> Path:
    """The file to send, after checking who asks and recording the download."""
    if not export.is_downloadable or not can_download(by, export):
        raise PermissionDenied("This export is not yours to download.")
    ExportEvent.objects.create(
        export=export,
        kind=ExportEventKind.DOWNLOADED,
        actor=by,
        details={**export_parameters(export), "rows": export.row_counts},
    )
    return export.file
