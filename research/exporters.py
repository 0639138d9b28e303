"""Build an export's archive, streaming: rows are read in chunks and written as they come.

`table_rows` yields the de-identified rows of one table (values in the dictionary's column order);
the three writers turn them into a CSV bundle, a Parquet bundle or FHIR R4 bulk NDJSON, each a zip
whose entries are written one after the other without holding a table in memory. Every query
joins the export's pseudonym mapping, so a patient outside the consent gate cannot appear.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import textwrap
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from django.db import connection
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from monitoring.evaluation import site_guidelines
from monitoring.guideline import DEFAULT, Guideline
from monitoring.guideline.parameters import BASE_VERSION
from monitoring.models import Alert
from registry.models import (
    ANALYTE_LOINC,
    MEDICATION_ATC,
    MEDICATION_CLASS,
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    Phenotype,
    RegimenChange,
    RegimenReason,
    Relapse,
    ScreeningResult,
    TreatmentCourse,
    Vaccination,
)
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    FAMILY_CONDITIONS,
    JANSSON_ITEMS,
    bristol_met,
    jansson_score,
    snomed_body_structure,
)
from registry.safety_codes import CODINGS, LIVE_VACCINES, SCREENING_LOINC, special_interest
from research import fhir
from research.archive import Archive, Entry, HashingWriter
from research.deidentify import (
    GATING_SCOPE,
    QUASI_IDENTIFIERS,
    SMALL_CELL_PATIENTS,
    QuasiIdentifiers,
    SmallCells,
    age_in_years,
    coarsen,
    day_offset,
    displayed_age,
    suppression_plan,
)
from research.dictionary import (
    ADVERSE_EVENTS,
    ALERTS,
    ASSESSMENTS,
    COMORBIDITIES,
    CONSENTS,
    COURSES,
    CSV_TEXT_CELLS,
    DICTIONARY_HEADER,
    IMAGING,
    INFUSIONS,
    LABS,
    LESION_SITES,
    MEDICATIONS,
    PATIENTS,
    PHENOTYPE,
    REACTIONS,
    REGIMEN_CHANGES,
    RELAPSES,
    SCREENING_RESULTS,
    TABLES,
    VACCINATIONS,
    Table,
    dictionary_rows,
    text_cell,
)
from research.models import DATE_PRECISION_DAYS, ExportFormat, ExportRequest, PseudonymMapping
from research.outcome_histories import outcome_histories
from research.outcomes import CourseOutcomes, course_outcomes
from research.sql_tables import (
    SQL_TABLES,
    ChunksFile,
    Statement,
    csv_chunks,
    statement,
    value_rows,
)

CHUNK_ROWS = 2000  # rows fetched per database round trip
COURSE_CHUNK = 500  # courses whose histories are loaded together for the outcome columns
PARQUET_BATCH_ROWS = 10_000
Row = tuple[Any, ...]
Progress = Callable[[int], None]  # percent done


@dataclass(frozen=True)
class PatientFacts:
    """A mapped patient's quasi-identifiers as stored (the dates stay inside this module)."""

    pseudonym: str
    day_zero: dt.date
    site_code: str
    sex: str
    born_on: dt.date
    diagnosed_on: dt.date | None


def _patient_facts(export: ExportRequest) -> Iterator[PatientFacts]:
    mappings = PseudonymMapping.objects.filter(export=export).order_by("pseudonym")
    for row in _stream(
        mappings,
        "pseudonym",
        "first_course_started_on",
        "patient__site__code",
        "patient__sex",
        "patient__date_of_birth",
        "patient__diagnosed_on",
    ):
        yield PatientFacts(*row)


OTHER = "other"  # what a rare site or comorbidity becomes (Bone.OTHER, ComorbidityCondition.OTHER)


@dataclass
class RareValues:
    """Per column ("table.column"), the patients and rows of each value in the export."""

    patients: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    rows: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, column: str, value: str, patient_id: int, rows: int) -> None:
        self.patients.setdefault(column, {}).setdefault(value, set()).add(patient_id)
        self.rows[(column, value)] += rows

    def values(self, column: str) -> set[str]:
        """The column's rare values ("other" is already as general as it gets)."""
        return {
            value
            for value, patients in self.patients.get(column, {}).items()
            if len(patients) < SMALL_CELL_PATIENTS and value != OTHER
        }

    def manifest(self, *, suppressed: bool) -> dict[str, object]:
        """Suppressed: how many values were generalised per column (not which: a value and its
        few patients is itself a small cell). Reported only: each rare value and its patients."""
        columns = ("lesion_sites.site", "lesion_sites.vertebral_level", "comorbidities.condition")
        if suppressed:
            return {
                "generalised_values": {
                    column: sum(self.rows[(column, value)] for value in self.values(column))
                    for column in columns
                }
            }
        return {
            "generalised_values": dict.fromkeys(columns, 0),
            "rare_values_kept": [
                {"column": column, "value": value, "patients": len(self.patients[column][value])}
                for column in columns
                for value in sorted(self.values(column))
            ],
        }


@dataclass
class ExportScope:
    """What one export covers (its mapped patients, date range and export date) and how it is
    de-identified: day offsets coarsened, ages banded, small cells suppressed, as requested."""

    export: ExportRequest
    small_cells: SmallCells = field(default_factory=SmallCells)
    # The plain tables read by one SQL statement each (research.sql_tables) on PostgreSQL; the
    # ORM readers below, which give the same values, on any other database.
    sql_tables: bool = field(default_factory=lambda: connection.vendor == "postgresql")

    @property
    def as_of(self) -> dt.date:
        return self.export.consent_checked_on

    @cached_property
    def day_step(self) -> int:
        return DATE_PRECISION_DAYS[self.export.date_precision]

    def day(self, day: dt.date | None, day_zero: dt.date) -> int | None:
        """A date as exported: days since the patient's day 0, rounded down to the precision."""
        return coarsen(day_offset(day, day_zero), self.day_step)

    @overload
    def days(self, days: int) -> int: ...
    @overload
    def days(self, days: int | None) -> int | None: ...
    def days(self, days: int | None) -> int | None:
        """A duration as exported, rounded down like the day offsets."""
        return coarsen(days, self.day_step)

    def _coarsened(self, patient: PatientFacts) -> QuasiIdentifiers:
        return QuasiIdentifiers(
            diagnosed_day=self.day(patient.diagnosed_on, patient.day_zero),
            age=displayed_age(
                age_in_years(patient.born_on, patient.day_zero), self.export.age_precision
            ),
            sex=patient.sex,
            site_code=patient.site_code,
        )

    def quasi_identifiers(self, patient: PatientFacts) -> QuasiIdentifiers:
        """The patient's quasi-identifiers as the patients table shows them."""
        return self._coarsened(patient).blanked(self.blanked.get(patient.pseudonym, 0))

    @cached_property
    def blanked(self) -> dict[str, int]:
        """Pseudonym → how many of QUASI_IDENTIFIERS are blanked (none without suppression).
        One pass over the mapping before any table is written; memory: one entry per patient."""
        if not self.export.suppress_small_cells:
            return {}
        return suppression_plan(
            {
                patient.pseudonym: self._coarsened(patient)
                for patient in _patient_facts(self.export)
            },
            SMALL_CELL_PATIENTS,
        )

    def age(self, pseudonym: str, born_on: dt.date, on: dt.date) -> str | None:
        """An age as exported: None where the patient's age is suppressed."""
        if self.blanked.get(pseudonym, 0) > QUASI_IDENTIFIERS.index("age"):
            return None
        return displayed_age(age_in_years(born_on, on), self.export.age_precision)

    def disclosure_control(self) -> dict[str, object]:
        """What was done to the export's quasi-identifiers, for its manifest."""
        blanked = Counter(self.blanked.values())
        return {
            "date_precision": self.export.date_precision,
            "day_offsets_rounded_down_to_multiples_of": self.day_step,
            "age_precision": self.export.age_precision,
            "small_cells": "suppressed" if self.export.suppress_small_cells else "reported only",
            "small_cell_threshold_patients": SMALL_CELL_PATIENTS,
            "quasi_identifiers_in_suppression_order": list(QUASI_IDENTIFIERS),
            "patients_with_value_blanked": {
                name: sum(n for count, n in blanked.items() if count > position)
                for position, name in enumerate(QUASI_IDENTIFIERS)
            },
            "rare_values": self.rare.manifest(suppressed=self.export.suppress_small_cells),
        }

    @cached_property
    def rare(self) -> RareValues:
        """The sites, vertebral levels and comorbidities fewer than SMALL_CELL_PATIENTS patients
        of the export share (counted before any table is written, so that every format and the
        manifest agree). Memory: one entry per patient and value."""
        rare = RareValues()
        for parent, dated in (
            ("imaging_study", "imaging_study__performed_on"),
            ("assessment", "assessment__assessed_on"),
        ):
            sites = self.rows(
                LesionSite.objects.filter(**{f"{parent}__isnull": False}),
                f"{parent}__patient",
                dated,
            )
            for patient_id, bone, level, n in (
                sites.values_list(f"{parent}__patient_id", "bone", "vertebral_level")
                .order_by()
                .annotate(n=Count("pk"))
            ):
                rare.add("lesion_sites.site", bone, patient_id, n)
                if level:
                    rare.add("lesion_sites.vertebral_level", level, patient_id, n)
        comorbidities = self.rows(Comorbidity.objects.all(), "patient", "onset_on")
        for patient_id, condition in comorbidities.values_list("patient_id", "condition"):
            rare.add("comorbidities.condition", condition, patient_id, 1)
        return rare

    def shown(self, column: str, value: str) -> str | None:
        """A site, vertebral level or comorbidity as exported: a rare one generalised (to "other";
        a level left empty) when small cells are suppressed."""
        if not self.export.suppress_small_cells or value not in self.rare.values(column):
            return value
        return None if column == "lesion_sites.vertebral_level" else OTHER

    def rows(self, queryset: QuerySet[Any], patient: str, dated: str | None) -> QuerySet[Any]:
        """Rows of mapped patients dated within the range (all of them for an undated record),
        with pseudonym and day 0 joined."""
        mapping = f"{patient}__research_pseudonyms"
        rows = queryset.filter(**{f"{mapping}__export": self.export})
        if dated and self.export.date_from:
            rows = rows.filter(**{f"{dated}__gte": self.export.date_from})
        if dated and self.export.date_to:
            rows = rows.filter(**{f"{dated}__lte": self.export.date_to})
        return rows.annotate(
            pseudonym=F(f"{mapping}__pseudonym"),
            patient_day_zero=F(f"{mapping}__first_course_started_on"),
        )


def _course_number(course: str) -> Subquery:
    """1 for the patient's first course, 2 for the next, … (counting all of their courses)."""
    prefix = f"{course}__" if course else ""
    earlier = (
        TreatmentCourse.objects.filter(
            patient_id=OuterRef(f"{prefix}patient_id"),
            started_on__lte=OuterRef(f"{prefix}started_on"),
        )
        .order_by()
        .values("patient_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(earlier, output_field=IntegerField())


def _ordinal(
    model: type[ImagingStudy | ClinicalAssessment], dated: str, parent: str = ""
) -> Subquery:
    """1 for the patient's first study (or assessment), 2 for the next, … by date then entry,
    counting all of theirs (so that a date range does not renumber them). `parent`: the path
    to the study or assessment from the rows numbered (a lesion site's)."""
    outer = f"{parent}__" if parent else ""
    earlier = (
        model.objects.filter(patient_id=OuterRef(f"{outer}patient_id"))
        .filter(
            Q(**{f"{dated}__lt": OuterRef(f"{outer}{dated}")})
            | Q(**{dated: OuterRef(f"{outer}{dated}"), "pk__lte": OuterRef(f"{outer}pk")})
        )
        .order_by()
        .values("patient_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(earlier, output_field=IntegerField())


def _dose_number(infusion: str) -> Subquery:
    earlier = (
        Infusion.objects.filter(
            course_id=OuterRef(f"{infusion}__course_id"),
            given_on__lte=OuterRef(f"{infusion}__given_on"),
        )
        .order_by()
        .values("course_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(earlier, output_field=IntegerField())


def _product_fields(product: str) -> tuple[str, ...]:
    """The product columns' fields (dictionary `_product`), through the product foreign key."""
    return tuple(
        f"{product}__{name}"
        for name in ("code", "atc_code", "is_biosimilar", "ema_product_number", "rxnorm_cui")
    )


def _product(code: str | None, *codes: object) -> Row:
    """An infusion's or a course's product columns: all empty without a product, and a code
    the list leaves blank (no RxNorm concept) empty rather than an empty text."""
    if code is None:
        return (None,) * (1 + len(codes))
    return (code, *(value if value != "" else None for value in codes))


def _stream(queryset: QuerySet[Any], *fields: str) -> Iterator[Row]:
    return queryset.values_list(*fields).iterator(chunk_size=CHUNK_ROWS)


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- Tables ------------------------------------------------------------------------------------


def patient_rows(scope: ExportScope) -> Iterator[Row]:
    in_range = Q()
    if scope.export.date_from:
        in_range &= Q(patient__courses__started_on__gte=scope.export.date_from)
    if scope.export.date_to:
        in_range &= Q(patient__courses__started_on__lte=scope.export.date_to)
    courses = (
        PseudonymMapping.objects.filter(export=scope.export)
        .annotate(courses=Count("patient__courses", filter=in_range))
        .order_by("pseudonym")
    )
    for patient, number_of_courses in zip(
        _patient_facts(scope.export), _stream(courses, "courses"), strict=True
    ):
        shown = scope.quasi_identifiers(patient)
        age_shown = shown.age is not None
        scope.small_cells.add(
            site_code=shown.site_code,
            sex=shown.sex,
            age=age_in_years(patient.born_on, patient.day_zero) if age_shown else None,
        )
        yield (
            patient.pseudonym,
            shown.site_code,
            shown.sex,
            "CRMO/CNO",
            shown.age,
            shown.diagnosed_day,
            *number_of_courses,
        )


def outcomes_by_course(
    patient_of: Mapping[int, int], as_of: dt.date, guidelines: Mapping[str, Guideline]
) -> dict[int, CourseOutcomes]:
    """The outcome measures of these courses (course id → its patient's id) as of `as_of`: the
    histories they read and their patients' assessments loaded in bulk, each course's site
    guideline. The one computation behind the exports' courses table and the outcomes page's
    stored outcomes."""
    histories, assessments = outcome_histories(patient_of)
    return {
        history.course_id: course_outcomes(
            history,
            assessments.get(patient_of[history.course_id], []),
            as_of=as_of,
            guideline=guidelines.get(history.site_code, DEFAULT),
        )
        for history in histories
    }


def course_rows(scope: ExportScope) -> Iterator[Row]:
    courses = scope.rows(TreatmentCourse.objects.all(), "patient", "started_on").annotate(
        course_number=_course_number("")
    )
    guidelines = site_guidelines()
    rows = _stream(
        courses.order_by("pseudonym", "started_on"),
        "pk",
        "patient_id",
        "pseudonym",
        "patient_day_zero",
        "patient__date_of_birth",
        "course_number",
        "started_on",
        "stopped_on",
        "stop_reason",
        "planned_dose_mg_per_kg",
        "induction_weeks",
        "maintenance_interval_weeks",
        *_product_fields("product"),
    )
    for chunk in _batches(rows, COURSE_CHUNK):
        outcomes_of = outcomes_by_course({row[0]: row[1] for row in chunk}, scope.as_of, guidelines)
        for (pk, _patient_id, pseudonym, day_zero, born_on, number, started_on, stopped_on,
             stop_reason, dose, weeks, interval, *product) in chunk:  # fmt: skip
            outcomes = outcomes_of[pk]
            yield (
                pseudonym,
                number,
                scope.age(pseudonym, born_on, started_on),
                scope.day(started_on, day_zero),
                scope.day(stopped_on, day_zero),
                stop_reason or None,
                dose,
                ";".join(str(week) for week in weeks),
                interval,
                *_product(*product),
                *dataclasses.astuple(
                    dataclasses.replace(
                        outcomes,
                        days_on_treatment=scope.days(outcomes.days_on_treatment),
                        longest_gap_days=scope.days(outcomes.longest_gap_days),
                        days_to_relapse=scope.days(outcomes.days_to_relapse),
                        days_to_taper=scope.days(outcomes.days_to_taper),
                        relapse_free_days=scope.days(outcomes.relapse_free_days),
                    )
                ),
            )


def regimen_change_rows(scope: ExportScope) -> Iterator[Row]:
    changes = scope.rows(RegimenChange.objects.all(), "course__patient", "effective_on").annotate(
        course_number=_course_number("course")
    )
    fields = ("pseudonym", "patient_day_zero", "course_number", "effective_on", "dose_mg_per_kg")
    for pseudonym, day_zero, course, effective_on, dose, interval, reason in _stream(
        changes.order_by("pseudonym", "effective_on", "pk"), *fields, "interval_weeks", "reason"
    ):
        yield (pseudonym, course, scope.day(effective_on, day_zero), dose, interval, reason)


def infusion_rows(scope: ExportScope) -> Iterator[Row]:
    in_force = RegimenChange.objects.filter(
        course_id=OuterRef("course_id"), effective_on__lte=OuterRef("given_on")
    ).order_by("-effective_on")
    infusions = scope.rows(
        Infusion.objects.with_course_position(), "course__patient", "given_on"
    ).annotate(
        course_number=_course_number("course"),
        regimen_reason=Subquery(in_force.values("reason")[:1]),
    )
    for (pseudonym, day_zero, course, dose_number, first_given_on, given_on, weight, weighed_on,
         dose, minutes, antihistamine, corticosteroid, antipyretic, intensified,
         *product) in _stream(
        infusions.order_by("pseudonym", "given_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "course_number",
        "dose_number",
        "day_zero",
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "dose_mg",
        "duration_minutes",
        "premedication_antihistamine",
        "premedication_corticosteroid",
        "premedication_antipyretic",
        "regimen_reason",
        *_product_fields("product"),
    ):  # fmt: skip
        yield (
            pseudonym,
            course,
            dose_number,
            scope.day(given_on, day_zero),
            Infusion.week_of(given_on, first_given_on),
            weight,
            scope.day(weighed_on, day_zero),
            dose,
            (dose / weight).quantize(Decimal("0.01")),
            minutes,
            antihistamine,
            corticosteroid,
            antipyretic,
            intensified == RegimenReason.INTENSIFICATION,
            *_product(*product),
        )


def lab_rows(scope: ExportScope) -> Iterator[Row]:
    labs = scope.rows(LabResult.objects.all(), "patient", "collected_on")
    for (pseudonym, day_zero, collected_on, analyte, value, unit, positive, low,
         high) in _stream(
        labs.order_by("pseudonym", "collected_on", "analyte", "pk"),
        "pseudonym",
        "patient_day_zero",
        "collected_on",
        "analyte",
        "value",
        "unit",
        "antibodies_positive",
        "reference_low",
        "reference_high",
    ):  # fmt: skip
        yield (
            pseudonym,
            scope.day(collected_on, day_zero),
            analyte,
            ANALYTE_LOINC.get(analyte),
            value,
            unit or None,
            positive,
            low,
            high,
        )


def imaging_rows(scope: ExportScope) -> Iterator[Row]:
    studies = scope.rows(ImagingStudy.objects.all(), "patient", "performed_on").annotate(
        number=_ordinal(ImagingStudy, "performed_on")
    )
    for pseudonym, day_zero, number, performed_on, *findings in _stream(
        studies.order_by("pseudonym", "performed_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "number",
        "performed_on",
        "modality",
        "active_lesions",
        "new_lesions",
        "lesion_counts",
        "impression",
        "rinbo_total",
        "rai_cromris_total",
    ):
        modality, active, new, counts_from, impression, rinbo, rai = findings
        yield (
            pseudonym,
            number,
            scope.day(performed_on, day_zero),
            modality,
            active,
            new,
            counts_from or None,
            impression or None,
            rinbo,
            rai,
        )


def assessment_rows(scope: ExportScope) -> Iterator[Row]:
    assessments = scope.rows(ClinicalAssessment.objects.all(), "patient", "assessed_on").annotate(
        number=_ordinal(ClinicalAssessment, "assessed_on")
    )
    for pseudonym, day_zero, number, assessed_on, *scores, state, counts_from in _stream(
        assessments.order_by("pseudonym", "assessed_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "number",
        "assessed_on",
        "pain_score",
        "physician_global",
        "patient_global",
        "chaq",
        "clinically_active_lesions",
        "disease_state",
        "lesion_counts",
    ):
        yield (
            pseudonym,
            number,
            scope.day(assessed_on, day_zero),
            *scores,
            counts_from or None,
            state or None,
        )


def reaction_rows(scope: ExportScope) -> Iterator[Row]:
    reactions = scope.rows(
        InfusionReaction.objects.all(), "infusion__course__patient", "infusion__given_on"
    ).annotate(
        course_number=_course_number("infusion__course"), dose_number=_dose_number("infusion")
    )
    for (pseudonym, day_zero, course, dose, given_on, onset, severity, stopped, outcome,
         reviewed_on) in _stream(
        reactions.order_by("pseudonym", "infusion__given_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "course_number",
        "dose_number",
        "infusion__given_on",
        "onset",
        "severity",
        "infusion_stopped",
        "outcome",
        "reviewed_on",
    ):  # fmt: skip
        yield (
            pseudonym,
            course,
            dose,
            scope.day(given_on, day_zero),
            onset,
            severity,
            stopped,
            outcome,
            scope.day(reviewed_on, day_zero),
        )


def relapse_rows(scope: ExportScope) -> Iterator[Row]:
    relapses = scope.rows(Relapse.objects.all(), "patient", "noted_on").annotate(
        course_number=_course_number("course"),
        retreatment_number=_course_number("retreatment_course"),
    )
    for pseudonym, day_zero, course, noted_on, retreatment in _stream(
        relapses.order_by("pseudonym", "noted_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "course_number",
        "noted_on",
        "retreatment_number",
    ):
        yield (pseudonym, course, scope.day(noted_on, day_zero), retreatment)


def alert_rows(scope: ExportScope) -> Iterator[Row]:
    alerts = scope.rows(Alert.objects.all(), "course__patient", "first_raised_at__date").annotate(
        course_number=_course_number("course")
    )
    for (pseudonym, day_zero, course, rule, severity, status, due_on, raised_at, resolved_at,
         version) in _stream(
        alerts.order_by("pseudonym", "first_raised_at", "pk"),
        "pseudonym",
        "patient_day_zero",
        "course_number",
        "rule",
        "severity",
        "status",
        "due_on",
        "first_raised_at",
        "resolved_at",
        "guideline_version",
    ):  # fmt: skip
        yield (
            pseudonym,
            course,
            rule,
            severity,
            status,
            scope.day(due_on, day_zero),
            # How long it stayed open, never when: the nightly run raises alerts on the calendar,
            # so a raised day would tie day 0 to the date of a run (or of the export).
            scope.days((resolved_at - raised_at).days) if resolved_at else None,
            version,
        )


def medication_rows(scope: ExportScope) -> Iterator[Row]:
    # Never drug_name: the name of an "other" drug is free text.
    medications = scope.rows(Medication.objects.all(), "patient", "started_on")
    for (pseudonym, day_zero, drug, dose, unit, route, frequency, started_on, stopped_on,
         stop_reason) in _stream(
        medications.order_by("pseudonym", "started_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "drug",
        "dose",
        "dose_unit",
        "route",
        "frequency",
        "started_on",
        "stopped_on",
        "stop_reason",
    ):  # fmt: skip
        yield (
            pseudonym,
            drug,
            MEDICATION_ATC.get(drug),
            MEDICATION_CLASS[drug],
            dose,
            unit or None,
            route,
            frequency,
            scope.day(started_on, day_zero),
            scope.day(stopped_on, day_zero),
            stop_reason or None,
        )


def adverse_event_rows(scope: ExportScope) -> Iterator[Row]:
    # Never specified_term (the name given to an "other" event) nor who reviewed it.
    events = scope.rows(AdverseEvent.objects.all(), "patient", "onset_on").annotate(
        course_number=_course_number("course")
    )
    for (pseudonym, day_zero, course, onset_on, term, grade, serious, *criteria, relation, action,
         outcome, resolved_on, reviewed_on, decision) in _stream(
        events.order_by("pseudonym", "onset_on", "pk"),
        "pseudonym",
        "patient_day_zero",
        "course_number",
        "onset_on",
        "term",
        "grade",
        "serious",
        *SERIOUSNESS_FIELDS,
        "relation_to_infliximab",
        "action_taken",
        "outcome",
        "resolved_on",
        "reviewed_on",
        "review_decision",
    ):  # fmt: skip
        coding = CODINGS[term]
        kinds = special_interest(term, serious=serious)
        yield (
            pseudonym,
            course,
            scope.day(onset_on, day_zero),
            term,
            coding.ctcae_term,
            coding.meddra_llt or None,
            grade,
            serious,
            *criteria,
            bool(kinds),
            ";".join(kinds) or None,
            relation,
            action,
            outcome,
            scope.day(resolved_on, day_zero),
            reviewed_on is not None,
            decision or None,
        )


def screening_rows(scope: ExportScope) -> Iterator[Row]:
    results = scope.rows(ScreeningResult.objects.all(), "patient", "tested_on")
    for pseudonym, day_zero, tested_on, test, result, reviewed_on in _stream(
        results.order_by("pseudonym", "tested_on", "test"),
        "pseudonym",
        "patient_day_zero",
        "tested_on",
        "test",
        "result",
        "reviewed_on",
    ):
        yield (
            pseudonym,
            scope.day(tested_on, day_zero),
            test,
            SCREENING_LOINC.get(test),
            result,
            reviewed_on is not None,
        )


def vaccination_rows(scope: ExportScope) -> Iterator[Row]:
    vaccinations = scope.rows(Vaccination.objects.all(), "patient", "given_on")
    for pseudonym, day_zero, given_on, vaccine in _stream(
        vaccinations.order_by("pseudonym", "given_on", "vaccine"),
        "pseudonym",
        "patient_day_zero",
        "given_on",
        "vaccine",
    ):
        yield (pseudonym, scope.day(given_on, day_zero), vaccine, vaccine in LIVE_VACCINES)


def consent_rows(scope: ExportScope) -> Iterator[Row]:
    """Each consent record as it stood on the export's consent date (a later one is not known)."""
    consents = scope.rows(
        Consent.objects.filter(given_on__lte=scope.as_of), "patient", "given_on"
    ).order_by("pseudonym", "given_on", "pk")
    for (pseudonym, day_zero, code, version, consented_by, assent, given_on, care, care_withdrawn,
         research, research_withdrawn, contact, contact_withdrawn) in _stream(
        consents,
        "pseudonym",
        "patient_day_zero",
        "document__code",
        "document__version",
        "consented_by",
        "assent",
        "given_on",
        "care_data_given",
        "care_data_withdrawn_on",
        "research_given",
        "research_withdrawn_on",
        "contact_given",
        "contact_withdrawn_on",
    ):  # fmt: skip

        def withdrawn(day: dt.date | None, day_zero: dt.date = day_zero) -> int | None:
            known = day is not None and day <= scope.as_of
            return scope.day(day, day_zero) if known else None

        yield (
            pseudonym,
            code,
            version,
            consented_by,
            assent,
            scope.day(given_on, day_zero),
            care,
            withdrawn(care_withdrawn),
            research,
            withdrawn(research_withdrawn),
            contact,
            withdrawn(contact_withdrawn),
        )


PHENOTYPE_ITEMS = tuple(item.name for item in (*BRISTOL_ITEMS, *JANSSON_ITEMS))
FAMILY_FIELDS = tuple(f"family_{name}" for name in FAMILY_CONDITIONS)


def phenotype_rows(scope: ExportScope) -> Iterator[Row]:
    # The phenotype has no date of its own: a date range keeps every mapped patient's.
    phenotypes = scope.rows(Phenotype.objects.all(), "patient", dated=None)
    bristol = len(BRISTOL_ITEMS)
    for pseudonym, day_zero, first_symptoms_on, *values in _stream(
        phenotypes.order_by("pseudonym"),
        "pseudonym",
        "patient_day_zero",
        "first_symptoms_on",
        *PHENOTYPE_ITEMS,
        "family_history",
        *FAMILY_FIELDS,
    ):
        items = dict(zip(PHENOTYPE_ITEMS, values, strict=False))
        family_history, *family = values[len(PHENOTYPE_ITEMS) :]
        yield (
            pseudonym,
            scope.day(first_symptoms_on, day_zero),
            *values[:bristol],
            bristol_met(items),
            *values[bristol : len(PHENOTYPE_ITEMS)],
            jansson_score(items),
            family_history or None,
            *family,
        )


def comorbidity_rows(scope: ExportScope) -> Iterator[Row]:
    comorbidities = scope.rows(Comorbidity.objects.all(), "patient", "onset_on")
    for pseudonym, day_zero, condition, onset_on in _stream(
        comorbidities.order_by("pseudonym", "onset_on", "condition"),
        "pseudonym",
        "patient_day_zero",
        "condition",
        "onset_on",
    ):
        yield (
            pseudonym,
            scope.shown("comorbidities.condition", condition),
            scope.day(onset_on, day_zero),
        )


def lesion_site_rows(scope: ExportScope) -> Iterator[Row]:
    """The imaging studies' sites, then the assessments' (each by patient and date)."""
    for owner, parent, dated, model in (
        ("imaging", "imaging_study", "performed_on", ImagingStudy),
        ("assessment", "assessment", "assessed_on", ClinicalAssessment),
    ):
        sites = scope.rows(
            LesionSite.objects.filter(**{f"{parent}__isnull": False}),
            f"{parent}__patient",
            f"{parent}__{dated}",
        ).annotate(number=_ordinal(model, dated, parent))
        for (pseudonym, day_zero, number, recorded_on, bone, level, laterality,
             *findings) in _stream(
            sites.order_by("pseudonym", f"{parent}__{dated}", parent, "bone", "pk"),
            "pseudonym",
            "patient_day_zero",
            "number",
            f"{parent}__{dated}",
            "bone",
            "vertebral_level",
            "laterality",
            "active",
            "new",
            "resolved",
            "vertebral_fracture",
        ):  # fmt: skip
            site = scope.shown("lesion_sites.site", bone)
            shown_level = scope.shown("lesion_sites.vertebral_level", level) if level else None
            shown_level = shown_level if site == bone else None
            coded = snomed_body_structure(site, shown_level) if site else None
            yield (
                pseudonym,
                owner,
                number if owner == "imaging" else None,
                number if owner == "assessment" else None,
                scope.day(recorded_on, day_zero),
                site,
                coded.code if coded else None,
                shown_level,
                laterality,
                *findings,
            )


TABLE_ROWS: dict[str, Callable[[ExportScope], Iterator[Row]]] = {
    PATIENTS.name: patient_rows,
    COURSES.name: course_rows,
    REGIMEN_CHANGES.name: regimen_change_rows,
    INFUSIONS.name: infusion_rows,
    LABS.name: lab_rows,
    IMAGING.name: imaging_rows,
    ASSESSMENTS.name: assessment_rows,
    REACTIONS.name: reaction_rows,
    RELAPSES.name: relapse_rows,
    ALERTS.name: alert_rows,
    MEDICATIONS.name: medication_rows,
    ADVERSE_EVENTS.name: adverse_event_rows,
    SCREENING_RESULTS.name: screening_rows,
    VACCINATIONS.name: vaccination_rows,
    CONSENTS.name: consent_rows,
    PHENOTYPE.name: phenotype_rows,
    COMORBIDITIES.name: comorbidity_rows,
    LESION_SITES.name: lesion_site_rows,
}


def sql_statement(table: Table, scope: ExportScope, *, csv: bool) -> Statement | None:
    """The table's SQL statement for this export, if it has one and the scope reads by SQL."""
    if not scope.sql_tables or table.name not in SQL_TABLES:
        return None
    export = scope.export
    return statement(
        SQL_TABLES[table.name],
        export_id=export.pk,
        as_of=scope.as_of,
        day_step=scope.day_step,
        date_from=export.date_from,
        date_to=export.date_to,
        csv=csv,
    )


def table_rows(table: Table, scope: ExportScope) -> Iterator[Row]:
    if select := sql_statement(table, scope, csv=False):
        return value_rows(select)
    return TABLE_ROWS[table.name](scope)


# --- Archives ----------------------------------------------------------------------------------


def _csv_writer(rows: Iterable[Sequence[object]], formats: Sequence[Callable[[Any], str]]) -> Any:
    def write(out: HashingWriter) -> int:
        text = io.TextIOWrapper(io.BufferedWriter(out), encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        count = -1  # the header is not a row
        for count, row in enumerate(rows):  # noqa: B007 - the last index is the count
            writer.writerow([fmt(value) for fmt, value in zip(formats, row, strict=True)])
        text.flush()
        text.detach().flush()
        return count

    return write


def write_csv_table(archive: Archive, table: Table, scope: ExportScope) -> Entry:
    if select := sql_statement(table, scope, csv=True):
        return archive.write_stream(f"{table.name}.csv", _copied_csv(select))
    formats = [column.format for column in table.columns]
    rows = _with_header(table, table_rows(table, scope))
    return archive.write_stream(f"{table.name}.csv", _csv_writer(rows, formats))


def _copied_csv(select: Statement) -> Callable[[HashingWriter], int]:
    """PostgreSQL's CSV straight into the archive: the cells are already Column.format's."""

    def write(out: HashingWriter) -> int:
        counted: list[int] = []
        buffered = io.BufferedWriter(out, fhir.WRITE_BUFFER_BYTES)
        for chunk in csv_chunks(select, counted):
            buffered.write(chunk)
        buffered.detach()  # flushed; the zip entry stays open for the archive to close
        return counted[0]

    return write


def _with_header(table: Table, rows: Iterable[Row]) -> Iterator[Sequence[object]]:
    yield table.header
    yield from rows


def write_parquet_table(archive: Archive, table: Table, scope: ExportScope) -> Entry:
    # Imported here, where Parquet is written: a web worker never loads pyarrow (about 40 MB).
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = table.arrow_schema()
    if select := sql_statement(table, scope, csv=False):
        write = _copied_parquet(select, schema)
    else:
        rows = table_rows(table, scope)

        def write(out: HashingWriter) -> int:
            count = 0
            with pq.ParquetWriter(out, schema) as writer:
                for batch in _batches(rows, PARQUET_BATCH_ROWS):
                    columns = list(zip(*batch, strict=True))
                    writer.write_table(pa.Table.from_arrays(columns, schema=schema))
                    count += len(batch)
            return count

    return archive.write_stream(f"{table.name}.parquet", write)


def _copied_parquet(select: Statement, schema: Any) -> Callable[[HashingWriter], int]:
    """PostgreSQL's CSV of the values parsed by pyarrow (in C++, by the table's schema), not
    row by row in Python: an empty cell is missing, a quoted empty one an empty text (as COPY
    writes NULL and ''), booleans t and f."""
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    def write(out: HashingWriter) -> int:
        counted: list[int] = []
        cells = io.BufferedReader(
            ChunksFile(csv_chunks(select, counted, header=False)), fhir.WRITE_BUFFER_BYTES
        )
        if not cells.peek(1):  # no rows: pyarrow reads no empty file, the schema is all there is
            pq.ParquetWriter(out, schema).close()
            return 0
        batches = pa_csv.open_csv(
            cells,
            read_options=pa_csv.ReadOptions(column_names=schema.names, block_size=1 << 22),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=schema,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        with pq.ParquetWriter(out, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return counted[0]

    return write


def write_dictionary(archive: Archive) -> Entry:
    formats = [text_cell] * len(DICTIONARY_HEADER)
    rows: Iterator[Sequence[object]] = iter([DICTIONARY_HEADER, *dictionary_rows()])
    return archive.write_stream("data_dictionary.csv", _csv_writer(rows, formats))


def export_parameters(export: ExportRequest) -> dict[str, object]:
    return {
        "sites": sorted(export.sites.values_list("code", flat=True)),
        "date_from": export.date_from.isoformat() if export.date_from else None,
        "date_to": export.date_to.isoformat() if export.date_to else None,
        "format": export.format,
        "consent_checked_on": export.consent_checked_on.isoformat(),
        "date_precision": export.date_precision,
        "age_precision": export.age_precision,
        "suppress_small_cells": export.suppress_small_cells,
    }


README = """CRMO infliximab registry: de-identified research export {export_id}

Built in {month} from the patients of sites {sites} with the consent scope "research exports"
(research) in force on the export's consent date: given on or before it, not withdrawn by then.
Format: {format}.

What was removed. No names, medical record numbers, dates of birth, addresses, contact details,
infusion lot numbers or free text (notes, report text, symptoms, evidence, the name given to an
"other" drug or adverse event: every text field a person types stays in the registry; units,
drugs, products, adverse-event terms, screening tests and vaccines are managed codes). Each patient
appears under a random pseudonym made for this export only; the same patient has a different
pseudonym in another export.

Dates. {dates}
No calendar date or time is published: the export's own dates are given as a month at most (this
file, manifest.json){fhir_time}, and no duration runs to the export date (a course still
running counts its days to its last infusion; an alert carries how long it was open, not when it
was raised). Day offsets are {precision}.

What remains, and why (quasi-identifiers). Sex, age at the course start ({ages}; above 89:
"90+"), the treating site's code, the day of diagnosis relative to day 0, and the clinical
history itself (intervals between events, doses, weights, results). HIPAA's Safe Harbor list is
met for the direct identifiers (names, numbers, dates of birth, free text); day offsets relative
to a patient's own first course and the treating site go beyond Safe Harbor's letter, so their
risk is controlled as an expert determination would:
{small_cells}
Publish only aggregates, never rows, and never cells of fewer than 5 patients.

What a researcher can infer: intervals between a patient's events, and the month of the export.
What a researcher cannot: any patient's calendar dates, birthday, name or number; whether a
patient in this export is the same as one in another export, from sex, age, site and diagnosis
day alone. Two exports of the same registry still hold the same clinical histories: comparing
whole histories can match patients across them. Keep to one export per question and delete
files you no longer need (downloads expire).

{contents}
"""
TABULAR_DATES = (
    "Every date is a whole number of days since the patient's day 0, the start of\n"
    "their first infliximab course (columns ending in _day)."
)
FHIR_DATES = (
    "Every date is shifted so that the patient's day 0 (the start of their first\n"
    f"course) falls on {fhir.DAY_ZERO.isoformat()}: "
    "date minus that day = days since day 0. The shift differs per\npatient and is applied "
    "to all of that patient's dates alike."
)
FHIR_TIME = "; the Bulk Data transactionTime is the first\ninstant of that month"
TABULAR_CONTENTS = (
    "Files: one {suffix} per table (long format, one row per event), data_dictionary.csv (every\n"
    "table: what a row is and what is never exported; every column: meaning, type, unit, allowed\n"
    "values, code system) and manifest.json (row counts, SHA-256 checksums, guideline version,\n"
    "the disclosure control applied, small cells).\n\n" + textwrap.fill(CSV_TEXT_CELLS, width=99)
)
FHIR_CONTENTS = (
    "Files: FHIR R4 bulk data, one NDJSON file per resource type, and manifest.json in the Bulk\n"
    "Data shape (type, url, count; its extension: the disclosure control applied). Codes:\n"
    "ORPHA:324964, LOINC 1988-5 CRP, 4537-7 ESR, 39803-2 infliximab level, 751-8 neutrophils,\n"
    "777-3 platelets, 1742-6 ALT, 29463-7 body weight, 5196-1 HBsAg (other screening tests: no\n"
    "single LOINC code chosen, the registry's own codes); infliximab ATC L04AB02 and RxNorm\n"
    "191831 (a Medication per product, with the product list's codes); co-medications by WHO ATC,\n"
    "routes by SNOMED CT; adverse events by MedDRA where CTCAE v5.0 has the term, seriousness\n"
    "serious | non-serious; vaccines by CVX where one code is certain; the CRMO/CNO Condition by\n"
    "Orphanet and ICD-10 M86.3, its bodySite (the sites active now) by the registry's lesion site\n"
    "codes and SNOMED CT where checked (tibia, femur, radius, calcaneum). Codes under\n"
    f"{fhir.BASE}/CodeSystem/ are the registry's own lists."
)
PRECISION_TEXT = {
    "day": "exact days",
    "week": "rounded down to whole weeks (multiples of 7 days)",
    "month": "rounded down to 30-day months (multiples of 30 days)",
}
SMALL_CELLS_TEXT = {
    True: (
        "day offsets {precision_short}, ages {ages},\nand small cells "
        "suppressed: where fewer than 5 patients share a combination of site, sex, age and\n"
        "diagnosis day, the diagnosis day, then the age, then the sex, then the site are left\n"
        "empty until every combination shown is shared by at least 5 (manifest.json says how\n"
        "many values were blanked)."
    ),
    False: (
        "day offsets {precision_short} and ages {ages};\nsmall cells (fewer "
        "than 5 patients in a site x sex x age band) were NOT suppressed, only listed in\n"
        "manifest.json: a data manager chose this, and the data use agreement governs it."
    ),
}


def published_month(day: dt.date) -> str:
    """A date as an export may publish it: its month."""
    return f"{day:%Y-%m}"


def _readme(scope: ExportScope, built_on: dt.date) -> str:
    export = scope.export
    is_fhir = export.format == ExportFormat.FHIR
    ages = "in 5-year bands" if export.age_precision == "bands" else "in whole years"
    return README.format(
        export_id=export.pk,
        month=published_month(built_on),
        sites=", ".join(sorted(export.sites.values_list("code", flat=True))),
        format=export.get_format_display(),
        dates=FHIR_DATES if is_fhir else TABULAR_DATES,
        fhir_time=FHIR_TIME if is_fhir else "",
        precision=PRECISION_TEXT[export.date_precision],
        ages=ages,
        small_cells=SMALL_CELLS_TEXT[export.suppress_small_cells].format(
            precision_short=PRECISION_TEXT[export.date_precision], ages=ages
        ),
        contents=FHIR_CONTENTS if is_fhir else TABULAR_CONTENTS.format(suffix=export.format),
    )


def _guideline_parameters() -> dict[str, object]:
    return json.loads(json.dumps(dataclasses.asdict(DEFAULT), default=str))


def published_parameters(export: ExportRequest) -> dict[str, object]:
    """The request as its archive states it: dates as months (the audit keeps them exact)."""
    return {
        "sites": sorted(export.sites.values_list("code", flat=True)),
        "rows_from_month": published_month(export.date_from) if export.date_from else None,
        "rows_to_month": published_month(export.date_to) if export.date_to else None,
        "format": export.format,
        "consent_checked_in_month": published_month(export.consent_checked_on),
        "consent_scope": GATING_SCOPE.value,
    }


def _tabular_manifest(scope: ExportScope, built_on: dt.date, tables: list[Entry]) -> str:
    manifest = {
        "export_id": scope.export.pk,
        "built_in_month": published_month(built_on),
        "guideline_version": BASE_VERSION,
        "guideline_parameters": _guideline_parameters(),
        "parameters": published_parameters(scope.export),
        "day_zero": "the start of the patient's first infliximab course; dates are days since it",
        "disclosure_control": scope.disclosure_control(),
        "tables": {
            table.name: {"file": entry.file, "rows": entry.rows, "sha256": entry.sha256}
            for table, entry in zip(TABLES, tables, strict=True)
        },
        "small_cell_warnings": scope.small_cells.warnings(),
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def build_archive(scope: ExportScope, path: Path, progress: Progress) -> dict[str, int]:
    """Write the export's zip to `path`; returns the rows per table (or per resource type)."""
    built_on = timezone.localdate()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        archive = Archive(zipped)
        if scope.export.format == ExportFormat.FHIR:
            counts = fhir.write_bundle(
                archive,
                lambda table: table_rows(table, scope),
                progress,
                export_id=scope.export.pk,
                transaction_time=f"{published_month(built_on)}-01T00:00:00Z",
                extension={
                    "dayZeroRenderedAs": fhir.DAY_ZERO.isoformat(),
                    "consentScope": GATING_SCOPE.value,
                    "disclosureControl": scope.disclosure_control(),
                    "smallCellWarnings": scope.small_cells.warnings(),
                },
            )
        else:
            write_table = (
                write_parquet_table
                if scope.export.format == ExportFormat.PARQUET
                else write_csv_table
            )
            entries = []
            for done, table in enumerate(TABLES, start=1):
                entries.append(write_table(archive, table, scope))
                progress(done * 100 // (len(TABLES) + 1))
            write_dictionary(archive)
            archive.write_text("manifest.json", _tabular_manifest(scope, built_on, entries))
            counts = {t.name: e.rows for t, e in zip(TABLES, entries, strict=True)}
        archive.write_text("README.txt", _readme(scope, built_on))
    progress(100)
    return counts
