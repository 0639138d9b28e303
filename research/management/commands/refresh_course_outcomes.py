"""Compute and store every course's outcome measures for the outcomes page now (the nightly beat
entry does the same after the evaluation)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from research import outcome_snapshots


class Command(BaseCommand):
    help = "Compute every course's outcomes (research.outcomes) for the outcomes page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (today)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        stored = outcome_snapshots.refresh(as_of)
        self.stdout.write(f"Course outcomes: {stored} courses as of {as_of:%Y-%m-%d}.")
