"""Alerts in the admin: scoped to the user's sites, with their full event history, and the
acknowledge action going through `monitoring.services` (which checks the role at each alert's
site). No manual resolve: the engine resolves an alert when the data shows it cleared."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, Q, QuerySet, When
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
from registry.selectors import staff_site_ids


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


# Figures of a run: for a run of every site (the nightly one) they add up other sites' courses and
# alerts, so only a superuser sees them there.
_RUN_FIGURES = ("courses", "findings", "opened", "refreshed", "resolved")


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    """Runs of the user's sites, and the runs of every site (the nightly one, whose site is
    empty) so that a data manager sees whether last night's evaluation ran and finished; but the
    figures of an every-site run only for a superuser (a data manager's own figures would need a
    breakdown per site, which a run does not keep)."""

    site_scoped = True  # config.admin_scope: not made superuser-only
    list_display = [
        "started_at",
        "kind",
        "as_of",
        "site",
        "status",
        "chunks_done",
        "chunks_total",
        *(f"{name}_shown" for name in _RUN_FIGURES),
        "duration_ms",
    ]
    list_filter = ["kind", "status"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EvaluationRun]:
        runs = super().get_queryset(request).select_related("site")
        if request.user.is_superuser:
            return runs.annotate(**{f"{name}_shown": F(name) for name in _RUN_FIGURES})
        hidden = {
            f"{name}_shown": Case(When(site__isnull=True, then=None), default=F(name))
            for name in _RUN_FIGURES
        }
        scoped = runs.filter(Q(site__isnull=True) | Q(site__in=staff_site_ids(request.user)))
        return scoped.annotate(**hidden)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        if obj is not None and obj.site_id is None and not request.user.is_superuser:
            return [name for name in fields if name not in _RUN_FIGURES]
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # The figures as get_queryset annotated them: empty (shown as "-") where they are not shown.
    @admin.display(description="courses", ordering="courses_shown")
    def courses_shown(self, run: EvaluationRun) -> int | None:
        return run.courses_shown  # type: ignore[attr-defined]

    @admin.display(description="findings", ordering="findings_shown")
    def findings_shown(self, run: EvaluationRun) -> int | None:
        return run.findings_shown  # type: ignore[attr-defined]

    @admin.display(description="opened", ordering="opened_shown")
    def opened_shown(self, run: EvaluationRun) -> int | None:
        return run.opened_shown  # type: ignore[attr-defined]

    @admin.display(description="refreshed", ordering="refreshed_shown")
    def refreshed_shown(self, run: EvaluationRun) -> int | None:
        return run.refreshed_shown  # type: ignore[attr-defined]

    @admin.display(description="resolved", ordering="resolved_shown")
    def resolved_shown(self, run: EvaluationRun) -> int | None:
        return run.resolved_shown  # type: ignore[attr-defined]


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
