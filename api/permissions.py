"""Who may call what: clinic staff of some site, with their role's model permission for the
method — and, for a record, their role **at the record's site** (a nurse at north who is a
clinician at south is a nurse for north's records). The services check the same again, and a new
record's site. Researchers get no identified data from the API (their route is the research
export)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from monitoring.models import Alert
from registry import roles
from registry.models import ClinicalRecord
from registry.selectors import staff_site_ids
from registry.services import site_id_of

VERBS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
}


class RolePermissions(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not staff_site_ids(user):
            return False
        if not hasattr(view, (request.method or "").lower()):
            return True  # a method the endpoint does not offer: 405 for everyone, not 403
        permission_model = getattr(view, "permission_model", None)
        if permission_model is None:
            return True  # the API root: links only, no record
        return bool(user.has_perm(_permission(request, view)))

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True  # the queryset holds only the caller's sites' rows
        if isinstance(obj, ClinicalRecord):
            site_id = site_id_of(obj)
        elif isinstance(obj, Alert):
            site_id = obj.course.patient.site_id
        else:
            return True
        return roles.may(request.user, _permission(request, view), site_id)


def _permission(request: Request, view: Any) -> str:
    model = view.permission_model()
    verb = getattr(view, "action_verbs", {}).get(getattr(view, "action", None)) or VERBS.get(
        request.method or "", "change"
    )
    return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"
