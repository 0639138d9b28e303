from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.middleware import LAST_ACTIVITY_KEY


@receiver(user_logged_in, dispatch_uid="accounts.session_limits")
def session_limits(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """SESSION_COOKIE_AGE counts from signing in, not from the session's last write (the idle
    timeout writes it once a minute, which would otherwise keep a session alive for ever)."""
    if request is None or not hasattr(request, "session"):
        return
    request.session.set_expiry(dt.timedelta(seconds=settings.SESSION_COOKIE_AGE))
    request.session[LAST_ACTIVITY_KEY] = int(time.time())
