"""Watching the nightly evaluation: is it fresh, which runs are stuck, telling the data managers.

A night whose evaluation did not finish (it failed, or never ran, or is still going hours later)
leaves the alerts as they were the day before. The health endpoint shows it (NIGHTLY_MAX_AGE); the
morning digest and the watch task (monitoring.tasks) email the data managers, once per night. The
email says what happened and what to do; it names no patient.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitoring.models import EvaluationRun, MissedNightNotice, RunStatus
from registry.models import Role

logger = logging.getLogger(__name__)


def last_nightly_finished_at() -> dt.datetime | None:
    """When the latest nightly evaluation that finished well finished (None: never)."""
    return (
        EvaluationRun.objects.filter(kind="nightly", status=RunStatus.DONE)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def nightly_is_fresh(now: dt.datetime | None = None) -> bool:
    """Has a nightly evaluation finished within NIGHTLY_MAX_AGE of `now`?"""
    finished = last_nightly_finished_at()
    now = now or timezone.now()
    return finished is not None and now - finished <= settings.NIGHTLY_MAX_AGE


def nightly_state(day: dt.date) -> str:
    """The nightly evaluation of `day`: "done", "failed" (and none other running) or "pending"
    (running, or not started yet)."""
    statuses = set(
        EvaluationRun.objects.filter(kind="nightly", as_of=day).values_list("status", flat=True)
    )
    if RunStatus.DONE in statuses:
        return RunStatus.DONE
    if statuses == {RunStatus.FAILED}:
        return RunStatus.FAILED
    return "pending"


def fail_stale_runs(now: dt.datetime | None = None) -> list[int]:
    """Mark failed every run still "running" EVALUATION_RUN_DEADLINE after it started: its chunks
    or its last step were lost (a chunk's failure fails its run at once; this catches the rest,
    e.g. a chord whose state was lost with Redis). Returns the ids."""
    now = now or timezone.now()
    stale = list(
        EvaluationRun.objects.filter(
            status=RunStatus.RUNNING, started_at__lt=now - settings.EVALUATION_RUN_DEADLINE
        ).values_list("pk", flat=True)
    )
    if stale:
        EvaluationRun.objects.filter(pk__in=stale, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=now
        )
        logger.error(
            "evaluation runs %s were still running after %s: marked failed",
            stale,
            settings.EVALUATION_RUN_DEADLINE,
        )
    return stale


def data_managers() -> Iterable[Any]:
    """Active data managers (of any site: the nightly run evaluates every site) with an email."""
    return (
        get_user_model()
        .objects.filter(is_active=True, memberships__role=Role.DATA_MANAGER)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def notify_missed_night(night: dt.date, reason: str) -> int:
    """Email the data managers that the evaluation of `night` did not finish, unless they were
    told already. Returns how many were emailed (0: told before, or nobody to tell)."""
    # The notice is claimed and the emails sent in one transaction: a send that fails (SMTP down)
    # leaves no notice, so the next look tries again; a second look meanwhile waits on the row.
    with transaction.atomic():
        try:
            with transaction.atomic():
                notice = MissedNightNotice.objects.create(night=night, reason=reason[:200])
        except IntegrityError:
            return 0  # announced already (by the digest, the watch or another worker)
        people = list(data_managers())
        context = {
            "night": night,
            "reason": reason,
            "health_url": settings.SITE_URL.rstrip("/") + reverse("readiness"),
        }
        subject = f"CRMO registry: the nightly evaluation of {night:%d %b %Y} did not finish"
        body = render_to_string("emails/missed_night.txt", context)
        # One message per person: the recipients do not see each other's addresses.
        messages = [EmailMessage(subject=subject, body=body, to=[p.email]) for p in people]
        sent = (get_connection(fail_silently=False).send_messages(messages) if messages else 0) or 0
        MissedNightNotice.objects.filter(pk=notice.pk).update(recipients=sent)
    logger.error(
        "the nightly evaluation of %s did not finish (%s); %d data managers emailed",
        night,
        reason,
        sent,
    )
    return sent
