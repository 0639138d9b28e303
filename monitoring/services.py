"""People's actions on alerts: each changes the status and writes its AlertEvent, atomically."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.models import ACTIONABLE_STATUSES, Alert, AlertEvent, AlertEventKind, AlertStatus


def _transition(alert: Alert, *, to: str, kind: str, by: Any, note: str = "") -> Alert:
    with transaction.atomic():
        # Re-read under a lock: two people acting at once see each other's action.
        current = Alert.objects.select_for_update().get(pk=alert.pk)
        if current.status not in ACTIONABLE_STATUSES:
            raise ValidationError(
                {"status": f"This alert is already {current.get_status_display().lower()}."}
            )
        if current.status == to:
            raise ValidationError({"status": f"This alert is already {to}."})
        now = timezone.now()
        AlertEvent.objects.create(
            alert=current,
            at=now,
            kind=kind,
            from_status=current.status,
            to_status=to,
            actor=by,
            note=note,
        )
        current.status = to
        fields = ["status"]
        if to == AlertStatus.RESOLVED:
            current.resolved_at = now
            fields.append("resolved_at")
        if to in (AlertStatus.RESOLVED, AlertStatus.DISMISSED):
            current.resolution_reason = note  # why it was closed, shown with the alert
            fields.append("resolution_reason")
        current.save(update_fields=fields)
    return current


def alert_acknowledge(*, alert: Alert, by: Any, note: str = "") -> Alert:
    """Seen and being handled: stays on the worklist, marked as acknowledged."""
    return _transition(
        alert, to=AlertStatus.ACKNOWLEDGED, kind=AlertEventKind.ACKNOWLEDGED, by=by, note=note
    )


def alert_resolve(*, alert: Alert, by: Any, note: str = "") -> Alert:
    """Dealt with. If the data still show the problem, the next evaluation raises it again."""
    return _transition(
        alert,
        to=AlertStatus.RESOLVED,
        kind=AlertEventKind.RESOLVED,
        by=by,
        note=note or "resolved by a clinician",
    )


def alert_dismiss(*, alert: Alert, by: Any, reason: str) -> Alert:
    """Not applicable to this patient: never raised again for this key. A reason is required."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why this alert does not apply."})
    return _transition(
        alert, to=AlertStatus.DISMISSED, kind=AlertEventKind.DISMISSED, by=by, note=reason.strip()
    )
