"""Celery jobs: the nightly fan-out, one chunk, and one course after a change to its data.

Tasks are idempotent (evaluation reconciles), acknowledged late (a worker that dies mid-chunk
leaves the message for another) and retried with backoff on database trouble.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from typing import Any

from celery import chord, shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.utils import timezone

from monitoring import digests, evaluation
from monitoring.models import EvaluationRun, RunStatus

logger = logging.getLogger(__name__)

RETRYING: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


def _date(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(name="monitoring.evaluate_nightly", acks_late=True)
def evaluate_nightly(as_of: str | None = None) -> int:
    """Split the courses in scope into chunks and evaluate them in parallel; returns the run id."""
    day = _date(as_of)
    course_ids = list(evaluation.courses_in_scope(day).values_list("pk", flat=True))
    chunks = list(evaluation.chunked(course_ids, settings.EVALUATION_CHUNK_SIZE))
    run = EvaluationRun.objects.create(kind="nightly", as_of=day, chunks_total=len(chunks))
    header = [evaluate_chunk.s(chunk, day.isoformat(), run.pk) for chunk in chunks]
    chord(header)(finish_nightly.si(day.isoformat(), run.pk))
    logger.info(
        "nightly evaluation %s: %d courses in %d chunks", run.pk, len(course_ids), len(chunks)
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
    with transaction.atomic():
        resolved = evaluation.resolve_out_of_scope(_date(as_of))
    evaluation.record_chunk(run_id, evaluation.Outcome(resolved=resolved), chunks=0)
    return evaluation.finish_run(run_id, RunStatus.DONE).pk


@shared_task(name="monitoring.evaluate_patient", **RETRYING)
def evaluate_patient(patient_id: int, actor_id: int | None = None) -> int:
    return evaluation.evaluate_patient(patient_id, actor_id).findings


def enqueue_patient_evaluations(patient_ids: list[int], actor_id: int | None = None) -> None:
    """After a committed change: one evaluation task per patient.

    A broker that is down must not lose, or hold up, the clinical save: the first failure is
    logged once and the rest are not tried (each would wait for the same dead broker); the
    nightly run catches up.
    """
    for patient_id in patient_ids:
        try:
            evaluate_patient.delay(patient_id, actor_id)
        except Exception:
            logger.exception(
                "could not enqueue the evaluation of %d patient(s); the nightly run will catch up",
                len(patient_ids),
            )
            return


# --- Morning digests -------------------------------------------------------------------------


@shared_task(name="monitoring.send_digests", bind=True, max_retries=24, acks_late=True)
def send_digests(self: Any, day: str | None = None) -> int:
    """Queue one digest per recipient, once today's nightly evaluation has finished.

    Beat starts this at DIGEST_AT; if the nightly run is still going it waits (retries every
    10 minutes) rather than trusting the clock gap. After four hours it sends what there is.
    """
    digest_on = _date(day)
    finished = digests.nightly_finished(digest_on)
    if not finished and self.request.retries < self.max_retries:
        raise self.retry(countdown=600)
    if not finished:
        logger.warning("sending the %s digests without a finished nightly evaluation", digest_on)
    user_ids = [user.pk for user in digests.recipients()]
    for user_id in user_ids:
        deliver_digest.delay(user_id, digest_on.isoformat())
    return len(user_ids)


@shared_task(
    name="monitoring.deliver_digest",
    acks_late=True,
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=4,
)
def deliver_digest(user_id: int, day: str) -> str:
    user = get_user_model().objects.get(pk=user_id)
    return digests.deliver(user, _date(day))
