"""The readiness endpoint, /health/: is the registry able to do its work? (django-health-check)

Checks: the database answers, no migration is unapplied, Redis answers (broker and result store),
a Celery worker answers a ping (in the embedded demo tasks run in-process: "eager", which is
fine), and a nightly evaluation finished within NIGHTLY_MAX_AGE. 200 when all pass, 503 if not.

Anonymous callers (a load balancer, an uptime monitor) get the status code and one word; which
check failed, and why, is for superusers, data managers and a monitor holding HEALTH_CHECK_TOKEN
(as a bearer token: never in the URL, where access logs would keep it). /healthz is the
container's liveness probe and touches nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hmac
from collections.abc import Iterator
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis

from monitoring import watch
from registry.models import Role


def _unapplied_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration in the code is applied to the database (a deploy that skipped `migrate`)."""

    name: ClassVar[str] = "migrations"

    async def run(self) -> None:
        unapplied = await sync_to_async(_unapplied_migrations)()
        if unapplied:
            raise ServiceUnavailable(f"{len(unapplied)} unapplied: {', '.join(unapplied[:5])}")


@dataclasses.dataclass
class NightlyEvaluation(HealthCheck):
    """A nightly evaluation finished within NIGHTLY_MAX_AGE (beat, workers and the run all work)."""

    name: ClassVar[str] = "nightly evaluation"

    async def run(self) -> None:
        finished = await sync_to_async(watch.last_nightly_finished_at)()
        hours = f"{settings.NIGHTLY_MAX_AGE.total_seconds() / 3600:g}"
        if finished is None:
            raise ServiceUnavailable("no nightly evaluation has finished yet")
        if timezone.now() - finished > settings.NIGHTLY_MAX_AGE:
            when = timezone.localtime(finished).strftime("%Y-%m-%d %H:%M")
            raise ServiceUnavailable(f"none finished within {hours} hours (last: {when})")


@dataclasses.dataclass
class CeleryWorkers(Ping):
    """A worker answers a ping, and one consumes the default queue; in the embedded demo (no
    broker) tasks run in the web process and there is no worker to ask."""

    name: ClassVar[str] = "celery workers"

    def run(self) -> None:
        if self.app.conf.task_always_eager:
            return
        super().run()

    def note(self) -> str:
        return "eager (tasks run in the web process)" if self.app.conf.task_always_eager else "ok"


def _redis_client() -> AsyncRedis:
    return AsyncRedis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False
    )


def _checks() -> Iterator[tuple[type[HealthCheck], dict[str, Any]]]:
    yield Database, {}
    yield Migrations, {}
    if settings.REDIS_URL:
        yield Redis, {"client_factory": _redis_client}
    yield CeleryWorkers, {"timeout": settings.HEALTH_CELERY_TIMEOUT, "limit": 1}
    yield NightlyEvaluation, {}


def _label(check: HealthCheck) -> str:
    return getattr(check, "name", "") or type(check).__name__.lower()


def _may_see_details(request: HttpRequest, user: Any) -> bool:
    token = settings.HEALTH_CHECK_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser) or user.memberships.filter(role=Role.DATA_MANAGER).exists()


class ReadinessView(HealthCheckView):
    http_method_names: ClassVar[list[str]] = ["get", "head"]

    def get_checks(self) -> Iterator[HealthCheck]:
        for check, options in _checks():
            yield check(**options)

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.get_executor() as executor:
            results: list[HealthCheckResult] = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        healthy = not any(result.error for result in results)
        status = 200 if healthy else 503
        user = await request.auser()
        if not await sync_to_async(_may_see_details)(request, user):
            response: HttpResponse = HttpResponse(
                "ok" if healthy else "unavailable", status=status, content_type="text/plain"
            )
        else:
            response = JsonResponse(
                {
                    "status": "ok" if healthy else "unavailable",
                    "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "checks": {
                        _label(result.check): {
                            "ok": result.error is None,
                            "detail": str(result.error) if result.error else _note(result.check),
                            "seconds": round(result.time_taken, 3),
                        }
                        for result in results
                    },
                },
                status=status,
            )
        add_never_cache_headers(response)
        return response


def _note(check: HealthCheck) -> str:
    note = getattr(check, "note", None)
    return note() if callable(note) else "ok"


# The checks open their own connections: no request transaction (ATOMIC_REQUESTS) around them.
readiness = transaction.non_atomic_requests(ReadinessView.as_view())
