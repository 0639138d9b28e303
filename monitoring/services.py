"""People's actions on alerts: each changes the status and writes its AlertEvent, atomically.

Who may do what (GUIDELINE.md, "Who may act on alerts"), by the person's role at the alert's site:
anyone on the site's staff acknowledges; only a clinician dismisses an urgent alert; nobody
resolves by hand a condition the engine checks (it resolves when the data shows it cleared).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.models import (
    ACKNOWLEDGED_PAST_FACT,
    ACTIONABLE_STATUSES,
    PAST_FACT_RULES,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertStatus,
    Severity,
)
from registry import roles


def _transition(alert: Alert, *, to: str, kind: str, by: User, note: str = "") -> Alert:
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


def _site_id(alert: Alert) -> int:
    return alert.course.patient.site_id


def alert_acknowledge(*, alert: Alert, by: User, note: str = "") -> Alert:
    """Seen and being handled: stays on the worklist, marked as acknowledged. A past fact that a
    clinician acknowledges closes (resolved, with that reason)."""
    site_id = _site_id(alert)
    roles.require(
        by, "monitoring.change_alert", site_id, "Your role at this site does not act on alerts."
    )
    if alert.rule in PAST_FACT_RULES and roles.may(by, roles.DISMISS_URGENT_ALERT, site_id):
        reason = f"{ACKNOWLEDGED_PAST_FACT}: {note}" if note else ACKNOWLEDGED_PAST_FACT
        return _transition(
            alert, to=AlertStatus.RESOLVED, kind=AlertEventKind.ACKNOWLEDGED, by=by, note=reason
        )
    return _transition(
        alert, to=AlertStatus.ACKNOWLEDGED, kind=AlertEventKind.ACKNOWLEDGED, by=by, note=note
    )


def alert_dismiss(*, alert: Alert, by: User, reason: str) -> Alert:
    """Not applicable to this patient: never raised again for this key. A reason is required; an
    urgent alert only a clinician of the site may dismiss."""
    site_id = _site_id(alert)
    roles.require(
        by, "monitoring.change_alert", site_id, "Your role at this site does not act on alerts."
    )
    if alert.severity == Severity.URGENT:
        roles.require(
            by,
            roles.DISMISS_URGENT_ALERT,
            site_id,
            "Only a clinician of this site may dismiss an urgent alert; acknowledge it instead.",
        )
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why this alert does not apply."})
    return _transition(
        alert, to=AlertStatus.DISMISSED, kind=AlertEventKind.DISMISSED, by=by, note=reason.strip()
    )
