"""Expected dose dates of a course, from the regimen in force (pure; the date is an argument).

The first dose is due on the course start (day 0 is when it is given). Induction doses follow at
their weeks (0, 2, 6: two, then four weeks apart), each counted from the dose actually given. Then
each maintenance dose is due one interval after the previous infusion, with the interval in force
when that dose is due: a regimen change (taper, intensification) re-bases the schedule from the
last infusion.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from monitoring.guideline.history import CourseHistory, InfusionRow

INDUCTION, MAINTENANCE = "induction", "maintenance"
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ScheduledDose:
    number: int  # 1 = the first dose of the course
    phase: str  # induction | maintenance
    due_on: dt.date
    infusion: InfusionRow | None = None  # the infusion that gave it, if given

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


@dataclass(frozen=True)
class Schedule:
    doses: tuple[ScheduledDose, ...]  # every dose given, in order
    next_dose: ScheduledDose | None  # the next one due; None once the course stopped
    gaps: tuple[Gap, ...]  # between consecutive infusions, then the open one if on treatment

    def longest_gap_days(self) -> int:
        return max((gap.days for gap in self.gaps if gap.after), default=0)


def _due_on(
    history: CourseHistory, index: int, previous: InfusionRow | None, when: dt.date
) -> dt.date:
    """Due date of the dose at `index` (0-based); `when` picks the regimen in force."""
    if previous is None:
        return history.started_on
    weeks = history.induction_weeks
    if index < len(weeks):
        # Induction keeps its spacing (2, then 4 weeks) from the dose actually given, so a late
        # dose moves the next one rather than making it instantly overdue.
        return previous.given_on + dt.timedelta(weeks=weeks[index] - weeks[index - 1])
    _dose, interval = history.regimen_on(when)
    return previous.given_on + dt.timedelta(weeks=interval)


def _phase(history: CourseHistory, index: int) -> str:
    return INDUCTION if index < len(history.induction_weeks) else MAINTENANCE


# Several rules ask for the schedule of the same history in a row: remember the last one. Keyed
# by identity (histories are immutable), so a miss only costs a recomputation.
_last: tuple[CourseHistory, dt.date, Schedule] | None = None


def schedule(history: CourseHistory, as_of: dt.date) -> Schedule:
    global _last
    last = _last
    if last is not None and last[0] is history and last[1] == as_of:
        return last[2]
    plan = _schedule(history, as_of)
    _last = (history, as_of, plan)
    return plan


def _schedule(history: CourseHistory, as_of: dt.date) -> Schedule:
    infusions = history.infusions_until(as_of)
    doses = []
    for index, infusion in enumerate(infusions):
        previous = infusions[index - 1] if index else None
        # The regimen in force the day before the dose was given is the one it was due under.
        due = _due_on(history, index, previous, infusion.given_on - ONE_DAY)
        doses.append(ScheduledDose(index + 1, _phase(history, index), due, infusion))
    next_dose = None
    if history.is_on_treatment(as_of):
        index = len(infusions)
        previous = infusions[-1] if infusions else None
        due = _due_on(history, index, previous, as_of)
        next_dose = ScheduledDose(index + 1, _phase(history, index), due)
    gaps = [
        Gap(before, after, (after.given_on - before.given_on).days)
        for before, after in itertools.pairwise(infusions)
    ]
    if infusions and history.is_on_treatment(as_of):
        gaps.append(Gap(infusions[-1], None, (as_of - infusions[-1].given_on).days))
    return Schedule(tuple(doses), next_dose, tuple(gaps))
