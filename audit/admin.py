"""The access log in the admin (read-only, for superusers: data managers use the clinic's access
log page, scoped to their sites), and the mixin that records the admin's reads of patient data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from audit.models import AccessKind, AccessLogEntry
from audit.recording import PatientRef, record_read


class AuditedAdminMixin:
    """Records which patients the admin's list, record and history pages show.

    `audit_patient_prefix()` is the ORM prefix from the model to its patient ("" when the model
    is the patient, "course__patient__" for an infusion; None: no patient); `audit_kind`
    replaces the page's own kind (the pseudonym mapping's views).
    """

    audit_kind: str | None = None

    def audit_patient_prefix(self) -> str | None:
        raise NotImplementedError

    def _audit(self, request: HttpRequest, kind: str, pks: list[Any]) -> None:
        prefix = self.audit_patient_prefix()
        if prefix is None:
            return
        model: type[Model] = self.model  # type: ignore[attr-defined]
        refs = model._default_manager.filter(pk__in=pks).values_list(
            f"{prefix}pk", f"{prefix}site_id"
        )
        record_read(
            request, kind=self.audit_kind or kind, patients=[PatientRef(*ref) for ref in refs]
        )

    def _in_scope(self, request: HttpRequest, object_id: str) -> Any:
        return self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            self._audit(request, AccessKind.ADMIN_LIST, [row.pk for row in changelist.result_list])
        return response

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().changeform_view(  # type: ignore[misc]
            request, object_id, form_url, extra_context
        )
        # A record shown (a GET, or a POST refused with its form): not a redirect away from it.
        if object_id and response.status_code == 200 and self._in_scope(request, object_id):
            self._audit(request, AccessKind.ADMIN_CHANGE, [unquote(object_id)])
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        if response.status_code == 200 and self._in_scope(request, object_id):
            self._audit(request, AccessKind.ADMIN_HISTORY, [unquote(object_id)])
        return response

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """simple-history's page of one past version of the record."""
        response = super().history_form_view(  # type: ignore[misc]
            request, object_id, version_id, extra_context
        )
        if response.status_code == 200 and self._in_scope(request, object_id):
            self._audit(request, AccessKind.ADMIN_HISTORY, [unquote(object_id)])
        return response


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes a row here, superusers included."""

    list_display = ["at", "kind", "username", "ip_address", "method", "path", "status_code"]
    list_filter = ["kind"]
    search_fields = ["username", "path", "url_name"]
    date_hierarchy = "at"
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessLogEntry]:
        return super().get_queryset(request).select_related("user")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        record_read(request, kind=AccessKind.ACCESS_LOG)  # who read the log is logged too
        return super().changelist_view(request, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        record_read(request, kind=AccessKind.ACCESS_LOG)
        return super().changeform_view(request, object_id, form_url, extra_context)
