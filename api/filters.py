"""Filters of /api/v1/ lists. Every record a filter may name is scoped to the caller's sites."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework.request import Request

from api import serializers as s
from monitoring.models import Alert
from registry.models import LabResult, Patient


class ScopedFilterBackend(filters.DjangoFilterBackend):
    """django-filter, with the records a filter may name scoped to the caller's sites too: another
    site's id is "not a valid choice", as a missing one is (no telling which ids exist)."""

    def get_filterset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for field in filterset.form.fields.values():
                choices = getattr(field, "queryset", None)
                if choices is not None and choices.model in s.SITE_PATHS:
                    field.queryset = s.scoped(choices, request.user)
        return filterset


class PatientFilter(filters.FilterSet):
    site = filters.CharFilter(field_name="site__code")

    class Meta:
        model = Patient
        fields = ["site", "registry_code", "mrn", "sex"]


class LabResultFilter(filters.FilterSet):
    collected_after = filters.DateFilter(field_name="collected_on", lookup_expr="gte")
    collected_before = filters.DateFilter(field_name="collected_on", lookup_expr="lte")

    class Meta:
        model = LabResult
        fields = ["patient", "analyte"]


class AlertFilter(filters.FilterSet):
    site = filters.CharFilter(field_name="course__patient__site__code")
    due_after = filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_on", lookup_expr="lte")

    class Meta:
        model = Alert
        fields = ["site", "rule", "severity", "status", "course"]
