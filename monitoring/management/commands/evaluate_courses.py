"""Evaluate the courses due now (every course in scope with --full), synchronously, and print a
summary (operators, demos)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.evaluation import run_evaluation
from monitoring.guideline import RULES
from monitoring.management.dates import iso_date
from registry.models import Site


class Command(BaseCommand):
    help = "Evaluate the courses in scope against the guideline and reconcile their alerts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", type=iso_date("--as-of"), help="evaluation date (default: today)"
        )
        parser.add_argument("--site", help="only this site's courses (site code)")
        parser.add_argument("--chunk-size", type=int, default=500)
        parser.add_argument(
            "--full",
            action="store_true",
            help="every course in scope, not only those whose data, guideline or horizon changed",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        site = None
        if options["site"]:
            site = Site.objects.filter(code=options["site"]).first()
            if site is None:
                raise CommandError(f"--site: no site with code {options['site']!r}")
        run, outcome = run_evaluation(
            as_of=as_of, site=site, chunk_size=options["chunk_size"], full=options["full"]
        )
        where = f" at {site.code}" if site else ""
        alone = "" if run.full else f"; {run.skipped} left alone, nothing they depend on changed"
        self.stdout.write(
            f"Evaluated {outcome.courses} courses{where} as of {as_of:%Y-%m-%d} "
            f"in {run.duration_ms} ms (run {run.pk}{alone})."
        )
        self.stdout.write(
            f"{outcome.findings} findings: {outcome.opened} alerts opened, "
            f"{outcome.refreshed} still open, {outcome.resolved} resolved."
        )
        for reason, count in sorted(outcome.resolved_by_reason.items()):
            self.stdout.write(f"  {count:5d}  resolved: {reason}")
        for rule_id, (info, _check) in RULES.items():
            count = outcome.by_rule.get(rule_id, 0)
            if count:
                self.stdout.write(f"  {count:5d}  {rule_id:28s} {info.title}")
