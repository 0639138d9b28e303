"""Error reports to a self-hosted Sentry or GlitchTip (sentry-sdk), when SENTRY_DSN is set.

No personal data leaves: the SDK collects none (data_collection all off: no user, cookies, headers,
bodies, query strings or local variables), and `scrub`, before anything is sent, keeps of
a request only its method and path (no query string, body, cookies or headers), drops the user,
the exception messages (a database error quotes the row it refused: "Key (mrn)=(…)"), log
messages' arguments, Celery task arguments and the breadcrumbs' texts and data (SQL, log lines).
What remains is where it broke: exception types, stack frames (file, function, line, code) and
the request's route.
"""

from __future__ import annotations

from typing import Any, cast

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.types import Event, Hint

REDACTED = "[redacted]"
# Request fields kept; url loses its query string below.
REQUEST_KEPT = ("method", "url")


def _without_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


def _scrub_frames(exception: dict[str, Any]) -> None:
    for frame in (exception.get("stacktrace") or {}).get("frames", []):
        frame.pop("vars", None)


def scrub(sentry_event: Event, hint: Hint | None = None) -> Event:
    """before_send (and before_send_transaction): strip anything that could carry personal data."""
    event = cast(dict[str, Any], sentry_event)
    request = event.get("request")
    if isinstance(request, dict):
        kept = {key: request[key] for key in REQUEST_KEPT if key in request}
        if "url" in kept:
            kept["url"] = _without_query(str(kept["url"]))
        event["request"] = kept
    event.pop("user", None)
    event.pop("extra", None)  # Celery's task args and kwargs, logging's `extra`
    for exception in (event.get("exception") or {}).get("values", []):
        if exception.get("value"):
            exception["value"] = REDACTED
        _scrub_frames(exception)
    for thread in (event.get("threads") or {}).get("values", []):
        _scrub_frames(thread)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        # The format string is the code's fixed text; the arguments are data.
        event["logentry"] = {"message": logentry.get("message", ""), "params": []}
        event.pop("message", None)
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict):
        breadcrumbs["values"] = [
            {key: crumb[key] for key in ("timestamp", "level", "category", "type") if key in crumb}
            for crumb in breadcrumbs.get("values", [])
        ]
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        contexts.pop("celery", None)
    return sentry_event


def init_error_reporting(dsn: str, *, environment: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # What the integrations collect, all of it off (sentry-sdk's successor of
        # send_default_pii=False and include_local_variables=False); `scrub` then checks.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "graphql": {"document": False, "variables": False},
            "gen_ai": {"inputs": False, "outputs": False},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        max_request_body_size="never",
        traces_sample_rate=0,  # errors only: no performance traces (they carry URLs and SQL)
        before_send=scrub,
        before_send_transaction=scrub,
    )
    # django-health-check logs each red check: an answer, not an error to report.
    ignore_logger("health_check")
