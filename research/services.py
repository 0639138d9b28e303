"""Every change to an export goes through these functions, and each writes its audit row.

Every export ends: done, failed (with a message for its requester) or, after EXPORT_DOWNLOAD_DAYS,
expired. A request whose build cannot be queued fails at once; a running build beats on its row
(heartbeat_at), and one that falls silent (its worker died) is queued again or failed by the
watcher (exports_watch), which also queues again requests whose message was lost and deletes
expired files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connections, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError

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
PARTIAL_SUFFIX = ".partial"

NOT_QUEUED = (
    "The export could not be queued: the task queue is not answering. Nothing was built; try "
    "again later."
)
NEVER_STARTED = (
    "The export was queued {times} but no worker started it (its place in the task queue was "
    "lost). Nothing was built; try again later, and tell the registry's operators if it happens "
    "again."
)
WORKER_LOST = (
    "The build stopped {times} (its worker was lost), so it was given up. Nothing was kept; "
    "request the export again, and tell the registry's operators if it happens again."
)
OPERATOR_STOPPED = (
    "The command building this export stopped before it finished. Nothing was kept; run the "
    "command again."
)


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


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
    transaction.on_commit(lambda: export_queue(export=export))
    return export


def export_queue(*, export: ExportRequest) -> None:
    """After its request is committed: send the build to a worker. A broker that does not take it
    within about two seconds (research.tasks.PUBLISH_RETRY_POLICY) fails the request at once,
    saying so, rather than leaving it queued for a build that never comes. Outside a transaction
    (the views: non-atomic requests) this runs before the response, and `export` tells how it
    went."""
    from research.tasks import queue_build  # the task module imports this one

    try:
        queue_build(export.pk)
    except OperationalError:
        logger.exception("export %s could not be queued", export.pk)
        _fail(
            export,
            while_status=ExportStatus.QUEUED,
            error=NOT_QUEUED,
            details={"reason": "not queued"},
        )


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
    """Build the export's archive (at `path`, or under EXPORT_ROOT) and record the outcome.

    The build claims the request first (_claim) and writes only while the claim is still its own
    (same attempt, still running): a build taken over or given up while it was silent leaves the
    request as its successor or the watcher made it."""
    attempt = _claim(export)
    if attempt is None:
        export.refresh_from_db()
        logger.info(
            "export %s is %s: not building it (twice, or while its build may be alive)",
            export.pk,
            export.status,
        )
        return export
    own_file = path is None
    if path is None:
        root = Path(settings.EXPORT_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"{_file_prefix(export.pk)}{secrets.token_hex(8)}.zip"
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    mine = ExportRequest.objects.filter(pk=export.pk, status=ExportStatus.RUNNING, attempts=attempt)
    try:
        with _heartbeat(mine):
            with transaction.atomic():
                PseudonymMapping.objects.filter(export=export).delete()  # a retry starts over
                _map_pseudonyms(export)
            counts = build_archive(
                ExportScope(export), partial, lambda percent: _set_progress(export, percent)
            )
        os.replace(partial, path)
    except Exception as error:
        partial.unlink(missing_ok=True)
        logger.exception("export %s failed", export.pk)
        _fail(
            export,
            while_status=ExportStatus.RUNNING,
            attempt=attempt,
            error=type(error).__name__,
            details={"error": type(error).__name__, "attempt": attempt},
        )
        raise
    now = timezone.now()
    with transaction.atomic():
        built = mine.update(
            status=ExportStatus.DONE,
            progress=100,
            finished_at=now,
            file_path=str(path),
            row_counts=counts,
            expires_at=_expiry(export, now),
        )
        if built:
            ExportEvent.objects.create(
                export=export, kind=ExportEventKind.BUILT, details={"rows": counts}
            )
    if built:
        logger.info("export %s built: %s", export.pk, counts)
    else:
        logger.warning("export %s: attempt %s finished after it was given up", export.pk, attempt)
        if own_file:
            path.unlink(missing_ok=True)
    export.refresh_from_db()
    return export


def _claim(export: ExportRequest) -> int | None:
    """Start a build: of a queued request, or of one running whose build fell silent (its worker
    died and Celery redelivered the message before the watcher came), within EXPORT_MAX_ATTEMPTS.
    Returns the attempt number; None when the request is not this build's to take."""
    now = timezone.now()
    with transaction.atomic():
        row = ExportRequest.objects.select_for_update(no_key=True).filter(pk=export.pk).first()
        if row is None:
            return None
        taken_over = (
            row.status == ExportStatus.RUNNING
            and row.attempts < settings.EXPORT_MAX_ATTEMPTS
            and silent_builds(now).filter(pk=row.pk).exists()
        )
        if row.status != ExportStatus.QUEUED and not taken_over:
            return None
        if taken_over:
            _record_retry(row, reason="worker lost")
        ExportRequest.objects.filter(pk=row.pk).update(
            status=ExportStatus.RUNNING,
            attempts=row.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            progress=0,
        )
    return row.attempts + 1


def _expiry(export: ExportRequest, built_at: dt.datetime) -> dt.datetime | None:
    """A requested export's file is deleted after EXPORT_DOWNLOAD_DAYS; an operator's is theirs."""
    if export.requested_by_id is None:
        return None
    return built_at + dt.timedelta(days=settings.EXPORT_DOWNLOAD_DAYS)


@contextmanager
def _heartbeat(build: QuerySet[ExportRequest]) -> Iterator[None]:
    """Beat on the build's row every EXPORT_HEARTBEAT_SECONDS while the block runs, from a thread
    with a database connection of its own (closed at the end): a build waiting on a slow query
    still beats, and one whose process died stops at once."""
    over = threading.Event()

    def beat() -> None:
        try:
            while not over.wait(settings.EXPORT_HEARTBEAT_SECONDS):
                try:
                    build.update(heartbeat_at=timezone.now())
                except DatabaseError:  # a missed beat is not fatal: the next one may pass
                    logger.warning("export build: a heartbeat could not be written")
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=beat, name="export-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        over.set()
        thread.join()


def _file_prefix(export_id: int) -> str:
    return f"export-{export_id}-"


def _remove_leftovers(export_id: int) -> None:
    """The files a dead build of the export left under EXPORT_ROOT: its `.partial`, or a finished
    zip it had no time to record. Only while the export is not done (queued again or failed)."""
    root = Path(settings.EXPORT_ROOT)
    for leftover in root.glob(f"{_file_prefix(export_id)}*"):
        leftover.unlink(missing_ok=True)


def _record_retry(export: ExportRequest, *, reason: str) -> None:
    """The audit row of a build started again; the dead build's files go."""
    ExportEvent.objects.create(
        export=export,
        kind=ExportEventKind.RETRIED,
        details={"reason": reason, "attempts": export.attempts},
    )
    _remove_leftovers(export.pk)  # now, before the next build writes its own


def _fail(
    export: ExportRequest,
    *,
    while_status: str,
    error: str,
    details: dict[str, Any],
    attempt: int | None = None,
) -> bool:
    """Mark the export failed, if it is still `while_status` (and at `attempt`), with the message
    its requester sees and a FAILED event; its builds' files go. `export` is updated too."""
    now = timezone.now()
    current = ExportRequest.objects.filter(pk=export.pk, status=while_status)
    if attempt is not None:
        current = current.filter(attempts=attempt)
    with transaction.atomic():
        failed = current.update(status=ExportStatus.FAILED, finished_at=now, error=error)
        if failed:
            ExportEvent.objects.create(export=export, kind=ExportEventKind.FAILED, details=details)
            _remove_leftovers(export.pk)
    if failed:
        export.status, export.finished_at, export.error = ExportStatus.FAILED, now, error
    return bool(failed)


# --- The watcher: every export ends ----------------------------------------------------------


@dataclass
class WatchOutcome:
    requeued: int = 0
    failed: int = 0
    expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def silent_builds(now: dt.datetime) -> QuerySet[ExportRequest]:
    """Running builds with no sign of life (heartbeat, else start) for EXPORT_STALE_AFTER: their
    worker is gone."""
    return ExportRequest.objects.alias(
        last_sign_at=Coalesce("heartbeat_at", "started_at", "created_at")
    ).filter(status=ExportStatus.RUNNING, last_sign_at__lt=now - settings.EXPORT_STALE_AFTER)


def lost_requests(now: dt.datetime) -> QuerySet[ExportRequest]:
    """Requests queued (or queued again) longer than EXPORT_QUEUE_DEADLINE ago and never started:
    their message was lost (a Redis restarted empty)."""
    queued_again_at = Subquery(
        ExportEvent.objects.filter(export=OuterRef("pk"), kind=ExportEventKind.RETRIED)
        .order_by("-at")
        .values("at")[:1]
    )
    return ExportRequest.objects.alias(queued_at=Coalesce(queued_again_at, "created_at")).filter(
        status=ExportStatus.QUEUED, queued_at__lt=now - settings.EXPORT_QUEUE_DEADLINE
    )


def exports_watch(*, now: dt.datetime | None = None) -> WatchOutcome:
    """Queue again, or fail, every build whose worker died and every request whose message was
    lost; delete the files that expired. Each export is handled under its row lock (skipped if
    another watcher or a build holds it), so two watchers never act twice."""
    now = now or timezone.now()
    outcome = WatchOutcome()
    for export_id in silent_builds(now).values_list("pk", flat=True):
        _watch_one(export_id, silent_builds(now), _restart_silent_build, outcome)
    for export_id in lost_requests(now).values_list("pk", flat=True):
        _watch_one(export_id, lost_requests(now), _requeue_lost_request, outcome)
    outcome.expired = exports_expire(now=now)
    if outcome.requeued or outcome.failed or outcome.expired:
        logger.info("export watch: %s", outcome.as_dict())
    return outcome


def _watch_one(
    export_id: int,
    still: QuerySet[ExportRequest],
    act: Callable[[ExportRequest], bool],
    outcome: WatchOutcome,
) -> None:
    """`act` on the export (True: queued again, False: failed) if it is `still` in need, under
    its row lock."""
    with transaction.atomic():
        export = (
            still.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(pk=export_id)
            .first()
        )
        if export is None:
            return
        if act(export):
            outcome.requeued += 1
        else:
            outcome.failed += 1


def _restart_silent_build(export: ExportRequest) -> bool:
    """A build whose worker died: queued again while attempts remain; else failed."""
    if export.requested_by_id is None:  # an operator's command: it is not ours to run again
        _fail(
            export,
            while_status=ExportStatus.RUNNING,
            error=OPERATOR_STOPPED,
            details={"reason": "command stopped", "attempts": export.attempts},
        )
        return False
    if export.attempts >= settings.EXPORT_MAX_ATTEMPTS:
        message = WORKER_LOST.format(times=_times(export.attempts))
        _fail(
            export,
            while_status=ExportStatus.RUNNING,
            error=message,
            details={"reason": "worker lost", "attempts": export.attempts},
        )
        return False
    _requeue(export, reason="worker lost")
    return True


def _requeue_lost_request(export: ExportRequest) -> bool:
    """A request whose message was lost: queued again while attempts remain; else failed. Each
    queueing counts (the first, and each RETRIED), so a queue that keeps losing it ends too."""
    queued = 1 + export.events.filter(kind=ExportEventKind.RETRIED).count()
    if export.requested_by_id is None or queued >= settings.EXPORT_MAX_ATTEMPTS:
        message = (
            OPERATOR_STOPPED
            if export.requested_by_id is None
            else NEVER_STARTED.format(times=_times(queued))
        )
        _fail(
            export,
            while_status=ExportStatus.QUEUED,
            error=message,
            details={"reason": "never started", "queued": queued},
        )
        return False
    _requeue(export, reason="never started")
    return True


def _requeue(export: ExportRequest, *, reason: str) -> None:
    ExportRequest.objects.filter(pk=export.pk).update(
        status=ExportStatus.QUEUED, progress=0, heartbeat_at=None
    )
    _record_retry(export, reason=reason)
    transaction.on_commit(lambda: _send_again(export.pk))


def _send_again(export_id: int) -> None:
    from research.tasks import queue_build  # the task module imports this one

    try:
        queue_build(export_id)
    except OperationalError:  # still queued: the next watch after the deadline tries again
        logger.exception("export %s could not be queued again", export_id)


# --- Expiry ----------------------------------------------------------------------------------


def exports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of requested exports past their `expires_at` and mark them expired, each
    with an EXPIRED event. Only files under EXPORT_ROOT are deleted; operators' exports (no
    requester) never expire. Returns how many expired."""
    now = now or timezone.now()
    due = ExportRequest.objects.filter(
        status=ExportStatus.DONE, requested_by__isnull=False, expires_at__lte=now
    )
    expired = 0
    for export_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            this = due.select_for_update(no_key=True, skip_locked=True).filter(pk=export_id)
            export = this.first()
            if export is None or export.expires_at is None:
                continue
            deleted = _delete_file(export)
            this.update(status=ExportStatus.EXPIRED, file_path="")
            ExportEvent.objects.create(
                export=export,
                kind=ExportEventKind.EXPIRED,
                details={"expires_at": export.expires_at.isoformat(), "file_deleted": deleted},
            )
        expired += 1
    return expired


def _delete_file(export: ExportRequest) -> bool:
    if not export.file_path:
        return False
    root = Path(settings.EXPORT_ROOT).resolve()
    file = export.file.resolve()
    if not file.is_relative_to(root):
        logger.warning("export %s: its file is outside EXPORT_ROOT; left in place", export.pk)
        return False
    file.unlink(missing_ok=True)
    return True


# --- Downloads -------------------------------------------------------------------------------


class ExportExpired(Exception):
    """The export was built, but its download time is over and its file deleted (or due to be)."""

    def __init__(self, export: ExportRequest) -> None:
        on = timezone.localtime(export.expires_at) if export.expires_at else None
        when = f" on {on:%d %b %Y}" if on else ""
        super().__init__(
            f"Export {export.pk} expired{when}: its file is deleted "
            f"{settings.EXPORT_DOWNLOAD_DAYS} days after it is built. Request the export again."
        )


def export_download(*, export: ExportRequest, by: Any) -> Path:
    """The file to send, after checking who asks (their roles now) and recording the download.
    Raises PermissionDenied (not theirs, or no file yet) or ExportExpired."""
    if not can_download(by, export):
        raise PermissionDenied("This export is not yours to download.")
    if export.is_expired:
        raise ExportExpired(export)
    if not export.is_downloadable:
        raise PermissionDenied("This export has no file to download.")
    ExportEvent.objects.create(
        export=export,
        kind=ExportEventKind.DOWNLOADED,
        actor=by,
        details={**export_parameters(export), "rows": export.row_counts},
    )
    return export.file
