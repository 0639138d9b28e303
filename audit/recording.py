"""Recording reads: views say which patients they showed; the middleware writes one row at the end
of the request.

A view (or the API's viewsets, or the admin's mixin) calls `record_read(request, kind=…,
patients=…)` where it knows the patients it is about to show; calls add up in the request, and
`AccessLogMiddleware` writes them as one row once the response exists, whatever its status (a
page that failed half-way may still have shown something). The row is written after the view's
transaction (ATOMIC_REQUESTS) ends, so a rolled-back view still leaves its read on record, and a
row that cannot be written fails the request: a read that cannot be audited is not served.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from audit.models import (
    PATH_MAX,
    USER_AGENT_MAX,
    USERNAME_MAX,
    AccessKind,
    AccessLogEntry,
)

PENDING_ATTRIBUTE = "audit_reads"
# Path segments that are secrets, not record ids: recorded as a placeholder.
REDACTED_URL_KWARGS = frozenset({"token"})


class PatientLike(Protocol):
    """A patient as far as the log cares: its id and its site's (a registry Patient is one)."""

    @property
    def pk(self) -> Any: ...

    @property
    def site_id(self) -> Any: ...


class PatientRef(NamedTuple):
    """A patient named by ids, from a `values_list("<patient>_id", "<patient>__site_id")`."""

    pk: int
    site_id: int


@dataclass
class PendingReads:
    """What the request has read so far; written as one row by the middleware."""

    kind: str | None = None
    user: Any = None
    patient_ids: set[int] = field(default_factory=set)
    site_ids: set[int] = field(default_factory=set)

    def add(self, *, kind: str, user: Any, patients: Iterable[PatientLike]) -> None:
        self.kind = self.kind or kind  # the first read names the request's kind
        if self.user is None and getattr(user, "is_authenticated", False):
            self.user = user
        for patient in patients:
            self.patient_ids.add(int(patient.pk))
            self.site_ids.add(int(patient.site_id))

    @property
    def recorded(self) -> bool:
        return self.kind is not None


def record_read(
    request: Any, *, kind: str, patients: Iterable[PatientLike] = (), site_ids: Iterable[int] = ()
) -> None:
    """Note that this request shows these patients (an empty page is a read of no one).

    `request` is Django's request or DRF's (which passes the attribute through to Django's).
    `site_ids` adds sites with no patient named (the access log page of a site).
    """
    pending = getattr(request, PENDING_ATTRIBUTE, None)
    if not isinstance(pending, PendingReads):
        raise ImproperlyConfigured(
            "audit.middleware.AccessLogMiddleware is not in MIDDLEWARE: reads cannot be recorded."
        )
    pending.add(kind=kind, user=request.user, patients=patients)
    pending.site_ids.update(int(pk) for pk in site_ids)


def web_kind(request: HttpRequest) -> str:
    """A page, or a fragment of one that htmx asked for."""
    return AccessKind.FRAGMENT if request.headers.get("HX-Request") == "true" else AccessKind.PAGE


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind AUDIT_TRUSTED_PROXIES proxies, the address the outermost of them saw
    (each proxy appends to X-Forwarded-For, so the entries before it are the client's to forge)."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.AUDIT_TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def recorded_path(request: HttpRequest) -> str:
    """The path without its query string, a secret segment (an unsubscribe token) blanked."""
    path = request.path
    match = request.resolver_match
    if match is not None:
        for name in REDACTED_URL_KWARGS & set(match.kwargs):
            path = path.replace(str(match.kwargs[name]), "…")
    return path[:PATH_MAX]


def _url_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.view_name or "")[:200] if match is not None else ""


def entry_for(
    request: HttpRequest | None,
    *,
    kind: str,
    user: Any = None,
    username: str = "",
    status_code: int | None = None,
    patient_ids: Iterable[int] = (),
    site_ids: Iterable[int] = (),
) -> AccessLogEntry:
    """The row for this request (None: an event outside any request, e.g. a shell's sign-in)."""
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if user is not None and not username:
        username = user.get_username()
    entry = AccessLogEntry(
        kind=kind,
        user=user,
        username=username[:USERNAME_MAX],
        status_code=status_code,
        patient_ids=sorted(set(patient_ids)),
        site_ids=sorted(set(site_ids)),
    )
    if request is not None:
        entry.ip_address = client_address(request)
        entry.user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
        entry.method = request.method or ""
        entry.path = recorded_path(request)
        entry.url_name = _url_name(request)
    return entry
