"""Celery jobs: the nightly fan-out, one chunk, and one course after a change to its data.

Tasks are idempotent (evaluation reconciles), acknowledged late and retried with backoff on
database trouble. A task whose worker process died under it (the OOM killer) runs again
(task_retry_on_worker_lost in the settings), within its max_retries; a chunk that still cannot
finish fails its nightly run, and the morning digest goes out without waiting for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from typing import Any

from celery import chord, shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.utils import timezone

from monitoring import digests, evaluation, watch
from monitoring.models import EvaluationRun, RunStatus

logger = logging.getLogger(__name__)

RETRYING: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 5,
    # After its worker was lost: a fixed, short wait (retry_backoff applies to autoretry only).
    "default_retry_delay": settings.EVALUATION_RETRY_DELAY,
}


def _date(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(name="monitoring.evaluate_nightly", acks_late=True)
def evaluate_nightly(as_of: str | None = None, full: bool = False) -> int:
    """Split the courses due (every course in scope if `full`: the weekly run) into chunks and
    evaluate them in parallel; returns the run id."""
    day = _date(as_of)
    course_ids, skipped = evaluation.courses_to_evaluate(day, full=full)
    chunks = list(evaluation.chunked(course_ids, settings.EVALUATION_CHUNK_SIZE))
    run = EvaluationRun.objects.create(
        kind="nightly", as_of=day, chunks_total=len(chunks), full=full, skipped=skipped
    )
    header = [evaluate_chunk.s(chunk, day.isoformat(), run.pk) for chunk in chunks]
    # A chunk that fails for good (its retries spent) fails the chord: the error callback marks
    # the run failed instead of leaving it "running".
    finish = finish_nightly.si(day.isoformat(), run.pk)
    chord(header)(finish.on_error(fail_nightly.si(day.isoformat(), run.pk)))
    logger.info(
        "nightly evaluation %s (%s): %d courses in %d chunks, %d left alone",
        run.pk,
        "full" if full else "incremental",
        len(course_ids),
        len(chunks),
        skipped,
    )
    return run.pk


@shared_task(name="monitoring.evaluate_chunk", **RETRYING)
def evaluate_chunk(course_ids: list[int], as_of: str, run_id: int | None = None) -> int:
    outcome = evaluation.evaluate_courses(course_ids, _date(as_of))
    if run_id is not None:
        evaluation.record_chunk(run_id, outcome)
    return outcome.findings


@shared_task(name="monitoring.finish_nightly", **RETRYING)
def finish_nightly(as_of: str, run_id: int) -> int:
    """After the last chunk: the alerts of every course that left the scope resolve."""
    resolved = evaluation.resolve_out_of_scope(_date(as_of))
    evaluation.record_chunk(run_id, evaluation.Outcome.left_scope(resolved), chunks=0)
    return evaluation.finish_run(run_id, RunStatus.DONE).pk


@shared_task(name="monitoring.fail_nightly", acks_late=True, ignore_result=True)
def fail_nightly(as_of: str, run_id: int) -> None:
    """The chord's error callback: a chunk (or the last step) failed for good."""
    updated = EvaluationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now()
    )
    if updated:
        logger.error("nightly evaluation %s of %s failed: a chunk could not finish", run_id, as_of)


# ignore_result: nobody reads these results, and with a result store `.delay()` would first
# subscribe to the result's channel there, retrying a dead Redis 20 times a second apart (19 s).
@shared_task(name="monitoring.evaluate_patient", ignore_result=True, **RETRYING)
def evaluate_patient(patient_id: int, actor_id: int | None = None) -> int:
    """Re-evaluate one patient's courses in scope (queued after a change to their record);
    the alert events it writes name `actor_id`, the person whose change caused it."""
    return evaluation.evaluate_patient(patient_id, actor_id).findings


def enqueue_patient_evaluations(patient_ids: list[int], actor_id: int | None = None) -> None:
    """After a committed change: queue one evaluation per patient.

    This runs in the request, so it must not wait for a broker that is down: each publish is tried
    once (retry=False) on a connection that gives up quickly (CELERY_BROKER_*_TIMEOUT in the
    settings). The first failure is logged once and the rest are not tried (they would wait and
    fail the same way); the save stands and the nightly run catches up.
    """
    for done, patient_id in enumerate(patient_ids):
        try:
            evaluate_patient.apply_async((patient_id, actor_id), retry=False)
        except Exception:
            logger.exception(
                "could not enqueue the evaluation of patients %s (actor %s); the nightly run "
                "catches up",
                patient_ids[done:],
                actor_id,
            )
            return


# --- Morning digests -------------------------------------------------------------------------


@shared_task(name="monitoring.send_digests", bind=True, max_retries=24, acks_late=True)
def send_digests(self: Any, day: str | None = None) -> int:
    """Queue one digest per recipient, once today's nightly evaluation has finished.

    Beat starts this at DIGEST_AT; while the nightly run is still going it waits (retries every
    10 minutes) rather than trusting the clock gap. A run that failed, or one not finished after
    four hours, is not waited for: the digests go out with a note, the error is logged and the
    data managers are emailed (once per night, monitoring.watch).
    """
    digest_on = _date(day)
    watch.fail_stale_runs()
    state = watch.nightly_state(digest_on)
    if state == "pending" and self.request.retries < self.max_retries:
        raise self.retry(countdown=600)
    incomplete = state != RunStatus.DONE
    if incomplete:
        reason = (
            "the evaluation failed"
            if state == RunStatus.FAILED
            else "the evaluation had not finished when the morning digest stopped waiting"
        )
        logger.error(
            "sending the %s digests without a finished nightly evaluation: %s", digest_on, reason
        )
        try:
            watch.notify_missed_night(digest_on, reason)
        except Exception:  # the digests still go out; the watch task tries the email again
            logger.exception("could not email the data managers about the night of %s", digest_on)
    user_ids = [user.pk for user in digests.recipients()]
    for user_id in user_ids:
        deliver_digest.delay(user_id, digest_on.isoformat(), incomplete)
    return len(user_ids)


@shared_task(
    name="monitoring.watch_nightly",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=4,
)
def watch_nightly(day: str | None = None) -> int:
    """Beat's morning look (NIGHTLY_WATCH_AT, after the digest's wait): stuck runs are marked
    failed, and if no nightly evaluation finished within NIGHTLY_MAX_AGE the data managers are
    emailed (once per night). Returns how many were emailed."""
    night = _date(day)
    watch.fail_stale_runs()
    if watch.nightly_is_fresh():
        return 0
    failed = watch.nightly_state(night) == RunStatus.FAILED
    reason = "the evaluation failed" if failed else "no evaluation finished"
    return watch.notify_missed_night(night, f"{reason} (none finished within {_hours()} hours)")


def _hours() -> str:
    return f"{settings.NIGHTLY_MAX_AGE.total_seconds() / 3600:g}"


@shared_task(
    name="monitoring.deliver_digest",
    acks_late=True,
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=4,
)
def deliver_digest(user_id: int, day: str, evaluation_incomplete: bool = False) -> str:
    user = get_user_model().objects.get(pk=user_id)
    return digests.deliver(user, _date(day), evaluation_incomplete=evaluation_incomplete)
