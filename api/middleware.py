"""What every /api/ response and request gets, whichever view (or none) answers: no caching of
private data, and a 400 for a NUL character in the query string (PostgreSQL text cannot hold one:
`?search=%00` would otherwise reach the database and fail there)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

from api.errors import INVALID_FILTER
from api.parsers import NUL

NUL_IN_QUERY = "Null characters are not allowed."
API_PREFIX = "/api/"


class ApiResponsePolicy:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        refused = {
            key: [NUL_IN_QUERY]
            for key, values in request.GET.lists()
            if NUL in key or any(NUL in value for value in values)
        }
        if refused:
            response: HttpResponse = JsonResponse(
                {"detail": INVALID_FILTER, "errors": refused}, status=400
            )
        else:
            response = self.get_response(request)
        # Identified data: neither the browser nor any proxy on the way keeps a copy.
        patch_cache_control(response, no_store=True)
        return response
