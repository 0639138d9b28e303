"""serious_adverse_event_review, the pure rule: a serious adverse event or one of special interest
without a clinician's review, on the one course it is attached to; a course stop does not clear it
(GUIDELINE.md "Serious adverse events")."""

import dataclasses

from monitoring.guideline import Severity, cut_at, evaluate
from monitoring.guideline.history import CourseSpan, attached_course
from tests.monitoring.builders import adherent_days, adverse_event, day, history, infusions

RULE = "serious_adverse_event_review"
GIVEN = infusions(*adherent_days(3))


def found(course, as_of_day: int):
    return [f for f in evaluate(course, day(as_of_day)) if f.rule_id == RULE]


def test_a_serious_event_without_review_is_urgent():
    event = adverse_event(100)
    [finding] = found(history(infusions=GIVEN, adverse_events=[event]), 120)
    assert finding.severity is Severity.URGENT
    assert finding.key == f"event-{event.id}"
    assert finding.due_on == day(100)
    assert finding.title == "Serious adverse event: clinician review"
    assert finding.explanation.startswith(
        f"An adverse event (Lung infection) began on {day(100):%d %b %Y} and is serious: no "
        "clinician review is recorded."
    )
    assert "Clears when: a clinician records the review" in finding.explanation
    assert finding.evidence["adverse_event"] == {
        "id": event.id, "onset_on": day(100).isoformat(), "term": "Lung infection",
        "serious": True,
    }  # fmt: skip


def test_an_event_of_special_interest_needs_a_review_though_not_serious():
    event = adverse_event(100, term="psoriasis", serious=False,
                          special_interest=("paradoxical psoriasis",))  # fmt: skip
    [finding] = found(history(infusions=GIVEN, adverse_events=[event]), 120)
    assert "is of special interest (paradoxical psoriasis)" in finding.explanation
    assert finding.evidence["special_interest"] == ["paradoxical psoriasis"]


def test_the_review_clears_it_once_dated():
    event = adverse_event(100, reviewed=130, decision="hold")
    course = history(infusions=GIVEN, adverse_events=[event])
    assert found(course, 129)
    assert found(course, 130) == []
    assert found(cut_at(course, day(129)), 129)


def test_an_event_after_the_date_is_not_known_yet():
    assert found(history(infusions=GIVEN, adverse_events=[adverse_event(100)]), 99) == []


def test_the_course_stop_does_not_clear_it():
    course = history(infusions=GIVEN, adverse_events=[adverse_event(100)],
                     stopped_on=day(105), stop_reason="adverse_event")  # fmt: skip
    [finding] = found(course, 200)
    assert finding.severity is Severity.URGENT
    assert "The course has stopped; the event still needs its review." in finding.explanation


def test_each_event_is_its_own_finding():
    one, two = adverse_event(100), adverse_event(150, term="sepsis")
    reviewed = adverse_event(120, reviewed=121)
    course = history(infusions=GIVEN, adverse_events=[one, reviewed, two])
    assert {f.key for f in found(course, 200)} == {f"event-{one.id}", f"event-{two.id}"}


# --- Which course an event is raised on --------------------------------------------------------

FIRST = CourseSpan(1, day(0), day(300))
SECOND = CourseSpan(2, day(500))


def test_an_event_recorded_against_a_course_stays_on_it():
    assert attached_course(1, day(600), (FIRST, SECOND)) == 1


def test_an_event_without_a_course_goes_to_the_course_on_treatment_at_its_onset():
    assert attached_course(None, day(100), (SECOND, FIRST)) == 1
    assert attached_course(None, day(300), (FIRST, SECOND)) == 1  # the stop day still counts
    assert attached_course(None, day(600), (FIRST, SECOND)) == 2


def test_else_to_the_latest_course():
    assert attached_course(None, day(400), (FIRST, SECOND)) == 2  # between the courses
    assert attached_course(None, day(-50), (FIRST,)) == 1  # before the first
    assert attached_course(None, day(10), ()) is None  # no course: nowhere to raise it


def test_a_retreatment_of_the_same_day_does_not_take_the_stopping_courses_event():
    stopping = CourseSpan(1, day(0), day(300))
    restarted = CourseSpan(2, day(300))
    assert attached_course(None, day(300), (restarted, stopping)) == 1
    assert attached_course(None, day(301), (restarted, stopping)) == 2


def test_one_event_on_two_courses_histories_is_raised_once():
    """The loader gives each event to one course's history only: the other course's history
    does not carry it, so it raises nothing there."""
    event = adverse_event(100)
    own = history(infusions=GIVEN, adverse_events=[event], course_id=1)
    other = dataclasses.replace(own, course_id=2, adverse_events=())
    assert len(found(own, 200)) == 1
    assert found(other, 200) == []
