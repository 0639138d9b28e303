"""The API's docs page (Swagger UI, from drf-spectacular-sidecar: no CDN) for signed-in people.

The split view serves the page's start-up script as a file of its own (the same URL with
`?script`), so the page has no inline script and works under a strict Content-Security-Policy."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated


class DocsView(SpectacularSwaggerSplitView):
    permission_classes = [IsAuthenticated]
    template_name = "api/swagger_ui.html"  # no inline style either

    def handle_exception(self, exc: Exception) -> Any:
        # A browser without a session goes to the sign-in page and comes back here.
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response: HttpResponseBase = redirect_to_login(self.request.get_full_path())
            return response
        return super().handle_exception(exc)
