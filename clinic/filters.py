"""The worklist's filters (django-filter): site among the user's, rule, severity, status."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from monitoring.models import ACTIONABLE_STATUSES, RULE_CHOICES, Alert, AlertStatus, Severity
from registry.models import Site
from registry.selectors import sites_for


def _users_sites(request: Any) -> QuerySet[Site]:
    return sites_for(request.user) if request else Site.objects.none()


class AlertFilter(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(
        field_name="course__patient__site",
        label="Site",
        queryset=_users_sites,
        to_field_name="code",
        empty_label="All my sites",
    )
    rule = django_filters.ChoiceFilter(choices=RULE_CHOICES, empty_label="Any rule", label="Rule")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    status = django_filters.ChoiceFilter(
        choices=AlertStatus.choices,
        empty_label="Open and acknowledged",
        method="filter_status",
    )

    class Meta:
        model = Alert
        fields = ["site", "rule", "severity", "status"]

    def filter_status(self, queryset: QuerySet[Alert], name: str, value: str) -> QuerySet[Alert]:
        return queryset.filter(status=value)

    @property
    def qs(self) -> QuerySet[Alert]:
        queryset = super().qs
        # The status chosen, even if another filter was refused (a site no longer the user's).
        chosen = self.form.cleaned_data.get("status") if self.is_bound else None
        if not chosen:
            queryset = queryset.filter(status__in=ACTIONABLE_STATUSES)
        return queryset
