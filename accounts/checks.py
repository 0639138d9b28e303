"""Refuse to start with a sign-in setting that would silently weaken it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from accounts.policy import SUPERUSER, required_roles
from registry.models import Role


@register()
def sign_in_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    unknown = sorted(required_roles() - {*Role.values, SUPERUSER})
    if unknown:
        errors.append(
            Error(
                f"TWO_FACTOR_REQUIRED_ROLES names unknown roles: {', '.join(unknown)}.",
                hint=f"Use {', '.join([*Role.values, SUPERUSER])} (comma-separated), or nothing.",
                id="accounts.E001",
            )
        )
    idle = settings.IDLE_TIMEOUT
    if not isinstance(idle, dt.timedelta) or idle <= dt.timedelta(0):
        errors.append(Error("IDLE_TIMEOUT must be a positive duration.", id="accounts.E002"))
    return errors
