"""The clinical record: sites, people's roles, patients and their infliximab courses.

Every model validates in `clean()` with field-specific messages; the rules that a single row can
check are also database constraints, so a write that skips `clean()` still cannot store them.
Cross-row rules (dates against the course or the patient, overlapping courses) live in `clean()`;
on PostgreSQL overlapping courses are also refused by an exclusion constraint (migration 0002).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry import limits
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    EITHER_BONES,
    FAMILY_CONDITIONS,
    JANSSON_ITEMS,
    MIDLINE_BONES,
    VERTEBRAL_LEVEL_CHOICES,
    VERTEBRAL_LEVELS,
    Bone,
    ComorbidityCondition,
    FamilyHistory,
    Laterality,
    bristol_met,
    jansson_score,
    site_words,
)
from registry.safety_codes import (
    CODINGS,
    HOLDING_TESTS,
    IMMUNITY_TESTS,
    LIVE_VACCINES,
    NAMED_TERMS,
    NOT_NEGATIVE,
    RECORDED_TERMS,
    SPECIAL_INTEREST_TERMS,
    AdverseEventTerm,
    Coding,
    ScreeningOutcome,
    ScreeningTest,
    SpecialInterest,
    Vaccine,
    needs_specialist,
    special_interest,
)

ErrorDict = dict[str, list[str]]


def _add(errors: ErrorDict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_not_future(errors: ErrorDict, field: str, value: dt.date | None) -> None:
    if value is not None and value > timezone.localdate():
        _add(errors, field, f"{value:%d %b %Y} is in the future; record what has happened.")


def _check_not_before_birth(
    errors: ErrorDict, field: str, value: dt.date | None, patient: Patient | None
) -> None:
    if value is not None and patient is not None and value < patient.date_of_birth:
        _add(
            errors,
            field,
            f"{value:%d %b %Y} is before the patient's date of birth.",
        )


def _raise(errors: ErrorDict) -> None:
    if errors:
        raise ValidationError(errors)


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ClinicalRecord(TimestampedModel):
    """A row of the clinical record: its full change history (who, when, what) is kept."""

    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True


# --- Sites and people -------------------------------------------------------------------------


class Site(TimestampedModel):
    code = models.SlugField(max_length=20, unique=True, help_text="Short code, e.g. 'LDN'.")
    name = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    NURSE = "nurse", "Nurse / infusion staff"
    DATA_MANAGER = "data_manager", "Data manager"
    RESEARCHER = "researcher", "Researcher"


STAFF_ROLES = (Role.CLINICIAN, Role.NURSE, Role.DATA_MANAGER)


class Membership(TimestampedModel):
    """A person's role at one site; every query a person makes is scoped to these sites."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "site"],
                name="membership_one_role_per_site",
                violation_error_message="This person already has a role at this site.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=Role.values),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.site.code}"


# --- Patients ---------------------------------------------------------------------------------


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Patient(ClinicalRecord):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    registry_code = models.CharField(
        max_length=20,
        unique=True,
        editable=False,
        help_text="Stable, non-identifying code assigned by the registry, e.g. CRMO-000042.",
    )
    mrn = models.CharField(
        "MRN", max_length=40, help_text="Medical record number at the site (unique per site)."
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    diagnosed_on = models.DateField(
        null=True, blank=True, help_text="Date of the CRMO/CNO diagnosis (ORPHA:324964)."
    )

    class Meta:
        ordering = ["registry_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "mrn"],
                name="patient_mrn_unique_per_site",
                violation_error_message="Another patient at this site has this MRN.",
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(diagnosed_on__isnull=True) | Q(diagnosed_on__gte=F("date_of_birth")),
                name="patient_diagnosed_after_birth",
                violation_error_message="The diagnosis date is before the date of birth.",
            ),
            models.CheckConstraint(
                condition=~Q(mrn="") & ~Q(given_name="") & ~Q(family_name=""),
                name="patient_identity_not_blank",
            ),
        ]

    def __str__(self) -> str:
        return self.registry_code or "(new patient)"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def clean(self) -> None:
        errors: ErrorDict = {}
        for field in ("mrn", "given_name", "family_name"):
            setattr(self, field, (getattr(self, field) or "").strip())
        _check_not_future(errors, "date_of_birth", self.date_of_birth)
        value = self.diagnosed_on
        _check_not_future(errors, "diagnosed_on", value)
        if value and self.date_of_birth and value < self.date_of_birth:
            _add(errors, "diagnosed_on", f"{value:%d %b %Y} is before the date of birth.")
        if self.site_id and self.mrn:
            duplicate = Patient.objects.filter(site_id=self.site_id, mrn=self.mrn).exclude(
                pk=self.pk
            )
            if duplicate.exists():
                _add(errors, "mrn", f"Another patient at this site has MRN {self.mrn}.")
        _raise(errors)


class RecordVersion(models.Model):
    """How many clinical actions have changed a patient's record: the mark an evaluation stores
    with what it saw (monitoring.CourseEvaluation), so the nightly run knows whose data changed.

    Bumped by `registry.reevaluation.patient_changed` in the action's own transaction, so a
    change and its mark commit together. A table of its own rather than a column of Patient: a
    save of a Patient read earlier would write an older version back over a newer one. No row
    yet means version 0 (no action since this table came).
    """

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, primary_key=True, related_name="record_version"
    )
    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.patient_id}: version {self.version}"


# --- Courses and regimen --------------------------------------------------------------------


class Drug(models.TextChoices):
    INFLIXIMAB = "infliximab", "Infliximab"


class StopReason(models.TextChoices):
    REMISSION = "remission", "Remission"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    INEFFICACY = "inefficacy", "Inefficacy"
    PATIENT_CHOICE = "patient_choice", "Patient or family choice"
    OTHER = "other", "Other"


# --- Infliximab products ----------------------------------------------------------------------

# The substance every course gives (WHO ATC; RxNorm's ingredient concept).
INFLIXIMAB_ATC = "L04AB02"
INFLIXIMAB_RXNORM = "191831"


class InfliximabProduct(TimestampedModel):
    """One infliximab product a clinic may infuse: the originator or a biosimilar.

    A managed list rather than choices: products come and go (new biosimilars, a tender that
    changes supplier) and carry codes, so superusers keep it in the admin without a release, and an
    infusion's product is a foreign key the database checks. The table holds infliximab products
    only (`product_is_infliximab`: its substance's ATC code must be infliximab's), so no infusion
    or course can name another drug's product, in the database either. Seeded by migration.
    """

    code = models.SlugField(
        max_length=30, unique=True, help_text="The product's code in the API, e.g. 'remsima'."
    )
    name = models.CharField(max_length=100, unique=True, help_text="The brand name, e.g. Remsima.")
    manufacturer = models.CharField(
        max_length=200, help_text="The marketing-authorisation holder (or manufacturer)."
    )
    is_biosimilar = models.BooleanField(
        help_text="A biosimilar of the originator (Remicade), or the originator itself."
    )
    atc_code = models.CharField(
        "ATC code",
        max_length=7,
        default=INFLIXIMAB_ATC,
        # One choice: a code, not text anyone types (the research exports' free-text test).
        choices=[(INFLIXIMAB_ATC, f"{INFLIXIMAB_ATC} infliximab")],
        help_text=f"The substance's WHO ATC code: infliximab is {INFLIXIMAB_ATC}.",
    )
    ema_product_number = models.CharField(
        "EMA product number",
        max_length=20,
        blank=True,
        validators=[
            RegexValidator(r"^EMEA/H/C/\d{6}$", "Write it as the EMA does: EMEA/H/C/000240.")
        ],
        help_text="The European Medicines Agency's product number (EPAR), e.g. EMEA/H/C/000240.",
    )
    rxnorm_cui = models.CharField(
        "RxNorm CUI",
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^\d+$", "An RxNorm concept id is digits only.")],
        help_text="The product's RxNorm concept (a branded drug, SBD), where it has one.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "infliximab product"
        ordering = ["is_biosimilar", "name"]  # the originator first
        constraints = [
            models.CheckConstraint(
                condition=Q(atc_code=INFLIXIMAB_ATC),
                name="product_is_infliximab",
                violation_error_message=f"This list holds infliximab products only (ATC "
                f"{INFLIXIMAB_ATC}).",
            ),
            models.CheckConstraint(
                condition=~Q(code="") & ~Q(name="") & ~Q(manufacturer=""),
                name="product_named",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_infliximab(self) -> bool:
        return self.atc_code == INFLIXIMAB_ATC

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # clean() refuses another substance in words that say why ("not a valid choice" would not).
        super().clean_fields(exclude={*(exclude or ()), "atc_code"})

    def clean(self) -> None:
        errors: ErrorDict = {}
        self.atc_code = (self.atc_code or "").strip().upper()
        if not self.is_infliximab:
            _add(
                errors,
                "atc_code",
                f"{self.atc_code or 'No code'} is not infliximab ({INFLIXIMAB_ATC}): this list "
                "holds the infliximab products infusions are given with.",
            )
        _raise(errors)


# An infusion's or a course's product, refused (at its field) when it is not on the list.
NOT_A_PRODUCT = "Choose one of the registry's infliximab products."


class ProductForeignKey(models.ForeignKey[Any, Any]):
    """A product of the list: its form field (clinic and admin forms alike) refuses any other
    value in the same words as the model."""

    def formfield(self, **kwargs: Any) -> Any:
        kwargs["error_messages"] = {
            "invalid_choice": NOT_A_PRODUCT,
            **kwargs.get("error_messages", {}),
        }
        return super().formfield(**kwargs)


def _product_field(help_text: str, related_name: str) -> ProductForeignKey:
    return ProductForeignKey(
        InfliximabProduct,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
        verbose_name="infliximab product",
        help_text=help_text,
        error_messages={"invalid": NOT_A_PRODUCT},
    )


# --- Courses (continued) ----------------------------------------------------------------------


def _default_induction_weeks() -> list[int]:
    return [0, 2, 6]


def _dose_in_range(field: str, maximum: Decimal = limits.LABELLED_MAX_DOSE_MG_PER_KG) -> Q:
    return Q(**{f"{field}__gt": 0, f"{field}__lte": maximum})


def _interval_in_range(field: str) -> Q:
    return Q(**{f"{field}__gte": 1, f"{field}__lte": limits.MAX_INTERVAL_WEEKS})


def _check_dose_and_interval(
    errors: ErrorDict,
    dose_field: str,
    dose: Decimal | None,
    interval_field: str,
    interval: int | None,
    *,
    maximum: Decimal = limits.LABELLED_MAX_DOSE_MG_PER_KG,
) -> None:
    if dose is not None and not 0 < dose <= maximum:
        labelled = maximum == limits.LABELLED_MAX_DOSE_MG_PER_KG
        what = "the labelled maximum" if labelled else "the most that is plausible"
        _add(
            errors,
            dose_field,
            f"The dose must be above 0 and at most {maximum} mg/kg ({what}).",
        )
    if interval is not None and not 1 <= interval <= limits.MAX_INTERVAL_WEEKS:
        _add(
            errors,
            interval_field,
            f"The interval must be between 1 and {limits.MAX_INTERVAL_WEEKS} weeks.",
        )


class TreatmentCourse(ClinicalRecord):
    """One continuous infliximab course; a retreatment after a relapse is a new course."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    drug = models.CharField(max_length=20, choices=Drug.choices, default=Drug.INFLIXIMAB)
    started_on = models.DateField(help_text="Start of the course; normally the first infusion.")
    planned_dose_mg_per_kg = models.DecimalField(
        "planned dose (mg/kg)", max_digits=4, decimal_places=2, default=Decimal("5")
    )
    induction_weeks = models.JSONField(
        default=_default_induction_weeks,
        help_text="Weeks after day 0 of the induction doses, e.g. [0, 2, 6].",
    )
    maintenance_interval_weeks = models.PositiveSmallIntegerField(
        "maintenance interval (weeks)", default=8
    )
    product = _product_field(
        "The product planned for this course; each infusion records the one it was given with.",
        related_name="courses",
    )
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["patient__registry_code", "started_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True) | Q(stopped_on__gte=F("started_on")),
                name="course_stopped_after_start",
                violation_error_message="The course cannot stop before it started.",
            ),
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True, stop_reason="")
                | Q(stopped_on__isnull=False, stop_reason__in=StopReason.values),
                name="course_stop_reason_with_stop_date",
                violation_error_message="A stopped course needs a stop reason, and only then.",
            ),
            models.CheckConstraint(
                condition=_dose_in_range("planned_dose_mg_per_kg"),
                name="course_planned_dose_in_range",
            ),
            models.CheckConstraint(
                condition=_interval_in_range("maintenance_interval_weeks"),
                name="course_interval_in_range",
            ),
            models.CheckConstraint(condition=Q(drug__in=Drug.values), name="course_drug_valid"),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(stopped_on__isnull=True),
                name="course_one_active_per_patient",
                violation_error_message="This patient already has an active course.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} course from {self.started_on:%d %b %Y}"

    @property
    def is_active(self) -> bool:
        return self.stopped_on is None

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        _check_not_future(errors, "started_on", self.started_on)
        _check_not_before_birth(errors, "started_on", self.started_on, patient)
        _check_not_future(errors, "stopped_on", self.stopped_on)
        _check_dose_and_interval(
            errors,
            "planned_dose_mg_per_kg",
            self.planned_dose_mg_per_kg,
            "maintenance_interval_weeks",
            self.maintenance_interval_weeks,
        )
        self._check_induction_weeks(errors)
        if self.stopped_on:
            if self.started_on and self.stopped_on < self.started_on:
                _add(errors, "stopped_on", "The course cannot stop before it started.")
            if not self.stop_reason:
                _add(errors, "stop_reason", "Say why the course stopped.")
            if self.pk:
                last = self.infusions.order_by("-given_on").values_list("given_on", flat=True)
                last_given_on = last.first()
                if last_given_on and self.stopped_on < last_given_on:
                    _add(
                        errors,
                        "stopped_on",
                        f"The last infusion was given on {last_given_on:%d %b %Y}; "
                        "the course cannot stop before it.",
                    )
        elif self.stop_reason:
            _add(errors, "stop_reason", "Only a stopped course has a stop reason.")
        if patient and self.started_on:
            self._check_no_overlap(errors, patient)
        _raise(errors)

    def _check_induction_weeks(self, errors: ErrorDict) -> None:
        weeks = self.induction_weeks
        valid = (
            isinstance(weeks, list)
            and weeks
            and all(isinstance(w, int) and not isinstance(w, bool) for w in weeks)
            and weeks[0] == 0
            and all(a < b for a, b in itertools.pairwise(weeks))
            and weeks[-1] <= limits.MAX_INDUCTION_WEEK
        )
        if not valid:
            _add(
                errors,
                "induction_weeks",
                "Give the induction weeks as increasing whole weeks starting at 0, e.g. [0, 2, 6].",
            )

    def _check_no_overlap(self, errors: ErrorDict, patient: Patient) -> None:
        others = patient.courses.exclude(pk=self.pk)
        earlier_open = others.filter(started_on__lte=self.started_on).filter(
            Q(stopped_on__isnull=True) | Q(stopped_on__gt=self.started_on)
        )
        for other in earlier_open.order_by("-started_on")[:1]:
            if other.stopped_on is None:
                message = (
                    f"The course from {other.started_on:%d %b %Y} has not stopped; "
                    "stop it before starting a new course."
                )
            else:
                message = (
                    f"The previous course stopped on {other.stopped_on:%d %b %Y}; "
                    "a new course cannot start before that."
                )
            _add(errors, "started_on", message)
            return
        later = others.filter(started_on__gt=self.started_on)
        if self.stopped_on:
            later = later.filter(started_on__lt=self.stopped_on)
        first_later = later.order_by("started_on").first()
        if first_later is not None:
            _add(
                errors,
                "stopped_on" if self.stopped_on else "started_on",
                f"This course would overlap the course from {first_later.started_on:%d %b %Y}.",
            )

    def regimen_on(self, day: dt.date) -> tuple[Decimal, int]:
        """Dose (mg/kg) and interval (weeks) in force on `day`: the course's own, then changes."""
        dose, interval = self.planned_dose_mg_per_kg, self.maintenance_interval_weeks
        for change in self.regimen_changes.all():  # ordered by effective_on
            if change.effective_on <= day:
                dose, interval = change.dose_mg_per_kg, change.interval_weeks
        return dose, interval


class RegimenReason(models.TextChoices):
    TAPER = "taper", "Taper"
    INTENSIFICATION = "intensification", "Intensification"
    OTHER = "other", "Other"


class RegimenChange(ClinicalRecord):
    """From `effective_on`, the course is dosed at `dose_mg_per_kg` every `interval_weeks`."""

    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.PROTECT, related_name="regimen_changes"
    )
    effective_on = models.DateField()
    dose_mg_per_kg = models.DecimalField("dose (mg/kg)", max_digits=4, decimal_places=2)
    interval_weeks = models.PositiveSmallIntegerField("interval (weeks)")
    reason = models.CharField(max_length=20, choices=RegimenReason.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["course", "effective_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "effective_on"],
                name="regimen_change_one_per_day",
                violation_error_message="This course already has a regimen change on this date.",
            ),
            models.CheckConstraint(
                condition=_dose_in_range("dose_mg_per_kg", limits.DOSE_CEILING_MG_PER_KG),
                name="regimen_dose_in_range",
            ),
            models.CheckConstraint(
                condition=_interval_in_range("interval_weeks"), name="regimen_interval_in_range"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=RegimenReason.values), name="regimen_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_reason_display()} from {self.effective_on:%d %b %Y}: "
            f"{self.dose_mg_per_kg} mg/kg every {self.interval_weeks} weeks"
        )

    def clean(self) -> None:
        errors: ErrorDict = {}
        # Above the labelled maximum only as an intensification; the service also asks that a
        # clinician prescribes it and that it stays within the site's guideline cap.
        _check_dose_and_interval(
            errors,
            "dose_mg_per_kg",
            self.dose_mg_per_kg,
            "interval_weeks",
            self.interval_weeks,
            maximum=limits.DOSE_CEILING_MG_PER_KG
            if self.reason == RegimenReason.INTENSIFICATION
            else limits.LABELLED_MAX_DOSE_MG_PER_KG,
        )
        _check_not_future(errors, "effective_on", self.effective_on)
        if self.course_id and self.effective_on:
            course = self.course
            if self.effective_on < course.started_on:
                _add(errors, "effective_on", "This is before the course started.")
            if course.stopped_on and self.effective_on > course.stopped_on:
                _add(errors, "effective_on", "This is after the course stopped.")
            same_day = course.regimen_changes.filter(effective_on=self.effective_on)
            if same_day.exclude(pk=self.pk).exists():
                _add(errors, "effective_on", "This course already has a regimen change that day.")
            if not errors:
                self._check_direction(errors, course)
        _raise(errors)

    def _check_direction(self, errors: ErrorDict, course: TreatmentCourse) -> None:
        """A taper gives less drug (lower dose or longer interval), an intensification more."""
        before = self.effective_on - dt.timedelta(days=1)
        previous = course.regimen_changes.exclude(pk=self.pk).filter(effective_on__lte=before)
        last = previous.order_by("-effective_on").first()
        dose, interval = (
            (last.dose_mg_per_kg, last.interval_weeks)
            if last
            else (course.planned_dose_mg_per_kg, course.maintenance_interval_weeks)
        )
        if self.dose_mg_per_kg is None or self.interval_weeks is None:
            return
        less = self.dose_mg_per_kg < dose or self.interval_weeks > interval
        more = self.dose_mg_per_kg > dose or self.interval_weeks < interval
        in_force = f"{dose} mg/kg every {interval} weeks"
        if self.reason == RegimenReason.TAPER and (more or not less):
            _add(
                errors,
                "reason",
                f"A taper lowers the dose or lengthens the interval; in force: {in_force}.",
            )
        if self.reason == RegimenReason.INTENSIFICATION and (less or not more):
            _add(
                errors,
                "reason",
                f"An intensification raises the dose or shortens the interval; in force: "
                f"{in_force}.",
            )


# --- Infusions --------------------------------------------------------------------------------


class InfusionQuerySet(models.QuerySet["Infusion"]):
    def with_course_position(self) -> InfusionQuerySet:
        """Annotate `dose_number` (1 = the course's first) and `day_zero` (its first infusion).

        Correlated subqueries rather than window functions, so that filtering the list (by date,
        say) does not renumber the doses.
        """
        same_course = Infusion.objects.filter(course_id=OuterRef("course_id")).order_by()
        earlier_or_same = (
            same_course.filter(given_on__lte=OuterRef("given_on"))
            .values("course_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        first = same_course.order_by("given_on").values("given_on")[:1]
        return self.annotate(dose_number=Subquery(earlier_or_same), day_zero=Subquery(first))


# A lot (batch) number as printed on a vial: a code, never a sentence (exports may carry it).
LOT_NUMBER = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9./-]*$",
    "A lot number is the code printed on the vial: letters, digits, '-', '.' or '/', no spaces.",
)


class Infusion(ClinicalRecord):
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="infusions")
    given_on = models.DateField()
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=5, decimal_places=2, help_text="The weight the dose is based on."
    )
    weight_measured_on = models.DateField(
        help_text="When that weight was measured: a weight carried over from an earlier infusion "
        "keeps its own date.",
    )
    weight_confirmed = models.BooleanField(
        default=False,
        help_text="The person recording it confirmed a weight far from the patient's previous one.",
    )
    dose_mg = models.DecimalField("dose (mg)", max_digits=7, decimal_places=1)
    duration_minutes = models.PositiveSmallIntegerField(
        "infusion duration (minutes)", null=True, blank=True
    )
    premedication_antihistamine = models.BooleanField(default=False)
    premedication_corticosteroid = models.BooleanField(default=False)
    premedication_antipyretic = models.BooleanField(default=False)
    product = _product_field(
        "The product given. Left empty, the registry takes the previous infusion's of the course "
        "(else the course's).",
        related_name="infusions",
    )
    lot_number = models.CharField(
        max_length=40,
        blank=True,
        validators=[LOT_NUMBER],
        help_text="The batch (lot) on the vial, as printed: letters, digits, - . /",
    )
    notes = models.TextField(blank=True)

    objects = InfusionQuerySet.as_manager()

    class Meta:
        ordering = ["course", "given_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "given_on"],
                name="infusion_one_per_course_per_day",
                violation_error_message="This course already has an infusion on this date.",
            ),
            models.CheckConstraint(
                condition=Q(
                    weight_kg__gte=limits.WEIGHT_MIN_KG, weight_kg__lte=limits.WEIGHT_MAX_KG
                ),
                name="infusion_weight_in_range",
            ),
            models.CheckConstraint(condition=Q(dose_mg__gt=0), name="infusion_dose_positive"),
            models.CheckConstraint(
                condition=Q(dose_mg__lte=F("weight_kg") * limits.DOSE_CEILING_MG_PER_KG),
                name="infusion_dose_below_ceiling",
                violation_error_message=f"The dose is above {limits.DOSE_CEILING_MG_PER_KG} "
                "mg/kg: no infusion of infliximab is that large.",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True) | Q(duration_minutes__gt=0),
                name="infusion_duration_positive",
            ),
            models.CheckConstraint(
                condition=Q(weight_measured_on__lte=F("given_on")),
                name="infusion_weight_measured_before_infusion",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dose_mg} mg on {self.given_on:%d %b %Y}"

    @property
    def premedicated(self) -> bool:
        return (
            self.premedication_antihistamine
            or self.premedication_corticosteroid
            or self.premedication_antipyretic
        )

    @property
    def mg_per_kg(self) -> Decimal | None:
        if not self.dose_mg or not self.weight_kg:
            return None
        return (Decimal(self.dose_mg) / Decimal(self.weight_kg)).quantize(Decimal("0.01"))

    @staticmethod
    def week_of(given_on: dt.date, day_zero: dt.date) -> int:
        """Week of the course, rounded: the week-2 dose given on day 13 or 15 is week 2."""
        return round((given_on - day_zero).days / 7)

    def clean(self) -> None:
        errors: ErrorDict = {}
        weight, dose = self.weight_kg, self.dose_mg
        if weight is not None and not limits.WEIGHT_MIN_KG <= weight <= limits.WEIGHT_MAX_KG:
            _add(
                errors,
                "weight_kg",
                f"A weight of {weight} kg is outside {limits.WEIGHT_MIN_KG}–"
                f"{limits.WEIGHT_MAX_KG} kg; check the unit (kg, not lb or g).",
            )
        if dose is not None and dose <= 0:
            _add(errors, "dose_mg", "The dose must be more than 0 mg.")
        # The dose against the guideline's caps (site parameters, the regimen in force) is an
        # entry safeguard of `registry.safeguards`; here only what no site can allow.
        if (
            "weight_kg" not in errors
            and "dose_mg" not in errors
            and weight is not None
            and dose is not None
            # Compare unrounded, exactly as the database constraint does.
            and dose > weight * limits.DOSE_CEILING_MG_PER_KG
        ):
            _add(
                errors,
                "dose_mg",
                f"{dose} mg is {self.mg_per_kg} mg/kg, above {limits.DOSE_CEILING_MG_PER_KG} mg/kg:"
                " check the dose and the weight.",
            )
        if self.duration_minutes is not None and self.duration_minutes <= 0:
            _add(errors, "duration_minutes", "The duration must be more than 0 minutes.")
        _check_not_future(errors, "given_on", self.given_on)
        if self.weight_measured_on and self.given_on and self.weight_measured_on > self.given_on:
            _add(errors, "weight_measured_on", "The weight must be measured before the infusion.")
        if self.course_id and self.given_on:
            self._check_against_course(errors, self.course)
        _raise(errors)

    def _check_against_course(self, errors: ErrorDict, course: TreatmentCourse) -> None:
        _check_not_before_birth(errors, "given_on", self.given_on, course.patient)
        if self.given_on < course.started_on:
            _add(
                errors,
                "given_on",
                f"The course started on {course.started_on:%d %b %Y}; "
                "an infusion cannot come before it.",
            )
        if course.stopped_on and self.given_on > course.stopped_on:
            _add(
                errors,
                "given_on",
                f"The course stopped on {course.stopped_on:%d %b %Y}; start a new course "
                "to record later infusions.",
            )
        same_day = course.infusions.filter(given_on=self.given_on).exclude(pk=self.pk)
        if same_day.exists():
            _add(
                errors,
                "given_on",
                f"This course already has an infusion on {self.given_on:%d %b %Y}.",
            )


# --- Results and assessments --------------------------------------------------------------------


class Analyte(models.TextChoices):
    CRP = "crp", "CRP (mg/L)"
    ESR = "esr", "ESR (mm/h)"
    INFLIXIMAB_TROUGH = "ifx_trough", "Infliximab trough level (µg/mL)"
    ANTI_INFLIXIMAB_ANTIBODIES = "anti_ifx", "Anti-infliximab antibodies"
    # Methotrexate's safety bloods (GUIDELINE.md methotrexate_monitoring_due): the blood count's
    # neutrophils and platelets, and ALT.
    NEUTROPHILS = "neutrophils", "Neutrophil count (×10⁹/L)"
    PLATELETS = "platelets", "Platelet count (×10⁹/L)"
    ALT = "alt", "ALT (U/L)"
    OTHER = "other", "Other"


class LabUnit(models.TextChoices):
    """Every unit a lab result may be recorded in: a managed code, never free text (a free unit
    field once carried a name into the research exports). Which units each test takes is
    ANALYTE_LAB_UNITS."""

    MG_L = "mg/L", "mg/L"
    MG_DL = "mg/dL", "mg/dL"
    G_L = "g/L", "g/L"
    G_DL = "g/dL", "g/dL"
    UG_ML = "µg/mL", "µg/mL"
    UG_L = "µg/L", "µg/L"
    NG_ML = "ng/mL", "ng/mL"
    MMOL_L = "mmol/L", "mmol/L"
    UMOL_L = "µmol/L", "µmol/L"
    NMOL_L = "nmol/L", "nmol/L"
    PMOL_L = "pmol/L", "pmol/L"
    U_L = "U/L", "U/L"
    IU_L = "IU/L", "IU/L"
    MU_L = "mU/L", "mU/L"
    U_ML = "U/mL", "U/mL"
    IU_ML = "IU/mL", "IU/mL"
    AU_ML = "AU/mL", "AU/mL"
    CELLS_10E9_L = "×10⁹/L", "×10⁹/L"
    CELLS_10E12_L = "×10¹²/L", "×10¹²/L"
    PERCENT = "%", "%"
    MM_H = "mm/h", "mm/h"
    MG_MMOL = "mg/mmol", "mg/mmol"
    UG_G = "µg/g", "µg/g"
    FL = "fL", "fL"
    PG = "pg", "pg"
    SECONDS = "s", "s (seconds)"
    ML_MIN_173M2 = "mL/min/1.73m²", "mL/min/1.73m²"
    RATIO = "ratio", "ratio"
    TITRE = "titre", "titre"


NO_UNIT = ""  # a result without a unit: a qualitative antibody result, a score
# Fixed units (DESIGN §6) and LOINC codes; antibodies report the lab's assay and unit.
ANALYTE_UNITS: dict[str, str] = {
    Analyte.CRP: LabUnit.MG_L,
    Analyte.ESR: LabUnit.MM_H,
    Analyte.INFLIXIMAB_TROUGH: LabUnit.UG_ML,
    Analyte.NEUTROPHILS: LabUnit.CELLS_10E9_L,
    Analyte.PLATELETS: LabUnit.CELLS_10E9_L,
    Analyte.ALT: LabUnit.U_L,
}
# The units each test may be recorded in: the one home of the lists (the forms' choices, the
# import's and the API's checks, the database's constraint, the export's dictionary).
ANALYTE_LAB_UNITS: dict[str, tuple[str, ...]] = {
    **{analyte: (unit,) for analyte, unit in ANALYTE_UNITS.items()},
    # What anti-infliximab antibody assays report: arbitrary units (bridging/drug-tolerant
    # ELISA), a mass concentration, units per mL, or a titre; a qualitative result has none.
    Analyte.ANTI_INFLIXIMAB_ANTIBODIES: (
        NO_UNIT,
        LabUnit.AU_ML,
        LabUnit.NG_ML,
        LabUnit.UG_ML,
        LabUnit.U_ML,
        LabUnit.TITRE,
    ),
    # What a paediatric rheumatology clinic measures besides: blood count (×10⁹/L, g/L, fL),
    # chemistry (mmol/L, µmol/L, U/L), ferritin (µg/L), vitamin D (nmol/L), calprotectin (µg/g),
    # autoantibodies (IU/mL, U/mL, titre), urine protein/creatinine (mg/mmol), eGFR, clotting (s).
    Analyte.OTHER: (NO_UNIT, *LabUnit.values),
}
ANALYTE_LOINC: dict[str, str] = {
    Analyte.CRP: "1988-5",
    Analyte.ESR: "4537-7",
    Analyte.INFLIXIMAB_TROUGH: "39803-2",
    # Neutrophils [#/volume] in Blood by Automated count; Platelets [#/volume] in Blood by
    # Automated count; Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma.
    Analyte.NEUTROPHILS: "751-8",
    Analyte.PLATELETS: "777-3",
    Analyte.ALT: "1742-6",
}
ANALYTE_MAXIMUM: dict[str, Decimal] = {
    Analyte.CRP: limits.CRP_MAX_MG_L,
    Analyte.ESR: limits.ESR_MAX_MM_H,
    Analyte.INFLIXIMAB_TROUGH: limits.TROUGH_MAX_UG_ML,
    Analyte.NEUTROPHILS: limits.NEUTROPHILS_MAX_10E9_L,
    Analyte.PLATELETS: limits.PLATELETS_MAX_10E9_L,
    Analyte.ALT: limits.ALT_MAX_U_L,
}


# A unit written under another name that is the same unit for this test: enzyme activity in IU/L
# is in U/L (1 IU = 1 U = 1 µmol/min), and labs write either for ALT.
SAME_UNIT: dict[tuple[str, str], str] = {(Analyte.ALT, LabUnit.IU_L): LabUnit.U_L}


def lab_unit_refusal(analyte: str, unit: str) -> str | None:
    """Why `unit` is not one the test is recorded in, naming the ones it is; None when it is."""
    allowed = ANALYTE_LAB_UNITS.get(analyte)
    if allowed is None or unit in allowed:
        return None
    label = Analyte(analyte).label
    if analyte in ANALYTE_UNITS:
        fixed = ANALYTE_UNITS[analyte]
        # A value measured in another unit would be stored wrongly (CRP in mg/dL reads 10× low).
        return (
            f"{label} is recorded in {fixed}, not {unit}: convert the value to {fixed}, or leave "
            "the unit empty."
        )
    return f"{unit} is not a unit of {label} results: choose one of {lab_units_listed(analyte)}."


def lab_units_listed(analyte: str) -> str:
    """The units of a test in words: "AU/mL, ng/mL, µg/mL, U/mL, titre, or none"."""
    allowed = ANALYTE_LAB_UNITS[analyte]
    named = ", ".join(unit for unit in allowed if unit != NO_UNIT)
    return f"{named}, or none" if NO_UNIT in allowed else named


def fixed_units_listed() -> str:
    """The tests with a fixed unit, each with it: "CRP mg/L, ESR mm/h, …, ALT U/L"."""
    return ", ".join(
        f"{str(Analyte(analyte).label).split(' (')[0]} {unit}"
        for analyte, unit in ANALYTE_UNITS.items()
    )


def _lab_unit_allowed() -> Q:
    allowed = Q()
    for analyte, units in ANALYTE_LAB_UNITS.items():
        allowed |= Q(analyte=analyte, unit__in=units)
    return allowed


def _analyte_value_in_range() -> Q:
    ranged = Q()
    for analyte, maximum in ANALYTE_MAXIMUM.items():
        ranged |= Q(analyte=analyte, value__isnull=False, value__gte=0, value__lte=maximum)
    return ranged | Q(analyte__in=[Analyte.ANTI_INFLIXIMAB_ANTIBODIES, Analyte.OTHER])


# What makes two lab results the same result (the unique constraint below; the import's key).
LAB_RESULT_IDENTITY = (
    "patient",
    "analyte",
    "analyte_name",
    "collected_on",
    "value",
    "antibodies_positive",
)


class LabResult(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lab_results")
    collected_on = models.DateField()
    analyte = models.CharField(max_length=20, choices=Analyte.choices)
    analyte_name = models.CharField(
        max_length=100, blank=True, help_text="For 'Other': the test's name."
    )
    value = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="CRP in mg/L, ESR in mm/h, trough in µg/mL, neutrophil and platelet counts in "
        "×10⁹/L, ALT in U/L; antibodies: titre if reported.",
    )
    unit = models.CharField(
        max_length=20,
        blank=True,
        choices=LabUnit.choices,
        help_text="Set from the analyte for the tests with a fixed unit (CRP, ESR, the trough "
        "level, neutrophils, platelets, ALT); for antibodies and other tests one of the units the "
        "test is recorded in, or none.",
    )
    # Never exported, never typed: written by migration 0008, cleared when reviewed.
    unit_to_review = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",
        help_text="The unit as it was typed before units were managed, kept because it could "
        "not be mapped to a managed unit: check the result's unit (and value), then mark it "
        "reviewed. Never exported.",
    )
    antibodies_positive = models.BooleanField(
        null=True, blank=True, help_text="Anti-infliximab antibodies only: detected or not."
    )
    assay_name = models.CharField(
        max_length=100, blank=True, help_text="Anti-infliximab antibodies: the lab's assay."
    )
    reference_low = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    reference_high = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="The lab's upper normal limit; it wins over the guideline default.",
    )

    class Meta:
        ordering = ["patient", "collected_on", "analyte"]
        constraints = [
            models.CheckConstraint(
                condition=Q(analyte__in=Analyte.values), name="lab_analyte_valid"
            ),
            models.CheckConstraint(
                condition=_analyte_value_in_range(),
                name="lab_value_in_physical_range",
                violation_error_message="The value is outside the physical range of this test.",
            ),
            models.CheckConstraint(
                condition=Q(
                    analyte=Analyte.ANTI_INFLIXIMAB_ANTIBODIES, antibodies_positive__isnull=False
                )
                | (
                    ~Q(analyte=Analyte.ANTI_INFLIXIMAB_ANTIBODIES)
                    & Q(antibodies_positive__isnull=True)
                ),
                name="lab_antibody_result_only_for_antibodies",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=0) | Q(analyte=Analyte.OTHER),
                name="lab_value_not_negative",
            ),
            models.CheckConstraint(
                condition=_lab_unit_allowed(),
                name="lab_unit_of_its_analyte",
                violation_error_message="The unit is not one this test is recorded in.",
            ),
            models.CheckConstraint(
                condition=Q(reference_low__isnull=True)
                | Q(reference_high__isnull=True)
                | Q(reference_high__gte=F("reference_low")),
                name="lab_reference_range_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(analyte=Analyte.OTHER) | ~Q(analyte_name=""),
                name="lab_other_needs_name",
            ),
            # One result is stored once, however often a lab sends it (imports are idempotent).
            # NULLs compare equal (a CRP has no antibody result, an antibody test may have no
            # titre); that needs PostgreSQL 15, and SQLite (the demo) gets no such index.
            models.UniqueConstraint(
                fields=LAB_RESULT_IDENTITY,
                nulls_distinct=False,
                name="lab_result_no_duplicates",
                violation_error_message=(
                    "This result is already recorded: same patient, test, date and value."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_analyte_display()} on {self.collected_on:%d %b %Y}"

    @property
    def loinc(self) -> str | None:
        return ANALYTE_LOINC.get(self.analyte)

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # The unit is checked by clean(), whose refusal names the test's units (the choices'
        # "not a valid choice" could not say which those are).
        super().clean_fields(exclude={*(exclude or ()), "unit"})

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        _check_not_future(errors, "collected_on", self.collected_on)
        _check_not_before_birth(errors, "collected_on", self.collected_on, patient)
        self._check_unit(errors)
        if self.analyte in ANALYTE_UNITS:
            self._check_measured_value(errors)
        elif self.analyte == Analyte.ANTI_INFLIXIMAB_ANTIBODIES:
            if self.antibodies_positive is None:
                _add(errors, "antibodies_positive", "Record whether antibodies were detected.")
            if self.value is not None and self.value < 0:
                _add(errors, "value", "A titre cannot be negative.")
        elif self.analyte == Analyte.OTHER and not self.analyte_name.strip():
            _add(errors, "analyte_name", "Name the test.")
        if (
            self.analyte != Analyte.ANTI_INFLIXIMAB_ANTIBODIES
            and self.antibodies_positive is not None
        ):
            _add(errors, "antibodies_positive", "Only for anti-infliximab antibody results.")
        if (
            self.reference_low is not None
            and self.reference_high is not None
            and self.reference_high < self.reference_low
        ):
            _add(errors, "reference_high", "The upper limit is below the lower limit.")
        _raise(errors)

    def _check_unit(self, errors: ErrorDict) -> None:
        """A fixed unit is set when none is given (and for its other name); any other unit must
        be one of the test's."""
        if self.analyte in ANALYTE_UNITS and self.unit == NO_UNIT:
            self.unit = ANALYTE_UNITS[self.analyte]
        self.unit = SAME_UNIT.get((self.analyte, self.unit), self.unit)
        refusal = lab_unit_refusal(self.analyte, self.unit)
        if refusal:
            _add(errors, "unit", refusal)

    def _check_measured_value(self, errors: ErrorDict) -> None:
        label, unit = self.get_analyte_display(), ANALYTE_UNITS[self.analyte]
        if self.value is None:
            _add(errors, "value", f"Enter the {label} value.")
            return
        maximum = ANALYTE_MAXIMUM[self.analyte]
        if self.value < 0:
            _add(errors, "value", f"{label} cannot be negative.")
        elif self.value > maximum:
            _add(
                errors,
                "value",
                f"{self.value} {unit} is above the physical maximum of {maximum} {unit}; "
                "check the value and its unit.",
            )


class Modality(models.TextChoices):
    WHOLE_BODY_MRI = "wb_mri", "Whole-body MRI"
    MRI = "mri", "MRI"
    XRAY = "xray", "X-ray"
    BONE_SCAN = "bone_scan", "Bone scan"
    CT = "ct", "CT"


MRI_MODALITIES = (Modality.WHOLE_BODY_MRI, Modality.MRI)


class Impression(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    IMPROVED = "improved", "Improved"
    STABLE = "stable", "Stable"
    WORSE = "worse", "Worse"


class LesionCounts(models.TextChoices):
    """Where a study's or assessment's lesion counts come from (blank: no count recorded)."""

    SITES = "sites", "Derived from the lesion sites"
    RECORDED = "recorded", "Counts recorded without sites"


def _lesion_counts_agree(*, none: Q, from_sites: Q) -> Q:
    """The counts agree with where they come from: none without a source, some when recorded
    without sites, and what the sites give (`from_sites`) when derived (the services derive them;
    the sites themselves are other rows, so their number is checked there)."""
    return (
        Q(lesion_counts="") & none
        | Q(lesion_counts=LesionCounts.RECORDED) & ~none
        | Q(lesion_counts=LesionCounts.SITES) & from_sites
    )


class ImagingStudy(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="imaging_studies")
    performed_on = models.DateField()
    modality = models.CharField(max_length=20, choices=Modality.choices)
    active_lesions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Number of lesions with active inflammation (oedema). Derived from the lesion "
        "sites when they are recorded (MRI); otherwise as recorded.",
    )
    new_lesions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Lesions not seen on the previous study. Derived from the lesion sites when "
        "they are recorded (MRI); otherwise as recorded.",
    )
    lesion_counts = models.CharField(
        "lesion counts from",
        max_length=10,
        choices=LesionCounts.choices,
        blank=True,
        editable=False,
        help_text="Set by the registry: the sites, or counts recorded without sites.",
    )
    impression = models.CharField(max_length=20, choices=Impression.choices, blank=True)
    rinbo_total = models.PositiveSmallIntegerField(
        "RINBO total", null=True, blank=True, help_text="Radiological index, if scored."
    )
    rai_cromris_total = models.PositiveSmallIntegerField(
        "RAI-CROMRIS total", null=True, blank=True, help_text="Radiological index, if scored."
    )
    report_text = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "imaging studies"
        ordering = ["patient", "performed_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(modality__in=Modality.values), name="imaging_modality_valid"
            ),
            models.CheckConstraint(
                condition=Q(impression="") | Q(impression__in=Impression.values),
                name="imaging_impression_valid",
            ),
            models.CheckConstraint(
                condition=_lesion_counts_agree(
                    none=Q(active_lesions__isnull=True, new_lesions__isnull=True),
                    from_sites=Q(
                        modality__in=MRI_MODALITIES,
                        active_lesions__isnull=False,
                        new_lesions__isnull=False,
                        new_lesions__lte=F("active_lesions"),
                    )
                    | ~Q(modality__in=MRI_MODALITIES)
                    & Q(active_lesions__isnull=True, new_lesions__isnull=True),
                ),
                name="imaging_lesion_counts_agree_with_source",
                violation_error_message="The lesion counts do not agree with where they come "
                "from: from the sites (MRI: active and new, new among the active; other "
                "modalities: none) or recorded without sites.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_modality_display()} on {self.performed_on:%d %b %Y}"

    @property
    def is_mri(self) -> bool:
        return self.modality in MRI_MODALITIES

    @property
    def counts_recorded_without_sites(self) -> bool:
        return self.lesion_counts == LesionCounts.RECORDED

    def clean(self) -> None:
        errors: ErrorDict = {}
        _check_not_future(errors, "performed_on", self.performed_on)
        _check_not_before_birth(
            errors, "performed_on", self.performed_on, self.patient if self.patient_id else None
        )
        if self.pk and self.modality and not self.is_mri:
            with_state = self.lesion_sites.filter(Q(active=True) | Q(resolved=True))
            if with_state.exists():
                _add(
                    errors,
                    "modality",
                    "Lesion sites of this study are marked active, new or resolved, which only an "
                    "MRI shows: correct the sites first.",
                )
        _raise(errors)


class DiseaseState(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class ClinicalAssessment(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    assessed_on = models.DateField()
    pain_score = models.DecimalField(
        "pain (0–10)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    physician_global = models.DecimalField(
        "physician global (0–10)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    patient_global = models.DecimalField(
        "patient/parent global (0–10)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    chaq = models.DecimalField("CHAQ (0–3)", max_digits=4, decimal_places=3, null=True, blank=True)
    clinically_active_lesions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Lesions judged active on examination. Derived from the lesion sites when they "
        "are recorded; otherwise as recorded.",
    )
    lesion_counts = models.CharField(
        "lesion count from",
        max_length=10,
        choices=LesionCounts.choices,
        blank=True,
        editable=False,
        help_text="Set by the registry: the sites, or a count recorded without sites.",
    )
    disease_state = models.CharField(
        "disease state as judged",
        max_length=10,
        choices=DiseaseState.choices,
        blank=True,
        help_text="Leave blank to let the registry derive it from the scores and lesions.",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["patient", "assessed_on"]
        constraints = [
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{field}__isnull": True})
                    | Q(**{f"{field}__gte": 0, f"{field}__lte": limits.SCORE_MAX}),
                    name=f"assessment_{field}_in_range",
                )
                for field in ("pain_score", "physician_global", "patient_global")
            ),
            models.CheckConstraint(
                condition=Q(chaq__isnull=True) | Q(chaq__gte=0, chaq__lte=limits.CHAQ_MAX),
                name="assessment_chaq_in_range",
            ),
            models.CheckConstraint(
                condition=Q(disease_state="") | Q(disease_state__in=DiseaseState.values),
                name="assessment_disease_state_valid",
            ),
            models.CheckConstraint(
                condition=_lesion_counts_agree(
                    none=Q(clinically_active_lesions__isnull=True),
                    from_sites=Q(clinically_active_lesions__gte=1),
                ),
                name="assessment_lesion_count_agrees_with_source",
                violation_error_message="The clinically active lesion count does not agree with "
                "where it comes from: the sites or a count recorded without sites.",
            ),
        ]

    def __str__(self) -> str:
        return f"Assessment on {self.assessed_on:%d %b %Y}"

    @property
    def counts_recorded_without_sites(self) -> bool:
        return self.lesion_counts == LesionCounts.RECORDED

    def clean(self) -> None:
        errors: ErrorDict = {}
        _check_not_future(errors, "assessed_on", self.assessed_on)
        _check_not_before_birth(
            errors, "assessed_on", self.assessed_on, self.patient if self.patient_id else None
        )
        for field in ("pain_score", "physician_global", "patient_global"):
            self._check_range(errors, field, limits.SCORE_MAX)
        self._check_range(errors, "chaq", limits.CHAQ_MAX)
        _raise(errors)

    def _check_range(self, errors: ErrorDict, field: str, maximum: Decimal) -> None:
        value = getattr(self, field)
        if value is not None and not 0 <= value <= maximum:
            _add(errors, field, f"Scores run from 0 to {maximum}; {value} is outside that.")


class ReactionOnset(models.TextChoices):
    ACUTE = "acute", "Acute (within 24 h)"
    DELAYED = "delayed", "Delayed (1–14 days)"


class ReactionSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class ReactionOutcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    RESOLVED_WITH_SEQUELAE = "sequelae", "Resolved with sequelae"
    ONGOING = "ongoing", "Ongoing"
    UNKNOWN = "unknown", "Unknown"


class ReviewDecision(models.TextChoices):
    CONTINUE_PREMEDICATED = "continue_premedicated", "Continue with premedication"
    CONTINUE_UNCHANGED = "continue_unchanged", "Continue unchanged"
    STOP = "stop", "Stop infliximab"


class InfusionReaction(ClinicalRecord):
    infusion = models.ForeignKey(
        Infusion,
        on_delete=models.PROTECT,
        related_name="reactions",
        error_messages={
            "null": "A reaction must be linked to the infusion it followed.",
            "blank": "A reaction must be linked to the infusion it followed.",
        },
    )
    onset = models.CharField(max_length=10, choices=ReactionOnset.choices)
    severity = models.CharField(max_length=10, choices=ReactionSeverity.choices)
    symptoms = models.TextField()
    management = models.TextField(blank=True)
    infusion_stopped = models.BooleanField(default=False)
    outcome = models.CharField(
        max_length=10, choices=ReactionOutcome.choices, default=ReactionOutcome.RESOLVED
    )
    reviewed_on = models.DateField(
        null=True,
        blank=True,
        help_text="A clinician's review; after a severe reaction no further infusion before it.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    review_decision = models.CharField(
        max_length=25,
        choices=ReviewDecision.choices,
        blank=True,
        help_text="The clinician's decision on further infusions (blank in reviews recorded "
        "before decisions were).",
    )
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["infusion"]
        constraints = [
            models.CheckConstraint(
                condition=Q(onset__in=ReactionOnset.values), name="reaction_onset_valid"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=ReactionSeverity.values), name="reaction_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ReactionOutcome.values), name="reaction_outcome_valid"
            ),
            models.CheckConstraint(condition=~Q(symptoms=""), name="reaction_symptoms_not_blank"),
            models.CheckConstraint(
                condition=Q(reviewed_on__isnull=True, reviewed_by__isnull=True, review_decision="")
                | Q(reviewed_on__isnull=False, reviewed_by__isnull=False),
                name="reaction_review_complete",
                violation_error_message="A review records its date, its clinician and a decision.",
            ),
            models.CheckConstraint(
                condition=Q(review_decision="") | Q(review_decision__in=ReviewDecision.values),
                name="reaction_review_decision_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.get_onset_display().lower()} reaction"

    def clean(self) -> None:
        errors: ErrorDict = {}
        # A missing infusion is refused by the field itself (its error message says why).
        if self.infusion_id and self.reviewed_on and self.reviewed_on < self.infusion.given_on:
            _add(errors, "reviewed_on", "The review is before the infusion.")
        if self.reviewed_on and not self.reviewed_by_id:
            _add(errors, "reviewed_by", "Record which clinician reviewed the reaction.")
        _check_not_future(errors, "reviewed_on", self.reviewed_on)
        if self.symptoms is not None and not self.symptoms.strip():
            _add(errors, "symptoms", "Describe the symptoms.")
        _raise(errors)


# The reactions that hold a patient's infusions (the entry safeguard): a severe reaction not yet
# reviewed, or one after which a clinician stopped infliximab. A filter, so the database picks them.
HOLDS_INFUSIONS = Q(severity=ReactionSeverity.SEVERE, reviewed_on__isnull=True) | Q(
    review_decision=ReviewDecision.STOP
)


class Relapse(ClinicalRecord):
    """A relapse confirmed by a clinician, after (or during the taper of) `course`."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="relapses")
    course = models.ForeignKey(
        TreatmentCourse,
        on_delete=models.PROTECT,
        related_name="relapses",
        help_text="The course the relapse followed.",
    )
    noted_on = models.DateField()
    evidence = models.TextField(help_text="What showed the relapse: MRI, examination, markers.")
    retreatment_course = models.OneToOneField(
        TreatmentCourse,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retreats_relapse",
    )

    class Meta:
        ordering = ["patient", "noted_on"]
        constraints = [
            models.CheckConstraint(condition=~Q(evidence=""), name="relapse_evidence_not_blank"),
            models.CheckConstraint(
                condition=~Q(retreatment_course=F("course")),
                name="relapse_retreatment_is_another_course",
            ),
        ]

    def __str__(self) -> str:
        return f"Relapse noted {self.noted_on:%d %b %Y}"

    def clean(self) -> None:
        errors: ErrorDict = {}
        _check_not_future(errors, "noted_on", self.noted_on)
        if not (self.evidence or "").strip():
            _add(errors, "evidence", "Describe the evidence of relapse.")
        if self.course_id and self.noted_on:
            course = self.course
            if self.patient_id and course.patient_id != self.patient_id:
                _add(errors, "course", "This course belongs to another patient.")
            if self.noted_on < course.started_on:
                _add(errors, "noted_on", "This is before the course it followed started.")
        retreatment = self.retreatment_course if self.retreatment_course_id else None
        if retreatment is not None and self.noted_on:
            if retreatment.pk == self.course_id:
                _add(errors, "retreatment_course", "Retreatment must be a new course.")
            elif retreatment.patient_id != self.patient_id:
                _add(errors, "retreatment_course", "This course belongs to another patient.")
            elif retreatment.started_on < self.noted_on:
                _add(
                    errors,
                    "retreatment_course",
                    "The retreatment course starts before the relapse was noted.",
                )
        _raise(errors)


# --- Other medications (co-therapy) ---------------------------------------------------------------


class MedicationDrug(models.TextChoices):
    """The drugs given with or before infliximab in CRMO/CNO; `OTHER` is named in free text."""

    NAPROXEN = "naproxen", "Naproxen"
    IBUPROFEN = "ibuprofen", "Ibuprofen"
    INDOMETACIN = "indometacin", "Indometacin"
    CELECOXIB = "celecoxib", "Celecoxib"
    METHOTREXATE = "methotrexate", "Methotrexate"
    SULFASALAZINE = "sulfasalazine", "Sulfasalazine"
    PAMIDRONATE = "pamidronate", "Pamidronate (pamidronic acid)"
    ZOLEDRONIC_ACID = "zoledronic_acid", "Zoledronic acid"
    PREDNISOLONE = "prednisolone", "Prednisolone"
    METHYLPREDNISOLONE = "methylprednisolone", "Methylprednisolone"
    ADALIMUMAB = "adalimumab", "Adalimumab"
    ETANERCEPT = "etanercept", "Etanercept"
    OTHER = "other", "Other (name it)"


class DrugClass(models.TextChoices):
    NSAID = "nsaid", "NSAIDs"
    DMARD = "dmard", "Conventional DMARDs"
    BISPHOSPHONATE = "bisphosphonate", "Bisphosphonates"
    GLUCOCORTICOID = "glucocorticoid", "Glucocorticoids"
    TNF_INHIBITOR = "tnf_inhibitor", "Other TNF inhibitors"
    OTHER = "other", "Other"


# WHO ATC codes (whocc.no), and each drug's class. Methotrexate is L04AX03, the immunosuppressant
# code rheumatology uses (L01BA01 is its antineoplastic use).
MEDICATION_ATC: dict[str, str] = {
    MedicationDrug.NAPROXEN: "M01AE02",
    MedicationDrug.IBUPROFEN: "M01AE01",
    MedicationDrug.INDOMETACIN: "M01AB01",
    MedicationDrug.CELECOXIB: "M01AH01",
    MedicationDrug.METHOTREXATE: "L04AX03",
    MedicationDrug.SULFASALAZINE: "A07EC01",
    MedicationDrug.PAMIDRONATE: "M05BA03",
    MedicationDrug.ZOLEDRONIC_ACID: "M05BA08",
    MedicationDrug.PREDNISOLONE: "H02AB06",
    MedicationDrug.METHYLPREDNISOLONE: "H02AB04",
    MedicationDrug.ADALIMUMAB: "L04AB04",
    MedicationDrug.ETANERCEPT: "L04AB01",
}
MEDICATION_CLASS: dict[str, str] = {
    MedicationDrug.NAPROXEN: DrugClass.NSAID,
    MedicationDrug.IBUPROFEN: DrugClass.NSAID,
    MedicationDrug.INDOMETACIN: DrugClass.NSAID,
    MedicationDrug.CELECOXIB: DrugClass.NSAID,
    MedicationDrug.METHOTREXATE: DrugClass.DMARD,
    MedicationDrug.SULFASALAZINE: DrugClass.DMARD,
    MedicationDrug.PAMIDRONATE: DrugClass.BISPHOSPHONATE,
    MedicationDrug.ZOLEDRONIC_ACID: DrugClass.BISPHOSPHONATE,
    MedicationDrug.PREDNISOLONE: DrugClass.GLUCOCORTICOID,
    MedicationDrug.METHYLPREDNISOLONE: DrugClass.GLUCOCORTICOID,
    MedicationDrug.ADALIMUMAB: DrugClass.TNF_INHIBITOR,
    MedicationDrug.ETANERCEPT: DrugClass.TNF_INHIBITOR,
    MedicationDrug.OTHER: DrugClass.OTHER,
}


class DoseUnit(models.TextChoices):
    """Stored as UCUM codes (what FHIR's dose quantities carry), shown as a person writes them."""

    MG = "mg", "mg"
    MG_PER_KG = "mg/kg", "mg/kg"
    MG_PER_M2 = "mg/m2", "mg/m²"
    G = "g", "g"
    MICROGRAM = "ug", "µg"


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INTRAVENOUS = "intravenous", "Intravenous"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    TOPICAL = "topical", "Topical"
    RECTAL = "rectal", "Rectal"


# SNOMED CT "route of administration" concepts.
ROUTE_SNOMED: dict[str, str] = {
    Route.ORAL: "26643006",
    Route.SUBCUTANEOUS: "34206005",
    Route.INTRAVENOUS: "47625008",
    Route.INTRAMUSCULAR: "78421000",
    Route.TOPICAL: "6064005",
    Route.RECTAL: "37161004",
}


class Frequency(models.TextChoices):
    ONCE_DAILY = "once_daily", "Once daily"
    TWICE_DAILY = "twice_daily", "Twice daily"
    THREE_TIMES_DAILY = "three_times_daily", "Three times daily"
    WEEKLY = "weekly", "Weekly"
    EVERY_2_WEEKS = "every_2_weeks", "Every 2 weeks"
    EVERY_4_WEEKS = "every_4_weeks", "Every 4 weeks"
    EVERY_3_MONTHS = "every_3_months", "Every 3 months (e.g. a bisphosphonate cycle)"
    EVERY_6_MONTHS = "every_6_months", "Every 6 months"
    ONCE = "once", "Once (a single dose or course)"
    AS_NEEDED = "as_needed", "As needed"


class MedicationStopReason(models.TextChoices):
    # The values a course's stop reason shares (StopReason) are the same words.
    REMISSION = "remission", "Remission"
    INEFFICACY = "inefficacy", "Ineffective"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    PATIENT_CHOICE = "patient_choice", "Patient or family choice"
    COMPLETED = "completed", "Planned course completed"
    DOSE_CHANGED = "dose_changed", "Dose or frequency changed (a new entry follows)"
    OTHER = "other", "Other"


class Medication(ClinicalRecord):
    """A drug other than infliximab the patient takes or took, from `started_on` to `stopped_on`.

    One entry per drug at one dose: a dose change stops the entry ("dose changed") and starts
    another. The only free text is the name of an "other" drug, which research exports never carry.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    drug = models.CharField(max_length=30, choices=MedicationDrug.choices)
    drug_name = models.CharField(
        "name of the other drug", max_length=100, blank=True, help_text="Only for “Other”."
    )
    dose = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True, help_text="Per administration."
    )
    dose_unit = models.CharField(max_length=10, choices=DoseUnit.choices, blank=True)
    route = models.CharField(max_length=20, choices=Route.choices)
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True, help_text="Empty while it is taken.")
    stop_reason = models.CharField(
        "reason for stopping", max_length=20, choices=MedicationStopReason.choices, blank=True
    )

    class Meta:
        ordering = ["patient", "started_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(drug__in=MedicationDrug.values), name="medication_drug_valid"
            ),
            # clean() also refuses a name on a listed drug; the database only insists on the name
            # of an "other" one (the exports' free-text test plants text in every row).
            models.CheckConstraint(
                condition=~Q(drug=MedicationDrug.OTHER) | ~Q(drug_name=""),
                name="medication_other_drug_named",
                violation_error_message="Name the “other” drug.",
            ),
            models.CheckConstraint(
                condition=Q(dose__isnull=True, dose_unit="")
                | Q(dose__gt=0, dose_unit__in=DoseUnit.values),
                name="medication_dose_with_unit",
                violation_error_message="A dose is above 0 and has its unit.",
            ),
            models.CheckConstraint(
                condition=Q(route__in=Route.values), name="medication_route_valid"
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=Frequency.values), name="medication_frequency_valid"
            ),
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True) | Q(stopped_on__gte=F("started_on")),
                name="medication_stopped_after_start",
                violation_error_message="A medication cannot stop before it started.",
            ),
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True, stop_reason="")
                | Q(stopped_on__isnull=False, stop_reason__in=MedicationStopReason.values),
                name="medication_stop_reason_with_stop_date",
                violation_error_message="A stopped medication needs its reason, and only then.",
            ),
            models.UniqueConstraint(
                fields=["patient", "drug", "drug_name"],
                condition=Q(stopped_on__isnull=True),
                name="medication_one_current_entry_per_drug",
                violation_error_message="The patient is already taking this drug.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug_label} from {self.started_on:%d %b %Y}"

    @property
    def drug_label(self) -> str:
        return self.drug_name if self.drug == MedicationDrug.OTHER else self.get_drug_display()

    @property
    def atc_code(self) -> str | None:
        return MEDICATION_ATC.get(self.drug)

    @property
    def dose_words(self) -> str:
        """The dose as a prescription writes it: "5 mg/kg twice daily, oral"."""
        dose = f"{self.dose.normalize():f} {self.get_dose_unit_display()} " if self.dose else ""
        return f"{dose}{self.get_frequency_display().lower()}, {self.get_route_display().lower()}"

    def is_current_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.stopped_on is None or self.stopped_on > day)

    def clean(self) -> None:
        errors: ErrorDict = {}
        self.drug_name = (self.drug_name or "").strip()
        if self.drug == MedicationDrug.OTHER and not self.drug_name:
            _add(errors, "drug_name", "Name the drug.")
        elif self.drug and self.drug != MedicationDrug.OTHER and self.drug_name:
            _add(
                errors,
                "drug_name",
                f"Only for “Other”: {self.get_drug_display()} is on the list already.",
            )
        self._check_dose(errors)
        patient = self.patient if self.patient_id else None
        _check_not_future(errors, "started_on", self.started_on)
        _check_not_before_birth(errors, "started_on", self.started_on, patient)
        _check_not_future(errors, "stopped_on", self.stopped_on)
        if self.stopped_on:
            if self.started_on and self.stopped_on < self.started_on:
                _add(
                    errors,
                    "stopped_on",
                    f"It started on {self.started_on:%d %b %Y}; it cannot stop before that.",
                )
            if not self.stop_reason:
                _add(errors, "stop_reason", "Say why it was stopped.")
        elif self.stop_reason:
            _add(errors, "stop_reason", "Only a stopped medication has a reason for stopping.")
        if patient is not None and self.drug and self.stopped_on is None:
            self._check_not_taken_already(errors, patient)
        _raise(errors)

    def _check_dose(self, errors: ErrorDict) -> None:
        if self.dose is not None and self.dose <= 0:
            _add(errors, "dose", "The dose must be more than 0.")
        if self.dose is not None and not self.dose_unit:
            _add(errors, "dose_unit", "Choose the dose's unit.")
        if self.dose is None and self.dose_unit:
            _add(errors, "dose", "Enter the dose, or leave its unit empty.")

    def _check_not_taken_already(self, errors: ErrorDict, patient: Patient) -> None:
        current = patient.medications.filter(
            drug=self.drug, drug_name=self.drug_name, stopped_on__isnull=True
        ).exclude(pk=self.pk)
        for other in current[:1]:
            _add(
                errors,
                "drug",
                f"{self.drug_label} is already recorded as taken since "
                f"{other.started_on:%d %b %Y}: stop that entry first (a new dose is a new entry).",
            )


# --- Safety: adverse events, screening results, vaccinations -------------------------------------
# An infusion reaction stays an InfusionReaction (its infusion, onset, the infusion hold, its own
# review); the patient page lists reactions among the adverse events, coded as CTCAE's "Infusion
# related reaction". Every other adverse event is an AdverseEvent. The managed lists and what each
# entry means are in registry.safety_codes.


class AdverseEventGrade(models.IntegerChoices):
    """CTCAE v5.0 grades; a grade is the event's severity, which is not its seriousness."""

    MILD = 1, "1 — mild"
    MODERATE = 2, "2 — moderate"
    SEVERE = 3, "3 — severe or medically significant"
    LIFE_THREATENING = 4, "4 — life-threatening"
    DEATH = 5, "5 — death related to the event"


class RelationToInfliximab(models.TextChoices):
    RELATED = "related", "Related"
    POSSIBLY_RELATED = "possibly_related", "Possibly related"
    UNLIKELY_RELATED = "unlikely_related", "Unlikely related"
    UNRELATED = "unrelated", "Unrelated"


class ActionTaken(models.TextChoices):
    NONE = "none", "None"
    INFUSION_DELAYED = "infusion_delayed", "Infusion delayed"
    DOSE_REDUCED = "dose_reduced", "Dose reduced"
    TREATMENT_INTERRUPTED = "treatment_interrupted", "Treatment interrupted"
    TREATMENT_STOPPED = "treatment_stopped", "Treatment stopped"


class AdverseEventOutcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered"
    RECOVERING = "recovering", "Recovering"
    NOT_RECOVERED = "not_recovered", "Not recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", "Recovered with sequelae"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


# The outcomes that end an event, on its resolution date (for a fatal one, the date of death).
RESOLVED_OUTCOMES: tuple[str, ...] = (
    AdverseEventOutcome.RECOVERED,
    AdverseEventOutcome.RECOVERED_WITH_SEQUELAE,
    AdverseEventOutcome.FATAL,
)


class AdverseEventDecision(models.TextChoices):
    CONTINUE = "continue", "Continue infliximab"
    HOLD = "hold", "Hold infliximab until the event resolves"
    STOP = "stop", "Stop infliximab"


# ICH E2A's seriousness criteria, each a field `seriousness_<name>`: kept apart from the grade (a
# grade 3 rash can be non-serious, a grade 2 event that prolongs a stay in hospital is serious).
SERIOUSNESS_CRITERIA: dict[str, str] = {
    "death": "results in death",
    "life_threatening": "is life-threatening",
    "hospitalisation": "requires inpatient hospitalisation or prolongs an existing one",
    "disability": "results in persistent or significant disability or incapacity",
    "congenital_anomaly": "is a congenital anomaly or birth defect",
    "medically_important": "is another important medical event",
}
SERIOUSNESS_FIELDS: tuple[str, ...] = tuple(f"seriousness_{name}" for name in SERIOUSNESS_CRITERIA)
GRADE_REFUSAL = (
    "The grade runs from 1 (mild) to 5 (death related to the event), as CTCAE v5.0 grades; "
    "{grade} is outside that."
)


def _seriousness_field(name: str) -> models.BooleanField[bool, bool]:
    return models.BooleanField(f"serious: {SERIOUSNESS_CRITERIA[name]}", default=False)


def _any_criterion() -> Q:
    met = Q()
    for field in SERIOUSNESS_FIELDS:
        met |= Q(**{field: True})
    return met


def _no_criterion() -> Q:
    return Q(**dict.fromkeys(SERIOUSNESS_FIELDS, False))


class AdverseEvent(ClinicalRecord):
    """An adverse event other than an infusion reaction: what (a CTCAE term and grade), how
    serious (ICH E2A), how related to infliximab, what was done and how it ended."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events")
    course = models.ForeignKey(
        TreatmentCourse,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adverse_events",
        help_text="The course the event happened on, if any.",
    )
    onset_on = models.DateField("onset on")
    term = models.CharField(max_length=40, choices=AdverseEventTerm.choices)
    # Never exported (research exports carry no free text): the term's code says what it is.
    specified_term = models.CharField(
        max_length=200,
        blank=True,
        help_text="For a term that says “name it”: the event, as the clinician names it.",
    )
    grade = models.PositiveSmallIntegerField("CTCAE grade", choices=AdverseEventGrade.choices)
    serious = models.BooleanField(
        default=False, help_text="Serious per ICH E2A: it meets at least one criterion below."
    )
    seriousness_death = _seriousness_field("death")
    seriousness_life_threatening = _seriousness_field("life_threatening")
    seriousness_hospitalisation = _seriousness_field("hospitalisation")
    seriousness_disability = _seriousness_field("disability")
    seriousness_congenital_anomaly = _seriousness_field("congenital_anomaly")
    seriousness_medically_important = _seriousness_field("medically_important")
    relation_to_infliximab = models.CharField(max_length=20, choices=RelationToInfliximab.choices)
    action_taken = models.CharField(
        "action taken with infliximab", max_length=25, choices=ActionTaken.choices
    )
    outcome = models.CharField(max_length=25, choices=AdverseEventOutcome.choices)
    resolved_on = models.DateField(
        null=True,
        blank=True,
        help_text="When it ended: recovered (with or without sequelae), or the date of death.",
    )
    reviewed_on = models.DateField(
        null=True,
        blank=True,
        help_text="A clinician's review, which every serious event and every event of special "
        "interest needs.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    review_decision = models.CharField(
        max_length=10, choices=AdverseEventDecision.choices, blank=True
    )

    class Meta:
        ordering = ["patient", "onset_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(term__in=RECORDED_TERMS),
                name="adverse_event_term_valid",
                violation_error_message="Choose the event's term from the list (an infusion "
                "reaction is recorded as a reaction to its infusion).",
            ),
            # clean() also refuses a name for a term that names the event itself.
            models.CheckConstraint(
                condition=~Q(term__in=NAMED_TERMS) | ~Q(specified_term=""),
                name="adverse_event_named_when_its_term_asks",
                violation_error_message="A term that says “name it” needs the event's name.",
            ),
            models.CheckConstraint(
                condition=Q(grade__gte=1, grade__lte=5),
                name="adverse_event_grade_1_to_5",
                violation_error_message="The grade runs from 1 (mild) to 5 (death).",
            ),
            models.CheckConstraint(
                condition=(Q(serious=True) & _any_criterion())
                | (Q(serious=False) & _no_criterion()),
                name="adverse_event_serious_by_its_criteria",
                violation_error_message="A serious event meets at least one seriousness "
                "criterion, and a non-serious event none.",
            ),
            models.CheckConstraint(
                condition=Q(outcome=AdverseEventOutcome.FATAL, seriousness_death=True, grade=5)
                | (
                    ~Q(outcome=AdverseEventOutcome.FATAL) & Q(seriousness_death=False) & ~Q(grade=5)
                ),
                name="adverse_event_fatal_is_death_and_grade_5",
                violation_error_message="A fatal outcome, the criterion “results in death” and "
                "grade 5 go together.",
            ),
            models.CheckConstraint(
                condition=Q(relation_to_infliximab__in=RelationToInfliximab.values),
                name="adverse_event_relation_valid",
            ),
            models.CheckConstraint(
                condition=Q(action_taken__in=ActionTaken.values),
                name="adverse_event_action_valid",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=RESOLVED_OUTCOMES, resolved_on__isnull=False)
                | (
                    Q(outcome__in=AdverseEventOutcome.values)
                    & ~Q(outcome__in=RESOLVED_OUTCOMES)
                    & Q(resolved_on__isnull=True)
                ),
                name="adverse_event_resolved_on_with_its_outcome",
                violation_error_message="An event that ended (recovered, or fatal) has its "
                "resolution date, and only then.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("onset_on")),
                name="adverse_event_resolved_after_onset",
                violation_error_message="An event cannot end before its onset.",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_on__isnull=True, reviewed_by__isnull=True, review_decision="")
                | Q(
                    reviewed_on__gte=F("onset_on"),
                    reviewed_by__isnull=False,
                    review_decision__in=AdverseEventDecision.values,
                ),
                name="adverse_event_review_complete",
                violation_error_message="A review records its date (not before the onset), its "
                "clinician and a decision.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term_words} (grade {self.grade}) from {self.onset_on:%d %b %Y}"

    @property
    def coding(self) -> Coding:
        return CODINGS[self.term]

    @property
    def term_words(self) -> str:
        """The event in words: its term, or for a term that asks, the name given."""
        if self.coding.named and self.specified_term:
            return f"{self.get_term_display().split(' (')[0]}: {self.specified_term}"
        return self.get_term_display()

    @property
    def special_interest(self) -> list[str]:
        return special_interest(self.term, serious=self.serious)

    @property
    def special_interest_words(self) -> list[str]:
        return [str(SpecialInterest(kind).label) for kind in self.special_interest]

    @property
    def seriousness_criteria(self) -> list[str]:
        return [
            words
            for name, words in SERIOUSNESS_CRITERIA.items()
            if getattr(self, f"seriousness_{name}")
        ]

    @property
    def needs_review(self) -> bool:
        """A serious event or one of special interest, not yet reviewed by a clinician."""
        return self.reviewed_on is None and (self.serious or bool(self.special_interest))

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # The grade is checked by clean(), whose refusal says what the grades are (the choices'
        # "not a valid choice" could not).
        super().clean_fields(exclude={*(exclude or ()), "grade"})

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        _check_not_future(errors, "onset_on", self.onset_on)
        _check_not_before_birth(errors, "onset_on", self.onset_on, patient)
        self._check_term(errors)
        if self.grade is None:
            _add(errors, "grade", "Give the CTCAE grade, from 1 (mild) to 5 (death).")
        elif self.grade not in AdverseEventGrade.values:
            _add(errors, "grade", GRADE_REFUSAL.format(grade=self.grade))
        self._check_seriousness(errors)
        self._check_outcome(errors)
        course = self.course if self.course_id else None
        if course is not None and self.onset_on and patient is not None:
            if course.patient_id != patient.pk:
                _add(errors, "course", "This course belongs to another patient.")
            elif self.onset_on < course.started_on:
                _add(
                    errors,
                    "onset_on",
                    f"The course started on {course.started_on:%d %b %Y}: an event of that "
                    "course cannot begin before it.",
                )
        self._check_review(errors)
        _raise(errors)

    def _check_term(self, errors: ErrorDict) -> None:
        self.specified_term = (self.specified_term or "").strip()
        if self.term == AdverseEventTerm.INFUSION_RELATED_REACTION:
            _add(
                errors,
                "term",
                "An infusion reaction is recorded as a reaction to its infusion (Reaction), "
                "which has its own review and holds further infusions when severe.",
            )
        elif self.term in NAMED_TERMS and not self.specified_term:
            _add(errors, "specified_term", "Name the event: this term asks for it.")
        elif self.term and self.term not in NAMED_TERMS and self.specified_term:
            _add(
                errors,
                "specified_term",
                "Only a term that says “name it” takes a name: this term names the event.",
            )

    def _check_seriousness(self, errors: ErrorDict) -> None:
        met = self.seriousness_criteria
        if self.serious and not met:
            _add(
                errors,
                "serious",
                "A serious event meets at least one seriousness criterion (ICH E2A): tick each "
                "one it meets, or record it as not serious.",
            )
        elif not self.serious and met:
            _add(
                errors,
                "serious",
                f"It {' and '.join(met)}: that makes it serious (ICH E2A). Mark it serious, or "
                "untick the criteria.",
            )
        fatal = self.outcome == AdverseEventOutcome.FATAL
        if fatal and not self.seriousness_death:
            _add(
                errors,
                "seriousness_death",
                "A fatal event results in death: tick “results in death” (a serious event).",
            )
        elif self.seriousness_death and self.outcome and not fatal:
            _add(errors, "outcome", "The event resulted in death: its outcome is fatal.")
        if fatal and self.grade in AdverseEventGrade.values and self.grade != 5:
            _add(errors, "grade", "A fatal event is grade 5 (death related to the event).")
        elif self.grade == 5 and self.outcome and not fatal:
            _add(errors, "outcome", "Grade 5 is death related to the event: its outcome is fatal.")

    def _check_outcome(self, errors: ErrorDict) -> None:
        _check_not_future(errors, "resolved_on", self.resolved_on)
        ended = self.outcome in RESOLVED_OUTCOMES
        if ended and self.resolved_on is None:
            what = "the date of death" if self.outcome == AdverseEventOutcome.FATAL else "when"
            _add(errors, "resolved_on", f"Give {what}: the outcome says the event ended.")
        elif self.outcome and not ended and self.resolved_on is not None:
            _add(
                errors,
                "resolved_on",
                f"An event that is “{self.get_outcome_display().lower()}” has not ended: leave "
                "the resolution date empty, or change the outcome.",
            )
        if self.resolved_on and self.onset_on and self.resolved_on < self.onset_on:
            _add(errors, "resolved_on", "The event cannot end before its onset.")

    def _check_review(self, errors: ErrorDict) -> None:
        if self.reviewed_on is None:
            return
        _check_not_future(errors, "reviewed_on", self.reviewed_on)
        if self.onset_on and self.reviewed_on < self.onset_on:
            _add(errors, "reviewed_on", "The review is before the event's onset.")
        if not self.reviewed_by_id:
            _add(errors, "reviewed_by", "Record which clinician reviewed the event.")


# A serious event or one of special interest that no clinician has reviewed yet (the record's
# "awaiting review"; the term decides special interest, seriousness the serious infections).
AWAITING_REVIEW = (Q(serious=True) | Q(term__in=SPECIAL_INTEREST_TERMS)) & Q(
    reviewed_on__isnull=True
)


class ScreeningResult(ClinicalRecord):
    """One dated screening test before or during treatment, and its specialist review when it is
    not negative (latent TB, hepatitis B)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screening_results")
    test = models.CharField(max_length=20, choices=ScreeningTest.choices)
    tested_on = models.DateField(help_text="When the sample was taken or the X-ray performed.")
    result = models.CharField(
        max_length=15,
        choices=ScreeningOutcome.choices,
        help_text="Chest X-ray: positive if it shows signs of TB. Anti-HBs and varicella IgG: "
        "positive means immune.",
    )
    reviewed_on = models.DateField(
        null=True,
        blank=True,
        help_text="A specialist review of a result that is not negative (not for immunity).",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["patient", "tested_on", "test"]
        constraints = [
            models.CheckConstraint(
                condition=Q(test__in=ScreeningTest.values), name="screening_test_valid"
            ),
            models.CheckConstraint(
                condition=Q(result__in=ScreeningOutcome.values), name="screening_result_valid"
            ),
            models.UniqueConstraint(
                fields=["patient", "test", "tested_on"],
                name="screening_one_result_per_test_per_day",
                violation_error_message="This test is already recorded for this patient on this "
                "date: correct that result instead.",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_on__isnull=True, reviewed_by__isnull=True)
                | Q(
                    reviewed_on__gte=F("tested_on"),
                    reviewed_by__isnull=False,
                    result__in=NOT_NEGATIVE,
                )
                & ~Q(test__in=IMMUNITY_TESTS),
                name="screening_review_of_a_result_that_needs_one",
                violation_error_message="A specialist review (its date, not before the test, "
                "and its clinician) is recorded for a result that is not negative, and only then.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_test_display()} of {self.tested_on:%d %b %Y}: {self.result_words}"

    @property
    def result_words(self) -> str:
        words = self.get_result_display().lower()
        if self.test in IMMUNITY_TESTS and self.result == ScreeningOutcome.POSITIVE:
            return f"{words} (immune)"
        return words

    @property
    def needs_specialist(self) -> bool:
        return needs_specialist(self.test, self.result)

    @property
    def awaiting_review(self) -> bool:
        return self.needs_specialist and self.reviewed_on is None

    def clean(self) -> None:
        errors: ErrorDict = {}
        _check_not_future(errors, "tested_on", self.tested_on)
        _check_not_before_birth(
            errors, "tested_on", self.tested_on, self.patient if self.patient_id else None
        )
        if self.patient_id and self.test and self.tested_on:
            same_day = ScreeningResult.objects.filter(
                patient_id=self.patient_id, test=self.test, tested_on=self.tested_on
            )
            if same_day.exclude(pk=self.pk).exists():
                _add(
                    errors,
                    "tested_on",
                    f"A {self.get_test_display()} result of {self.tested_on:%d %b %Y} is already "
                    "recorded for this patient: correct that result instead.",
                )
        if self.reviewed_on is not None:
            self._check_review(errors)
        _raise(errors)

    def _check_review(self, errors: ErrorDict) -> None:
        assert self.reviewed_on is not None  # noqa: S101 (the caller's condition)
        if self.test and self.result and not self.needs_specialist:
            reason = (
                f"a {self.result_words} {self.get_test_display()} result means immunity"
                if self.test in IMMUNITY_TESTS
                else "a negative result"
            )
            _add(errors, "reviewed_on", f"A specialist review is not recorded for {reason}.")
        _check_not_future(errors, "reviewed_on", self.reviewed_on)
        if self.tested_on and self.reviewed_on < self.tested_on:
            _add(errors, "reviewed_on", "The review is before the test.")
        if not self.reviewed_by_id:
            _add(errors, "reviewed_by", "Record which clinician reviewed the result.")


# A result that is not negative awaiting its specialist review.
SCREENING_AWAITING_REVIEW = (
    Q(result__in=NOT_NEGATIVE) & ~Q(test__in=IMMUNITY_TESTS) & Q(reviewed_on__isnull=True)
)
# Of those, the TB and hepatitis B results: they hold the patient's infusions until the review.
SCREENING_HOLDS_INFUSIONS = SCREENING_AWAITING_REVIEW & Q(test__in=HOLDING_TESTS)


NOT_LIVE_REFUSAL = (
    "{vaccine} is not a live vaccine: only a live vaccine is reviewed (an inactivated one is no "
    "concern on infliximab)."
)


class VaccinationReviewDecision(models.TextChoices):
    """A clinician's decision after a live vaccine near infliximab (GUIDELINE.md
    live_vaccine_on_treatment)."""

    INFUSION_DEFERRED = "infusion_deferred", "Infusion deferred until the interval has passed"
    RISK_ACCEPTED = "risk_accepted", "Risk accepted: infusions go on as planned"


class Vaccination(ClinicalRecord):
    """A vaccine given; whether it is live comes from the vaccine (registry.safety_codes). A live
    vaccine near infliximab is reviewed by a clinician (its decision on the infusions)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="vaccinations")
    vaccine = models.CharField(max_length=30, choices=Vaccine.choices)
    given_on = models.DateField()
    reviewed_on = models.DateField(
        null=True,
        blank=True,
        help_text="A clinician's review of a live vaccine given on or near infliximab.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    review_decision = models.CharField(
        max_length=20, choices=VaccinationReviewDecision.choices, blank=True
    )
    # Never exported (research exports carry no free text).
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["patient", "given_on", "vaccine"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vaccine__in=Vaccine.values), name="vaccination_vaccine_valid"
            ),
            models.UniqueConstraint(
                fields=["patient", "vaccine", "given_on"],
                name="vaccination_once_per_day",
                violation_error_message="This vaccine is already recorded for this patient on "
                "this date.",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_on__isnull=True, reviewed_by__isnull=True, review_decision="")
                | Q(
                    reviewed_on__gte=F("given_on"),
                    reviewed_by__isnull=False,
                    review_decision__in=VaccinationReviewDecision.values,
                ),
                name="vaccination_review_complete",
                violation_error_message="A review records its date (not before the vaccine), its "
                "clinician and a decision.",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_on__isnull=True) | Q(vaccine__in=sorted(LIVE_VACCINES)),
                name="vaccination_review_of_a_live_vaccine",
                violation_error_message="Only a live vaccine is reviewed.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_vaccine_display()} on {self.given_on:%d %b %Y}"

    @property
    def live(self) -> bool:
        return self.vaccine in LIVE_VACCINES

    @property
    def awaiting_review(self) -> bool:
        """A live vaccine no clinician has reviewed (whether it needs one depends on the
        patient's infusions: the guideline's live_vaccine_on_treatment says when)."""
        return self.live and self.reviewed_on is None

    def clean(self) -> None:
        errors: ErrorDict = {}
        _check_not_future(errors, "given_on", self.given_on)
        _check_not_before_birth(
            errors, "given_on", self.given_on, self.patient if self.patient_id else None
        )
        if self.patient_id and self.vaccine and self.given_on:
            same_day = Vaccination.objects.filter(
                patient_id=self.patient_id, vaccine=self.vaccine, given_on=self.given_on
            )
            if same_day.exclude(pk=self.pk).exists():
                _add(
                    errors,
                    "given_on",
                    f"This vaccine is already recorded on {self.given_on:%d %b %Y}.",
                )
        if self.reviewed_on is not None:
            self._check_review(errors)
        _raise(errors)

    def _check_review(self, errors: ErrorDict) -> None:
        assert self.reviewed_on is not None  # noqa: S101 (the caller's condition)
        if self.vaccine and not self.live:
            _add(errors, "vaccine", NOT_LIVE_REFUSAL.format(vaccine=self.get_vaccine_display()))
        _check_not_future(errors, "reviewed_on", self.reviewed_on)
        if self.given_on and self.reviewed_on < self.given_on:
            _add(errors, "reviewed_on", "The review is before the vaccine was given.")
        if not self.reviewed_by_id:
            _add(errors, "reviewed_by", "Record which clinician reviewed the vaccination.")
        if not self.review_decision:
            _add(errors, "review_decision", "Choose the decision on the infusions.")


# --- Consent --------------------------------------------------------------------------------------

# The age of majority when a site has not set its own (the guideline parameter
# age_of_majority_years; monitoring registers the site's value, see registry.safeguards).
DEFAULT_AGE_OF_MAJORITY_YEARS = 18


class ConsentScope(models.TextChoices):
    """What a consent covers; each is given (or not) and withdrawn (or not) on its own."""

    CARE_DATA = "care_data", "Registry care data"
    RESEARCH = "research", "Research exports"
    CONTACT = "contact", "Contact for future studies"


# scope → the Consent fields that say it was given and when it was withdrawn, and the
# ConsentDocument field that says the document can cover it.
CONSENT_SCOPE_FIELDS: dict[str, tuple[str, str, str]] = {
    ConsentScope.CARE_DATA: ("care_data_given", "care_data_withdrawn_on", "covers_care_data"),
    ConsentScope.RESEARCH: ("research_given", "research_withdrawn_on", "covers_research"),
    ConsentScope.CONTACT: ("contact_given", "contact_withdrawn_on", "covers_contact"),
}


class ConsentSigner(models.TextChoices):
    """Who signs a consent document."""

    PARENT_GUARDIAN = "parent_guardian", "A parent or guardian"
    PATIENT = "patient", "The patient (a young person or an adult)"
    NOT_RECORDED = "not_recorded", "Not recorded (consent taken before consent versions)"


class ConsentedBy(models.TextChoices):
    PATIENT = "patient", "The patient"
    PARENT_GUARDIAN = "parent_guardian", "A parent or guardian"
    NOT_RECORDED = "not_recorded", "Not recorded"


class Assent(models.TextChoices):
    """The child's assent alongside a parent's consent; not applicable to an adult's (or the
    patient's own) consent, or to a child too young to give it."""

    GIVEN = "given", "Given"
    NOT_GIVEN = "not_given", "Not given"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class ConsentDocument(TimestampedModel):
    """One approved version of a consent form the registry uses: a managed list (superusers keep it
    in the admin, as ethics committees approve new versions), seeded by migration. A consent
    record names the document (and so the version) it was taken on; which scopes a document can
    cover, and who signs it, bound what a record on it may say."""

    code = models.SlugField(
        max_length=40,
        help_text="The document's code, the same for each of its versions, e.g. 'parent-consent'.",
    )
    title = models.CharField(max_length=200)
    version = models.CharField(max_length=20, help_text="As printed on the form, e.g. '1.0'.")
    approved_on = models.DateField(
        null=True, blank=True, help_text="When the ethics committee approved this version."
    )
    signed_by = models.CharField(max_length=20, choices=ConsentSigner.choices)
    covers_care_data = models.BooleanField("can cover registry care data", default=False)
    covers_research = models.BooleanField("can cover research exports", default=False)
    covers_contact = models.BooleanField("can cover contact for future studies", default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"],
                name="consent_document_version_unique",
                violation_error_message="This document already has this version.",
            ),
            models.CheckConstraint(
                condition=Q(signed_by__in=ConsentSigner.values),
                name="consent_document_signer_valid",
            ),
            models.CheckConstraint(
                condition=~Q(code="") & ~Q(title="") & ~Q(version=""),
                name="consent_document_named",
            ),
            models.CheckConstraint(
                condition=Q(covers_care_data=True)
                | Q(covers_research=True)
                | Q(covers_contact=True),
                name="consent_document_covers_a_scope",
                violation_error_message="A consent document covers at least one scope.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def covers(self, scope: str) -> bool:
        return bool(getattr(self, CONSENT_SCOPE_FIELDS[scope][2]))

    def clean(self) -> None:
        errors: ErrorDict = {}
        if not (self.covers_care_data or self.covers_research or self.covers_contact):
            _add(errors, "covers_care_data", "A consent document covers at least one scope.")
        _raise(errors)


def _withdrawn_only_if_given(scope: str) -> Q:
    given, withdrawn_on, _covers = CONSENT_SCOPE_FIELDS[scope]
    return Q(**{f"{withdrawn_on}__isnull": True}) | Q(**{given: True})


def _withdrawn_after_given(scope: str) -> Q:
    _given, withdrawn_on, _covers = CONSENT_SCOPE_FIELDS[scope]
    return Q(**{f"{withdrawn_on}__isnull": True}) | Q(**{f"{withdrawn_on}__gte": F("given_on")})


ANY_SCOPE_GIVEN = Q(care_data_given=True) | Q(research_given=True) | Q(contact_given=True)


def consent_in_force_q(scope: str, on: dt.date, prefix: str = "") -> Q:
    """Consent to `scope` in force on `on`: given on or before it, that scope not withdrawn by
    then (a withdrawal dated `on` counts). `prefix` reaches the Consent from another model."""
    given, withdrawn_on, _covers = CONSENT_SCOPE_FIELDS[scope]
    return Q(**{f"{prefix}{given}": True, f"{prefix}given_on__lte": on}) & (
        Q(**{f"{prefix}{withdrawn_on}__isnull": True}) | Q(**{f"{prefix}{withdrawn_on}__gt": on})
    )


class Consent(ClinicalRecord):
    """Consent given on one document (its version) by the patient or a parent/guardian, with the
    child's assent, to each of the scopes; each scope given may later be withdrawn, on its own
    date (a family may stop research use one year and future contact the next).

    A later consent (the patient's own at majority, a new version) is a new record; the earlier
    one stays as it was. A scope is in force on a day when a record gives it on or before that day
    and has not withdrawn it by then (`consent_in_force` in registry.selectors).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    document = models.ForeignKey(
        ConsentDocument,
        on_delete=models.PROTECT,
        related_name="consents",
        help_text="The consent form (and version) signed.",
    )
    consented_by = models.CharField("who consented", max_length=20, choices=ConsentedBy.choices)
    assent = models.CharField(
        "the child's assent",
        max_length=20,
        choices=Assent.choices,
        default=Assent.NOT_APPLICABLE,
        help_text="Alongside a parent's consent for a child; not applicable for an adult.",
    )
    care_data_given = models.BooleanField("registry care data", default=False)
    research_given = models.BooleanField("research exports", default=False)
    contact_given = models.BooleanField("contact for future studies", default=False)
    given_on = models.DateField()
    care_data_withdrawn_on = models.DateField(
        "registry care data withdrawn on", null=True, blank=True
    )
    research_withdrawn_on = models.DateField("research exports withdrawn on", null=True, blank=True)
    contact_withdrawn_on = models.DateField(
        "contact for future studies withdrawn on", null=True, blank=True
    )

    class Meta:
        ordering = ["patient", "given_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(consented_by__in=ConsentedBy.values), name="consent_by_valid"
            ),
            models.CheckConstraint(
                condition=Q(assent__in=Assent.values), name="consent_assent_valid"
            ),
            models.CheckConstraint(
                condition=~Q(consented_by=ConsentedBy.PATIENT) | Q(assent=Assent.NOT_APPLICABLE),
                name="consent_no_assent_to_own_consent",
                violation_error_message="Assent goes with a parent's consent, not the patient's "
                "own.",
            ),
            models.CheckConstraint(
                condition=ANY_SCOPE_GIVEN,
                name="consent_gives_a_scope",
                violation_error_message="Consent gives at least one scope.",
            ),
            models.CheckConstraint(
                condition=_withdrawn_after_given(ConsentScope.CARE_DATA)
                & _withdrawn_after_given(ConsentScope.RESEARCH)
                & _withdrawn_after_given(ConsentScope.CONTACT),
                name="consent_withdrawn_after_given",
                violation_error_message="Consent can only be withdrawn on or after it was given.",
            ),
            models.CheckConstraint(
                condition=_withdrawn_only_if_given(ConsentScope.CARE_DATA)
                & _withdrawn_only_if_given(ConsentScope.RESEARCH)
                & _withdrawn_only_if_given(ConsentScope.CONTACT),
                name="consent_withdraws_only_given_scopes",
                violation_error_message="A scope can only be withdrawn if it was given.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} on {self.given_on:%d %b %Y}"

    def scopes_given(self) -> list[str]:
        return [s for s, (given, _w, _c) in CONSENT_SCOPE_FIELDS.items() if getattr(self, given)]

    def withdrawn_on(self, scope: str) -> dt.date | None:
        return getattr(self, CONSENT_SCOPE_FIELDS[scope][1])

    def scopes_withdrawn(self) -> list[str]:
        return [s for s in CONSENT_SCOPE_FIELDS if self.withdrawn_on(s) is not None]

    def in_force(self, scope: str, on: dt.date) -> bool:
        given = CONSENT_SCOPE_FIELDS[scope][0]
        if not getattr(self, given) or self.given_on is None or self.given_on > on:
            return False
        withdrawn_on = self.withdrawn_on(scope)
        return withdrawn_on is None or withdrawn_on > on

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        document = self.document if self.document_id else None
        dates = (
            "given_on",
            *(withdrawn_on for _g, withdrawn_on, _c in CONSENT_SCOPE_FIELDS.values()),
        )
        for field in dates:
            _check_not_future(errors, field, getattr(self, field))
            _check_not_before_birth(errors, field, getattr(self, field), patient)
        if not self.scopes_given():
            _add(errors, "research_given", "Tick at least one scope the consent gives.")
        if document is not None:
            for scope in self.scopes_given():
                if not document.covers(scope):
                    _add(
                        errors,
                        CONSENT_SCOPE_FIELDS[scope][0],
                        f"{document} does not cover {ConsentScope(scope).label.lower()}.",
                    )
            self._check_signer(errors, document)
            approved = document.approved_on
            if approved and self.given_on and self.given_on < approved:
                _add(
                    errors,
                    "document",
                    f"{document} was approved on {approved:%d %b %Y}, after this consent.",
                )
        for scope in self.scopes_withdrawn():
            given, withdrawn_on, _covers = CONSENT_SCOPE_FIELDS[scope]
            label = ConsentScope(scope).label
            if not getattr(self, given):
                _add(errors, withdrawn_on, f"{label} was never given, so it cannot be withdrawn.")
            elif self.given_on and getattr(self, withdrawn_on) < self.given_on:
                _add(
                    errors,
                    withdrawn_on,
                    f"Withdrawal is before consent was given ({self.given_on:%d %b %Y}).",
                )
        self._check_assent(errors, patient)
        _raise(errors)

    def _check_signer(self, errors: ErrorDict, document: ConsentDocument) -> None:
        if self.consented_by == ConsentedBy.NOT_RECORDED:
            if document.signed_by != ConsentSigner.NOT_RECORDED:
                _add(errors, "consented_by", f"Say who signed {document}.")
        elif document.signed_by not in (self.consented_by, ConsentSigner.NOT_RECORDED):
            signer = ConsentSigner(document.signed_by).label.lower()
            _add(errors, "consented_by", f"{document} is signed by {signer}.")

    def _check_assent(self, errors: ErrorDict, patient: Patient | None) -> None:
        if self.assent == Assent.NOT_APPLICABLE or not self.assent:
            return
        if self.consented_by == ConsentedBy.PATIENT:
            _add(errors, "assent", "Assent goes with a parent's consent, not the patient's own.")
            return
        if patient is None or self.given_on is None:
            return
        from registry.safeguards import age_of_majority  # it reads the site's guideline

        majority = age_of_majority(patient.site_id)
        if patient.age_on(self.given_on) >= majority:
            _add(
                errors,
                "assent",
                f"The patient was {patient.age_on(self.given_on)} on {self.given_on:%d %b %Y}, an "
                f"adult (the age of majority here is {majority}): a child's assent does not apply.",
            )


# --- The CRMO phenotype: lesion sites, diagnosis criteria, comorbidities, family history ---------


_MRI_STATE_FIELDS = ("active", "new", "resolved")


class LesionSite(ClinicalRecord):
    """One lesion at one bone, seen on an imaging study or judged clinically active at an
    assessment (exactly one of the two). On an MRI a site is active (oedema), new (not on the
    previous study; new is active) or resolved; a vertebra's fracture is flagged on imaging.

    The study's or assessment's lesion counts are derived from its sites by the services
    (`registry.services.lesion_sites_set`); the engine reads those counts."""

    imaging_study = models.ForeignKey(
        ImagingStudy, on_delete=models.CASCADE, null=True, blank=True, related_name="lesion_sites"
    )
    assessment = models.ForeignKey(
        ClinicalAssessment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="lesion_sites",
    )
    bone = models.CharField(max_length=20, choices=Bone.choices)
    vertebral_level = models.CharField(
        max_length=3,
        choices=VERTEBRAL_LEVEL_CHOICES,
        blank=True,
        help_text="C1–S5, for a vertebra (and only then).",
    )
    laterality = models.CharField(
        max_length=10,
        choices=Laterality.choices,
        help_text="Left or right for a paired bone; midline for a vertebra or the sternum.",
    )
    active = models.BooleanField(default=False, help_text="MRI: active inflammation (oedema).")
    new = models.BooleanField(
        default=False, help_text="MRI: not seen on the previous study (a new lesion is active)."
    )
    resolved = models.BooleanField(default=False, help_text="MRI: resolved since the last study.")
    vertebral_fracture = models.BooleanField(
        default=False, help_text="Imaging: a fracture (collapse) of this vertebra."
    )

    class Meta:
        ordering = ["imaging_study", "assessment", "bone", "vertebral_level", "laterality", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(imaging_study__isnull=False, assessment__isnull=True)
                | Q(imaging_study__isnull=True, assessment__isnull=False),
                name="lesion_site_of_a_study_or_an_assessment",
                violation_error_message="A lesion site belongs to one imaging study or one "
                "assessment.",
            ),
            models.CheckConstraint(
                condition=Q(bone__in=Bone.values), name="lesion_site_bone_valid"
            ),
            models.CheckConstraint(
                condition=Q(bone=Bone.VERTEBRA, vertebral_level__in=VERTEBRAL_LEVELS)
                | ~Q(bone=Bone.VERTEBRA) & Q(vertebral_level=""),
                name="lesion_site_level_for_a_vertebra_only",
                violation_error_message="A vertebra needs its level (C1–S5); other bones have "
                "none.",
            ),
            models.CheckConstraint(
                condition=Q(bone__in=MIDLINE_BONES, laterality=Laterality.MIDLINE)
                | Q(bone__in=EITHER_BONES, laterality__in=Laterality.values)
                | ~Q(bone__in=MIDLINE_BONES | EITHER_BONES)
                & Q(laterality__in=(Laterality.LEFT, Laterality.RIGHT)),
                name="lesion_site_laterality_fits_the_bone",
                violation_error_message="Laterality: midline for a vertebra or the sternum, left "
                "or right for a paired bone.",
            ),
            models.CheckConstraint(
                condition=~Q(new=True, resolved=True),
                name="lesion_site_not_new_and_resolved",
                violation_error_message="A lesion cannot be both new and resolved.",
            ),
            models.CheckConstraint(
                condition=~Q(new=True, active=False) & ~Q(active=True, resolved=True),
                name="lesion_site_new_is_active_resolved_is_not",
                violation_error_message="A new lesion is active; a resolved one is not.",
            ),
            models.CheckConstraint(
                condition=Q(vertebral_fracture=False) | Q(bone=Bone.VERTEBRA),
                name="lesion_site_fracture_of_a_vertebra",
                violation_error_message="A vertebral fracture is flagged on a vertebra only.",
            ),
            models.CheckConstraint(
                condition=Q(assessment__isnull=True)
                | Q(active=False, new=False, resolved=False, vertebral_fracture=False),
                name="lesion_site_imaging_findings_on_imaging",
                violation_error_message="Active, new, resolved and fracture are imaging findings: "
                "an assessment's site is a clinically active lesion.",
            ),
            *(
                models.UniqueConstraint(
                    fields=[parent, "bone", "vertebral_level", "laterality"],
                    condition=~Q(bone__in=(Bone.METATARSAL, Bone.OTHER)),
                    name=f"lesion_site_once_per_{parent}",
                    violation_error_message="This site is already recorded on this "
                    f"{'study' if parent == 'imaging_study' else 'assessment'}.",
                )
                for parent in ("imaging_study", "assessment")
            ),
        ]

    def __str__(self) -> str:
        return self.words

    @property
    def words(self) -> str:
        return site_words(self.bone, self.vertebral_level, self.laterality)

    @property
    def mri_state(self) -> str:
        """ "new", "active", "resolved", or "" (seen, no state)."""
        if self.new:
            return "new"
        if self.active:
            return "active"
        return "resolved" if self.resolved else ""

    def clean(self) -> None:
        errors: ErrorDict = {}
        if self.bone == Bone.VERTEBRA and not self.vertebral_level:
            _add(errors, "vertebral_level", "Give the vertebra's level (C1–S5).")
        if self.bone and self.bone != Bone.VERTEBRA and self.vertebral_level:
            _add(
                errors,
                "vertebral_level",
                f"A vertebral level is only recorded for a vertebra, not for the "
                f"{Bone(self.bone).label.lower()}.",
            )
        if self.bone in Bone.values and self.laterality:
            self._check_laterality(errors)
        elif self.bone in Bone.values and not self.laterality:
            side = "midline" if self.bone in MIDLINE_BONES else "left or right"
            _add(errors, "laterality", f"Give the side ({side}).")
        if self.new and self.resolved:
            _add(errors, "resolved", "A lesion cannot be both new and resolved.")
        elif self.new and not self.active:
            _add(errors, "active", "A new lesion is active: mark it active too.")
        elif self.active and self.resolved:
            _add(errors, "resolved", "A resolved lesion is not active.")
        if self.vertebral_fracture and self.bone and self.bone != Bone.VERTEBRA:
            _add(
                errors, "vertebral_fracture", "A vertebral fracture is flagged on a vertebra only."
            )
        if self.assessment is not None:
            for field in (*_MRI_STATE_FIELDS, "vertebral_fracture"):
                if getattr(self, field):
                    _add(
                        errors,
                        field,
                        "An assessment's site is a clinically active lesion; active, new, "
                        "resolved and fracture are recorded on imaging.",
                    )
        study = self.imaging_study
        if study is not None and study.modality and not study.is_mri:
            for field in _MRI_STATE_FIELDS:
                if getattr(self, field):
                    _add(
                        errors,
                        field,
                        f"Active, new and resolved are MRI findings; this study is a "
                        f"{study.get_modality_display()}.",
                    )
        _raise(errors)

    def _check_laterality(self, errors: ErrorDict) -> None:
        bone = Bone(self.bone)
        if bone in MIDLINE_BONES and self.laterality != Laterality.MIDLINE:
            _add(errors, "laterality", f"The {bone.label.lower()} is a midline bone: midline.")
        elif bone not in MIDLINE_BONES | EITHER_BONES and self.laterality == Laterality.MIDLINE:
            _add(errors, "laterality", f"The {bone.label.lower()} is paired: left or right.")


def _any_true(fields: Iterable[str]) -> Q:
    condition = Q()
    for name in fields:
        condition |= Q(**{name: True})
    return condition


class Phenotype(ClinicalRecord):
    """How a patient's CRMO began and was diagnosed, and the family history (one per patient).

    The Bristol criteria's and the Jansson score's items are stored (True present, False absent,
    None not recorded); "met" and the score are derived from them (`registry.phenotype_codes`), so
    they cannot disagree with the items."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="phenotype")
    first_symptoms_on = models.DateField(
        null=True, blank=True, help_text="Date of the first symptoms (not after the diagnosis)."
    )
    bristol_clinical = models.BooleanField(null=True, blank=True)
    bristol_radiological = models.BooleanField(null=True, blank=True)
    bristol_multifocal = models.BooleanField(null=True, blank=True)
    bristol_crp_below_30 = models.BooleanField(null=True, blank=True)
    bristol_biopsy = models.BooleanField(null=True, blank=True)
    jansson_normal_blood_count = models.BooleanField(null=True, blank=True)
    jansson_symmetric_lesions = models.BooleanField(null=True, blank=True)
    jansson_marginal_sclerosis = models.BooleanField(null=True, blank=True)
    jansson_normal_temperature = models.BooleanField(null=True, blank=True)
    jansson_vertebral_clavicular_sternal = models.BooleanField(null=True, blank=True)
    jansson_two_or_more_lesions = models.BooleanField(null=True, blank=True)
    jansson_crp_1_mg_dl = models.BooleanField(null=True, blank=True)
    family_history = models.CharField(
        "family history of autoimmune or inflammatory disease",
        max_length=10,
        choices=FamilyHistory.choices,
        blank=True,
    )
    family_crmo = models.BooleanField(default=False)
    family_psoriasis = models.BooleanField(default=False)
    family_ibd = models.BooleanField(default=False)
    family_spondyloarthritis = models.BooleanField(default=False)
    family_arthritis = models.BooleanField(default=False)
    family_ppp = models.BooleanField(default=False)
    family_coeliac = models.BooleanField(default=False)
    family_thyroid = models.BooleanField(default=False)
    family_type1_diabetes = models.BooleanField(default=False)
    family_other = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(family_history="") | Q(family_history__in=FamilyHistory.values),
                name="phenotype_family_history_valid",
            ),
            models.CheckConstraint(
                condition=Q(family_history=FamilyHistory.YES)
                & _any_true(f"family_{name}" for name in FAMILY_CONDITIONS)
                | ~Q(family_history=FamilyHistory.YES)
                & Q(**{f"family_{name}": False for name in FAMILY_CONDITIONS}),
                name="phenotype_family_conditions_only_with_a_history",
                violation_error_message="Name the relatives' conditions when the family history "
                "is yes, and only then.",
            ),
        ]

    def __str__(self) -> str:
        return f"Phenotype of {self.patient}"

    def items(self, instrument: tuple[Any, ...]) -> dict[str, bool | None]:
        return {item.name: getattr(self, item.name) for item in instrument}

    @property
    def bristol_met(self) -> bool | None:
        return bristol_met(self.items(BRISTOL_ITEMS))

    @property
    def jansson_score(self) -> int | None:
        return jansson_score(self.items(JANSSON_ITEMS))

    @property
    def family_conditions(self) -> list[str]:
        return [name for name in FAMILY_CONDITIONS if getattr(self, f"family_{name}")]

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        first = self.first_symptoms_on
        _check_not_future(errors, "first_symptoms_on", first)
        _check_not_before_birth(errors, "first_symptoms_on", first, patient)
        if first and patient is not None and patient.diagnosed_on and first > patient.diagnosed_on:
            _add(
                errors,
                "first_symptoms_on",
                f"{first:%d %b %Y} is after the diagnosis ({patient.diagnosed_on:%d %b %Y}): "
                "the first symptoms come before it.",
            )
        named = self.family_conditions
        if self.family_history == FamilyHistory.YES and not named:
            _add(errors, "family_history", "Name at least one condition in the family.")
        elif named and self.family_history != FamilyHistory.YES:
            _add(
                errors,
                "family_history",
                "Conditions in the family are recorded only when the family history is yes.",
            )
        _raise(errors)


class Comorbidity(ClinicalRecord):
    """A condition from the managed list the patient has, with its onset (one row per condition;
    "other" is never named: nothing free-text reaches an export)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="comorbidities")
    condition = models.CharField(max_length=20, choices=ComorbidityCondition.choices)
    onset_on = models.DateField(help_text="When it began (not before birth).")

    class Meta:
        verbose_name_plural = "comorbidities"
        ordering = ["patient", "onset_on", "condition"]
        constraints = [
            models.CheckConstraint(
                condition=Q(condition__in=ComorbidityCondition.values),
                name="comorbidity_condition_valid",
            ),
            models.UniqueConstraint(
                fields=["patient", "condition"],
                name="comorbidity_once_per_patient",
                violation_error_message="This comorbidity is already recorded for this patient: "
                "correct that record instead.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_condition_display()} since {self.onset_on:%b %Y}"

    def clean(self) -> None:
        errors: ErrorDict = {}
        patient = self.patient if self.patient_id else None
        _check_not_future(errors, "onset_on", self.onset_on)
        _check_not_before_birth(errors, "onset_on", self.onset_on, patient)
        if patient is not None and self.condition:
            same = Comorbidity.objects.filter(patient=patient, condition=self.condition)
            if same.exclude(pk=self.pk).exists():
                _add(
                    errors,
                    "condition",
                    f"{self.get_condition_display()} is already recorded for this patient: "
                    "correct that record instead.",
                )
        _raise(errors)


CLINICAL_MODELS: tuple[type[ClinicalRecord], ...] = (
    Patient,
    TreatmentCourse,
    RegimenChange,
    Infusion,
    LabResult,
    ImagingStudy,
    ClinicalAssessment,
    InfusionReaction,
    Relapse,
    Medication,
    AdverseEvent,
    ScreeningResult,
    Vaccination,
    Consent,
    LesionSite,
    Phenotype,
    Comorbidity,
)
