"""Alerts in the admin: scoped to the user's sites, with their full event history, and the
acknowledge action going through `monitoring.services` (which checks the role at each alert's
site). No manual resolve: the engine resolves an alert when the data shows it cleared."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from monitoring import services
from monitoring.models import (
    Alert,
    AlertEvent,
    DigestDelivery,
    EvaluationRun,
    NotificationPreference,
    SiteGuideline,
)
from registry.admin import AuditedMixin, ScopedHistoryAdmin, ScopedMixin, SiteFilter


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "from_status", "to_status", "actor", "note")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("monitoring.view_alert")  # an alert's trail goes with it


@admin.register(Alert)
class AlertAdmin(AuditedMixin, ScopedMixin, admin.ModelAdmin):
    site_path = "course__patient__site"
    list_display = ["title", "patient_code", "severity", "status", "due_on", "rule", "last_seen_at"]
    list_filter = ["status", "severity", "rule", ("course__patient__site", SiteFilter)]
    search_fields = ["course__patient__registry_code", "title", "key"]
    date_hierarchy = "due_on"
    list_select_related = ["course__patient"]
    readonly_fields = [
        "course",
        "rule",
        "key",
        "severity",
        "status",
        "title",
        "explanation",
        "evidence",
        "due_on",
        "first_raised_at",
        "last_seen_at",
        "resolved_at",
        "resolution_reason",
        "guideline_version",
    ]
    inlines = [AlertEventInline]
    actions = ["acknowledge"]

    @admin.display(description="patient", ordering="course__patient__registry_code")
    def patient_code(self, alert: Alert) -> str:
        return alert.course.patient.registry_code

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts come from the engine

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _act(self, request: HttpRequest, alerts: QuerySet[Alert], action: Any, done: str) -> None:
        count = 0
        for alert in alerts:
            try:
                action(alert=alert, by=request.user)
                count += 1
            except ValidationError as error:
                self.message_user(
                    request, f"{alert}: {'; '.join(error.messages)}", messages.WARNING
                )
            except PermissionDenied as error:
                self.message_user(request, f"{alert}: {error}", messages.WARNING)
        self.message_user(request, f"{count} alert(s) {done}.")

    @admin.action(description="Acknowledge the selected alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._act(request, queryset, services.alert_acknowledge, "acknowledged")


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "as_of",
        "site",
        "status",
        "chunks_done",
        "chunks_total",
        "courses",
        "findings",
        "opened",
        "resolved",
        "duration_ms",
    ]
    list_filter = ["kind", "status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SiteGuideline)
class SiteGuidelineAdmin(ScopedHistoryAdmin):
    site_path = "site"
    list_display = ["site", "updated_at"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "digest_enabled", "minimum_severity", "updated_at"]
    list_filter = ["digest_enabled", "minimum_severity"]
    search_fields = ["user__username", "user__email"]
    filter_horizontal = ["sites"]


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = ["digest_on", "user", "status", "alerts", "new_alerts", "attempts", "sent_at"]
    list_filter = ["status", "digest_on"]
    search_fields = ["user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
