"""Authentication backend: Django's, plus the permissions of the user's roles at their sites."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from registry.roles import permissions_for_roles


class MembershipBackend(ModelBackend):
    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        permissions = set(super().get_group_permissions(user_obj, obj))
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return permissions
        roles = set(user_obj.memberships.values_list("role", flat=True))
        return permissions | permissions_for_roles(roles)
