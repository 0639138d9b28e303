"""Revoking API tokens and ending sessions: on request, on a password change, on "sign out
everywhere". Logs name the person by id and the token by its digest's start, nothing else."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.utils import timezone

from api.models import ApiToken

logger = logging.getLogger("api.tokens")


def token_revoke(*, token: ApiToken, by: User, reason: str) -> None:
    token.delete()
    logger.info(
        "API token %s of user %s revoked by user %s (%s)",
        token.short_id,
        token.user_id,
        by.pk,
        reason,
    )


def tokens_revoke_all(*, user: User, reason: str) -> int:
    revoked, _by_model = ApiToken.objects.filter(user=user).delete()
    if revoked:
        logger.info("%s API token(s) of user %s revoked (%s)", revoked, user.pk, reason)
    return int(revoked)


def sessions_end_all(*, user: User) -> int:
    """Ends every signed-in session of `user` (every browser, this one included).

    Sessions are rows of the database session store, keyed by a random id: the person's id is
    inside the encoded data, so the unexpired sessions are decoded one by one. This runs on a
    click, not per request, and a registry has hundreds of live sessions, not millions. (Changing
    the password ends them too: Django checks each session's hash of the password.)"""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            store(session.session_key).delete()
            ended += 1
    logger.info("%s session(s) of user %s ended (sign out everywhere)", ended, user.pk)
    return ended


def sign_out_everywhere(*, user: User) -> None:
    tokens_revoke_all(user=user, reason="sign out everywhere")
    sessions_end_all(user=user)


# --- A password change, by any door -------------------------------------------------------------
# The UI's password change and reset, the admin, `manage.py changepassword`, a script: every one
# saves the user with a new password hash. Hooked on the save (pre_save compares, post_save
# revokes) rather than on set_password, which a script could bypass by assigning a hash.


def password_before_save(sender: type[User], instance: User, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = stored is not None and _is_new_password(  # type: ignore[attr-defined]
        instance, stored
    )


def _is_new_password(user: User, stored_hash: str) -> bool:
    if user.password == stored_hash:
        return False
    if getattr(user, "_password", None) is not None or not user.has_usable_password():
        return True  # set_password (even to the same password: a new hash) or no password left
    # A new hash without set_password: Django's re-hash at sign-in of a password whose hasher or
    # work factor is out of date is no change; any other (a hash assigned by a script) is one.
    return not _outdated(stored_hash)


def _outdated(encoded: str) -> bool:
    try:
        hasher = identify_hasher(encoded)
    except ValueError:  # no usable password before
        return False
    return hasher.algorithm != get_hasher().algorithm or hasher.must_update(encoded)


def revoke_after_password_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    if getattr(instance, "_password_changed", False):
        instance._password_changed = False  # type: ignore[attr-defined]
        tokens_revoke_all(user=instance, reason="password changed")
