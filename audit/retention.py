"""The access log's retention: rows older than AUDIT_RETENTION_YEARS may be purged, by an
operator's command (`manage.py purge_access_log`), never by the application on its own.

The purge is the one DELETE the PostgreSQL trigger lets through: it names its cut-off in a
transaction-local setting (`audit.purge_before`), and the trigger still refuses the deletion of
any row at or after it, so a purge cannot reach a row the retention period still covers.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AccessLogEntry

PURGE_SETTING = "audit.purge_before"


def retention_cutoff(now: dt.datetime) -> dt.datetime:
    """Rows before this are past retention (a year counted as 365.25 days)."""
    return now - dt.timedelta(days=round(settings.AUDIT_RETENTION_YEARS * 365.25))


def access_log_purge(*, before: dt.datetime) -> int:
    """Delete the rows older than `before`, which must be past retention; the count deleted."""
    cutoff = retention_cutoff(timezone.now())
    if before > cutoff:
        raise ValueError(
            f"Rows after {cutoff:%Y-%m-%d} are within the retention period "
            f"(AUDIT_RETENTION_YEARS={settings.AUDIT_RETENTION_YEARS}): not purged."
        )
    table = connection.ops.quote_name(AccessLogEntry._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, %s, true)", [PURGE_SETTING, before.isoformat()])
        cursor.execute(f"DELETE FROM {table} WHERE at < %s", [before])  # noqa: S608  (our name)
        return cursor.rowcount
