"""Send today's morning digests now (operators), or show them without sending (--dry-run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from monitoring import digests
from monitoring.management.dates import iso_date


class Command(BaseCommand):
    help = "Send the morning alert digest to every staff member who has it on (once per day)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=iso_date("--date"), help="digest date (default: today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the digests; send and record nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = options["date"] or timezone.localdate()
        outcomes: dict[str, int] = {}
        for user in digests.recipients():
            if options["dry_run"]:
                digest = digests.build_digest(user, day)
                status = "nothing" if digest.is_empty else "would send"
                if not digest.is_empty:
                    message = digests.render_email(digest)
                    self.stdout.write(f"--- To: {user.email}\nSubject: {message.subject}\n")
                    self.stdout.write(str(message.body))
            else:
                try:
                    status = digests.deliver(user, day)
                except Exception as error:
                    status = "failed"
                    self.stderr.write(f"digest for {user.get_username()} failed: {error}")
            outcomes[status] = outcomes.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
        prefix = "Dry run: " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}digests of {day:%Y-%m-%d}: {summary or 'no recipients'}.")
