"""The outcome measures read lean histories (research.outcome_histories): only what
course_outcomes looks at. They are the measures of the full histories the guideline's rules read
(monitoring.evaluation.load_histories), course by course, on the demo registry."""

from __future__ import annotations

import dataclasses

from monitoring.evaluation import load_histories, site_guidelines
from monitoring.guideline import DEFAULT
from registry.models import ClinicalAssessment, TreatmentCourse
from research.exporters import outcomes_by_course
from research.outcome_histories import ASSESSED_VARIABLES
from research.outcomes import CourseOutcomes, Measurement, course_outcomes
from tests.conftest import TODAY


def full_history_outcomes(patient_of: dict[int, int]) -> dict[int, CourseOutcomes]:
    guidelines = site_guidelines()
    assessed: dict[int, list[Measurement]] = {}
    for patient_id, assessed_on, *scores in (
        ClinicalAssessment.objects.filter(patient_id__in=set(patient_of.values()))
        .order_by("assessed_on", "pk")
        .values_list("patient_id", "assessed_on", *ASSESSED_VARIABLES)
    ):
        assessed.setdefault(patient_id, []).extend(
            Measurement(variable, assessed_on, value)
            for variable, value in zip(ASSESSED_VARIABLES, scores, strict=True)
            if value is not None
        )
    return {
        history.course_id: course_outcomes(
            history,
            assessed.get(patient_of[history.course_id], []),
            as_of=TODAY,
            guideline=guidelines.get(history.site_code, DEFAULT),
        )
        for history in load_histories(list(patient_of))
    }


def test_the_lean_histories_give_the_outcomes_of_the_full_ones(demo):
    patient_of = dict(TreatmentCourse.objects.values_list("pk", "patient_id"))
    lean = outcomes_by_course(patient_of, TODAY, site_guidelines())
    assert lean == full_history_outcomes(patient_of)
    # The demo has the cases that matter: stopped courses, relapses, tapers, PedCNO responses.
    measured = [dataclasses.asdict(outcome) for outcome in lean.values()]
    assert any(row["relapsed_after_stopping"] for row in measured)
    assert any(row["reached_taper"] for row in measured)
    assert any(row["pedcno_response_3_months"] for row in measured)
    assert any(row["relapse_free_end"] == "follow_up_end" for row in measured)
