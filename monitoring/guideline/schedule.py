"""Expected dose dates of a course, from the regimen in force (pure; the date is an argument).

GUIDELINE.md "The schedule": the first dose is due on the course start (day 0 is when it is
given). Induction doses follow at their weeks (0, 2, 6: two, then four weeks apart), each counted
from the dose actually given. Each maintenance dose is due one interval after the previous
infusion, with the interval in force on that infusion's date. A regimen change decided *after* the
previous infusion moves the due date to max(previous + new interval, the change's date): a change
decided between doses is never already overdue on the day it is made.

The evaluation computes the schedule once per course and passes it to every rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from monitoring.guideline.history import CourseHistory, InfusionRow, RegimenRow

INDUCTION, MAINTENANCE = "induction", "maintenance"
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ScheduledDose:
    number: int  # 1 = the first dose of the course
    phase: str  # induction | maintenance
    due_on: dt.date
    infusion: InfusionRow | None = None  # the infusion that gave it, if given
    previous: InfusionRow | None = None  # the infusion it is counted from
    interval_weeks: int = 0  # maintenance: the interval it is due under
    moved_by: RegimenRow | None = None  # a regimen change decided after `previous`

    @property
    def given_on(self) -> dt.date | None:
        return self.infusion.given_on if self.infusion else None

    def days_late(self, as_of: dt.date) -> int:
        """Days after the due date it was given (or, if not given yet, as of `as_of`)."""
        return ((self.given_on or as_of) - self.due_on).days


@dataclass(frozen=True)
class Gap:
    before: InfusionRow
    after: InfusionRow | None  # None: still open on the evaluation date
    days: int
    due_on: dt.date  # when the dose after `before` was due (the schedule's, decisions included)

    @property
    def allowed_days(self) -> int:
        """Days from `before` to the due date: the interval in force, or more when a regimen
        change decided late in the gap moved the due date to its decision day."""
        return (self.due_on - self.before.given_on).days


@dataclass(frozen=True)
class Schedule:
    doses: tuple[ScheduledDose, ...]  # every dose given, in order
    next_dose: ScheduledDose | None  # the next one due; None once the course stopped
    gaps: tuple[Gap, ...]  # between consecutive infusions, then the open one if on treatment

    def longest_gap_days(self) -> int:
        return max((gap.days for gap in self.gaps if gap.after), default=0)

    def dose_of(self, infusion_id: int) -> ScheduledDose | None:
        return next((d for d in self.doses if d.infusion and d.infusion.id == infusion_id), None)


def _dose(
    history: CourseHistory,
    index: int,
    previous: InfusionRow | None,
    decided_by: dt.date,
    infusion: InfusionRow | None = None,
) -> ScheduledDose:
    """The dose at `index` (0-based), counted from `previous`; regimen changes decided up to
    `decided_by` (the day before it was given, or the evaluation date) can move it."""
    number = index + 1
    if previous is None:
        return ScheduledDose(number, INDUCTION, history.started_on, infusion)
    weeks = history.induction_weeks
    if index < len(weeks):
        # Induction keeps its spacing (2, then 4 weeks) from the dose actually given, so a late
        # dose moves the next one rather than making it instantly overdue.
        due = previous.given_on + dt.timedelta(weeks=weeks[index] - weeks[index - 1])
        return ScheduledDose(number, INDUCTION, due, infusion, previous)
    _dose_mg_per_kg, interval = history.regimen_on(previous.given_on)
    due = previous.given_on + dt.timedelta(weeks=interval)
    change = history.regimen_change_on(decided_by)
    if change is not None and change.effective_on > previous.given_on:
        interval = change.interval_weeks
        due = max(previous.given_on + dt.timedelta(weeks=interval), change.effective_on)
        return ScheduledDose(number, MAINTENANCE, due, infusion, previous, interval, change)
    return ScheduledDose(number, MAINTENANCE, due, infusion, previous, interval)


def _given_dose(
    history: CourseHistory, index: int, previous: InfusionRow | None, infusion: InfusionRow
) -> ScheduledDose:
    """The dose `infusion` gave, due under the changes decided before its day. A change decided
    on its very day either moved this dose (an intensification decided late in the gap makes it
    due that day) or applies from it on (a taper decided at the infusion): the earlier of the
    two due dates, so a decision never makes the dose given with it early."""
    before = _dose(history, index, previous, infusion.given_on - ONE_DAY, infusion)
    if not any(change.effective_on == infusion.given_on for change in history.regimen_changes):
        return before
    same_day = _dose(history, index, previous, infusion.given_on, infusion)
    return same_day if same_day.due_on < before.due_on else before


def schedule(history: CourseHistory, as_of: dt.date) -> Schedule:
    infusions = history.infusions_until(as_of)
    doses = []
    for index, infusion in enumerate(infusions):
        previous = infusions[index - 1] if index else None
        doses.append(_given_dose(history, index, previous, infusion))
    next_dose = None
    if history.is_on_treatment(as_of):
        previous = infusions[-1] if infusions else None
        next_dose = _dose(history, len(infusions), previous, as_of)
    gaps = [
        Gap(dose.previous, dose.infusion, (dose.infusion.given_on - dose.previous.given_on).days,
            dose.due_on)
        for dose in doses
        if dose.previous is not None and dose.infusion is not None
    ]  # fmt: skip
    if next_dose is not None and next_dose.previous is not None:
        before = next_dose.previous
        gaps.append(Gap(before, None, (as_of - before.given_on).days, next_dose.due_on))
    return Schedule(tuple(doses), next_dose, tuple(gaps))
