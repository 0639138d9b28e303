"""Load the demo registry (`registry.demo`) and print what it holds and how to log in.

Patients are listed by registry code and scenario only: even demo names stay out of the output.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from registry.demo import DEMO_PASSWORD, SeedReport, seed


class Command(BaseCommand):
    help = "Load two demo sites, their staff and ~40 patients covering every guideline situation."

    def handle(self, *args: Any, **options: Any) -> None:
        report = seed(today=timezone.localdate())
        self._print_summary(report)
        self._print_patients(report)
        self._print_logins(report)

    def _print_summary(self, report: SeedReport) -> None:
        for noun, created in (
            ("Sites", [created for _code, created in report.sites]),
            ("Users", [login.created for login in report.logins]),
            ("Patients", [patient.created for patient in report.patients]),
        ):
            self.stdout.write(
                f"{noun}: {sum(created)} created, {len(created) - sum(created)} already present."
            )

    def _print_patients(self, report: SeedReport) -> None:
        self.stdout.write("\nPatients by scenario:")
        for patient in report.patients:
            state = "created" if patient.created else "present"
            self.stdout.write(
                f"  {patient.registry_code:<12} {patient.site:<6} {state:<8} {patient.scenario}"
            )

    def _print_logins(self, report: SeedReport) -> None:
        rows = [("username", "role", "site", "password")] + [
            (login.username, login.role, login.site, DEMO_PASSWORD) for login in report.logins
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        self.stdout.write("\nDemo logins (accounts this command created use this password):")
        for row in rows:
            cells = [value.ljust(width) for value, width in zip(row, widths, strict=True)]
            self.stdout.write(("  " + "  ".join(cells)).rstrip())
