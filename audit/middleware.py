"""One access log row per request that read identified data (or was refused it)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from audit.models import AccessKind
from audit.recording import PENDING_ATTRIBUTE, PendingReads, entry_for

# An authenticated request answered with these, and that read nothing: an attempt, recorded.
REFUSED_STATUSES = frozenset({403, 404})


class AccessLogMiddleware:
    """Writes the request's reads (or its refusal) as one row, after the response is made."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        pending = PendingReads()
        setattr(request, PENDING_ATTRIBUTE, pending)
        response = self.get_response(request)
        if pending.recorded:
            entry_for(
                request,
                kind=pending.kind or "",
                user=pending.user or request.user,
                status_code=response.status_code,
                patient_ids=pending.patient_ids,
                site_ids=pending.site_ids,
            ).save()
        elif (
            response.status_code in REFUSED_STATUSES
            and request.resolver_match is not None
            and request.user.is_authenticated
        ):
            entry_for(
                request,
                kind=AccessKind.REFUSED,
                user=request.user,
                status_code=response.status_code,
            ).save()
        return response
