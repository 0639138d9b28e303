"""Logging filters of the project's LOGGING setting."""

from __future__ import annotations

import logging
import re

from django.core.exceptions import PermissionDenied


class OneLineDenials(logging.Filter):
    """django.request logs every PermissionDenied as a warning with its traceback. A refusal is
    an expected answer (a role without the right, an old link), so it becomes one line: the path,
    the user's id and the refusal's reason. No patient identifiers: the reasons are fixed texts and
    paths carry primary keys only."""

    def filter(self, record: logging.LogRecord) -> bool:
        denial = record.exc_info[1] if record.exc_info else None
        if isinstance(denial, PermissionDenied):
            request = getattr(record, "request", None)
            user = getattr(request, "user", None)
            path = getattr(request, "path", "?")
            record.msg = "Forbidden: %s (user %s): %s"
            # Escaped as Django escapes the path it logs: a crafted URL cannot forge log lines.
            record.args = (
                path.encode("unicode_escape").decode("ascii"),
                getattr(user, "pk", None),
                " ".join(str(denial).split()) or "no reason given",
            )
            record.exc_info = None
            record.exc_text = None
        return True


_QUERY_STRING = re.compile(r"\?[^\s\"]*")


def without_query_string(text: str) -> str:
    """`GET /patients/?q=Smith HTTP/1.1` → `GET /patients/ HTTP/1.1`."""
    return _QUERY_STRING.sub("", text)


class NoQueryStrings(logging.Filter):
    """Drops the query string of every URL in a record: searches carry names and MRNs (?q=, ?mrn=)
    and a log line must not. runserver's django.server logs the whole request line
    ('"%s" %s %s', request line first); django.request logs paths, cut here too in case one ever
    carries a query. The message is rendered first, so no argument escapes the cut."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg = without_query_string(message)
            record.args = None
        return True


class QuietReadiness(logging.Filter):
    """A red /health/ is an answer, not a server error: django.request would log every probe's
    503 at ERROR (and error reporting would send each). The view's state is in its response."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return getattr(request, "path_info", None) != "/health/"


class OneLineCheckFailures(logging.Filter):
    """django-health-check logs each failing check with its traceback, at every probe: one line
    with the check and its error is enough (the error texts name services, never patients)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno == logging.WARNING and error is not None:
            record.msg = f"{record.getMessage()}: {error}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True
