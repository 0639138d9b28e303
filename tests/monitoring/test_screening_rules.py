"""screening_missing and screening_positive as pure rules: what counts as a screen, the 365-day
window before each course's own start, late screening, retreatments, old courses, stopped courses,
reviews dated before and after the evaluation, and what each alert says."""

import dataclasses

import pytest

from monitoring.guideline import DEFAULT, Severity, evaluate
from tests.monitoring.builders import (
    day,
    history,
    infusions,
    retreatment,
    screened,
    screening,
)

W, U = Severity.WARNING, Severity.URGENT
MISSING, POSITIVE = "screening_missing", "screening_positive"


def found(rule_id: str, course, as_of_day: int, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == rule_id]


def detail(finding) -> str:
    return finding.explanation.split("\n\n")[0]


# --- screening_missing: what counts -------------------------------------------------------------


def test_no_screen_at_all_is_urgent_from_the_start_and_names_every_test_and_the_window():
    course = history(infusions=infusions(0, 14))
    [finding] = found(MISSING, course, 20)
    assert finding.severity is U
    assert finding.key == "course"
    assert finding.due_on == day(0)
    assert detail(finding).startswith(
        "Missing: a TB screen (an IGRA or a tuberculin skin test; a chest X-ray alone is not "
        "one) and hepatitis B: HBsAg and anti-HBc, none taken within 365 days before this "
        "course's start (06 Jan 2025) or since. No infusion is safe until the results are known"
    )
    assert "2 infusion(s) of this course were given without it on record." in detail(finding)
    assert finding.evidence["missing"] == [
        "TB screen (IGRA or tuberculin skin test)",
        "HBsAg",
        "anti-HBc",
    ]
    assert finding.evidence["counts_from"] == str(day(-365))
    assert finding.evidence["retrospective"] is False
    assert "Clears when: the missing results recorded (a late screen counts)" in finding.explanation
    assert "grade B" in finding.explanation


def test_it_is_a_warning_before_the_course_starts():
    course = history(started_on=day(10))
    [finding] = found(MISSING, course, 9)
    assert finding.severity is W
    assert "Screen before the first infusion, planned for 16 Jan 2025." in detail(finding)
    assert [f.severity for f in found(MISSING, course, 10)] == [U]


def test_an_igra_with_hbsag_and_anti_hbc_is_a_screen():
    assert found(MISSING, history(infusions=infusions(0), screenings=screened(-20)), 30) == []


def test_a_tuberculin_skin_test_is_a_tb_screen():
    screenings = [screening(-20, "tb_skin_test"), *screened(-20)[1:]]
    assert found(MISSING, history(screenings=screenings), 30) == []


def test_a_chest_x_ray_alone_is_not_a_tb_screen():
    screenings = [screening(-20, "tb_chest_xray"), *screened(-20)[1:]]
    [finding] = found(MISSING, history(screenings=screenings), 30)
    assert finding.evidence["missing"] == ["TB screen (IGRA or tuberculin skin test)"]


def test_anti_hbs_does_not_replace_anti_hbc():
    screenings = [*screened(-20)[:2], screening(-20, "hbv_anti_hbs", "positive")]
    [finding] = found(MISSING, history(screenings=screenings), 30)
    assert finding.evidence["missing"] == ["anti-HBc"]
    assert "Missing: hepatitis B: anti-HBc, none taken" in detail(finding)


@pytest.mark.parametrize("result", ["positive", "indeterminate"])
def test_a_result_not_negative_counts_as_screened_and_is_screening_positive_s(result):
    screenings = [screening(-20, "tb_igra", result), *screened(-20)[1:]]
    course = history(infusions=infusions(0), screenings=screenings)
    assert found(MISSING, course, 30) == []
    assert len(found(POSITIVE, course, 30)) == 1


# --- screening_missing: the window, late screening, the history cut ------------------------------


@pytest.mark.parametrize(("tested_day", "counts"), [(-365, True), (-366, False)])
def test_a_screen_counts_up_to_365_days_before_the_start(tested_day, counts):
    course = history(infusions=infusions(0), screenings=screened(tested_day))
    assert (found(MISSING, course, 30) == []) is counts


def test_a_screen_too_old_is_named():
    [finding] = found(MISSING, history(screenings=screened(-400)), 30)
    assert (
        "Too long before the start to count: the IGRA (TB) of 03 Dec 2023, HBsAg of 03 Dec 2023 "
        "and anti-HBc of 03 Dec 2023."
    ) in detail(finding)


def test_a_site_may_set_the_window():
    course = history(screenings=screened(-200))
    assert found(MISSING, course, 30) == []
    shorter = DEFAULT.with_overrides({"screening_window_days": 180})
    assert len(found(MISSING, course, 30, shorter)) == 1


def test_a_screen_taken_after_the_start_clears_it_late_screening_is_still_screening():
    course = history(infusions=infusions(0, 14, 42), screenings=screened(50))
    assert len(found(MISSING, course, 49)) == 1  # the history as it stood before the screen
    assert found(MISSING, course, 50) == []


def test_the_tests_may_come_on_different_days():
    screenings = [
        screening(-300, "tb_igra"),
        screening(-10, "hbv_hbsag"),
        screening(20, "hbv_anti_hbc"),
    ]
    course = history(infusions=infusions(0, 14), screenings=screenings)
    [finding] = found(MISSING, course, 19)
    assert finding.evidence["missing"] == ["anti-HBc"]
    assert found(MISSING, course, 20) == []


# --- screening_missing: each course on its own start --------------------------------------------


def test_a_retreatment_needs_a_screen_within_365_days_before_its_own_start():
    first = history(
        infusions=infusions(0, 14, 42, 98),
        screenings=screened(-20),
        stopped_on=day(300),
        stop_reason="remission",
    )
    assert found(MISSING, first, 299) == []
    second = retreatment(first, 600, infusions=infusions(600))
    [finding] = found(MISSING, second, 610)
    assert finding.severity is U
    assert finding.due_on == day(600)
    assert "Too long before the start to count: the IGRA (TB) of 17 Dec 2024" in detail(finding)
    rescreened = dataclasses.replace(second, screenings=(*second.screenings, *screened(580)))
    assert found(MISSING, rescreened, 610) == []


def test_a_retreatment_within_the_year_of_the_first_screen_is_covered_by_it():
    first = history(
        infusions=infusions(0, 14, 42),
        screenings=screened(-20),
        stopped_on=day(100),
        stop_reason="remission",
    )
    assert found(MISSING, retreatment(first, 300, infusions=infusions(300)), 310) == []


def test_a_stopped_course_raises_nothing():
    course = history(infusions=infusions(0, 14), stopped_on=day(30), stop_reason="other")
    assert len(found(MISSING, course, 29)) == 1
    assert found(MISSING, course, 30) == []


def test_a_course_on_treatment_long_ago_still_alerts_and_says_it_is_retrospective():
    """A course entered with its history (before the registry): the screen is missing from the
    record, and infusions go on. The alert stays urgent; it says what to do."""
    course = history(infusions=infusions(*range(0, 700, 56)))
    [finding] = found(MISSING, course, 700)
    assert finding.severity is U
    assert finding.evidence["retrospective"] is True
    assert (
        "Retrospective: this course's first infusion (06 Jan 2025) was more than 365 days ago, "
        "and it goes on: record the screening done before it, if there was one; if not, screen "
        "now."
    ) in detail(finding)
    [recent] = found(MISSING, course, 365)
    assert recent.evidence["retrospective"] is False


# --- screening_positive -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "words"),
    [
        ("tb_igra", "latent or active tuberculosis must be excluded or treated"),
        ("tb_skin_test", "latent or active tuberculosis must be excluded or treated"),
        ("tb_chest_xray", "signs of tuberculosis on the X-ray"),
        ("hbv_hbsag", "a hepatitis B infection that infliximab can flare"),
        ("hbv_anti_hbc", "a past hepatitis B infection that infliximab can reactivate"),
    ],
)
def test_a_positive_tb_or_hepatitis_b_result_needs_a_specialist_review(test, words):
    result = screening(-20, test, "positive")
    course = history(infusions=infusions(0, 14), screenings=[*screened(-20), result])
    [finding] = found(POSITIVE, course, 20)
    assert finding.severity is U
    assert finding.key == f"screening-{result.id}"
    assert finding.due_on == day(-20)
    assert words in detail(finding)
    assert (
        "A specialist reviews it before the next infusion; the registry refuses an infusion "
        "until a clinician records that review. 2 infusion(s) were given since the test without "
        "one."
    ) in detail(finding)
    assert finding.evidence["screening"]["test"] == test


def test_an_indeterminate_result_needs_one_too_and_each_result_is_its_own_alert():
    igra = screening(-20, "tb_igra", "indeterminate")
    core = screening(-20, "hbv_anti_hbc", "positive")
    course = history(screenings=[igra, screening(-20, "hbv_hbsag"), core])
    findings = found(POSITIVE, course, 0)
    assert {f.key for f in findings} == {f"screening-{igra.id}", f"screening-{core.id}"}
    assert any("is indeterminate" in detail(f) for f in findings)


@pytest.mark.parametrize("test", ["hbv_anti_hbs", "hcv_antibody", "hiv", "varicella_igg"])
def test_other_tests_are_not_this_rule_s(test):
    """Anti-HBs and varicella IgG positive mean immunity; hepatitis C and HIV are outside the
    rule as the issue writes it (the loader does not even load them)."""
    course = history(screenings=[*screened(-20), screening(-20, test, "positive")])
    assert found(POSITIVE, course, 0) == []


def test_a_negative_result_needs_no_review():
    assert found(POSITIVE, history(screenings=screened(-20)), 0) == []


def test_a_result_long_before_the_course_still_needs_its_review():
    old = screening(-900, "hbv_anti_hbc", "positive")
    assert len(found(POSITIVE, history(screenings=[*screened(-20), old]), 0)) == 1


def test_a_result_during_the_course_is_raised_from_its_date():
    rescreen = screening(300, "tb_igra", "positive")
    course = history(infusions=infusions(0, 14, 42), screenings=[*screened(-20), rescreen])
    assert found(POSITIVE, course, 299) == []
    assert len(found(POSITIVE, course, 300)) == 1


@pytest.mark.parametrize(("as_of", "raised"), [(29, True), (30, False), (31, False)])
def test_the_review_clears_it_from_its_date(as_of, raised):
    reviewed = screening(-20, "tb_igra", "positive", reviewed=30)
    course = history(infusions=infusions(0), screenings=[reviewed, *screened(-20)[1:]])
    assert bool(found(POSITIVE, course, as_of)) is raised


def test_the_course_stopping_clears_it():
    result = screening(-20, "hbv_hbsag", "positive")
    course = history(
        infusions=infusions(0), screenings=[result], stopped_on=day(40), stop_reason="other"
    )
    assert len(found(POSITIVE, course, 39)) == 1
    assert found(POSITIVE, course, 40) == []


def test_a_retreatment_raises_an_unreviewed_result_again():
    result = screening(-20, "hbv_anti_hbc", "positive")
    first = history(
        infusions=infusions(0), screenings=[result], stopped_on=day(40), stop_reason="other"
    )
    [finding] = found(POSITIVE, retreatment(first, 200, infusions=infusions(200)), 210)
    assert finding.key == f"screening-{result.id}"
