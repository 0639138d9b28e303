"""methotrexate_monitoring_due, the pure rule: on methotrexate during an active course, a neutrophil
count, a platelet count and an ALT in the last 98 days, each missing one named (GUIDELINE.md)."""

import dataclasses

import pytest

from monitoring.guideline import DEFAULT, Severity, cut_at, evaluate
from tests.monitoring.builders import (
    adherent_days,
    day,
    history,
    infusions,
    lab,
    methotrexate,
    retreatment,
)

RULE = "methotrexate_monitoring_due"
GIVEN = infusions(*adherent_days(4))  # days 0, 14, 42, 98, 154, 210, 266


def found(course, as_of_day: int, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == RULE]


def bloods(n: int, *analytes: str) -> list:
    """The results of one draw on day `n` (all three by default)."""
    values = {"neutrophils": 3.2, "platelets": 260, "alt": 21}
    return [lab(n, analyte, values[analyte]) for analyte in analytes or values]


def on_methotrexate(*, labs=(), since: int = 20, stop: int | None = None, **fields):
    return history(infusions=GIVEN, labs=labs, medications=[methotrexate(since, stop)], **fields)


def test_nothing_without_methotrexate():
    assert found(history(infusions=GIVEN), 300) == []
    naproxen = dataclasses.replace(methotrexate(20), drug="naproxen")
    assert found(history(infusions=GIVEN, medications=[naproxen]), 300) == []


def test_no_bloods_at_all_are_due_since_methotrexate_started():
    [finding] = found(on_methotrexate(since=20), 200)
    assert finding.severity is Severity.INFO
    assert finding.key == day(20).isoformat() == finding.evidence["due_on"]
    assert finding.title == "Methotrexate: blood count and ALT due"
    assert finding.evidence["missing"] == ["neutrophil count", "platelet count", "ALT"]
    assert finding.evidence["methotrexate_since"] == day(20).isoformat()
    assert finding.evidence["last_neutrophils"] is None
    assert finding.evidence["monitoring_interval_days"] == 98
    assert finding.explanation.startswith(
        "On methotrexate since 26 Jan 2025: a blood count (neutrophils and platelets) and ALT are "
        "due at least every 98 days. Missing: the neutrophil count (none recorded), the platelet "
        "count (none recorded) and the ALT (none recorded). Draw a full blood count and ALT and "
        "record the results."
    )
    assert "Clears when: a neutrophil count, a platelet count and an ALT within the interval; " in (
        finding.explanation
    )
    assert "Guideline (grade B, registry guideline after BSR/BHPR 2017" in finding.explanation
    assert "at least every 12 weeks once the dose is stable" in finding.explanation


@pytest.mark.parametrize(("days_ago", "raised"), [(97, False), (98, False), (99, True)])
def test_bloods_count_for_98_days_and_are_due_the_day_after(days_ago, raised):
    course = on_methotrexate(labs=bloods(200 - days_ago))
    findings = found(course, 200)
    assert bool(findings) is raised
    if raised:
        [finding] = findings
        # Due 98 days after the draw: the worklist says "due since" that day.
        assert finding.due_on == day(200 - days_ago + 98)
        assert "(last on 17 Apr 2025)" in finding.explanation
        assert finding.evidence["last_alt"]["collected_on"] == day(101).isoformat()


def test_only_a_recent_alt_leaves_the_blood_count_due():
    course = on_methotrexate(labs=[*bloods(50), *bloods(190, "alt")])
    [finding] = found(course, 200)
    assert finding.evidence["missing"] == ["neutrophil count", "platelet count"]
    assert finding.due_on == day(50 + 98)
    assert "Draw a full blood count and record the results." in finding.explanation
    assert "the ALT (" not in finding.explanation


def test_only_a_recent_blood_count_leaves_alt_due():
    course = on_methotrexate(labs=[*bloods(190, "neutrophils", "platelets")])
    [finding] = found(course, 200)
    assert finding.evidence["missing"] == ["ALT"]
    assert "Draw ALT and record the results." in finding.explanation


def test_a_blood_count_needs_both_neutrophils_and_platelets():
    [finding] = found(on_methotrexate(labs=bloods(190, "neutrophils", "alt")), 200)
    assert finding.evidence["missing"] == ["platelet count"]
    assert finding.due_on == day(20)


def test_each_missing_test_is_due_from_its_own_last_result_and_the_key_is_the_earliest():
    course = on_methotrexate(labs=[*bloods(60, "neutrophils"), *bloods(80, "platelets", "alt")])
    [finding] = found(course, 200)
    assert finding.key == day(60 + 98).isoformat()
    # The neutrophils recorded, the platelets and ALT are still due: from their own date.
    course = on_methotrexate(labs=[*bloods(80, "platelets", "alt"), *bloods(199, "neutrophils")])
    [finding] = found(course, 200)
    assert finding.key == day(80 + 98).isoformat()


def test_bloods_drawn_before_methotrexate_started_count_as_its_baseline():
    assert found(on_methotrexate(labs=bloods(100), since=140), 150) == []
    # Older than the interval: due from the day it started, not before.
    [finding] = found(on_methotrexate(labs=bloods(10), since=140), 150)
    assert finding.due_on == day(140)
    assert finding.evidence["methotrexate_since"] == day(140).isoformat()


@pytest.mark.parametrize(("stop", "raised"), [(199, False), (200, False), (201, True)])
def test_methotrexate_stopped_by_the_date_raises_nothing(stop, raised):
    # Stopped yesterday or today: not taken on the date. Stopped tomorrow: still taken today.
    assert bool(found(on_methotrexate(labs=bloods(10), stop=stop), 200)) is raised


def test_a_stop_after_the_evaluation_date_is_not_known_yet():
    # Evaluated as it stood on day 200, a stop recorded for day 230 has not happened.
    course = on_methotrexate(labs=bloods(10), stop=230)
    assert found(course, 200)
    assert found(course, 231) == []


def test_methotrexate_started_after_the_date_is_not_taken_yet():
    assert found(on_methotrexate(since=250), 200) == []


def test_a_dose_change_continues_the_time_on_methotrexate():
    # A dose change stops the entry and starts another the same day: one time on the drug.
    entries = [methotrexate(20, 100), methotrexate(100)]
    [finding] = found(history(infusions=GIVEN, medications=entries), 200)
    assert finding.evidence["methotrexate_since"] == day(20).isoformat()
    # A break (stopped on day 100, restarted on day 150) starts a new time on it.
    entries = [methotrexate(20, 100), methotrexate(150)]
    [finding] = found(history(infusions=GIVEN, medications=entries), 200)
    assert finding.due_on == day(150)


def test_bloods_drawn_after_the_date_do_not_count():
    course = on_methotrexate(labs=bloods(210))
    assert found(course, 200)
    assert found(course, 210) == []


def test_a_stopped_course_raises_nothing():
    course = on_methotrexate(labs=bloods(10), stopped_on=day(180), stop_reason="remission")
    assert found(course, 179)
    assert found(course, 180) == []


def test_a_course_raises_it_without_any_infusion_yet():
    # An active course is an infliximab course, whatever its first infusion's date.
    assert found(history(medications=[methotrexate(-300)]), 5)


def test_only_the_active_course_of_a_retreated_patient_raises_it():
    first = on_methotrexate(labs=bloods(10), stopped_on=day(220), stop_reason="remission")
    second = retreatment(first, 400, infusions=GIVEN[:1])
    assert second.medications == first.medications
    assert found(dataclasses.replace(first, next_course_started_on=day(400)), 410) == []
    assert found(second, 410)


def test_a_site_may_set_another_interval():
    monthly = DEFAULT.with_overrides({"methotrexate_monitoring_days": 56})
    course = on_methotrexate(labs=bloods(130))
    assert found(course, 200) == []
    [finding] = found(course, 200, monthly)
    assert finding.due_on == day(130 + 56)
    assert "due at least every 56 days" in finding.explanation


def test_the_history_as_it_stood_knows_neither_later_starts_nor_later_stops():
    course = history(medications=[methotrexate(20, 230), methotrexate(250)])
    [taken] = cut_at(course, day(200)).medications
    assert (taken.started_on, taken.stopped_on) == (day(20), None)
    assert cut_at(course, day(260)) is course  # nothing after the date: the history as it is
