"""API tokens in the admin: listed and revoked (deleted), never made here (a token is made by its
owner, on the API tokens page, or by `manage.py create_api_token`) and never shown. Tokens belong
to people, not sites: superusers only (no role grants the api app's permissions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from api.models import ApiToken
from api.tokens import token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created", "expiry", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    list_filter = ["created", "expiry"]
    # The digest and the secret's start stay out of the pages: nothing of the secret is shown.
    fields = readonly_fields = ("name", "user", "created", "expiry", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        assert isinstance(request.user, User)  # noqa: S101 - the admin is for signed-in staff
        token_revoke(token=obj, by=request.user, reason="in the admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset.select_related("user"):
            self.delete_model(request, token)
