"""One clinical action asks for one re-evaluation of each patient it changed, after commit.

A service runs its writes inside `one_reevaluation()` and names the patients it changed with
`patient_changed()`. The outermost block of a thread collects them and, when it exits without an
error, registers a single `transaction.on_commit` that sends `reevaluation_requested`. A service
that calls another (retreatment starts a course), a door that calls several services in one
request (the admin's page with its inlines) or an import of many rows therefore asks once. With
`ATOMIC_REQUESTS` the callback waits for the request's commit; a rolled-back transaction drops it,
as Django drops every on_commit callback of a rolled-back block.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from registry.models import RecordVersion
from registry.signals import reevaluation_requested


@dataclass
class _Pending:
    patient_ids: set[int] = field(default_factory=set)
    actor_id: int | None = None


_pending: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar(
    "registry_reevaluation_pending", default=None
)


@contextmanager
def one_reevaluation() -> Iterator[None]:
    """Collect the patients changed inside; ask once for all of them, on commit."""
    if _pending.get() is not None:  # nested: the outermost block asks
        yield
        return
    pending = _Pending()
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if pending.patient_ids:  # reached only when the block did not raise
        # robust: a failure after commit is logged by Django; it never undoes a saved record.
        transaction.on_commit(
            partial(_send, sorted(pending.patient_ids), pending.actor_id), robust=True
        )


def patient_changed(patient_id: int, *, actor_id: int | None) -> None:
    """Note that this patient's record changed in the current action, and bump its version in
    the action's transaction (every call: a savepoint rolled back may have undone an earlier
    bump, and one UPDATE of one row costs little beside the write it follows)."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("patient_changed() outside one_reevaluation(): use a service")
    pending.patient_ids.add(patient_id)
    pending.actor_id = pending.actor_id or actor_id
    _bump(patient_id)


def _bump(patient_id: int) -> None:
    now = timezone.now()
    versions = RecordVersion.objects.filter(patient_id=patient_id)
    if versions.update(version=F("version") + 1, changed_at=now):
        return
    try:
        with transaction.atomic():  # the patient's first action since versions came
            RecordVersion.objects.create(patient_id=patient_id, version=1, changed_at=now)
    except IntegrityError:  # another action created it meanwhile: bump that row
        versions.update(version=F("version") + 1, changed_at=now)


def _send(patient_ids: list[int], actor_id: int | None) -> None:
    reevaluation_requested.send(sender=None, patient_ids=patient_ids, actor_id=actor_id)
