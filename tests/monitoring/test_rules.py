"""Every rule of GUIDELINE.md, table-driven: the day before, on, and after each threshold."""

import dataclasses
from decimal import Decimal

import pytest

from monitoring.guideline import DEFAULT, RULES, Severity, evaluate
from tests.monitoring.builders import (
    adherent_days,
    assessment,
    day,
    history,
    infusion,
    infusions,
    lab,
    mri,
    reaction,
    regimen,
)


def found(rule_id: str, course, as_of_day: int, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == rule_id]


def severities(rule_id: str, course, as_of_day: int, guideline=DEFAULT):
    return [f.severity for f in found(rule_id, course, as_of_day, guideline)]


def test_it_has_all_23_rules_each_quoting_its_guideline_text_and_saying_what_clears_it():
    assert sorted(RULES) == sorted(
        [
            "induction_dose_missed",
            "maintenance_dose_overdue",
            "treatment_interrupted",
            "response_assessment_due",
            "markers_overdue",
            "imaging_overdue",
            "early_discontinuation",
            "taper_readiness",
            "relapse_after_stopping",
            "post_stop_follow_up_due",
            "premedication_advised",
            "severe_reaction_review",
            "dose_mismatch",
            "low_trough",
            "antibodies_detected",
            "dose_given_early",
            "infusion_too_fast",
            "methotrexate_monitoring_due",
            "screening_missing",
            "screening_positive",
            "live_vaccine_on_treatment",
            "serious_adverse_event_review",
            "reconsent_at_majority",
        ]
    )
    for rule_id, (info, function) in RULES.items():
        assert function.__name__ == rule_id == info.id
        assert info.quote
        assert info.source
        assert info.grade in {"A", "B", "C", "A/B", "B/C"}
        assert info.clears


# --- induction_dose_missed -----------------------------------------------------------------------

W = Severity.WARNING
U = Severity.URGENT


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [(21, []), (22, [W]), (28, [W]), (29, [U])],  # dose 2 due day 14: late > 7, overdue > 14
)
def test_induction_dose_missed_escalates_past_grace_then_overdue(as_of, expected):
    course = history(infusions=infusions(0))
    assert severities("induction_dose_missed", course, as_of) == expected


def test_induction_dose_missed_names_the_dose_and_quotes_the_guideline():
    [finding] = found("induction_dose_missed", history(infusions=infusions(0, 14)), 50)
    assert finding.key == "dose-3"
    assert finding.title == "Induction dose 3 (week 6) missed"
    assert finding.due_on == day(42)
    assert finding.evidence["late_from"] == day(50).isoformat()  # due day 42, late after 7 days
    assert finding.evidence["overdue_from"] == day(57).isoformat()
    assert "late from 25 Feb 2025, overdue from 04 Mar 2025" in finding.explanation
    assert "weeks 0, 2, and 6" in finding.explanation
    assert "grade A" in finding.explanation


def test_induction_dose_1_is_missed_when_a_started_course_has_no_infusion():
    [finding] = found("induction_dose_missed", history(infusions=()), 8)
    assert finding.key == "dose-1"


def test_induction_dose_missed_is_silent_once_maintenance_starts_or_the_course_stops():
    assert found("induction_dose_missed", history(infusions=infusions(0, 14, 42)), 60) == []
    stopped = history(infusions=infusions(0), stopped_on=day(10), stop_reason="adverse_event")
    assert found("induction_dose_missed", stopped, 40) == []


# --- maintenance_dose_overdue --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [(98, []), (105, []), (106, [W]), (112, [W]), (113, [U])],  # due day 42 + 56 = 98
)
def test_maintenance_dose_overdue_is_exact_to_the_day(as_of, expected):
    course = history(infusions=infusions(0, 14, 42))
    assert severities("maintenance_dose_overdue", course, as_of) == expected


def test_maintenance_dose_overdue_keys_on_the_due_date_so_escalation_is_one_alert():
    course = history(infusions=infusions(0, 14, 42))
    warning, urgent = (
        found("maintenance_dose_overdue", course, 106),
        found("maintenance_dose_overdue", course, 113),
    )
    assert warning[0].key == urgent[0].key == day(98).isoformat()


def test_maintenance_dose_overdue_follows_a_taper_that_lengthens_the_interval():
    course = history(infusions=infusions(0, 14, 42), regimen_changes=[regimen(60, interval=10)])
    assert found("maintenance_dose_overdue", course, 112) == []  # due 42 + 70 = 112
    [finding] = found("maintenance_dose_overdue", course, 120)
    assert finding.due_on == day(112)
    assert finding.evidence["interval_weeks"] == 10


def test_maintenance_dose_overdue_is_silent_for_a_stopped_course():
    course = history(infusions=infusions(0, 14, 42), stopped_on=day(50), stop_reason="other")
    assert found("maintenance_dose_overdue", course, 200) == []


def test_maintenance_dose_overdue_ignores_data_after_the_evaluation_date():
    course = history(infusions=infusions(0, 14, 42, 98))
    # On day 110 the day-98 infusion is known: next due day 154.
    assert found("maintenance_dose_overdue", course, 110) == []
    # Evaluated as of day 97 the day-98 infusion is not yet known, and the dose is not late.
    assert found("maintenance_dose_overdue", course, 97) == []


# --- treatment_interrupted -----------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "raised"), [(111, False), (112, False), (113, True)])
def test_treatment_interrupted_after_a_gap_of_more_than_16_weeks(gap, raised):
    course = history(infusions=infusions(0, 14, 42, 98, 98 + gap))
    findings = found("treatment_interrupted", course, 98 + gap)
    assert bool(findings) is raised
    if raised:
        restart = course.infusions[-1]
        assert findings[0].key == f"restart-{restart.id}"
        assert "check the trough level and anti-infliximab antibodies" in findings[0].explanation


def test_treatment_interrupted_while_the_gap_is_still_open():
    course = history(infusions=infusions(0, 14, 42, 98))
    assert found("treatment_interrupted", course, 98 + 112) == []
    [finding] = found("treatment_interrupted", course, 98 + 113)
    assert finding.key.startswith("open-after-")


@pytest.mark.parametrize(
    ("labs", "raised"),
    [
        ([lab(250, "anti_ifx", antibodies_positive=False)], True),  # no trough yet
        ([lab(250, "ifx_trough", 1)], True),  # no antibody result yet
        ([lab(250, "anti_ifx", antibodies_positive=False), lab(250, "ifx_trough", 1)], False),
        # Within 14 days before the restart counts; 15 days does not.
        ([lab(236, "anti_ifx", antibodies_positive=False), lab(236, "ifx_trough", 0)], False),
        ([lab(235, "anti_ifx", antibodies_positive=False), lab(235, "ifx_trough", 0)], True),
    ],
)
def test_treatment_interrupted_clears_once_trough_and_antibodies_are_checked(labs, raised):
    course = history(infusions=infusions(0, 14, 42, 98, 250), labs=labs)
    assert bool(found("treatment_interrupted", course, 260)) is raised


# --- response_assessment_due ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assessed", "as_of", "raised"),
    [
        (None, 98, False),  # the window (days 56-98) has not closed yet
        (None, 99, True),
        (55, 99, True),
        (56, 99, False),
        (98, 99, False),
        (99, 120, False),  # a late assessment clears it (GUIDELINE.md v2)
    ],
)
def test_response_assessment_due_when_the_week_10_window_closes_without_one(
    assessed, as_of, raised
):
    course = history(
        infusions=infusions(0, 14, 42, 98),
        assessments=[] if assessed is None else [assessment(assessed)],
    )
    assert bool(found("response_assessment_due", course, as_of)) is raised


def test_response_assessment_due_is_silent_when_the_course_stopped_before_week_14():
    course = history(infusions=infusions(0, 14), stopped_on=day(30), stop_reason="adverse_event")
    assert found("response_assessment_due", course, 200) == []


# --- markers_overdue -----------------------------------------------------------------------------


@pytest.mark.parametrize(("as_of", "raised"), [(97, False), (98, False), (99, True)])
def test_markers_overdue_after_14_weeks_without_crp_and_esr(as_of, raised):
    course = history(
        infusions=infusions(0, 14, 42, 98), labs=[lab(0, "crp", 12), lab(0, "esr", 40)]
    )
    findings = found("markers_overdue", course, as_of)
    assert bool(findings) is raised
    if raised:
        assert findings[0].key == day(98).isoformat()
        assert findings[0].severity == Severity.INFO


def test_markers_overdue_needs_both_crp_and_esr():
    course = history(
        infusions=infusions(0, 14, 42), labs=[lab(0, "crp", 3), lab(0, "esr", 5), lab(60, "crp", 2)]
    )
    [finding] = found("markers_overdue", course, 99)
    assert finding.due_on == day(98)  # ESR of day 0 + 98


def test_markers_overdue_without_a_baseline():
    course = history(infusions=infusions(0))
    assert found("markers_overdue", course, 0) == []
    [finding] = found("markers_overdue", course, 1)
    assert "No CRP or ESR at baseline" in finding.explanation


@pytest.mark.parametrize(("baseline_day", "as_of", "raised"), [(-30, 60, False), (-99, 1, True)])
def test_markers_overdue_counts_a_baseline_up_to_14_weeks_before_day_0(baseline_day, as_of, raised):
    course = history(
        infusions=infusions(0, 14, 42),
        labs=[lab(baseline_day, "crp", 3), lab(baseline_day, "esr", 5)],
    )
    assert bool(found("markers_overdue", course, as_of)) is raised


# --- imaging_overdue -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mri_days", "as_of", "due_day"),
    [
        ([], 0, None),
        ([], 1, 0),  # no baseline MRI
        ([-90], 1, None),
        ([-91], 1, 0),
        ([-10], 182, None),  # 6-month MRI due today, not yet overdue
        ([-10], 183, 182),
        ([-10, 92], 183, None),  # within 90 days of the 6-month date
        ([-10, 91], 183, 182),
        ([-10, 180], 366, 365),
        ([-10, 180, 370], 731, 730),  # then yearly
        ([-10, 180, 370, 700], 731, None),
    ],
)
def test_imaging_overdue_at_baseline_6_and_12_months_then_yearly(mri_days, as_of, due_day):
    course = history(
        infusions=infusions(*range(0, as_of + 1, 14)), imaging=[mri(n) for n in mri_days]
    )
    findings = found("imaging_overdue", course, as_of)
    assert [f.due_on for f in findings] == ([] if due_day is None else [day(due_day)])


# --- dose_mismatch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "weighed", "raised"),
    [
        ("200", None, False),
        ("220", None, False),  # exactly 10 % off
        ("221", None, True),
        ("179", None, True),
        ("200", -30, False),
        ("200", -31, True),  # weight older than 30 days
    ],
)
def test_dose_mismatch_against_mg_per_kg_in_force_and_a_recent_weight(dose, weighed, raised):
    course = history(infusions=[infusion(0, weight="40", dose=dose, weighed=weighed)])
    assert bool(found("dose_mismatch", course, 1)) is raised


def test_dose_mismatch_uses_the_regimen_in_force_on_the_infusion_date():
    course = history(
        infusions=[infusion(0), infusion(200, dose="400")],
        regimen_changes=[regimen(150, dose="10", interval=8, reason="intensification")],
    )
    assert found("dose_mismatch", course, 201) == []


def test_dose_mismatch_flags_a_dose_above_the_labelled_maximum():
    # 10.5 mg/kg is within the tolerance of the 10 mg/kg prescribed, but above the cap.
    course = history(infusions=[infusion(0, dose="420")], planned_dose_mg_per_kg=Decimal("10"))
    [finding] = found("dose_mismatch", course, 1)
    assert "above the maximum of 10 mg/kg without an intensification" in finding.explanation
    assert finding.key == f"infusion-{course.infusions[0].id}"


def test_dose_mismatch_accepts_a_dose_above_the_cap_that_an_intensification_prescribes():
    course = history(
        infusions=[infusion(0), infusion(200, dose="480")],
        regimen_changes=[regimen(150, dose="12", interval=8, reason="intensification")],
    )
    assert found("dose_mismatch", course, 201) == []


# --- low_trough and antibodies_detected ----------------------------------------------------------


@pytest.mark.parametrize(("value", "raised"), [("4.9", True), ("5", False), ("5.1", False)])
def test_low_trough_below_5_during_maintenance(value, raised):
    course = history(infusions=infusions(0, 14, 42, 98), labs=[lab(98, "ifx_trough", value)])
    assert bool(found("low_trough", course, 99)) is raised


def test_low_trough_ignores_induction_levels_and_older_results():
    induction = history(infusions=infusions(0, 14, 42), labs=[lab(42, "ifx_trough", "2")])
    assert found("low_trough", induction, 50) == []
    recovered = history(
        infusions=infusions(0, 14, 42, 98, 154),
        labs=[lab(98, "ifx_trough", "2"), lab(154, "ifx_trough", "6")],
    )
    assert found("low_trough", recovered, 160) == []


def test_antibodies_detected_is_urgent_until_a_later_negative_result():
    positive = lab(98, "anti_ifx", antibodies_positive=True)
    course = history(infusions=infusions(0, 14, 42, 98), labs=[positive])
    [finding] = found("antibodies_detected", course, 100)
    assert (finding.severity, finding.key) == (Severity.URGENT, f"lab-{positive.id}")
    cleared = dataclasses.replace(
        course, labs=(positive, lab(120, "anti_ifx", antibodies_positive=False))
    )
    assert found("antibodies_detected", cleared, 121) == []


# --- taper_readiness -----------------------------------------------------------------------------


def ready_course(**overrides):
    fields = {
        "infusions": infusions(*adherent_days(6)),  # 0 .. 378
        "assessments": [
            assessment(n, state="active" if n < 200 else "") for n in (100, 200, 300, 380)
        ],
        # Inactive means no active lesion on the latest MRI too: clear from day 190.
        "imaging": [mri(0, active=3), mri(190, active=0), mri(390, active=0)],
        # The last two CRP and ESR: normal, and at most 98 days old on day 400.
        "labs": [lab(n, a, v) for n in (310, 380) for a, v in (("crp", 2), ("esr", 10))],
    } | overrides
    return history(**fields)


def test_taper_readiness_when_every_condition_holds():
    [finding] = found("taper_readiness", ready_course(), 400)
    assert finding.severity == Severity.INFO
    assert finding.key == f"inactive-since-{day(200).isoformat()}"
    assert finding.evidence["inactive_since"] == day(200).isoformat()
    assert "6-12 months" in finding.explanation


@pytest.mark.parametrize(("last_assessment", "raised"), [(379, False), (380, True), (381, True)])
def test_taper_readiness_needs_180_days_of_inactive_disease(last_assessment, raised):
    course = ready_course(
        assessments=[assessment(100, state="active"), assessment(200), assessment(last_assessment)]
    )
    assert bool(found("taper_readiness", course, 400)) is raised


@pytest.mark.parametrize(("as_of", "raised"), [(390, False), (391, True)])
def test_taper_readiness_needs_a_year_on_treatment(as_of, raised):
    course = ready_course(
        infusions=infusions(26, 40, 68, 124, 180, 236, 292, 348),  # day 0 is day 26
        assessments=[assessment(n) for n in (200, 380)],
        imaging=[mri(385, active=0)],
    )
    assert bool(found("taper_readiness", course, as_of)) is raised


@pytest.mark.parametrize(("mri_day", "raised"), [(309, False), (310, True)])
def test_taper_readiness_needs_an_mri_of_the_last_90_days(mri_day, raised):
    course = ready_course(imaging=[mri(mri_day, active=0)])
    assert bool(found("taper_readiness", course, 400)) is raised


def test_taper_readiness_is_blocked_by_active_lesions_raised_markers_or_a_taper():
    assert found("taper_readiness", ready_course(imaging=[mri(390, active=1)]), 400) == []
    raised = [lab(310, "crp", 2), lab(380, "crp", 9), lab(310, "esr", 5), lab(380, "esr", 5)]
    assert found("taper_readiness", ready_course(labs=raised), 400) == []
    tapering = ready_course(regimen_changes=[regimen(390, interval=10)])
    assert found("taper_readiness", tapering, 400) == []


def test_taper_readiness_uses_the_labs_own_upper_limit():
    labs = [lab(n, "crp", 8, reference_high=Decimal("10")) for n in (310, 380)]
    labs += [lab(n, "esr", 5) for n in (310, 380)]
    assert found("taper_readiness", ready_course(labs=labs), 400) != []


# --- early_discontinuation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_day", "reason", "raised"),
    [
        (364, "patient_choice", True),
        (365, "patient_choice", False),
        (100, "adverse_event", False),
        (100, "inefficacy", False),
        (100, "remission", True),
    ],
)
def test_early_discontinuation_before_12_months(stop_day, reason, raised):
    course = history(infusions=infusions(0, 14, 42), stopped_on=day(stop_day), stop_reason=reason)
    assert bool(found("early_discontinuation", course, stop_day + 1)) is raised


# --- relapse_after_stopping and post_stop_follow_up_due ------------------------------------------

STOP = 400


def stopped(**fields):
    return history(
        infusions=infusions(*adherent_days(6)),
        stopped_on=day(STOP),
        stop_reason="remission",
        **fields,
    )


@pytest.mark.parametrize(
    ("evidence_day", "raised"),
    [(STOP, False), (STOP + 1, True), (STOP + 730, True), (STOP + 731, False)],
)
def test_relapse_after_stopping_within_the_2_year_watch(evidence_day, raised):
    course = stopped(imaging=[mri(evidence_day, active=1, new=1)])
    findings = found("relapse_after_stopping", course, STOP + 800)
    assert bool(findings) is raised
    if raised:
        assert findings[0].severity == Severity.URGENT
        assert findings[0].key == day(evidence_day).isoformat()


def test_relapse_after_stopping_from_a_clinically_active_assessment_with_supporting_markers():
    course = stopped(
        assessments=[assessment(STOP + 100, state="active", pain="6", physician="5", lesions=2)],
        labs=[lab(STOP + 100, "crp", 30)],
    )
    [finding] = found("relapse_after_stopping", course, STOP + 101)
    assert "supported by 1 raised CRP/ESR" in finding.explanation
    assert finding.evidence["raised_markers"][0]["value"] == "30"


def test_relapse_after_stopping_ignores_raised_markers_alone():
    assert (
        found("relapse_after_stopping", stopped(labs=[lab(STOP + 50, "crp", 80)]), STOP + 60) == []
    )


def test_relapse_after_stopping_is_quiet_once_recorded_or_retreated():
    evidence = [mri(STOP + 100, active=2, new=1)]
    recorded = stopped(imaging=evidence, relapses_noted_on=(day(STOP + 110),))
    assert found("relapse_after_stopping", recorded, STOP + 120) == []
    retreated = stopped(imaging=evidence, next_course_started_on=day(STOP + 115))
    assert found("relapse_after_stopping", retreated, STOP + 120) == []
    # Before the relapse was recorded, the alert was there.
    assert found("relapse_after_stopping", recorded, STOP + 105) != []


@pytest.mark.parametrize(
    ("as_of", "assessed", "key"),
    [
        (STOP + 90, None, None),
        (STOP + 91, None, "3m"),
        (STOP + 91, STOP + 61, None),
        (STOP + 91, STOP + 60, "3m"),
        (STOP + 200, STOP + 95, "6m"),
        (STOP + 730, None, "24m"),
    ],
)
def test_post_stop_follow_up_due_at_3_6_12_and_24_months(as_of, assessed, key):
    course = stopped(assessments=[] if assessed is None else [assessment(assessed)])
    assert [f.key for f in found("post_stop_follow_up_due", course, as_of)] == (
        [] if key is None else [key]
    )


# --- premedication_advised and severe_reaction_review --------------------------------------------


def test_premedication_advised_after_a_mild_reaction_until_a_premedicated_infusion():
    given = list(infusions(0, 14, 42))
    mild = reaction(given[-1], "mild")
    course = history(infusions=given, reactions=[mild])
    [finding] = found("premedication_advised", course, 50)
    assert (finding.key, finding.due_on) == (f"reaction-{mild.id}", day(98))
    premedicated = dataclasses.replace(course, infusions=(*given, infusion(98, premedicated=True)))
    assert found("premedication_advised", premedicated, 100) == []


def test_premedication_advised_is_raised_again_when_the_next_infusion_had_none():
    given = list(infusions(0, 14, 42, 98))
    course = history(infusions=given, reactions=[reaction(given[2], "moderate")])
    [finding] = found("premedication_advised", course, 100)
    assert len(finding.evidence["given_without_premedication"]) == 1


def test_premedication_advised_is_silent_for_a_stopped_course():
    given = list(infusions(0, 14, 42))
    course = history(
        infusions=given, reactions=[reaction(given[-1])], stopped_on=day(50), stop_reason="other"
    )
    assert found("premedication_advised", course, 60) == []


@pytest.mark.parametrize(
    ("reviewed", "as_of", "raised"), [(None, 50, True), (45, 50, False), (55, 50, True)]
)
def test_severe_reaction_review_until_a_clinician_records_a_review(reviewed, as_of, raised):
    given = list(infusions(0, 14, 42))
    severe = reaction(given[-1], "severe", reviewed=reviewed)
    findings = found("severe_reaction_review", history(infusions=given, reactions=[severe]), as_of)
    assert bool(findings) is raised
    # Unreviewed, the hold comes first; reviewed and continued, premedication is advised.
    advised = found("premedication_advised", history(infusions=given, reactions=[severe]), as_of)
    assert bool(advised) is not raised


def test_a_late_induction_dose_moves_the_next_one_by_the_same_spacing():
    course = history(infusions=infusions(0, 20))  # week-2 dose 6 days late
    assert found("induction_dose_missed", course, 55) == []  # dose 3 due day 20 + 28 = 48
    [finding] = found("induction_dose_missed", course, 56)
    assert finding.due_on == day(48)
