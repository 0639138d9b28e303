"""The worklist's "When" column: what an alert's date means, rule by rule."""

import datetime as dt
from types import SimpleNamespace

import pytest

from clinic.alert_timing import RULE_TIMING, AlertTiming, alert_timing
from monitoring.guideline import RULES
from tests.conftest import TODAY

DAY = dt.timedelta(days=1)


def timing(rule: str, due_on: dt.date | None, **evidence) -> AlertTiming:
    return alert_timing(SimpleNamespace(rule=rule, due_on=due_on, evidence=evidence), TODAY)


def test_it_knows_what_the_date_of_every_rule_means():
    assert set(RULE_TIMING) == set(RULES)


@pytest.mark.parametrize("rule", ["induction_dose_missed", "maintenance_dose_overdue"])
def test_a_dose_says_how_late_it_is_or_when_it_is_due(rule):
    assert timing(rule, TODAY - 12 * DAY) == AlertTiming("12 d overdue", "due 12 Nov 2026", True)
    assert timing(rule, TODAY) == AlertTiming("due today", "24 Nov 2026")
    assert timing(rule, TODAY + 3 * DAY) == AlertTiming("due in 3 d", "27 Nov 2026")


def test_a_premedication_is_for_the_next_dose_or_for_the_last_one_given_without():
    assert timing("premedication_advised", TODAY + 15 * DAY).text == "next dose in 15 d"
    assert timing("premedication_advised", TODAY - 2 * DAY).text == "next dose 2 d overdue"
    given = [{"given_on": (TODAY - 30 * DAY).isoformat()}]
    stopped = timing("premedication_advised", TODAY - 30 * DAY, given_without_premedication=given)
    assert stopped == AlertTiming("given 25 Oct 2026")


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("markers_overdue", "due since 04 Nov 2026"),
        ("imaging_overdue", "due since 04 Nov 2026"),
        ("response_assessment_due", "due since 04 Nov 2026"),
        ("post_stop_follow_up_due", "visit due since 04 Nov 2026"),
    ],
)
def test_a_check_says_since_when_it_is_due(rule, text):
    assert timing(rule, TODAY - 20 * DAY) == AlertTiming(text, "20 d ago", late=True)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("dose_given_early", "given 04 Nov 2026"),
        ("dose_mismatch", "given 04 Nov 2026"),
        ("infusion_too_fast", "given 04 Nov 2026"),
        ("low_trough", "drawn 04 Nov 2026"),
        ("antibodies_detected", "result of 04 Nov 2026"),
        ("early_discontinuation", "stopped 04 Nov 2026"),
        ("taper_readiness", "eligible since 04 Nov 2026"),
    ],
)
def test_a_past_fact_gives_its_date_and_no_clock(rule, text):
    assert timing(rule, TODAY - 20 * DAY) == AlertTiming(text)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("treatment_interrupted", "since 04 Nov 2026"),
        ("relapse_after_stopping", "first sign 04 Nov 2026"),
        ("severe_reaction_review", "reaction 04 Nov 2026"),
    ],
)
def test_what_awaits_a_decision_says_how_long_ago_it_happened(rule, text):
    assert timing(rule, TODAY - 20 * DAY) == AlertTiming(text, "20 d ago")


def test_an_alert_without_a_date_has_none():
    assert timing("markers_overdue", None) == AlertTiming("—")
