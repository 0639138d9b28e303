"""Site-wide request and response hardening of the web door (settings: "Hardening")."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from api.errors import INVALID_FILTER
from api.parsers import NUL

Handler = Callable[[HttpRequest], HttpResponseBase]
API_PREFIX = "/api/"
NUL_IN_QUERY = "Null characters are not allowed."


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


def _with_nul(parameters: QueryDict) -> list[str]:
    """The names of the parameters whose name or a value holds a NUL character."""
    return [
        name
        for name, values in parameters.lists()
        if NUL in name or any(NUL in value for value in values)
    ]


def _carries_nul(request: HttpRequest) -> bool:
    """A NUL character in a query or urlencoded form parameter, name or value. A multipart body
    is left to its view: parsing it here would come before the view's own upload handlers (the
    lab import's size limit), and its form fields refuse NUL themselves (Django's
    ProhibitNullCharactersValidator on every CharField)."""
    if _with_nul(request.GET):
        return True
    return request.content_type == "application/x-www-form-urlencoded" and bool(
        _with_nul(request.POST)
    )


class RejectNulMiddleware:
    """A query or form parameter with a NUL character gets a 400 saying so, before any view,
    filter or form sees it: no field of the registry holds one, and PostgreSQL refuses it in text
    (a search for it would fail in the database with a 500). Under /api/ the answer is the API's
    filter-error JSON, for the query string (the API's parsers refuse NUL in bodies, api/parsers);
    elsewhere a page, after authentication so that it shows the person's menu."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(API_PREFIX):
            refused = _with_nul(request.GET)
            if refused:
                errors = {name: [NUL_IN_QUERY] for name in refused}
                return JsonResponse({"detail": INVALID_FILTER, "errors": errors}, status=400)
        elif _carries_nul(request):
            reason = (
                "A search term or form field contains a NUL character (%00), which no field of "
                "the registry accepts. Remove it and try again."
            )
            return render(request, "400.html", {"reason": reason}, status=400)
        return self.get_response(request)
