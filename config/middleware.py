"""Site-wide request and response hardening of the web door (settings: "Hardening")."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

Handler = Callable[[HttpRequest], HttpResponseBase]
NUL = "\x00"


class NoStoreMiddleware:
    """Cache-Control: no-store (with no-cache, must-revalidate, private and an expired Expires) on
    every answer Django gives: pages, fragments, API answers and downloads carry identified data,
    which must not stay in a browser's or a proxy's cache (a shared ward computer's Back button
    included). Static files are answered by whitenoise before this and stay cacheable."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response


def _carries_nul(request: HttpRequest) -> bool:
    """A NUL character in a query or urlencoded form parameter, name or value. A multipart body
    is left to its view: parsing it here would come before the view's own upload handlers (the
    lab import's size limit), and its form fields refuse NUL themselves (Django's
    ProhibitNullCharactersValidator on every CharField)."""
    sources = [request.GET]
    if request.content_type == "application/x-www-form-urlencoded":
        sources.append(request.POST)
    for parameters in sources:
        for name, values in parameters.lists():
            if NUL in name or any(NUL in value for value in values):
                return True
    return False


class RejectNulMiddleware:
    """A query or form parameter with a NUL character gets a 400 page saying so, before any view,
    filter or form sees it: no field of the registry holds one, and PostgreSQL refuses it in text
    (a search for it would fail in the database with a 500). The API answers for itself under
    /api/, in its JSON error format. After authentication, so the page shows the person's menu."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith("/api/") and _carries_nul(request):
            reason = (
                "A search term or form field contains a NUL character (%00), which no field of "
                "the registry accepts. Remove it and try again."
            )
            return render(request, "400.html", {"reason": reason}, status=400)
        return self.get_response(request)
