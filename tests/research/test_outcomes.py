"""Course outcome measures: PedCNO response and the dosing measures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from monitoring.guideline import DEFAULT
from monitoring.guideline.history import (
    AssessmentRow,
    CourseHistory,
    ImagingRow,
    InfusionRow,
    LabRow,
    RegimenRow,
)
from research.outcomes import (
    MONTH_3,
    MONTH_12,
    Measurement,
    course_outcomes,
    inactive_at,
    pedcno_response,
    relapse_free_follow_up,
)

START = dt.date(2025, 1, 6)
DAY = dt.timedelta(days=1)


def measured(day: int, **values: float) -> list[Measurement]:
    return [Measurement(k, START + day * DAY, Decimal(str(v))) for k, v in values.items()]


BASELINE = measured(0, esr=40, mri_active_lesions=4, physician_global=6, patient_global=5, chaq=1)


def test_pedcno70_when_three_variables_improve_by_70_percent():
    later = measured(90, esr=10, mri_active_lesions=1, physician_global=1, patient_global=5, chaq=1)
    assert pedcno_response(BASELINE + later, START, MONTH_3) == "PedCNO70"


def test_the_highest_level_reached_is_reported():
    later = measured(95, esr=20, mri_active_lesions=2, physician_global=3, patient_global=5)
    assert pedcno_response(BASELINE + later, START, MONTH_3) == "PedCNO50"


def test_two_variables_worse_by_more_than_30_percent_is_no_response():
    later = measured(90, esr=4, mri_active_lesions=0, physician_global=0, patient_global=9, chaq=2)
    assert pedcno_response(BASELINE + later, START, MONTH_3) == "none"


def test_fewer_than_three_paired_variables_is_insufficient_data():
    later = measured(365, esr=4, chaq=0)
    assert pedcno_response(BASELINE + later, START, MONTH_12) is None
    assert pedcno_response(BASELINE, START, MONTH_3) is None


def infusion(n: int, day: int) -> InfusionRow:
    return InfusionRow(n, START + day * DAY, Decimal(40), Decimal(200))


def test_dosing_outcomes_of_a_stopped_course_with_a_taper_and_a_relapse():
    history = CourseHistory(
        course_id=1,
        patient_code="x",
        started_on=START,
        infusions=(infusion(1, 0), infusion(2, 14), infusion(3, 42), infusion(4, 140)),
        regimen_changes=(RegimenRow(1, START + 100 * DAY, Decimal(5), 10, "taper"),),
        stopped_on=START + 200 * DAY,
        stop_reason="remission",
        relapses_noted_on=(START + 290 * DAY,),
    )
    outcomes = course_outcomes(history, [], as_of=START + 400 * DAY, guideline=DEFAULT)
    assert outcomes.days_on_treatment == 200
    assert outcomes.number_of_infusions == 4
    assert outcomes.proportion_doses_on_time == 0.75  # the 4th was due on day 98 (8 weeks)
    assert outcomes.longest_gap_days == 98
    assert outcomes.reached_taper is True
    assert outcomes.relapsed_after_stopping is True
    assert outcomes.days_to_relapse == 90


def test_a_course_on_treatment_has_no_relapse_after_stopping():
    history = CourseHistory(course_id=1, patient_code="x", started_on=START)
    outcomes = course_outcomes(history, [], as_of=START + 10 * DAY, guideline=DEFAULT)
    assert outcomes.relapsed_after_stopping is None
    assert outcomes.proportion_doses_on_time is None
    assert outcomes.longest_gap_days is None


def test_a_course_on_treatment_counts_its_days_to_the_last_infusion_not_to_the_export_date():
    """Counting to the export date let anyone who knows that date recover day 0 exactly."""
    history = CourseHistory(
        course_id=1,
        patient_code="x",
        started_on=START,
        infusions=(infusion(1, 0), infusion(2, 14), infusion(3, 42)),
    )
    for as_of in (START + 50 * DAY, START + 90 * DAY):
        outcomes = course_outcomes(history, [], as_of=as_of, guideline=DEFAULT)
        assert outcomes.days_on_treatment == 42
    empty = CourseHistory(course_id=2, patient_code="y", started_on=START)
    assert (
        course_outcomes(empty, [], as_of=START + 9 * DAY, guideline=DEFAULT).days_on_treatment == 0
    )


# --- Relapse-free time after a stop (the outcomes page's Kaplan–Meier and the courses table) ----

STOP = START + 200 * DAY


def stopped(**fields) -> CourseHistory:
    return CourseHistory(
        course_id=1,
        patient_code="x",
        started_on=START,
        infusions=(infusion(1, 0), infusion(2, 14), infusion(3, 42)),
        stopped_on=STOP,
        stop_reason="remission",
        **fields,
    )


def test_a_relapse_after_the_stop_is_the_event():
    history = stopped(relapses_noted_on=(STOP + 90 * DAY,), next_course_started_on=STOP + 120 * DAY)
    assert relapse_free_follow_up(history, STOP + 400 * DAY) == (90, "relapse")


def test_retreatment_without_a_recorded_relapse_is_censored_at_its_start():
    history = stopped(
        next_course_started_on=STOP + 150 * DAY, relapses_noted_on=(STOP + 170 * DAY,)
    )  # a relapse noted after the retreatment began belongs to no relapse-free time of this stop
    assert relapse_free_follow_up(history, STOP + 400 * DAY) == (150, "retreatment")


def test_without_relapse_or_retreatment_follow_up_ends_at_the_last_data():
    history = stopped(
        labs=(LabRow(1, STOP + 30 * DAY, "crp", Decimal(2)),),
        imaging=(ImagingRow(1, STOP + 180 * DAY, "mri", 0, 0),),
        assessments=(AssessmentRow(1, STOP + 365 * DAY, disease_state="inactive"),),
    )
    # The export date is later still: follow-up ends at the last assessment, not at the export.
    assert relapse_free_follow_up(history, STOP + 500 * DAY) == (365, "follow_up_end")
    # Data after the evaluation date are not known yet.
    assert relapse_free_follow_up(history, STOP + 200 * DAY) == (180, "follow_up_end")
    assert relapse_free_follow_up(stopped(), STOP + 10 * DAY) == (0, "follow_up_end")


def test_a_course_on_treatment_has_no_relapse_free_time():
    history = CourseHistory(course_id=1, patient_code="x", started_on=START)
    assert relapse_free_follow_up(history, START + 400 * DAY) == (None, None)
    outcomes = course_outcomes(history, [], as_of=START + 400 * DAY, guideline=DEFAULT)
    assert (outcomes.relapse_free_days, outcomes.relapse_free_end) == (None, None)


def test_time_to_taper_doses_due_and_inactive_at_12_months():
    history = stopped(
        regimen_changes=(RegimenRow(1, START + 100 * DAY, Decimal(5), 10, "taper"),),
        assessments=(
            AssessmentRow(1, START + 300 * DAY, disease_state="active"),
            AssessmentRow(2, START + 370 * DAY, disease_state="inactive"),  # the nearest
        ),
    )
    outcomes = course_outcomes(history, [], as_of=START + 400 * DAY, guideline=DEFAULT)
    assert outcomes.days_to_taper == 100
    assert outcomes.doses_due >= 3
    assert outcomes.inactive_at_12_months is True
    assert inactive_at(stopped(), MONTH_12) is None  # nobody judged it near month 12
