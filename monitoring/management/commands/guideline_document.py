"""Check, or rewrite, the guideline tables of docs/GUIDELINE.md and the README from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.guideline.document import refreshed

DOCUMENTS = ("docs/GUIDELINE.md", "README.md")


class Command(BaseCommand):
    help = "Check that the guideline tables in docs/GUIDELINE.md and README.md match the code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="Rewrite the tables in place.")

    def handle(self, *args: Any, **options: Any) -> None:
        stale = []
        for name in DOCUMENTS:
            path = Path(settings.BASE_DIR) / name
            text = path.read_text(encoding="utf-8")
            fresh = refreshed(text)
            if fresh == text:
                continue
            if options["write"]:
                path.write_text(fresh, encoding="utf-8")
                self.stdout.write(f"Rewrote the guideline tables of {name}.")
            else:
                stale.append(name)
        if stale:
            raise CommandError(
                f"The guideline tables of {', '.join(stale)} differ from the code: run "
                "`python manage.py guideline_document --write`."
            )
        self.stdout.write("The guideline documents match the code.")
