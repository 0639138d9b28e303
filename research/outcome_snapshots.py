"""The stored course outcomes the outcomes page reads: computed for every course by the exports'
own code (`research.outcomes.course_outcomes`, with the assessments' PedCNO variables the exports
read), in chunks of histories, and written with one upsert per chunk."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

from django.db import models, transaction

from monitoring.evaluation import site_guidelines
from registry.models import TreatmentCourse
from research.exporters import COURSE_CHUNK, outcomes_by_course
from research.models import CourseOutcomeSnapshot
from research.outcomes import CourseOutcomes

logger = logging.getLogger(__name__)

# What the refresh writes: the exports' course outcomes, field by field, and the day they are for.
OUTCOME_FIELDS = tuple(field.name for field in dataclasses.fields(CourseOutcomes))
# Stored blank rather than null (CharFields), as Django keeps text.
TEXT_FIELDS = frozenset(
    f.name for f in CourseOutcomeSnapshot._meta.concrete_fields if isinstance(f, models.CharField)
)


def _snapshot(course_id: int, as_of: dt.date, outcomes: CourseOutcomes) -> CourseOutcomeSnapshot:
    values = {
        name: "" if value is None and name in TEXT_FIELDS else value
        for name, value in dataclasses.asdict(outcomes).items()
    }
    return CourseOutcomeSnapshot(course_id=course_id, as_of=as_of, **values)


def refresh(as_of: dt.date, course_ids: Iterable[int] | None = None) -> int:
    """Compute and store the outcomes of every course (or of `course_ids`) as of `as_of`; the
    number of courses stored."""
    courses = TreatmentCourse.objects.order_by("pk")
    if course_ids is not None:
        courses = courses.filter(pk__in=list(course_ids))
    patient_of = dict(courses.values_list("pk", "patient_id"))
    ids = list(patient_of)
    guidelines = site_guidelines()
    stored = 0
    for start in range(0, len(ids), COURSE_CHUNK):
        chunk = {pk: patient_of[pk] for pk in ids[start : start + COURSE_CHUNK]}
        rows = [
            _snapshot(course_id, as_of, outcomes)
            for course_id, outcomes in outcomes_by_course(chunk, as_of, guidelines).items()
        ]
        with transaction.atomic():
            CourseOutcomeSnapshot.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["course"],
                update_fields=["as_of", *OUTCOME_FIELDS, "computed_at"],
            )
        stored += len(rows)
    logger.info("course outcomes stored: %d courses as of %s", stored, as_of)
    return stored
