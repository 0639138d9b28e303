"""Sign-in events, written at once (one row each): signed in, signed out, failed, locked out.

API token requests are not sign-ins (each of their reads is logged anyway). django-axes (the
lockout, accounts/) sends `axes.signals.user_locked_out` when it locks an account or an address.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import AccessKind
from audit.recording import entry_for


def _sites_of(user: Any) -> list[int]:
    """The person's sites now: a data manager of one of them sees the event."""
    if user is None or not getattr(user, "pk", None):
        return []
    return list(user.memberships.values_list("site_id", flat=True))


def _known_user(username: str) -> Any:
    """The account a typed username names, if any (its sites scope the event)."""
    if not username:
        return None
    model = get_user_model()
    return model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()


@receiver(user_logged_in, dispatch_uid="audit_sign_in")
def record_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    entry_for(request, kind=AccessKind.SIGN_IN, user=user, site_ids=_sites_of(user)).save()


@receiver(user_logged_out, dispatch_uid="audit_sign_out")
def record_sign_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # `user` is None when nobody was signed in (a sign-out link followed twice): nothing happened.
    if user is None:
        return
    entry_for(request, kind=AccessKind.SIGN_OUT, user=user, site_ids=_sites_of(user)).save()


@receiver(user_login_failed, dispatch_uid="audit_sign_in_failed")
def record_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already blanked the password in `credentials`; only the username is kept.
    username = str(credentials.get("username") or "")
    entry_for(
        request,
        kind=AccessKind.SIGN_IN_FAILED,
        username=username,
        site_ids=_sites_of(_known_user(username)),
    ).save()


@receiver(user_locked_out)
def record_lockout(
    sender: Any = None,
    request: HttpRequest | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    """Receiver for `axes.signals.user_locked_out` (sender, request, username, ip_address)."""
    entry = entry_for(
        request,
        kind=AccessKind.LOCKED_OUT,
        username=username or "",
        site_ids=_sites_of(_known_user(username or "")),
    )
    if request is None and ip_address:
        entry.ip_address = ip_address
    entry.save()
