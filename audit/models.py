"""The access log: one row per request that read identified data, and per sign-in event.

Append-only. The ORM refuses to change or delete a row (`save` of a stored row, `delete`, and the
queryset's `update`/`delete`); on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE from
any client (migration 0002), except the retention purge's DELETE of rows older than the cut-off
it names (`audit.retention`). The app imports no other app: rows name patients and sites by id,
so every app (the clinical record included) can record its reads here.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.fields import IdArrayField


class AccessLogIsAppendOnly(Exception):
    """A change or deletion of an access log row was attempted."""

    def __init__(self, what: str) -> None:
        super().__init__(f"The access log is append-only: {what} refused.")


class AccessKind(models.TextChoices):
    PAGE = "page", "Page"
    FRAGMENT = "fragment", "Page fragment (HTMX)"
    API_RETRIEVE = "api_retrieve", "API: one record"
    API_LIST = "api_list", "API: list"
    ADMIN_LIST = "admin_list", "Admin: list"
    ADMIN_CHANGE = "admin_change", "Admin: record"
    ADMIN_HISTORY = "admin_history", "Admin: history"
    PSEUDONYM_MAPPING = "pseudonym_mapping", "Pseudonym mapping"
    EXPORT_DOWNLOAD = "export_download", "Export download"
    ACCESS_LOG = "access_log", "Access log"
    REFUSED = "refused", "Refused (403/404)"
    SIGN_IN = "sign_in", "Signed in"
    SIGN_OUT = "sign_out", "Signed out"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"


SIGN_IN_KINDS = (
    AccessKind.SIGN_IN,
    AccessKind.SIGN_OUT,
    AccessKind.SIGN_IN_FAILED,
    AccessKind.LOCKED_OUT,
)

USERNAME_MAX = 150  # Django's User.username
PATH_MAX = 500
USER_AGENT_MAX = 300


class AccessLogEntryQuerySet(models.QuerySet["AccessLogEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AccessLogIsAppendOnly("update")

    def delete(self) -> NoReturn:
        raise AccessLogIsAppendOnly("delete")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AccessLogIsAppendOnly("update")


class AccessLogEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=AccessKind.choices)
    # Users are deactivated, never deleted, while their trail is kept (and a deletion would have
    # to change these rows, which the trigger refuses).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: nobody signed in (a failed sign-in).",
    )
    username = models.CharField(
        max_length=USERNAME_MAX,
        blank=True,
        help_text="The username at the time; for a failed sign-in, the one typed (never the "
        "password).",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(
        max_length=PATH_MAX,
        blank=True,
        help_text="Without the query string (a search carries names and MRNs there).",
    )
    url_name = models.CharField(max_length=200, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    patient_ids = IdArrayField(default=list, blank=True, help_text="The patients read.")
    site_ids = IdArrayField(
        default=list,
        blank=True,
        help_text="The sites of those patients; for a sign-in event, the person's sites then. "
        "A data manager sees the rows of their sites.",
    )

    objects = AccessLogEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        indexes = [models.Index(fields=["at"], name="audit_entry_at")]
        # patient_ids and site_ids have GIN indexes on PostgreSQL (migration 0002).
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AccessKind.values), name="audit_entry_kind_valid"
            )
        ]

    def __str__(self) -> str:
        who = self.username or "anonymous"
        return f"{self.get_kind_display()} by {who} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AccessLogIsAppendOnly("update")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AccessLogIsAppendOnly("delete")
