"""Celery: build one research export, and watch that every export ends (research.services)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from research import services
from research.models import ExportRequest

# A request waits for its publish (services.export_queue): one more try 0.2 s after the first, so
# a broker that refuses answers in a fraction of a second and one that does not answer in about
# two (twice CELERY_BROKER_CONNECT_TIMEOUT), not Celery's default retry.
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0,
    "interval_max": 0.2,
}


# ignore_result: nobody reads it, and with a result store `.delay()` would first subscribe to the
# result's channel there, retrying a dead Redis 20 times a second apart (19 s).
# retry_on_worker_lost off: Celery would retry the build after its default delay (3 minutes) and
# the redelivered message would find the dead build's heartbeat still fresh; the watcher restarts
# it once the heartbeat is stale (reject_on_worker_lost still requeues the message: a copy that
# finds the build silent long enough takes it over, services.export_build).
WATCHED: dict[str, Any] = {"retry_on_worker_lost": False}  # (not in celery-types' stubs)


@shared_task(name="research.build_export", acks_late=True, ignore_result=True, **WATCHED)
def build_export(export_id: int) -> str:
    export = services.export_build(export=ExportRequest.objects.get(pk=export_id))
    return export.status


def queue_build(export_id: int) -> None:
    """Send the build to a worker; raises kombu's OperationalError if the broker does not take
    it within PUBLISH_RETRY_POLICY."""
    build_export.apply_async((export_id,), retry=True, retry_policy=PUBLISH_RETRY_POLICY)


@shared_task(name="research.watch_exports", acks_late=True, ignore_result=True)
def watch_exports() -> dict[str, int]:
    """Beat, every minute: builds whose worker died are queued again or failed, requests whose
    message was lost are queued again, expired files are deleted."""
    return services.exports_watch().as_dict()


@shared_task(name="research.refresh_course_outcomes", ignore_result=True)
def refresh_course_outcomes() -> int:
    """Beat, nightly after the evaluation: every course's outcomes for the outcomes page."""
    from django.utils import timezone

    from research import outcome_snapshots

    return outcome_snapshots.refresh(timezone.localdate())
