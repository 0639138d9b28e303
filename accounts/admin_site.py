"""The Django admin, asking for the second factor: it edits every record of a site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.policy import has_second_factor, is_verified


class SecondFactorAdminSite(admin.AdminSite):
    """Django's OTPAdminSite asks for the code on the admin's login form, which a person without an
    authenticator cannot fill in; this one sends a signed-in person to the registry's own steps
    (the code, or setting an authenticator up) and back."""

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and is_verified(request.user)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not is_verified(user):
            next_path = request.GET.get("next") or reverse("admin:index", current_app=self.name)
            if has_second_factor(user):
                step = reverse("accounts:verify")
            else:
                messages.info(
                    request,
                    "The admin asks for two-factor sign-in: set up an authenticator app first.",
                )
                step = reverse("accounts:two_factor")
            return HttpResponseRedirect(f"{step}?{urlencode({'next': next_path})}")
        return super().login(request, extra_context)
