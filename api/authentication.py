"""Who calls the API: a signed-in session or an API token (django-rest-knox, hashed), and the
throttles at the door: per token user, per anonymous address, and per address for failed tokens.

Throttle counters live in the default cache, Redis when there is one (config/settings.py), so that
every gunicorn worker counts the same requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from redis.exceptions import RedisError
from rest_framework import exceptions, throttling
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request
from rest_framework.settings import api_settings

from api.models import ApiToken

KEYWORD = b"token"
# knox's secret: 32 random bytes as 64 hexadecimal digits. Anything else is refused before the
# database sees it (a NUL byte in a query would be a server error in PostgreSQL).
TOKEN_FORMAT = re.compile(rb"[0-9a-f]{64}")
# The time of a token's last use is written at most this often: not a write on every request.
LAST_USE_RESOLUTION = dt.timedelta(minutes=1)

logger = logging.getLogger(__name__)
Answer = TypeVar("Answer")


def unless_the_cache_is_down(count: Callable[[], Answer], otherwise: Answer) -> Answer:
    """A throttle's count, or `otherwise` (let the request through) when Redis does not answer:
    as a clinical save does not wait for a broker that is down, the API does not stop for its
    counters (the socket timeouts in CACHES bound the wait)."""
    try:
        return count()
    except RedisError as error:
        logger.warning("API throttles not applied: the cache is unavailable (%s)", error)
        return otherwise


class RatesFromSettings:
    """DRF binds the rates to the throttle class when it is imported; these read them per request,
    so a test (or a settings change) takes effect."""

    scope: str | None

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope or "")

    def allow_request(self, request: Any, view: Any) -> bool:
        count = super().allow_request  # type: ignore[misc]
        return unless_the_cache_is_down(lambda: bool(count(request, view)), otherwise=True)


class UserThrottle(RatesFromSettings, throttling.UserRateThrottle):
    """Per signed-in person (a session or any of their tokens), scope "user"."""


class AnonymousThrottle(RatesFromSettings, throttling.AnonRateThrottle):
    """Per address for callers without credentials, scope "anon". Every endpoint needs a
    signed-in user, so DRF would refuse them (401) before its throttles run: the exception
    handler counts those refusals with this (`anonymous_refusal`)."""


class FailedTokenThrottle(RatesFromSettings, throttling.SimpleRateThrottle):
    """Counts failed token authentications per address (scope "failed_token"); past the rate,
    every token from that address is refused (429) unchecked until the oldest failure in the
    window ages out, so guessing cannot go on at the speed of the server."""

    scope = "failed_token"
    num_requests: int  # from the rate, set by SimpleRateThrottle
    duration: int

    def get_cache_key(self, request: Any, view: Any) -> str:
        return str(self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)})

    def _recent_failures(self, request: Request) -> list[float]:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        history: list[float] = self.cache.get(self.key, [])
        return [at for at in history if at > self.now - self.duration]

    def refusal(self, request: Request) -> exceptions.Throttled | None:
        return unless_the_cache_is_down(lambda: self._refusal(request), otherwise=None)

    def record_failure(self, request: Request) -> None:
        unless_the_cache_is_down(lambda: self._record_failure(request), otherwise=None)

    def _refusal(self, request: Request) -> exceptions.Throttled | None:
        if self.rate is None:
            return None
        history = self._recent_failures(request)
        if len(history) < self.num_requests:
            return None
        # Newest first: below the limit again when the num_requests-th newest failure ages out.
        wait = self.duration - (self.now - history[self.num_requests - 1])
        return exceptions.Throttled(wait=max(1, math.ceil(wait)))

    def _record_failure(self, request: Request) -> None:
        if self.rate is None:
            return
        history = self._recent_failures(request)
        self.cache.set(self.key, [self.now, *history], self.duration)


def anonymous_refusal(request: Request, view: Any) -> exceptions.Throttled | None:
    """A 429 for a caller without credentials past the "anon" rate (counting this request)."""
    throttle = AnonymousThrottle()
    if throttle.allow_request(request, view):
        return None
    return exceptions.Throttled(wait=throttle.wait())


class TokenAuthentication(KnoxTokenAuthentication):
    """`Authorization: Token <secret>`: knox's lookup by the secret's start and constant-time
    comparison of the SHA-512 digest, behind the failed-token throttle, recording the last use."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD:
            return None  # no token: a session, or nobody
        failures = FailedTokenThrottle()
        refusal = failures.refusal(request)
        if refusal is not None:
            raise refusal
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            failures.record_failure(request)
            raise

    def authenticate_credentials(self, token: bytes) -> tuple[Any, ApiToken]:
        if not TOKEN_FORMAT.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)

    def validate_user(self, auth_token: ApiToken) -> tuple[Any, ApiToken]:
        user_and_token: tuple[Any, ApiToken] = super().validate_user(auth_token)
        now = timezone.now()
        if auth_token.last_used_at is None or now - auth_token.last_used_at >= LAST_USE_RESOLUTION:
            ApiToken.objects.filter(pk=auth_token.pk).update(last_used_at=now)
            auth_token.last_used_at = now
        return user_and_token


class ApiTokenScheme(KnoxTokenScheme):
    """The schema's name for the token (`Authorization: Token …`), as for knox's own class."""

    target_class = "api.authentication.TokenAuthentication"
