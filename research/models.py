"""Research export jobs, their audit trail, and the locked pseudonym mapping.

A researcher's request is one `ExportRequest`; a Celery task builds its file. Every request and
every download writes an `ExportEvent` (who, when, what, row counts). Each exported patient appears
under a random pseudonym (`PseudonymMapping`), fresh for every export and never derived from an
identifier; only data managers can read the mapping (in the admin), never researchers.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from registry.models import Patient, Site
from research.outcomes import PEDCNO_LEVELS, RELAPSE_FREE_ENDS


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV bundle (zip)"
    PARQUET = "parquet", "Parquet bundle (zip)"
    FHIR = "fhir", "FHIR R4 bulk NDJSON (zip)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # built, then its file was deleted after EXPORT_DOWNLOAD_DAYS


IN_PROGRESS_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)
FINAL_STATUSES = (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED)


class DatePrecision(models.TextChoices):
    """How finely day offsets are exported: coarser days make histories harder to link."""

    DAY = "day", "Days"
    WEEK = "week", "Weeks (days rounded down to a multiple of 7)"
    MONTH = "month", "Months (days rounded down to a multiple of 30)"


DATE_PRECISION_DAYS: dict[str, int] = {
    DatePrecision.DAY: 1,
    DatePrecision.WEEK: 7,
    DatePrecision.MONTH: 30,
}


class AgePrecision(models.TextChoices):
    YEARS = "years", "Whole years"
    BANDS = "bands", "5-year bands"


# What a researcher's request gets; anything finer needs a data manager of every site exported.
DEFAULT_DATE_PRECISION = DatePrecision.WEEK
DEFAULT_AGE_PRECISION = AgePrecision.BANDS


class ExportRequest(models.Model):
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="research_exports",
        help_text="Empty for an operator's export from the command line.",
    )
    sites = models.ManyToManyField(Site, related_name="research_exports")
    date_from = models.DateField(null=True, blank=True, help_text="Rows dated on or after this.")
    date_to = models.DateField(null=True, blank=True, help_text="Rows dated on or before this.")
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent built, 0–100.")
    consent_checked_on = models.DateField(
        help_text="The export date: patients with research consent on this day are included."
    )
    date_precision = models.CharField(
        max_length=5,
        choices=DatePrecision.choices,
        default=DEFAULT_DATE_PRECISION,
        help_text="Day offsets as exported: days, or rounded down to weeks or months.",
    )
    age_precision = models.CharField(
        max_length=5,
        choices=AgePrecision.choices,
        default=DEFAULT_AGE_PRECISION,
        help_text="Ages in whole years or in 5-year bands.",
    )
    suppress_small_cells = models.BooleanField(
        default=True,
        help_text="Blank the quasi-identifiers of patients who would otherwise stand out (fewer "
        "than 5 alike); off, small cells are only reported in the manifest.",
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Builds started (a build whose worker died is started again)."
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the running build."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the built file is deleted."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    row_counts = models.JSONField(default=dict, blank=True, help_text="Rows per table.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=ExportFormat.values), name="export_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=100), name="export_progress_percent"
            ),
            models.CheckConstraint(
                condition=Q(date_precision__in=DatePrecision.values),
                name="export_date_precision_valid",
            ),
            models.CheckConstraint(
                condition=Q(age_precision__in=AgePrecision.values),
                name="export_age_precision_valid",
            ),
            models.CheckConstraint(
                condition=Q(date_from__isnull=True)
                | Q(date_to__isnull=True)
                | Q(date_to__gte=F("date_from")),
                name="export_date_range_ordered",
                violation_error_message="The end of the date range is before its start.",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_format_display()}, {self.get_status_display()})"

    @property
    def is_in_progress(self) -> bool:
        return self.status in IN_PROGRESS_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_downloadable(self) -> bool:
        return self.status == ExportStatus.DONE and bool(self.file_path) and not self.is_expired

    @property
    def is_expired(self) -> bool:
        """Its file was deleted, or is due to be: past `expires_at` it is not sent, even before
        the watcher has deleted it."""
        if self.status == ExportStatus.EXPIRED:
            return True
        return (
            self.status == ExportStatus.DONE
            and self.expires_at is not None
            and self.expires_at <= timezone.now()
        )

    @property
    def failure_message(self) -> str:
        """What the requester is told of a failure. A build that raised records only its
        exception's class name (its message could quote the data); other failures, a sentence."""
        if self.error.isidentifier():
            return f"The build stopped with an error ({self.error})."
        return self.error or "The build failed."

    @property
    def file(self) -> Path:
        return Path(self.file_path)

    @property
    def download_name(self) -> str:
        suffix = "fhir-ndjson" if self.format == ExportFormat.FHIR else self.format
        return f"crmo-export-{self.pk}-{suffix}.zip"


class ExportEventKind(models.TextChoices):
    REQUESTED = "requested", "Requested"
    BUILT = "built", "Built"
    FAILED = "failed", "Failed"
    RETRIED = "retried", "Retried"  # its build stopped (worker lost) and was queued again
    DOWNLOADED = "downloaded", "Downloaded"
    EXPIRED = "expired", "Expired"  # its file was deleted


class ExportEvent(models.Model):
    """Append-only audit of an export: who asked, who downloaded, and what it held."""

    export = models.ForeignKey(ExportRequest, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=ExportEventKind.choices)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the registry itself (the build) or an operator's command.",
    )
    details = models.JSONField(
        default=dict, blank=True, help_text="Sites, format, date range and row counts."
    )

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ExportEventKind.values), name="export_event_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export {self.export_id} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("export events are append-only")
        super().save(*args, **kwargs)


PSEUDONYM_PREFIX = "P-"
PSEUDONYM_RANDOM_BYTES = 8


def new_pseudonym() -> str:
    """64 random bits from the OS's CSPRNG: nothing about the patient goes in."""
    return PSEUDONYM_PREFIX + secrets.token_hex(PSEUDONYM_RANDOM_BYTES).upper()


class PseudonymMapping(models.Model):
    """Which patient an export's pseudonym stands for. Locked: data managers only."""

    export = models.ForeignKey(ExportRequest, on_delete=models.CASCADE, related_name="pseudonyms")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="research_pseudonyms"
    )
    pseudonym = models.CharField(max_length=40, default=new_pseudonym)
    first_course_started_on = models.DateField(
        help_text="The patient's day 0: every exported date is counted in days from it."
    )

    class Meta:
        ordering = ["export", "pseudonym"]
        constraints = [
            models.UniqueConstraint(
                fields=["export", "patient"], name="pseudonym_one_per_patient_per_export"
            ),
            models.UniqueConstraint(
                fields=["export", "pseudonym"], name="pseudonym_unique_per_export"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pseudonym} (export {self.export_id})"


PEDCNO_CHOICES = [(level, level) for level in PEDCNO_LEVELS]


class CourseOutcomeSnapshot(models.Model):
    """One course's outcome measures as of a day, as `research.outcomes.course_outcomes` (the
    exports' own code) computes them: refreshed nightly after the evaluation
    (`research.outcome_snapshots.refresh`), so the outcomes page aggregates stored rows in SQL
    instead of loading every course's history on each request. Never edited by hand."""

    course = models.OneToOneField(
        "registry.TreatmentCourse", on_delete=models.CASCADE, related_name="outcome_snapshot"
    )
    as_of = models.DateField(help_text="The day the outcomes were computed for.")
    computed_at = models.DateTimeField(auto_now=True)
    days_on_treatment = models.PositiveIntegerField()
    number_of_infusions = models.PositiveIntegerField()
    doses_due = models.PositiveIntegerField()
    proportion_doses_on_time = models.FloatField(null=True)
    longest_gap_days = models.PositiveIntegerField(null=True)
    reached_taper = models.BooleanField()
    days_to_taper = models.PositiveIntegerField(null=True)
    relapsed_after_stopping = models.BooleanField(null=True)
    days_to_relapse = models.PositiveIntegerField(null=True)
    relapse_free_days = models.PositiveIntegerField(null=True)
    relapse_free_end = models.CharField(
        max_length=20, blank=True, choices=[(end, end) for end in RELAPSE_FREE_ENDS]
    )
    pedcno_response_3_months = models.CharField(max_length=10, blank=True, choices=PEDCNO_CHOICES)
    pedcno_response_12_months = models.CharField(max_length=10, blank=True, choices=PEDCNO_CHOICES)
    inactive_at_12_months = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(relapse_free_days__isnull=True, relapse_free_end="")
                | Q(
                    relapse_free_days__isnull=False,
                    relapse_free_end__in=RELAPSE_FREE_ENDS,
                ),
                name="outcome_relapse_free_time_ends_one_way",
            ),
        ]

    def __str__(self) -> str:
        return f"Outcomes of course {self.course_id} as of {self.as_of}"
