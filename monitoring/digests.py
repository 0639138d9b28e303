"""The morning digest: who gets which alerts by email, and sending each exactly once.

A delivery row per person per day is claimed with a conditional UPDATE before anything is sent
(the healthchecks pattern), so two runs, or two workers, never send the same digest twice; a send
that fails leaves the row `failed`, and the next run claims it again. Emails carry registry codes
only: no names, MRNs or dates of birth.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitoring.guideline import Severity as EngineSeverity
from monitoring.models import (
    ACTIONABLE_STATUSES,
    Alert,
    DeliveryStatus,
    DigestDelivery,
    NotificationPreference,
    Severity,
)
from registry.models import STAFF_ROLES

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "monitoring.digest.unsubscribe"
# A claim older than this was left by a worker that died mid-send: it may be claimed again.
STALE_CLAIM = dt.timedelta(minutes=30)
SEVERITY_RANK = {s.value: EngineSeverity(s.value).rank for s in Severity}


@dataclass(frozen=True)
class DigestLine:
    registry_code: str
    site_code: str
    title: str
    severity: str
    due_on: dt.date | None
    days_overdue: int
    url: str
    new: bool


@dataclass(frozen=True)
class SiteGroup:
    site_code: str
    lines: list[DigestLine]


@dataclass(frozen=True)
class SeverityGroup:
    severity: str
    label: str
    sites: list[SiteGroup]

    @property
    def count(self) -> int:
        return sum(len(site.lines) for site in self.sites)


@dataclass
class Digest:
    user: Any
    day: dt.date
    new: list[SeverityGroup] = field(default_factory=list)
    still_open: list[SeverityGroup] = field(default_factory=list)
    preferences_url: str = ""
    unsubscribe_url: str = ""
    # The night's evaluation failed or did not finish: the alerts are as the last one left them.
    evaluation_incomplete: bool = False

    @property
    def new_count(self) -> int:
        return sum(group.count for group in self.new)

    @property
    def count(self) -> int:
        return self.new_count + sum(group.count for group in self.still_open)

    @property
    def urgent_count(self) -> int:
        return sum(g.count for g in self.new + self.still_open if g.severity == Severity.URGENT)

    @property
    def is_empty(self) -> bool:
        return self.count == 0


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(user: Any) -> str:
    return signing.dumps({"user": user.pk}, salt=UNSUBSCRIBE_SALT)


def user_from_unsubscribe_token(token: str) -> Any | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=dt.timedelta(days=60))
    except signing.BadSignature:
        return None
    return get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()


def preference_of(user: Any) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.get_or_create(user=user)
    return preference


def digest_site_ids(user: Any, preference: NotificationPreference) -> set[int]:
    """The user's staff sites, narrowed to the ones they chose (none chosen: all)."""
    mine = set(user.memberships.filter(role__in=STAFF_ROLES).values_list("site_id", flat=True))
    chosen = set(preference.sites.values_list("pk", flat=True))
    return mine & chosen if chosen else mine


def recipients() -> Iterable[Any]:
    """Active staff with the digest on (no preference saved yet means on) and an email address."""
    return (
        get_user_model()
        .objects.filter(is_active=True, memberships__role__in=STAFF_ROLES)
        .exclude(email="")
        .exclude(notification_preference__digest_enabled=False)
        .distinct()
        .order_by("pk")
    )


def _groups(lines: list[DigestLine]) -> list[SeverityGroup]:
    lines = sorted(
        lines,
        key=lambda line: (SEVERITY_RANK[line.severity], line.site_code, line.due_on or dt.date.max),
    )
    groups = []
    for severity, in_severity in groupby(lines, key=lambda line: line.severity):
        sites = [
            SiteGroup(site_code, list(in_site))
            for site_code, in_site in groupby(in_severity, key=lambda line: line.site_code)
        ]
        groups.append(SeverityGroup(severity, Severity(severity).label, sites))
    return groups


def build_digest(user: Any, day: dt.date, *, evaluation_incomplete: bool = False) -> Digest:
    preference = preference_of(user)
    minimum = SEVERITY_RANK[preference.minimum_severity]
    wanted = [s for s, rank in SEVERITY_RANK.items() if rank <= minimum]
    alerts = (
        Alert.objects.filter(
            course__patient__site_id__in=digest_site_ids(user, preference),
            status__in=ACTIONABLE_STATUSES,
            severity__in=wanted,
        )
        .select_related("course__patient__site")
        .order_by("due_on", "pk")
    )
    last_sent = (
        DigestDelivery.objects.filter(user=user, status=DeliveryStatus.SENT, digest_on__lt=day)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    lines = [
        DigestLine(
            registry_code=alert.course.patient.registry_code,
            site_code=alert.course.patient.site.code,
            title=alert.title,
            severity=alert.severity,
            due_on=alert.due_on,
            days_overdue=max((day - alert.due_on).days, 0) if alert.due_on else 0,
            url=absolute(reverse("clinic:patient", args=[alert.course.patient_id])),
            new=last_sent is None or alert.first_raised_at > last_sent,
        )
        for alert in alerts
    ]
    return Digest(
        user=user,
        day=day,
        new=_groups([line for line in lines if line.new]),
        still_open=_groups([line for line in lines if not line.new]),
        preferences_url=absolute(reverse("clinic:notification_settings")),
        unsubscribe_url=absolute(reverse("clinic:unsubscribe", args=[unsubscribe_token(user)])),
        evaluation_incomplete=evaluation_incomplete,
    )


def render_email(digest: Digest) -> EmailMultiAlternatives:
    context = {"digest": digest}
    counts = f"{digest.count} alert{'s' if digest.count != 1 else ''}"
    if digest.urgent_count:
        counts = f"{digest.urgent_count} urgent, {counts}"
    subject = f"CRMO registry digest {digest.day:%d %b %Y}: {counts}, {digest.new_count} new"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/digest.txt", context),
        to=[digest.user.email],
        headers={
            "List-Unsubscribe": f"<{digest.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(render_to_string("emails/digest.html", context), "text/html")
    return message


def claim(user: Any, day: dt.date) -> DigestDelivery | None:
    """Take this person's digest of `day` for sending; None if it is sent or someone has it."""
    delivery, _created = DigestDelivery.objects.get_or_create(user=user, digest_on=day)
    now = timezone.now()
    claimable = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]) | Q(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM
    )
    taken = DigestDelivery.objects.filter(claimable, pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not taken:
        return None
    delivery.refresh_from_db()
    return delivery


def deliver(user: Any, day: dt.date, *, evaluation_incomplete: bool = False) -> str:
    """Build and send one person's digest of `day`, once. Returns the delivery's status.

    A failed send is recorded and re-raised, for the caller to retry.
    """
    delivery = claim(user, day)
    if delivery is None:
        return "already claimed"
    digest = build_digest(user, day, evaluation_incomplete=evaluation_incomplete)
    fields = {"alerts": digest.count, "new_alerts": digest.new_count}
    if digest.is_empty:
        DigestDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.NOTHING, **fields
        )
        return DeliveryStatus.NOTHING
    try:
        render_email(digest).send(fail_silently=False)
    except Exception as error:
        DigestDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, last_error=f"{type(error).__name__}: {error}", **fields
        )
        logger.warning("digest %s for user %s failed: %s", day, user.pk, type(error).__name__)
        raise
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", **fields
    )
    return DeliveryStatus.SENT
