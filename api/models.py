"""API tokens: django-rest-knox's hashed token, with a label and the time of its last use.

Only the SHA-512 digest of a token is stored (knox's `digest`, the primary key) and the first 15
characters of the secret (`token_key`) to find the row; the secret itself is shown once, when the
token is made. A revoked token is deleted: nothing is left that could match it. An expired one is
refused, and deleted by knox when another token of the person is used.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from knox.models import AbstractAuthToken, AuthTokenManager

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ApiTokenManager(AuthTokenManager):
    def issue(
        self, *, user: User, name: str, ttl: dt.timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """A new token of `user`, expiring after `ttl` (API_TOKEN_TTL): the row and the secret,
        which is not stored and cannot be shown again."""
        token, secret = self.create(user=user, expiry=ttl or settings.API_TOKEN_TTL, name=name)
        return token, secret


class ApiToken(AbstractAuthToken):
    name = models.CharField(
        max_length=100, help_text="What the token is for, e.g. the lab interface's name."
    )
    # Written at most once a minute per token (api.authentication.LAST_USE_RESOLUTION).
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects: Any = ApiTokenManager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def short_id(self) -> str:
        """A handle for logs and pages: the digest's start (nothing of the secret)."""
        return str(self.digest)[:8]
