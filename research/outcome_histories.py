"""The course histories the outcome measures read, loaded in bulk: only what
`research.outcomes.course_outcomes` looks at (the course, its infusions, regimen changes and
relapses, the patient's next course, labs, imaging and assessments), not the whole history the
guideline's rules need (`monitoring.evaluation.load_histories`: fourteen queries, every column).

Seven queries for a chunk of courses, whatever its size. The outcomes they give are the ones of
the full histories (tests/research/test_outcome_histories.py compares them).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from monitoring.guideline.history import (
    AssessmentRow,
    CourseHistory,
    ImagingRow,
    InfusionRow,
    LabRow,
    RegimenRow,
)
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    LabResult,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from research.outcomes import Measurement

# The assessments' PedCNO variables (the engine's history carries ESR and MRI lesions only).
ASSESSED_VARIABLES = ("physician_global", "patient_global", "chaq")


def _grouped(rows: Iterable[tuple[Any, ...]], row_type: Any) -> dict[int, list[Any]]:
    """Rows (owner id, the row type's fields in order…) as row_type, by owner."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for owner, *values in rows:
        grouped[owner].append(row_type(*values))
    return grouped


def _values(queryset: QuerySet[Any], *fields: str) -> Iterable[tuple[Any, ...]]:
    """The rows of these fields. On PostgreSQL straight from psycopg, which returns dates,
    decimals and booleans as Python values already: Django's per-row work is most of the time
    (not for JSON fields, which Django decodes: `_orm_values`)."""
    rows = queryset.values_list(*fields)
    if connection.vendor != "postgresql":
        return rows
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # an empty `__in` list: Django knows there is nothing to read
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _orm_values(queryset: QuerySet[Any], *fields: str) -> Iterable[tuple[Any, ...]]:
    return queryset.values_list(*fields)


def outcome_histories(
    patient_of: Mapping[int, int],
) -> tuple[list[CourseHistory], dict[int, list[Measurement]]]:
    """The histories of these courses (course id → patient id) as course_outcomes reads them,
    and their patients' assessed PedCNO variables, by patient."""
    course_ids = list(patient_of)
    patient_ids = list(set(patient_of.values()))
    courses = _orm_values(
        TreatmentCourse.objects.filter(patient_id__in=patient_ids).order_by("started_on", "pk"),
        "pk",
        "patient_id",
        "patient__site__code",
        "started_on",
        "planned_dose_mg_per_kg",
        "induction_weeks",
        "maintenance_interval_weeks",
        "stopped_on",
        "stop_reason",
    )
    starts: dict[int, list[dt.date]] = defaultdict(list)
    chosen = []
    for row in courses:
        starts[row[1]].append(row[3])
        if row[0] in patient_of:
            chosen.append(row)
    by_course = {"course_id__in": course_ids}
    by_patient = {"patient_id__in": patient_ids}
    infusions = _grouped(
        _values(
            Infusion.objects.filter(**by_course).order_by("given_on", "pk"),
            "course_id",
            "pk",
            "given_on",
            "weight_kg",
            "dose_mg",
        ),
        InfusionRow,
    )
    regimens = _grouped(
        _values(
            RegimenChange.objects.filter(**by_course).order_by("effective_on"),
            "course_id",
            "pk",
            "effective_on",
            "dose_mg_per_kg",
            "interval_weeks",
            "reason",
        ),
        RegimenRow,
    )
    relapses: dict[int, list[dt.date]] = defaultdict(list)
    for course_id, noted_on in _values(
        Relapse.objects.filter(**by_course).order_by("noted_on"), "course_id", "noted_on"
    ):
        relapses[course_id].append(noted_on)
    labs = _grouped(
        _values(
            LabResult.objects.filter(**by_patient).order_by("collected_on", "pk"),
            "patient_id",
            "pk",
            "collected_on",
            "analyte",
            "value",
        ),
        LabRow,
    )
    imaging = _grouped(
        _values(
            ImagingStudy.objects.filter(**by_patient).order_by("performed_on", "pk"),
            "patient_id",
            "pk",
            "performed_on",
            "modality",
            "active_lesions",
        ),
        ImagingRow,
    )
    assessments: dict[int, list[AssessmentRow]] = defaultdict(list)
    measured: dict[int, list[Measurement]] = defaultdict(list)
    for patient_id, pk, assessed_on, state, *scores in _values(
        ClinicalAssessment.objects.filter(**by_patient).order_by("assessed_on", "pk"),
        "patient_id",
        "pk",
        "assessed_on",
        "disease_state",
        *ASSESSED_VARIABLES,
    ):
        assessments[patient_id].append(AssessmentRow(pk, assessed_on, disease_state=state))
        measured[patient_id].extend(
            Measurement(variable, assessed_on, value)
            for variable, value in zip(ASSESSED_VARIABLES, scores, strict=True)
            if value is not None
        )
    histories = []
    for (pk, patient_id, site_code, started_on, dose, weeks, interval, stopped_on,
         stop_reason) in chosen:  # fmt: skip
        later_starts = (start for start in starts[patient_id] if start > started_on)
        histories.append(
            CourseHistory(
                course_id=pk,
                patient_code="",
                site_code=site_code,
                started_on=started_on,
                planned_dose_mg_per_kg=dose,
                induction_weeks=tuple(weeks),
                maintenance_interval_weeks=interval,
                stopped_on=stopped_on,
                stop_reason=stop_reason,
                infusions=tuple(infusions[pk]),
                regimen_changes=tuple(regimens[pk]),
                labs=tuple(labs[patient_id]),
                imaging=tuple(imaging[patient_id]),
                assessments=tuple(assessments[patient_id]),
                relapses_noted_on=tuple(relapses[pk]),
                next_course_started_on=min(later_starts, default=None),
            )
        )
    return histories, measured
