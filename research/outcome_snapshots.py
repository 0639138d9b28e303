"""The stored course outcomes the outcomes page reads: computed for every course by the exports'
own code (`research.outcomes.course_outcomes`, with the assessments' PedCNO variables the exports
read), in chunks of histories, and written with one upsert per chunk."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import transaction

from monitoring.evaluation import load_histories, site_guidelines
from monitoring.guideline import DEFAULT
from registry.models import TreatmentCourse
from research.exporters import COURSE_CHUNK, assessment_measurements
from research.models import CourseOutcomeSnapshot
from research.outcomes import course_outcomes

logger = logging.getLogger(__name__)

FIELDS = (
    "as_of",
    "days_on_treatment",
    "number_of_infusions",
    "doses_due",
    "proportion_doses_on_time",
    "longest_gap_days",
    "reached_taper",
    "days_to_taper",
    "relapsed_after_stopping",
    "days_to_relapse",
    "relapse_free_days",
    "relapse_free_end",
    "pedcno_response_3_months",
    "pedcno_response_12_months",
    "inactive_at_12_months",
)


def refresh(as_of: dt.date, course_ids: Iterable[int] | None = None) -> int:
    """Compute and store the outcomes of every course (or of `course_ids`) as of `as_of`; the
    number of courses stored."""
    ids = (
        list(TreatmentCourse.objects.order_by("pk").values_list("pk", flat=True))
        if course_ids is None
        else sorted(set(course_ids))
    )
    guidelines = site_guidelines()
    stored = 0
    for start in range(0, len(ids), COURSE_CHUNK):
        chunk = ids[start : start + COURSE_CHUNK]
        histories = load_histories(chunk)
        patients = dict(
            TreatmentCourse.objects.filter(pk__in=chunk).values_list("pk", "patient_id")
        )
        measurements = assessment_measurements(set(patients.values()))
        rows = []
        for history in histories:
            outcomes = course_outcomes(
                history,
                measurements.get(patients[history.course_id], []),
                as_of=as_of,
                guideline=guidelines.get(history.site_code, DEFAULT),
            )
            rows.append(
                CourseOutcomeSnapshot(
                    course_id=history.course_id,
                    as_of=as_of,
                    days_on_treatment=outcomes.days_on_treatment,
                    number_of_infusions=outcomes.number_of_infusions,
                    doses_due=outcomes.doses_due,
                    proportion_doses_on_time=outcomes.proportion_doses_on_time,
                    longest_gap_days=outcomes.longest_gap_days,
                    reached_taper=outcomes.reached_taper,
                    days_to_taper=outcomes.days_to_taper,
                    relapsed_after_stopping=outcomes.relapsed_after_stopping,
                    days_to_relapse=outcomes.days_to_relapse,
                    relapse_free_days=outcomes.relapse_free_days,
                    relapse_free_end=outcomes.relapse_free_end or "",
                    pedcno_response_3_months=outcomes.pedcno_response_3_months or "",
                    pedcno_response_12_months=outcomes.pedcno_response_12_months or "",
                    inactive_at_12_months=outcomes.inactive_at_12_months,
                )
            )
        with transaction.atomic():
            CourseOutcomeSnapshot.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["course"],
                update_fields=[*FIELDS, "computed_at"],
            )
        stored += len(rows)
    logger.info("course outcomes stored: %d courses as of %s", stored, as_of)
    return stored
