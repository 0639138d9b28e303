"""Who must sign in with a second factor, and what a signed-in session still owes.

A person with a confirmed authenticator always gives its code (or a recovery code) after the
password. A person in a role of TWO_FACTOR_REQUIRED_ROLES at any of their sites, or a superuser when
"superuser" is listed, must set one up before anything else. The admin asks everyone for it
(accounts.admin_site).
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django_otp.plugins.otp_totp.models import TOTPDevice

SUPERUSER = "superuser"  # not a registry role: Django's flag, named in TWO_FACTOR_REQUIRED_ROLES


class Step(enum.Enum):
    """What a password-only session must do before it may open anything else."""

    VERIFY = "verify"  # give the code of the confirmed authenticator
    ENROL = "enrol"  # set an authenticator up (the role requires one)


def required_roles() -> frozenset[str]:
    return frozenset(role for role in settings.TWO_FACTOR_REQUIRED_ROLES if role)


def must_use_second_factor(user: User) -> bool:
    roles = required_roles()
    if user.is_superuser and SUPERUSER in roles:
        return True
    registry_roles = roles - {SUPERUSER}
    return bool(registry_roles) and user.memberships.filter(role__in=registry_roles).exists()


def has_second_factor(user: User | AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def is_verified(user: User | AnonymousUser | AbstractBaseUser) -> bool:
    """Whether this request's session passed a second factor (django-otp's OTPMiddleware)."""
    check = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and check is not None and check())


def step_owed(user: User) -> Step | None:
    """For a signed-in session that has not passed a second factor: what it must do first."""
    if has_second_factor(user):
        return Step.VERIFY
    if must_use_second_factor(user):
        return Step.ENROL
    return None
