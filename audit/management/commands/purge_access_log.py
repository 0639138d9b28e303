"""Purge the access log rows that are past retention (AUDIT_RETENTION_YEARS). Not scheduled: run
it when the organisation's records policy says so."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from audit.models import AccessLogEntry
from audit.retention import access_log_purge, retention_cutoff


class Command(BaseCommand):
    help = "Delete access log rows older than AUDIT_RETENTION_YEARS (the only deletion allowed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the rows past retention; delete none."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = retention_cutoff(timezone.now())
        if options["dry_run"]:
            count = AccessLogEntry.objects.filter(at__lt=cutoff).count()
            self.stdout.write(f"{count} access log rows are older than {cutoff:%Y-%m-%d}.")
            return
        count = access_log_purge(before=cutoff)
        self.stdout.write(f"Purged {count} access log rows older than {cutoff:%Y-%m-%d}.")
