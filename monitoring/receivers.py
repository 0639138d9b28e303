"""Re-evaluate a patient's courses once a change to their record has been committed."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from monitoring.tasks import enqueue_patient_evaluation, enqueue_patient_evaluations
from registry.signals import clinical_record_saved, reevaluation_requested

_PENDING = "monitoring_pending_patients"


def _flush() -> None:
    connection = transaction.get_connection()
    patient_ids = connection.__dict__.pop(_PENDING, set())
    for patient_id in sorted(patient_ids):
        enqueue_patient_evaluation(patient_id)


def _flush_registered(connection: Any) -> bool:
    return any(func is _flush for _sids, func, _robust in connection.run_on_commit)


@receiver(clinical_record_saved, dispatch_uid="monitoring.reevaluate_after_save")
def reevaluate_after_save(sender: Any, *, patient_id: int, **kwargs: Any) -> None:
    """One evaluation per patient per transaction, however many of their rows it saved."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        enqueue_patient_evaluation(patient_id)  # autocommit: already committed
        return
    if not _flush_registered(connection):
        # A rolled-back (savepoint of a) transaction drops its callback: forget what it collected.
        connection.__dict__[_PENDING] = set()
        # robust: a failure after commit is logged; it never turns a saved record into an error.
        transaction.on_commit(_flush, robust=True)
    connection.__dict__[_PENDING].add(patient_id)


@receiver(reevaluation_requested, dispatch_uid="monitoring.reevaluate_on_request")
def reevaluate_on_request(
    sender: Any, *, patient_ids: list[int], actor_id: int | None, **kwargs: Any
) -> None:
    """Sent on commit by `registry.reevaluation`: queue the patients' evaluations."""
    enqueue_patient_evaluations(patient_ids, actor_id)
