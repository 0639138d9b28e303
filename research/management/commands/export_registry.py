"""An operator's de-identified export of every consenting patient (of one site, or all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.models import Site
from research import services
from research.models import (
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    AgePrecision,
    DatePrecision,
    ExportFormat,
)


class Command(BaseCommand):
    help = "Write a de-identified research export (consenting patients only) to a zip file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=ExportFormat.values, required=True)
        parser.add_argument("--out", required=True, type=Path, help="The zip file to write.")
        parser.add_argument("--site", help="A site code (default: every site).")
        parser.add_argument(
            "--date-precision",
            choices=DatePrecision.values,
            default=DEFAULT_DATE_PRECISION,
            help="Day offsets in days, or rounded down to weeks or months (default: weeks).",
        )
        parser.add_argument(
            "--age-precision",
            choices=AgePrecision.values,
            default=DEFAULT_AGE_PRECISION,
            help="Ages in whole years or 5-year bands (default: bands).",
        )
        parser.add_argument(
            "--report-small-cells",
            action="store_true",
            help="List small cells in the manifest instead of suppressing them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sites = Site.objects.all()
        if options["site"]:
            sites = sites.filter(code=options["site"])
            if not sites.exists():
                raise CommandError(f"No site with code {options['site']!r}.")
        out: Path = options["out"]
        if out.parent and not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a folder.")
        export = services.export_request_as_operator(
            sites=sites,
            format=options["format"],
            date_precision=options["date_precision"],
            age_precision=options["age_precision"],
            suppress_small_cells=not options["report_small_cells"],
        )
        export = services.export_build(export=export, path=out.resolve())
        self.stdout.write(f"Export {export.pk} written to {out}")
        for name, rows in export.row_counts.items():
            self.stdout.write(f"  {name:<26} {rows:>8} rows")
