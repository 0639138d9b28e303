"""The worklist's filters (django-filter): site among the user's, rule, severity, status, and
whether to show the info notes someone has acknowledged (hidden by default: seen, and no task)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

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

    show_acknowledged_notes = django_filters.BooleanFilter(
        label="Show acknowledged notes",
        widget=forms.CheckboxInput,
        method="filter_nothing",  # it only changes what `qs` hides
    )

    class Meta:
        model = Alert
        fields = ["site", "rule", "severity", "status", "show_acknowledged_notes"]

    def filter_nothing(self, queryset: QuerySet[Alert], name: str, value: bool) -> QuerySet[Alert]:
        return queryset

    def filter_status(self, queryset: QuerySet[Alert], name: str, value: str) -> QuerySet[Alert]:
        return queryset.filter(status=value)

    def _chosen(self, name: str) -> Any:
        """What was chosen, even if another filter was refused (a site no longer the user's)."""
        if not self.is_bound:
            return None
        self.form.is_valid()  # cleans the form: its valid fields are in cleaned_data
        return self.form.cleaned_data.get(name)

    @property
    def unhidden_qs(self) -> QuerySet[Alert]:
        """The alerts the filters select, the acknowledged notes included."""
        queryset = super().qs
        if not self._chosen("status"):
            queryset = queryset.filter(status__in=ACTIONABLE_STATUSES)
        return queryset

    @property
    def hidden(self) -> Q | None:
        """The alerts the worklist hides: acknowledged info notes, unless asked for (by the toggle,
        or by choosing the status "acknowledged")."""
        if self._chosen("status") or self._chosen("show_acknowledged_notes"):
            return None
        return Q(status=AlertStatus.ACKNOWLEDGED, severity=Severity.INFO)

    @property
    def qs(self) -> QuerySet[Alert]:
        hidden = self.hidden
        return self.unhidden_qs if hidden is None else self.unhidden_qs.exclude(hidden)
