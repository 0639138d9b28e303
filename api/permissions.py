"""Who may call what: clinic staff of some site, with their role's model permission for the
method. Researchers get no identified data from the API (their route is the research export)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from registry.selectors import staff_site_ids

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
        model = permission_model()
        verb = getattr(view, "action_verbs", {}).get(getattr(view, "action", None)) or VERBS.get(
            request.method or "", "change"
        )
        return bool(user.has_perm(f"{model._meta.app_label}.{verb}_{model._meta.model_name}"))
