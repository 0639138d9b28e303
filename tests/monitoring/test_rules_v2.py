"""What GUIDELINE.md version 2 changed, rule by rule, at its boundaries: each finding of the
clinical review (issue 11) reproduced, then shown fixed."""

import dataclasses
from decimal import Decimal

import pytest

from monitoring.guideline import DEFAULT, Severity, evaluate
from monitoring.guideline.rules import SUGGESTS_ACTIVITY, disease_state
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
    retreatment,
)

W, U, INFO = Severity.WARNING, Severity.URGENT, Severity.INFO


def found(rule_id: str, course, as_of_day: int, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == rule_id]


def rules_raised(course, as_of_day: int) -> set[str]:
    return {f.rule_id for f in evaluate(course, day(as_of_day))}


# --- Exposure across courses ---------------------------------------------------------------------


def first_course_with_a_moderate_reaction():
    given = infusions(*adherent_days(3))  # 0, 14, 42, 98, 154, 210
    return history(
        infusions=given,
        reactions=[reaction(given[2], "moderate")],
        stopped_on=day(210),
        stop_reason="remission",
    )


def test_a_retreatment_after_290_days_off_drug_carries_antibodies_and_the_reaction():
    # The clinical review's first probe: 290 days off, antibodies drawn 10 days before the new
    # course, a moderate reaction in the first course.
    first = first_course_with_a_moderate_reaction()
    restart = 210 + 290
    antibodies = lab(restart - 10, "anti_ifx", 40, antibodies_positive=True, unit="AU/mL")
    second = retreatment(
        first, restart, infusions=[infusion(restart)], labs=[*first.labs, antibodies]
    )
    assert second.days_off_drug == 290
    [reexposure] = found("treatment_interrupted", second, restart + 1)
    assert reexposure.key == "course-start"
    assert "290 days off infliximab" in reexposure.explanation
    assert "premedicate" in reexposure.explanation
    assert "watch for delayed reactions for 14 days" in reexposure.explanation
    [antibody] = found("antibodies_detected", second, restart + 1)
    assert antibody.severity is U  # no trough from the same draw
    assert "titre 40 AU/mL" in antibody.explanation
    [premedicate] = found("premedication_advised", second, restart + 1)
    assert premedicate.key == f"reaction-{first.reactions[0].id}"
    # The first course, stopped and followed by a retreatment, raises none of them.
    followed = dataclasses.replace(first, next_course_started_on=day(restart))
    assert not {"antibodies_detected", "premedication_advised"} & rules_raised(
        followed, restart + 1
    )


@pytest.mark.parametrize(("days_off", "raised"), [(111, False), (112, False), (113, True)])
def test_a_retreatment_is_a_re_exposure_after_more_than_interruption_days_off(days_off, raised):
    first = first_course_with_a_moderate_reaction()
    restart = 210 + days_off
    second = retreatment(first, restart, infusions=[infusion(restart)])
    assert bool(found("treatment_interrupted", second, restart)) is raised


def test_a_re_exposure_is_raised_before_the_first_dose_and_cleared_by_the_work_up():
    first = first_course_with_a_moderate_reaction()
    planned = retreatment(first, 600)  # started, no infusion yet
    [before] = found("treatment_interrupted", planned, 600)
    assert before.key == "course-start"
    work_up = [lab(590, "anti_ifx", antibodies_positive=False), lab(590, "ifx_trough", 0)]
    given = retreatment(first, 600, infusions=[infusion(600)], labs=work_up)
    assert found("treatment_interrupted", given, 601) == []
    too_early = [lab(585, "anti_ifx", antibodies_positive=False), lab(585, "ifx_trough", 0)]
    assert found("treatment_interrupted", retreatment(first, 600, labs=too_early), 600) != []


def test_the_latest_antibody_result_wins_whenever_it_was_drawn():
    first = first_course_with_a_moderate_reaction()
    labs = [
        lab(150, "anti_ifx", antibodies_positive=True),
        lab(400, "anti_ifx", antibodies_positive=False),
    ]
    second = retreatment(first, 500, infusions=[infusion(500)], labs=labs)
    assert found("antibodies_detected", second, 501) == []
    positive_between = [lab(400, "anti_ifx", antibodies_positive=True)]
    second = retreatment(first, 500, infusions=[infusion(500)], labs=positive_between)
    assert [f.severity for f in found("antibodies_detected", second, 501)] == [U]


@pytest.mark.parametrize(("trough", "severity"), [(None, U), ("3", U), ("5", W), ("9", W)])
def test_antibodies_detected_is_urgent_unless_the_trough_of_the_same_draw_is_at_target(
    trough, severity
):
    given = infusions(*adherent_days(2))
    labs = [lab(154, "anti_ifx", 12, antibodies_positive=True, assay_name="ELISA")]
    if trough is not None:
        labs.append(lab(154, "ifx_trough", trough))
    [finding] = found("antibodies_detected", history(infusions=given, labs=labs), 155)
    assert finding.severity is severity
    assert "(ELISA)" in finding.explanation


def test_a_severe_reaction_of_an_earlier_course_holds_the_retreatment_urgently():
    given = infusions(0, 14, 42)
    severe = reaction(given[2], "severe")
    first = history(
        infusions=given, reactions=[severe], stopped_on=day(50), stop_reason="adverse_event"
    )
    off_treatment = found("severe_reaction_review", first, 60)
    assert [f.severity for f in off_treatment] == [INFO]
    second = retreatment(first, 300)
    assert [f.severity for f in found("severe_reaction_review", second, 300)] == [U]
    followed = dataclasses.replace(first, next_course_started_on=day(300))
    assert found("severe_reaction_review", followed, 300) == []  # the retreatment carries it


# --- Relapse watch by stop reason ----------------------------------------------------------------

STOP = 400


def stopped(reason: str, **fields):
    given = infusions(*adherent_days(6))
    return history(infusions=given, stopped_on=day(STOP), stop_reason=reason, **fields)


@pytest.mark.parametrize(
    ("reason", "raised"),
    [("remission", True), ("patient_choice", True), ("other", True), ("adverse_event", True),
     ("inefficacy", False)],
)  # fmt: skip
def test_relapse_after_stopping_depends_on_why_the_course_stopped(reason, raised):
    course = stopped(reason, assessments=[assessment(STOP + 60, state="active")])
    findings = found("relapse_after_stopping", course, STOP + 61)
    assert bool(findings) is raised


def test_after_a_severe_reaction_the_relapse_alert_says_infliximab_is_contraindicated():
    given = infusions(*adherent_days(2))
    severe = reaction(given[-1], "severe", reviewed=160, decision="stop")
    course = history(
        infusions=given,
        reactions=[severe],
        stopped_on=day(160),
        stop_reason="adverse_event",
        assessments=[assessment(220, state="active")],
    )
    [finding] = found("relapse_after_stopping", course, 221)
    assert "contraindicated after a severe hypersensitivity reaction" in finding.explanation
    assert "consider retreatment" not in finding.explanation


def test_a_relapse_recorded_during_the_taper_does_not_mask_a_relapse_after_the_stop():
    course = stopped(
        "remission",
        relapses_noted_on=(day(STOP - 50),),
        assessments=[assessment(STOP + 30, state="active")],
    )
    assert found("relapse_after_stopping", course, STOP + 31) != []
    recorded = stopped(
        "remission",
        relapses_noted_on=(day(STOP - 50), day(STOP + 35)),
        assessments=[assessment(STOP + 30, state="active")],
    )
    assert found("relapse_after_stopping", recorded, STOP + 36) == []


def test_an_mri_reported_worse_without_lesion_counts_is_relapse_evidence():
    course = stopped(
        "remission", imaging=[mri(STOP + 90, active=None, new=None, impression="worse")]
    )
    assert [f.severity for f in found("relapse_after_stopping", course, STOP + 91)] == [U]


@pytest.mark.parametrize(
    ("pain", "physician", "state", "expected"),
    [("7", "6", "", [W]), ("4", "0", "", [W]), ("3", "3", "", []), ("7", "6", "inactive", []),
     ("7", "6", "active", [U])],
)  # fmt: skip
def test_scores_alone_suggest_activity_as_a_warning_to_confirm(pain, physician, state, expected):
    scored = assessment(STOP + 60, pain=pain, physician=physician, state=state, lesions=None)
    course = stopped("remission", assessments=[scored])
    findings = found("relapse_after_stopping", course, STOP + 61)
    assert [f.severity for f in findings] == expected
    if expected == [W]:
        assert findings[0].title == "Possible relapse after stopping"
    # Escalates (same key: the first evidence date) once an MRI confirms.
    if expected == [W]:
        confirmed = stopped("remission", assessments=[scored], imaging=[mri(STOP + 70, active=2)])
        [finding] = found("relapse_after_stopping", confirmed, STOP + 71)
        assert (finding.severity, finding.key) == (U, day(STOP + 60).isoformat())


@pytest.mark.parametrize(
    ("fields", "mri_fields", "state"),
    [
        ({"state": "active"}, None, "active"),
        ({"lesions": 1}, None, "active"),
        ({}, {"n": 100, "active": 2}, "active"),  # active lesions on an MRI within 90 days
        ({"state": "inactive"}, {"n": 0, "active": 2}, ""),  # an old active MRI: not inactive
        ({"state": "inactive"}, None, "inactive"),
        ({"pain": "1", "physician": "1"}, None, "inactive"),
        ({"pain": "1", "physician": "1", "lesions": None}, None, ""),  # lesions not examined
        ({"pain": "4", "physician": "0", "lesions": None}, None, SUGGESTS_ACTIVITY),
        ({"pain": "2", "physician": "3"}, None, ""),
    ],
)
def test_disease_states_follow_the_carra_definitions(fields, mri_fields, state):
    scored = assessment(120, **fields)
    latest_mri = None if mri_fields is None else mri(mri_fields["n"], active=mri_fields["active"])
    assert disease_state(scored, latest_mri, DEFAULT) == state


# --- The schedule: decision dates, tapers --------------------------------------------------------


def test_an_intensification_decided_between_doses_is_not_overdue_the_day_after():
    # Last dose on day 98; q4w decided on day 140 (six weeks later): due on max(126, 140).
    course = history(
        infusions=infusions(0, 14, 42, 98),
        regimen_changes=[regimen(140, interval=4, reason="intensification")],
    )
    assert found("maintenance_dose_overdue", course, 141) == []
    assert found("maintenance_dose_overdue", course, 147) == []
    [late] = found("maintenance_dose_overdue", course, 148)
    assert (late.severity, late.due_on) == (W, day(140))
    assert "intensification decided on" in late.explanation
    assert "dose and frequency" in late.explanation  # the regimen in force, not the q8w quote
    [overdue] = found("maintenance_dose_overdue", course, 155)
    assert overdue.severity is U


def test_a_taper_decided_after_a_missed_dose_moves_the_due_date():
    course = history(infusions=infusions(0, 14, 42, 98))  # next due day 154
    [overdue] = found("maintenance_dose_overdue", course, 170)
    tapered = history(
        infusions=course.infusions, regimen_changes=[regimen(170, interval=12, reason="taper")]
    )
    moved = found("maintenance_dose_overdue", tapered, 170)
    assert overdue.key == day(154).isoformat()
    assert moved == []  # due on max(98 + 84, 170) = day 182


@pytest.mark.parametrize(
    ("as_of", "interrupted"), [(98 + 113, False), (98 + 126, False), (98 + 127, True)]
)
def test_a_q16w_taper_is_not_interrupted_before_its_dose_is_overdue(as_of, interrupted):
    course = history(infusions=infusions(0, 14, 42, 98), regimen_changes=[regimen(98, interval=16)])
    assert bool(found("treatment_interrupted", course, as_of)) is interrupted
    if interrupted:
        assert [f.severity for f in found("maintenance_dose_overdue", course, as_of)] == [U]


def test_an_adherent_q16w_taper_raises_no_dose_alert():
    given = infusions(0, 14, 42, 98, 154, 238, 350)  # q8w, then q12w, then q16w
    course = history(
        infusions=given,
        regimen_changes=[regimen(154, interval=12), regimen(238, interval=16)],
    )
    dose_rules = {"induction_dose_missed", "maintenance_dose_overdue", "treatment_interrupted",
                  "dose_given_early"}  # fmt: skip
    for as_of in range(0, 350 + 112 + 7):
        assert not dose_rules & rules_raised(course, as_of), as_of


# --- dose_given_early ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "as_of", "raised"),
    [
        ((0, 11), 12, False),  # week-2 dose 3 days early: allowed
        ((0, 10), 12, True),  # 4 days early
        ((0, 3), 4, True),  # the week-2 dose on day 3
        ((0, 14, 42, 84), 85, False),  # maintenance due day 98: 14 days early is allowed
        ((0, 14, 42, 83), 85, True),
        ((0, 14, 42, 98, 101), 102, True),  # a duplicate 3 days after the previous
        ((0, 14, 42, 83, 154), 155, False),  # the next infusion on schedule clears it
    ],
)
def test_dose_given_early(days, as_of, raised):
    assert bool(found("dose_given_early", history(infusions=infusions(*days)), as_of)) is raised


def test_a_duplicate_dose_names_both_infusions():
    course = history(infusions=infusions(0, 14, 42, 98, 101))
    [finding] = found("dose_given_early", course, 102)
    assert "3 days after the infusion of" in finding.explanation
    assert finding.key == f"infusion-{course.infusions[-1].id}"


# --- infusion_too_fast ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "earlier", "reacted", "raised"),
    [
        (119, 0, False, True),  # the first infusion: at least 120 minutes
        (120, 0, False, False),
        (90, 2, False, True),  # two uneventful infusions are not enough
        (90, 3, False, False),  # three uneventful: a shorter infusion may be considered
        (90, 3, True, True),  # but not after a reaction
        (59, 3, False, True),  # never shorter than 60
        (60, 3, False, False),
    ],
)
def test_infusion_too_fast(minutes, earlier, reacted, raised):
    doses = adherent_days(max(0, earlier - 2))[: earlier + 1]
    given = [infusion(n, duration_minutes=120) for n in doses[:-1]]
    given.append(infusion(doses[-1], duration_minutes=minutes))
    reactions = [reaction(given[0])] if reacted else []
    course = history(infusions=given, reactions=reactions)
    assert bool(found("infusion_too_fast", course, doses[-1] + 1)) is raised


def test_infusion_too_fast_is_superseded_by_the_next_infusion():
    course = history(
        infusions=[infusion(0, duration_minutes=45), infusion(14, duration_minutes=120)]
    )
    assert found("infusion_too_fast", course, 15) == []


# --- dose_mismatch: the latest infusion only -----------------------------------------------------


def test_dose_mismatch_keeps_no_permanent_alert_per_past_infusion():
    wrong = history(infusions=[infusion(0, dose="300")])
    assert found("dose_mismatch", wrong, 1) != []
    corrected_next = history(infusions=[*wrong.infusions, infusion(14, dose="200")])
    assert found("dose_mismatch", corrected_next, 15) == []


# --- low_trough: true pre-infusion troughs, read in context --------------------------------------


def trough_course(trough_day: int, next_dose_day: int, value="3", **fields):
    days = [*adherent_days(2), next_dose_day]  # 0 .. 154, then the dose after the draw
    labs = [lab(trough_day, "ifx_trough", value), *fields.pop("labs", [])]
    return history(infusions=infusions(*days), labs=labs, **fields)


@pytest.mark.parametrize(
    ("trough_day", "next_dose_day", "raised"),
    [
        (210, 210, True),  # drawn on the day of an on-time dose (due day 210)
        (207, 210, True),  # 3 days before
        (206, 210, False),  # 4 days before: not a trough
        (245, 245, False),  # the dose was 35 days late: not a trough of the regimen
        (217, 217, True),  # 7 days late is still on time
        (218, 218, False),
    ],
)
def test_low_trough_reads_only_true_troughs_before_an_on_time_dose(
    trough_day, next_dose_day, raised
):
    course = trough_course(trough_day, next_dose_day)
    assert bool(found("low_trough", course, next_dose_day + 1)) is raised


def test_a_trough_at_a_restart_is_not_read_against_the_target():
    first = first_course_with_a_moderate_reaction()
    second = retreatment(first, 600, infusions=[infusion(600)], labs=[lab(600, "ifx_trough", 0)])
    assert found("low_trough", second, 601) == []


def test_low_trough_says_what_the_same_draw_showed_and_softens_in_inactive_disease():
    negative = [lab(210, "anti_ifx", antibodies_positive=False)]
    [finding] = found("low_trough", trough_course(210, 210, labs=negative), 211)
    assert finding.severity is W
    assert "not detected in the same draw" in finding.explanation
    assert "check for antibodies" not in finding.explanation
    [unchecked] = found("low_trough", trough_course(210, 210), 211)
    assert "check for antibodies" in unchecked.explanation
    inactive = trough_course(210, 210, assessments=[assessment(200, state="inactive")])
    assert [f.severity for f in found("low_trough", inactive, 211)] == [INFO]


def test_low_trough_clears_with_a_later_trough_at_target():
    course = trough_course(210, 210, labs=[lab(266, "ifx_trough", "6")])
    course = history(infusions=(*course.infusions, infusion(266)), labs=course.labs)
    assert found("low_trough", course, 267) == []


# --- premedication_advised: the patient's latest reaction ----------------------------------------


def test_a_reaction_despite_premedication_escalates_to_urgent_review():
    given = [*infusions(0, 14), infusion(42, premedicated=True)]
    course = history(infusions=given, reactions=[reaction(given[0]), reaction(given[2])])
    [finding] = found("premedication_advised", course, 43)
    assert finding.severity is U
    assert "despite premedication" in finding.explanation


def test_a_delayed_reaction_also_calls_for_an_antibody_check():
    given = infusions(0, 14)
    course = history(infusions=given, reactions=[reaction(given[1], onset="delayed")])
    [finding] = found("premedication_advised", course, 20)
    assert "antibody check" in finding.explanation


def test_premedication_advised_clears_after_a_premedicated_infusion_without_reaction():
    given = [*infusions(0, 14), infusion(42, premedicated=True)]
    course = history(infusions=given, reactions=[reaction(given[0])])
    assert found("premedication_advised", course, 43) == []


# --- Explanations ---------------------------------------------------------------------------------


def test_every_explanation_says_what_clears_it():
    course = history(infusions=infusions(0, 14, 42, 98))
    findings = evaluate(course, day(300))
    assert findings
    for finding in findings:
        assert "Clears when: " in finding.explanation


def test_the_week_10_assessment_says_plainly_that_it_comes_from_psoriasis():
    [finding] = found("response_assessment_due", history(infusions=infusions(0, 14, 42)), 99)
    assert "comes from psoriasis" in finding.explanation
    assert "grade B" in finding.explanation


def test_the_guideline_parameters_of_version_2_exist_with_their_defaults():
    assert (DEFAULT.early_dose_days, DEFAULT.early_induction_dose_days) == (14, 3)
    assert DEFAULT.trough_draw_days == 3
    assert (DEFAULT.min_infusion_minutes, DEFAULT.short_infusion_minutes) == (120, 60)
    assert DEFAULT.uneventful_infusions_for_short == 3
    assert DEFAULT.trough_min_ug_ml == Decimal("5")
