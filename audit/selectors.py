"""Reads of the access log, by ids (the clinic's page resolves people and patients)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AccessLogEntry


def entries_of_sites(site_ids: Collection[int] | None) -> QuerySet[AccessLogEntry]:
    """The rows of these sites (a read of one of their patients, a sign-in event of one of their
    people), newest first; None: every row (a superuser's view)."""
    entries = AccessLogEntry.objects.order_by("-at", "-pk")
    return entries if site_ids is None else entries.filter(site_ids__has_any=list(site_ids))


def filtered(
    entries: QuerySet[AccessLogEntry],
    *,
    username: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    patient_id: int | None = None,
    kind: str = "",
) -> QuerySet[AccessLogEntry]:
    """`since` and `until` are days of the clinic's calendar, both included."""
    if username:
        entries = entries.filter(username__iexact=username)
    if since:
        entries = entries.filter(at__gte=_start_of(since))
    if until:
        entries = entries.filter(at__lt=_start_of(until + dt.timedelta(days=1)))
    if patient_id is not None:
        entries = entries.filter(patient_ids__has_any=[patient_id])
    if kind:
        entries = entries.filter(kind=kind)
    return entries


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
