"""Every admin page is scoped by site, or open to superusers only.

The clinical, monitoring and research admins scope their rows by the user's sites and say so
(`site_scoped = True`). Every other registered admin — people (users, groups), API tokens, digest
settings and deliveries, and any admin a library registers — holds no site of its own to scope by,
so it is made superuser-only here, whatever model permissions a staff user was given: an admin
added without a site scope is closed by default instead of showing every site's rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


def _superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class SuperuserOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _superuser(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]


def close_unscoped_admins(site: admin.AdminSite = admin.site) -> list[str]:
    """Re-register each admin of `site` without `site_scoped` as superuser-only; returns their
    models' labels. Runs once every app's admin module is registered (AppConfig.ready)."""
    closed = []
    for model, model_admin in list(site._registry.items()):
        if getattr(model_admin, "site_scoped", False) or isinstance(model_admin, SuperuserOnly):
            continue
        admin_class = type(model_admin)
        closed_class = type(
            f"SuperuserOnly{admin_class.__name__}", (SuperuserOnly, admin_class), {}
        )
        site.unregister(model)
        site.register(model, closed_class)
        closed.append(model._meta.label_lower)
    return closed
