"""Data managers' view of research exports and the locked pseudonym mapping (read-only).

The role permissions (registry.roles) do not name research models, so access is decided here from
memberships: a data manager sees the exports and mappings of their sites; researchers never do.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AccessKind
from registry.admin import AuditedMixin
from registry.models import Site
from research.models import ExportEvent, ExportRequest, PseudonymMapping
from research.selectors import data_manager_site_ids


class DataManagerReadOnlyAdmin(admin.ModelAdmin):
    site_scoped = True  # config.admin_scope makes every admin without this superuser-only
    site_path: str

    def _site_ids(self, request: HttpRequest) -> set[int] | None:
        """None: every site (a superuser)."""
        return None if request.user.is_superuser else data_manager_site_ids(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._site_ids(request) != set()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._site_ids(request) != set()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        site_ids = self._site_ids(request)
        if site_ids is None:
            return rows
        # Every site of the row must be one of the data manager's.
        other_sites = Site.objects.exclude(pk__in=site_ids)
        return rows.exclude(**{f"{self.site_path}__in": other_sites})


class ExportEventInline(admin.TabularInline):
    model = ExportEvent
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "at", "actor", "details")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExportRequest)
class ExportRequestAdmin(DataManagerReadOnlyAdmin):
    site_path = "sites"
    list_display = ("pk", "requested_by", "format", "status", "progress", "created_at")
    list_filter = ("status", "format")
    inlines = (ExportEventInline,)


@admin.register(PseudonymMapping)
class PseudonymMappingAdmin(AuditedMixin, DataManagerReadOnlyAdmin):
    """Which patient each pseudonym stands for: every page of it is in the access log."""

    site_path = "patient__site"
    audit_kind = AccessKind.PSEUDONYM_MAPPING
    list_display = ("pseudonym", "export", "patient")
    search_fields = ("pseudonym",)
    list_select_related = ("export", "patient")
