"""The API's reads in the access log: the patients of the rows a viewset answers.

A detail route's record is recorded when it is looked up (`get_object` checks its permissions:
a read, an update, an action), a list's rows when its page is cut. One query each names the
rows' patients and their sites; the access log middleware writes the row.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from rest_framework.request import Request

from audit.models import AccessKind
from audit.recording import PatientRef, record_read
from registry.selectors import patient_prefix


class AuditedReadsMixin:
    """For a viewset with `model` and `site_path` (api.views.ScopedViewSet)."""

    model: type[Model]
    site_path: str

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        super().check_object_permissions(request, obj)  # type: ignore[misc]
        self._record_read(AccessKind.API_RETRIEVE, [obj.pk])

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)  # type: ignore[misc]
        rows = queryset if page is None else page
        self._record_read(AccessKind.API_LIST, [row.pk for row in rows])
        return page

    def _record_read(self, kind: str, pks: list[Any]) -> None:
        patient = patient_prefix(self.model, self.site_path)
        if patient is None:  # the sites themselves: no patient's data
            return
        refs = self.model._default_manager.filter(pk__in=pks).values_list(
            f"{patient}pk", f"{patient}site_id"
        )
        request = self.request  # type: ignore[attr-defined]
        record_read(request, kind=kind, patients=[PatientRef(*ref) for ref in refs])
