"""The engine's horizon (`Verdict.reevaluate_on`): until that day, without new data, the verdict
is the same as on the day it was computed, to the letter (hypothesis, pure engine).

The nightly run skips a course whose horizon has not come and whose data did not change
(monitoring.evaluation); this is the property that makes that skip safe. The histories are
generated wide on purpose: every kind of row, dated before and after the evaluation date
(rows dated later are not known yet), retreatments, stops for each reason, regimen changes,
reviews, consents and a birthday.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.guideline import CourseHistory, Verdict, evaluate_course
from monitoring.guideline.history import ConsentRow, Exposure
from tests.monitoring.builders import (
    D0,
    adverse_event,
    assessment,
    day,
    history,
    infusion,
    lab,
    live_vaccine,
    methotrexate,
    mri,
    reaction,
    regimen,
    screening,
)

LAST_DAY = 1100  # the generated histories span about three years from day 0

days = st.integers(-60, LAST_DAY)
maybe_days = st.none() | days


def on_day(n: int | None) -> dt.date | None:
    return None if n is None else day(n)


def _sorted(rows: list[Any], date_field: str) -> tuple[Any, ...]:
    return tuple(sorted(rows, key=lambda row: (getattr(row, date_field), row.id)))


@st.composite
def infusion_days(draw: Any, start: int, interval_weeks: int) -> list[int]:
    """Infusions roughly on a schedule: on time, early, late or after a long interruption."""
    count = draw(st.integers(0, 12))
    spacing = [14, 28] + [interval_weeks * 7] * count
    result: list[int] = []
    on = start + draw(st.integers(0, 10))
    for n in range(count):
        result.append(on)
        on += spacing[n] + draw(st.sampled_from([0, 0, -20, -5, 3, 8, 15, 40, 200]))
    return result


@st.composite
def infusion_rows(draw: Any, start: int, interval_weeks: int, course_id: int) -> list[Any]:
    return [
        infusion(
            n,
            weight=draw(st.sampled_from(["40", "42", "20"])),
            dose=draw(st.sampled_from(["200", "210", "450", "100"])),
            weighed=draw(st.none() | st.just(n - 100)),
            duration_minutes=draw(st.sampled_from([None, 50, 70, 130])),
            premedicated=draw(st.booleans()),
            course_id=course_id,
        )
        for n in draw(infusion_days(start, interval_weeks))
    ]


ANALYTES = ["crp", "esr", "ifx_trough", "anti_ifx", "neutrophils", "platelets", "alt"]


@st.composite
def lab_rows(draw: Any) -> list[Any]:
    rows = []
    for _ in range(draw(st.integers(0, 10))):
        analyte = draw(st.sampled_from(ANALYTES))
        on = draw(days)
        if analyte == "anti_ifx":
            rows.append(lab(on, analyte, antibodies_positive=draw(st.booleans())))
        else:
            rows.append(lab(on, analyte, draw(st.sampled_from([1, 3, 4, 6, 12, 30, 250]))))
    return rows


@st.composite
def assessment_rows(draw: Any) -> list[Any]:
    return [
        assessment(
            draw(days),
            state=draw(st.sampled_from(["", "active", "inactive"])),
            pain=draw(st.sampled_from([None, "0", "1", "5"])),
            physician=draw(st.sampled_from([None, "0", "1", "6"])),
            lesions=draw(st.sampled_from([None, 0, 0, 1])),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]


@st.composite
def consent_rows(draw: Any) -> list[ConsentRow]:
    rows = []
    for n in range(draw(st.integers(0, 2))):
        rows.append(
            ConsentRow(
                id=9000 + n,
                given_on=day(draw(days)),
                consented_by=draw(st.sampled_from(["patient", "parent_guardian", "not_recorded"])),
                care_data_given=True,
                research_given=draw(st.booleans()),
                care_data_withdrawn_on=on_day(draw(maybe_days)),
            )
        )
    return [c for c in rows if not c.withdrawals or min(c.withdrawals) >= c.given_on]


@st.composite
def courses(draw: Any) -> CourseHistory:
    """One course, perhaps a retreatment after an earlier one, with the patient's rows."""
    interval = draw(st.sampled_from([4, 6, 8, 8, 10, 16]))
    retreated = draw(st.booleans())
    start = draw(st.integers(200, 700)) if retreated else 0
    rows = draw(infusion_rows(start, interval, course_id=2))
    earlier = draw(infusion_rows(0, 8, course_id=1)) if retreated else []
    earlier = [i for i in earlier if i.given_on < day(start)]
    every_infusion = [*earlier, *rows]
    reactions = [
        reaction(
            on,
            draw(st.sampled_from(["mild", "moderate", "severe"])),
            draw(st.none() | st.integers(0, 200).map(lambda n, on=on: (on.given_on - D0).days + n)),
            onset=draw(st.sampled_from(["acute", "delayed"])),
        )
        for on in draw(st.lists(st.sampled_from(every_infusion), max_size=2, unique_by=id))
    ] if every_infusion else []  # fmt: skip
    own_ids = {i.id for i in rows}
    stopped = draw(maybe_days.filter(lambda n: n is None or n >= start))
    medications = [
        methotrexate(begin, draw(st.none() | st.integers(begin + 1, begin + 400)))
        for begin in draw(st.lists(days, max_size=2))
    ]
    return history(
        course_id=2,
        started_on=day(start),
        maintenance_interval_weeks=interval,
        planned_dose_mg_per_kg=Decimal(draw(st.sampled_from(["5", "10"]))),
        infusions=_sorted(rows, "given_on"),
        regimen_changes=_sorted(
            [
                regimen(
                    draw(days),
                    interval=draw(st.sampled_from([6, 8, 12, 16])),
                    dose=draw(st.sampled_from(["5", "7.5", "10"])),
                    reason=draw(st.sampled_from(["taper", "intensification"])),
                )
                for _ in range(draw(st.integers(0, 2)))
            ],
            "effective_on",
        ),
        labs=_sorted(draw(lab_rows()), "collected_on"),
        imaging=_sorted(
            [
                mri(
                    draw(days),
                    active=draw(st.sampled_from([None, 0, 0, 2])),
                    new=draw(st.sampled_from([None, 0, 1])),
                    impression=draw(st.sampled_from(["", "stable", "worse", "resolved"])),
                )
                for _ in range(draw(st.integers(0, 5)))
            ],
            "performed_on",
        ),
        assessments=_sorted(draw(assessment_rows()), "assessed_on"),
        reactions=tuple(r for r in reactions if r.infusion_id in own_ids),
        stopped_on=on_day(stopped),
        stop_reason=""
        if stopped is None
        else draw(
            st.sampled_from(["remission", "patient_choice", "other", "adverse_event", "inefficacy"])
        ),
        relapses_noted_on=tuple(sorted(day(n) for n in draw(st.lists(days, max_size=1)))),
        medications=tuple(sorted(medications, key=lambda m: (m.started_on, m.id))),
        screenings=_sorted(
            [
                screening(
                    on,
                    draw(
                        st.sampled_from(
                            [
                                "tb_igra",
                                "tb_skin_test",
                                "hbv_hbsag",
                                "hbv_anti_hbc",
                                "tb_chest_xray",
                            ]
                        )
                    ),
                    draw(st.sampled_from(["negative", "negative", "positive", "indeterminate"])),
                    draw(st.none() | st.integers(on, on + 60)),
                )
                for on in draw(st.lists(st.integers(start - 400, start + 300), max_size=4))
            ],
            "tested_on",
        ),
        live_vaccinations=_sorted(
            [
                live_vaccine(on, reviewed=draw(st.none() | st.integers(on, on + 90)))
                for on in draw(st.lists(days, max_size=1))
            ],
            "given_on",
        ),
        adverse_events=_sorted(
            [
                adverse_event(on, reviewed=draw(st.none() | st.integers(on, on + 90)))
                for on in draw(st.lists(days, max_size=1))
            ],
            "onset_on",
        ),
        next_course_started_on=on_day(draw(st.none() | st.integers(start + 100, LAST_DAY))),
        exposure=Exposure(
            infusions=_sorted(earlier, "given_on"),
            reactions=tuple(r for r in reactions if r.infusion_id not in own_ids),
        ),
        patient_born_on=D0 - dt.timedelta(days=draw(st.integers(15 * 365, 19 * 365))),
        consents=_sorted(draw(consent_rows()), "given_on"),
    )


@st.composite
def steady_courses(draw: Any) -> CourseHistory:
    """A course given on time with its monitoring done: troughs before the infusions, normal
    markers, inactive assessments and MRIs. The kind that becomes ready to taper, whose trough may
    fall low, and whose dates (MRI and marker windows, the taper's conditions) come and go."""
    interval = draw(st.sampled_from([6, 8]))
    count = draw(st.integers(3, 14))
    on = [0, 14, 42]
    while len(on) < count:
        on.append(on[-1] + interval * 7 + draw(st.integers(-3, 9)))
    rows = [infusion(n, weight="40", dose="200", duration_minutes=130) for n in on]
    labs = []
    for n in on[3:]:
        labs.append(lab(n - draw(st.integers(0, 4)), "ifx_trough", draw(st.sampled_from([2, 7]))))
        labs += [lab(n, "crp", draw(st.sampled_from([1, 1, 1, 30]))), lab(n, "esr", 5)]
    assessments = [
        assessment(n, state=draw(st.sampled_from(["inactive", "inactive", "inactive", ""])))
        for n in on[2:]
        if draw(st.integers(0, 4))
    ]
    every = draw(st.sampled_from([60, 120, 180]))
    scans = [mri(n, active=draw(st.sampled_from([0, 0, 0, 1]))) for n in range(0, on[-1], every)]
    stopped = draw(st.none() | st.integers(on[-1], on[-1] + 120))
    return history(
        maintenance_interval_weeks=interval,
        infusions=_sorted(rows, "given_on"),
        labs=_sorted(labs, "collected_on"),
        assessments=_sorted(assessments, "assessed_on"),
        imaging=_sorted(scans, "performed_on"),
        screenings=_sorted(
            [screening(-10, t) for t in ("tb_igra", "hbv_hbsag", "hbv_anti_hbc")], "tested_on"
        ),
        stopped_on=on_day(stopped),
        stop_reason="" if stopped is None else "remission",
    )


histories = st.one_of(courses(), steady_courses())


def evaluation_day(data: st.DataObject, course: CourseHistory) -> int:
    """Any day, or one near a row of the history (where the rules' dates cluster)."""
    near = [(i.given_on - D0).days for i in course.infusions] + [
        (row.collected_on - D0).days for row in course.labs
    ]
    if near and data.draw(st.booleans(), label="near a row"):
        return data.draw(st.sampled_from(near)) + data.draw(st.integers(-3, 40))
    return data.draw(st.integers(-30, LAST_DAY), label="evaluated on")


def verdict_text(verdict: Verdict) -> tuple[Any, ...]:
    """All of a verdict that reaches an alert (evidence included: `Finding` leaves it out of ==)."""
    findings = [(dataclasses.astuple(f), f.evidence) for f in verdict.findings]
    return findings, verdict.stopped, verdict.regimen_moved_due


def assert_holds_until_its_horizon(
    course: CourseHistory, on: dt.date, verdict: Verdict, more_days: Sequence[int] = ()
) -> None:
    """The verdict of `course` on `on` is the same the next day, the day before its horizon (or
    a year and more later if it has none) and on `more_days` days after `on` that come before it.
    tests/monitoring/test_properties.py calls this for every history it raises a rule with."""
    horizon = verdict.reevaluate_on
    assert horizon is None or horizon > on
    last = (horizon - on).days - 1 if horizon else 500
    later = {n for n in (1, last // 2, last, *more_days) if 1 <= n <= last}
    for n in sorted(later):
        assert verdict_text(evaluate_course(course, on + dt.timedelta(days=n))) == verdict_text(
            verdict
        ), f"changed {n} days after {on}, before its horizon {horizon}"


@settings(max_examples=400, deadline=None)
@given(course=histories, data=st.data())
def test_the_verdict_holds_until_its_horizon(course, data):
    on = day(evaluation_day(data, course))
    more = data.draw(st.lists(st.integers(1, 600), max_size=4), label="later days")
    assert_holds_until_its_horizon(course, on, evaluate_course(course, on), more)


@settings(max_examples=150, deadline=None)
@given(course=histories, data=st.data())
def test_walking_day_by_day_the_first_change_comes_no_earlier_than_the_horizon(course, data):
    """The same property, every day for 200 days rather than a sample of days."""
    on = day(evaluation_day(data, course))
    verdict = evaluate_course(course, on)
    text = verdict_text(verdict)
    for n in range(1, 200):
        later = on + dt.timedelta(days=n)
        if verdict_text(evaluate_course(course, later)) != text:
            assert verdict.reevaluate_on is not None
            assert verdict.reevaluate_on <= later
            return
