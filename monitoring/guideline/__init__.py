"""The guideline engine: pure functions over plain data. Imports nothing from Django or the project.

findings = evaluate(history, as_of=date, guideline=Guideline())
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from monitoring.guideline.findings import Finding, RuleInfo, Severity
from monitoring.guideline.history import (
    AdverseEventRow,
    ConsentRow,
    CourseHistory,
    Exposure,
    MedicationRow,
    ReactionRow,
    ScreeningRow,
    VaccinationRow,
)
from monitoring.guideline.parameters import DEFAULT, Guideline
from monitoring.guideline.rules import RULES, Context
from monitoring.guideline.schedule import schedule

__all__ = [
    "DEFAULT",
    "RULES",
    "Context",
    "CourseHistory",
    "Exposure",
    "Finding",
    "Guideline",
    "RuleInfo",
    "Severity",
    "Verdict",
    "cut_at",
    "evaluate",
    "evaluate_course",
]


def _nothing_after(history: CourseHistory, as_of: dt.date) -> bool:
    """Nothing in the history is dated after `as_of` (the nightly case)."""
    return _next_recorded_day(history, as_of) is None


def _next_recorded_day(history: CourseHistory, as_of: dt.date) -> dt.date | None:
    """The first day after `as_of` that a row is dated on: `cut_at` knows it from that day."""
    return min((day for kind in _full_days(history) for day in kind if day > as_of), default=None)


def _full_days(history: CourseHistory) -> list[list[dt.date]]:
    """Every day a row of the history is dated on (not only each kind's latest)."""
    return [
        [i.given_on for i in (*history.infusions, *history.exposure.infusions)],
        [c.effective_on for c in history.regimen_changes],
        [lab.collected_on for lab in history.labs],
        [s.performed_on for s in history.imaging],
        [a.assessed_on for a in history.assessments],
        list(history.relapses_noted_on),
        [day for day in (history.stopped_on, history.next_course_started_on) if day],
        [r.reviewed_on for r in history.all_reactions if r.reviewed_on],
        [day for m in history.medications for day in (m.started_on, m.stopped_on) if day],
        [day for s in history.screenings for day in (s.tested_on, s.reviewed_on) if day],
        [day for v in history.live_vaccinations for day in (v.given_on, v.reviewed_on) if day],
        [day for e in history.adverse_events for day in (e.onset_on, e.reviewed_on) if day],
        [day for c in history.consents for day in (c.given_on, *c.withdrawals)],
    ]


def cut_at(history: CourseHistory, as_of: dt.date) -> CourseHistory:
    """The history as it stood on `as_of`: nothing recorded for a later date is known yet."""
    if _nothing_after(history, as_of):
        return history
    infusions = tuple(i for i in history.infusions if i.given_on <= as_of)
    other_infusions = tuple(i for i in history.exposure.infusions if i.given_on <= as_of)
    known = {i.id for i in (*infusions, *other_infusions)}

    def until(rows: tuple[Any, ...], date_field: str) -> tuple[Any, ...]:
        return tuple(row for row in rows if getattr(row, date_field) <= as_of)

    def known_date(day: dt.date | None) -> dt.date | None:
        return day if day is not None and day <= as_of else None

    def taken(medication: MedicationRow) -> MedicationRow:
        if known_date(medication.stopped_on) == medication.stopped_on:
            return medication
        return dataclasses.replace(medication, stopped_on=None)  # the stop is not known yet

    def screened(screening: ScreeningRow) -> ScreeningRow:
        if known_date(screening.reviewed_on) == screening.reviewed_on:
            return screening
        return dataclasses.replace(screening, reviewed_on=None)  # the review is not known yet

    def reviewed(reaction: ReactionRow) -> ReactionRow:
        if known_date(reaction.reviewed_on) == reaction.reviewed_on:
            return reaction
        return dataclasses.replace(reaction, reviewed_on=None, review_decision="")  # not yet

    def vaccination_known(vaccination: VaccinationRow) -> VaccinationRow:
        if known_date(vaccination.reviewed_on) == vaccination.reviewed_on:
            return vaccination
        return dataclasses.replace(vaccination, reviewed_on=None, review_decision="")  # not yet

    def event_known(event: AdverseEventRow) -> AdverseEventRow:
        if known_date(event.reviewed_on) == event.reviewed_on:
            return event
        return dataclasses.replace(event, reviewed_on=None, review_decision="")  # not yet

    def consented(consent: ConsentRow) -> ConsentRow:
        return dataclasses.replace(
            consent,
            care_data_withdrawn_on=known_date(consent.care_data_withdrawn_on),
            research_withdrawn_on=known_date(consent.research_withdrawn_on),
            contact_withdrawn_on=known_date(consent.contact_withdrawn_on),
        )

    return dataclasses.replace(
        history,
        consents=tuple(consented(c) for c in history.consents if c.given_on <= as_of),
        infusions=infusions,
        regimen_changes=until(history.regimen_changes, "effective_on"),
        labs=until(history.labs, "collected_on"),
        imaging=until(history.imaging, "performed_on"),
        assessments=until(history.assessments, "assessed_on"),
        reactions=tuple(reviewed(r) for r in history.reactions if r.infusion_id in known),
        stopped_on=known_date(history.stopped_on),
        stop_reason=history.stop_reason if known_date(history.stopped_on) else "",
        relapses_noted_on=tuple(day for day in history.relapses_noted_on if day <= as_of),
        next_course_started_on=known_date(history.next_course_started_on),
        medications=tuple(taken(m) for m in history.medications if m.started_on <= as_of),
        screenings=tuple(screened(s) for s in history.screenings if s.tested_on <= as_of),
        live_vaccinations=tuple(
            vaccination_known(v) for v in history.live_vaccinations if v.given_on <= as_of
        ),
        adverse_events=tuple(event_known(e) for e in history.adverse_events if e.onset_on <= as_of),
        exposure=Exposure(
            infusions=other_infusions,
            reactions=tuple(
                reviewed(r) for r in history.exposure.reactions if r.infusion_id in known
            ),
        ),
    )


@dataclass(frozen=True)
class Verdict:
    """Every rule's findings for one course on a date, most severe first, and what the
    reconciliation needs to say why an alert cleared."""

    findings: list[Finding]
    stopped: bool  # the course had stopped by the date: its clears-on-stop alerts resolve so
    regimen_moved_due: bool  # a regimen change decided after the last infusion set the next due
    # The first day this verdict could differ without new data: a rule's date comes (a dose falls
    # late, a window closes, a watch ends) or a row dated later becomes known. None: never.
    reevaluate_on: dt.date | None = None


def evaluate_course(
    history: CourseHistory, as_of: dt.date, guideline: Guideline = DEFAULT
) -> Verdict:
    known = cut_at(history, as_of)
    plan = schedule(known, as_of)
    context = Context(history=known, as_of=as_of, g=guideline, schedule=plan)
    findings = [finding for _info, check in RULES.values() for finding in check(context)]
    findings.sort(key=lambda f: (f.severity.rank, f.due_on or as_of, f.rule_id, f.key))
    moved = plan.next_dose is not None and plan.next_dose.moved_by is not None
    changes = context.changes
    if known is not history and (upcoming := _next_recorded_day(history, as_of)):
        changes.append(upcoming)  # rows dated later: the verdict changes when one is known
    return Verdict(findings, known.is_stopped(as_of), moved, min(changes, default=None))


def evaluate(
    history: CourseHistory, as_of: dt.date, guideline: Guideline = DEFAULT
) -> list[Finding]:
    """Every rule's findings for one course on `as_of`, most severe first."""
    return evaluate_course(history, as_of, guideline).findings
