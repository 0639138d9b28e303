"""Alerts raised by the guideline engine, their audit trail, evaluation runs and site parameters."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from monitoring.guideline import DEFAULT, RULES, Guideline
from monitoring.guideline.parameters import parameter_info
from registry.models import Site, TreatmentCourse


class Severity(models.TextChoices):
    URGENT = "urgent", "Urgent"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


# An alert is "live" until resolved: at most one live alert per (course, rule, key), and a
# dismissed one stays dismissed, so the same finding is never raised again for that key.
LIVE_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.DISMISSED)
ACTIONABLE_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
RULE_CHOICES = [(rule_id, info.title) for rule_id, (info, _check) in RULES.items()]
# Why the engine resolved an alert (GUIDELINE.md, "Rules"): the finding is gone; the course stopped
# and the rule's "clears when" says so; the course left the evaluation scope; or the alert was
# raised under an earlier guideline version that no longer finds it.
CONDITION_CLEARED = "condition cleared"
COURSE_STOPPED = "course stopped"
OUT_OF_SCOPE = "out of monitoring scope"
GUIDELINE_UPDATED = "guideline updated"
REGIMEN_CHANGED = "regimen changed"  # a regimen change moved the due date of an overdue dose
CLEARS_ON_STOP_RULES = frozenset(
    rule_id for rule_id, (info, _check) in RULES.items() if info.clears_on_stop
)
# Info alerts about a past fact are a note, not a task: a clinician's acknowledgement closes them
# for good (GUIDELINE.md, "Who may act on alerts"); the engine does not raise them again.
PAST_FACT_RULES = frozenset({"early_discontinuation", "dose_given_early"})
ACKNOWLEDGED_PAST_FACT = "a past fact, acknowledged by a clinician"


class Alert(models.Model):
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="alerts")
    rule = models.CharField(max_length=40, choices=RULE_CHOICES)
    key = models.CharField(max_length=60, help_text="What makes one problem one alert.")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    title = models.CharField(max_length=200)
    explanation = models.TextField(help_text="What triggered it, and the guideline text behind it.")
    evidence = models.JSONField(default=dict, help_text="The rows and values that triggered it.")
    due_on = models.DateField(null=True, blank=True)
    first_raised_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    guideline_version = models.CharField(max_length=40)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "rule", "key"],
                condition=Q(status__in=LIVE_STATUSES),
                name="alert_one_live_per_course_rule_key",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AlertStatus.values), name="alert_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="alert_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=AlertStatus.RESOLVED, resolved_at__isnull=False)
                | (~Q(status=AlertStatus.RESOLVED) & Q(resolved_at__isnull=True)),
                name="alert_resolved_at_iff_resolved",
            ),
        ]
        indexes = [models.Index(fields=["status", "severity", "due_on"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display().lower()})"

    @property
    def rule_info(self) -> Any:
        return RULES[self.rule][0]


class AlertEventKind(models.TextChoices):
    RAISED = "raised", "Raised"
    ESCALATED = "escalated", "Severity changed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class AlertEvent(models.Model):
    """Append-only: every transition of an alert, and who made it (no one: the engine)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=AlertEventKind.choices)
    from_status = models.CharField(max_length=12, choices=AlertStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=AlertStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        who = self.actor or "registry"
        return f"{self.get_kind_display()} by {who} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("alert events are append-only")
        super().save(*args, **kwargs)


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class EvaluationRun(models.Model):
    """One evaluation of the courses in scope: the nightly fan-out or the command.

    (The per-course evaluation after a save is not recorded here: it would be one row per save.)
    """

    KIND_CHOICES = [("nightly", "Nightly"), ("command", "Command")]

    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    full = models.BooleanField(
        default=True,
        help_text="Every course in scope (the weekly run, `evaluate_courses --full`); otherwise "
        "only the courses whose data, guideline or horizon asked for it.",
    )
    as_of = models.DateField()
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    courses = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    refreshed = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text="Courses in scope left alone: nothing they depend on had changed."
    )
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Wall time from start to the last chunk."
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} evaluation as of {self.as_of} ({self.status})"


class CourseEvaluation(models.Model):
    """The last evaluation of a course: when, what it saw, and when its verdict could next change.

    The nightly run evaluates a course again only when one of these says so (see
    `monitoring.evaluation.courses_due`): its `reevaluate_on` has come (the engine's horizon),
    the patient's record version moved past `record_version`, its site's guideline is no longer
    `guideline`, or it was last evaluated for a later day than the run's.
    """

    course = models.OneToOneField(
        TreatmentCourse, on_delete=models.CASCADE, primary_key=True, related_name="evaluation"
    )
    as_of = models.DateField(help_text="The day it was evaluated for.")
    reevaluate_on = models.DateField(
        null=True,
        blank=True,
        help_text="The first day its verdict could change without new data; empty: never.",
    )
    record_version = models.PositiveBigIntegerField(
        help_text="The patient's record version the evaluation read (registry.RecordVersion)."
    )
    guideline = models.CharField(
        max_length=80, help_text="The guideline's version and the engine's revision it ran."
    )
    evaluated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["reevaluate_on"], name="evaluation_reevaluate_on")]

    def __str__(self) -> str:
        return f"course {self.course_id} as of {self.as_of} (again on {self.reevaluate_on})"


def _coerce(name: str, value: Any) -> Any:
    """A site's override, typed like the default (JSON gives floats, strings and lists)."""
    default = getattr(DEFAULT, name)
    try:
        if isinstance(default, Decimal):
            return Decimal(str(value))
        if isinstance(default, tuple):
            return tuple(int(v) for v in value)
        if isinstance(default, int):
            if isinstance(value, bool) or int(value) != Decimal(str(value)):
                raise ValueError
            return int(value)
    except (TypeError, ValueError, InvalidOperation):
        raise ValidationError(
            {"overrides": f"{name}: {value!r} is not a valid {type(default).__name__}."}
        ) from None
    return value


class SiteGuideline(models.Model):
    """A site's reviewed values of guideline parameters; anything not overridden is the default."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="guideline")
    overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text='Parameter name → value, e.g. {"trough_min_ug_ml": "3", "dose_grace_days": 5}.',
    )
    rationale = models.TextField(blank=True, help_text="Why the site chose these values.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "site guideline parameters"
        verbose_name_plural = "site guideline parameters"

    def __str__(self) -> str:
        return f"Guideline parameters of {self.site.code}"

    def clean(self) -> None:
        if not isinstance(self.overrides, dict):
            raise ValidationError({"overrides": "Give an object of parameter names and values."})
        known = {info.name: info for info in parameter_info()}
        errors = []
        for name, value in self.overrides.items():
            if name not in known:
                errors.append(f"{name} is not a guideline parameter.")
                continue
            typed = _coerce(name, value)
            info = known[name]
            low, high = info.minimum, info.maximum
            if (low is not None and typed < low) or (high is not None and typed > high):
                errors.append(f"{name} must be between {low} and {high} {info.unit}.")
        if errors:
            raise ValidationError({"overrides": errors})

    def effective(self) -> Guideline:
        return DEFAULT.with_overrides(
            {name: _coerce(name, value) for name, value in self.overrides.items()}
        )


class NotificationPreference(models.Model):
    """A staff member's nightly digest: on or off, how severe, which of their sites."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    digest_enabled = models.BooleanField("send me the morning digest", default=True)
    minimum_severity = models.CharField(
        max_length=10,
        choices=Severity.choices,
        default=Severity.INFO,
        help_text="Leave out alerts less severe than this.",
    )
    sites = models.ManyToManyField(
        Site,
        blank=True,
        related_name="+",
        help_text="Only these of your sites; none selected means all your sites.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(minimum_severity__in=Severity.values),
                name="preference_minimum_severity_valid",
            )
        ]

    def __str__(self) -> str:
        return f"Digest preferences of {self.user}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    NOTHING = "nothing", "Nothing to report"
    FAILED = "failed", "Failed"


class DigestDelivery(models.Model):
    """One digest per person per day, claimed before it is sent, so it is never sent twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries"
    )
    digest_on = models.DateField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    alerts = models.PositiveIntegerField(default=0, help_text="Alerts in the digest.")
    new_alerts = models.PositiveIntegerField(default=0, help_text="Of which new since the last.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-digest_on", "user_id"]
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "digest_on"], name="digest_one_per_user_per_day"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="digest_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Digest of {self.digest_on} for {self.user} ({self.status})"


class MissedNightNotice(models.Model):
    """The data managers were told that a night's evaluation did not finish: one row per night,
    claimed (inserted) before the email goes out, so however often the watch or the digest look,
    each missed night is announced once."""

    night = models.DateField(unique=True, help_text="The date of the nightly run that was missed.")
    reason = models.CharField(max_length=200)
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-night"]

    def __str__(self) -> str:
        return f"Missed night {self.night}: {self.reason}"
