"""Filters of /api/v1/ lists. Every record a filter may name is scoped to the caller's sites."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.utils import translate_validation
from rest_framework.request import Request

from api import serializers as s
from api.errors import InvalidFilter
from monitoring.models import Alert
from registry.models import LabResult, Patient, Site


class ScopedFilterBackend(filters.DjangoFilterBackend):
    """django-filter, with the records a filter may name scoped to the caller's sites too: another
    site's id is "not a valid choice", as a missing one is (no telling which ids exist). A value
    that does not validate is refused as an invalid filter, not as invalid input to save."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise InvalidFilter(translate_validation(filterset.errors).detail)
        return filterset.qs

    def get_filterset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for field in filterset.form.fields.values():
                choices = getattr(field, "queryset", None)
                if choices is not None and choices.model in s.SITE_PATHS:
                    field.queryset = s.scoped(choices, request.user)
        return filterset


def site_by_code(field_name: str) -> filters.ModelChoiceFilter:
    """A site named by its code, among the caller's sites (ScopedFilterBackend scopes the choices):
    an unknown code or another site's is refused, not answered with an empty list."""
    return filters.ModelChoiceFilter(
        field_name=field_name, to_field_name="code", queryset=Site.objects.all()
    )


class PatientFilter(filters.FilterSet):
    site = site_by_code("site")

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
    site = site_by_code("course__patient__site")
    due_after = filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_on", lookup_expr="lte")

    class Meta:
        model = Alert
        fields = ["site", "rule", "severity", "status", "course"]
