"""live_vaccine_on_treatment, the pure rule: an unreviewed live vaccine given on treatment, or
followed by an infusion within 90 days, or before a next infusion due within the 90 days
(GUIDELINE.md "Live vaccines on infliximab")."""

import dataclasses

import pytest

from monitoring.guideline import DEFAULT, Severity, cut_at, evaluate
from tests.monitoring.builders import (
    adherent_days,
    day,
    history,
    infusions,
    live_vaccine,
    retreatment,
)

RULE = "live_vaccine_on_treatment"
GIVEN = infusions(*adherent_days(3))  # days 0, 14, 42, 98, 154, 210: next due 266


def found(course, as_of_day: int, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == RULE]


def test_a_live_vaccine_between_infusions_happened_and_delays_the_next_one():
    vaccine = live_vaccine(220)
    [finding] = found(history(infusions=GIVEN, live_vaccinations=[vaccine]), 225)
    assert finding.severity is Severity.URGENT
    assert finding.key == f"vaccination-{vaccine.id}"
    assert finding.due_on == day(220)
    assert finding.title == "Live vaccine on infliximab: clinician review"
    assert finding.explanation.startswith(
        f"A live vaccine was given on {day(220):%d %b %Y}, on treatment (the course's last "
        f"infusion before it: {day(210):%d %b %Y}). The next infusion is due {day(266):%d %b %Y}: "
        f"not before {day(311):%d %b %Y} (90 days after the vaccine) unless a clinician accepts "
        "the risk."
    )
    assert "Clears when: a clinician records the review of the vaccination" in finding.explanation
    assert "It is recommended that live vaccines not be given concurrently" in finding.explanation
    assert finding.evidence["vaccination"] == {"id": vaccine.id, "vaccine": "mmr",
                                               "given_on": day(220).isoformat()}  # fmt: skip
    assert finding.evidence["earliest_infusion_on"] == day(311).isoformat()
    assert finding.evidence["next_due_on"] == day(266).isoformat()
    assert finding.evidence["live_vaccine_interval_days"] == 90


@pytest.mark.parametrize(
    ("given_on", "raised"),
    [(-91, False), (-90, True), (-30, True), (0, True)],  # the first infusion is on day 0
)
def test_an_infusion_within_90_days_after_the_vaccine_counts_the_90th_day(given_on, raised):
    course = history(infusions=GIVEN, live_vaccinations=[live_vaccine(given_on)])
    assert bool(found(course, 215)) is raised


def test_the_infusions_that_followed_are_named():
    [finding] = found(history(infusions=GIVEN, live_vaccinations=[live_vaccine(-30)]), 215)
    assert f"; 3 infusion(s) followed within 90 days (first {day(0):%d %b %Y})." in (
        finding.explanation
    )
    assert [i["given_on"] for i in finding.evidence["infused_within"]] == [
        day(n).isoformat() for n in (0, 14, 42)
    ]
    assert finding.evidence["earliest_infusion_on"] is None  # the window closed long ago


def test_a_vaccine_before_the_first_dose_asks_to_wait_until_the_earliest_day():
    course = history(infusions=(), live_vaccinations=[live_vaccine(-10)])
    [finding] = found(course, 0)
    assert f"The next infusion is due {day(0):%d %b %Y}: not before {day(81):%d %b %Y}" in (
        finding.explanation
    )
    assert found(course, 80)  # the last day of the window
    assert found(course, 81) == []  # the first dose may be given from today: nothing to say


def test_a_next_dose_due_after_the_window_is_no_concern():
    # A vaccine 30 days before a planned start whose first dose is given 91 days after it.
    course = history(infusions=infusions(61), started_on=day(61),
                     live_vaccinations=[live_vaccine(-30)])  # fmt: skip
    assert found(course, 100) == []


def test_a_review_clears_it_once_dated_and_a_later_review_is_not_known_yet():
    reviewed = live_vaccine(220, reviewed=230, decision="infusion_deferred")
    course = history(infusions=GIVEN, live_vaccinations=[reviewed])
    assert found(course, 225)  # reviewed after the date: not known on it
    assert found(course, 230) == []
    assert found(cut_at(course, day(225)), 225)


def test_a_vaccine_after_the_date_is_not_known_yet():
    assert found(history(infusions=GIVEN, live_vaccinations=[live_vaccine(220)]), 215) == []


def test_the_course_stop_clears_it():
    course = history(infusions=GIVEN, live_vaccinations=[live_vaccine(220)])
    stopped = dataclasses.replace(course, stopped_on=day(230), stop_reason="remission")
    assert found(stopped, 229)
    assert found(stopped, 230) == []


def test_each_unreviewed_live_vaccine_is_its_own_finding():
    first, second = live_vaccine(200), live_vaccine(220, vaccine="varicella")
    reviewed = live_vaccine(215, vaccine="yellow_fever", reviewed=216)
    course = history(infusions=GIVEN, live_vaccinations=[first, reviewed, second])
    assert {f.key for f in found(course, 225)} == {
        f"vaccination-{first.id}",
        f"vaccination-{second.id}",
    }


def test_a_retreatment_raises_it_only_for_its_own_doses_within_the_window():
    first = history(infusions=GIVEN, stopped_on=day(250), stop_reason="remission")
    vaccine = live_vaccine(300)
    # Restarted 60 days after the vaccine: its first dose falls in the window.
    soon = retreatment(first, 360, live_vaccinations=[vaccine])
    [finding] = found(soon, 360)
    assert f"not before {day(391):%d %b %Y}" in finding.explanation
    # Restarted 120 days after it: nothing.
    later = retreatment(first, 420, live_vaccinations=[vaccine], infusions=infusions(420))
    assert found(later, 425) == []
    # The stopped course raises nothing, whatever the vaccine.
    assert found(dataclasses.replace(first, live_vaccinations=(vaccine,)), 360) == []


def test_a_site_may_set_the_interval():
    course = history(infusions=GIVEN, live_vaccinations=[live_vaccine(-45)])
    assert found(course, 215)
    assert found(course, 215, dataclasses.replace(DEFAULT, live_vaccine_interval_days=28)) == []
