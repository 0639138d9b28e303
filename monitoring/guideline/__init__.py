"""The guideline engine: pure functions over plain data. Imports nothing from Django or the project.

findings = evaluate(history, as_of=date, guideline=Guideline())
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from monitoring.guideline.findings import Finding, RuleInfo, Severity
from monitoring.guideline.history import CourseHistory
from monitoring.guideline.parameters import DEFAULT, Guideline
from monitoring.guideline.rules import RULES

__all__ = [
    "DEFAULT",
    "RULES",
    "CourseHistory",
    "Finding",
    "Guideline",
    "RuleInfo",
    "Severity",
    "cut_at",
    "evaluate",
]


def cut_at(history: CourseHistory, as_of: dt.date) -> CourseHistory:
    """The history as it stood on `as_of`: nothing recorded for a later date is known yet."""
    infusions = tuple(i for i in history.infusions if i.given_on <= as_of)
    known_infusions = {i.id for i in infusions}

    def until(rows: tuple[Any, ...], date_field: str) -> tuple[Any, ...]:
        return tuple(row for row in rows if getattr(row, date_field) <= as_of)

    def known(day: dt.date | None) -> dt.date | None:
        return day if day is not None and day <= as_of else None

    return dataclasses.replace(
        history,
        infusions=infusions,
        regimen_changes=until(history.regimen_changes, "effective_on"),
        labs=until(history.labs, "collected_on"),
        imaging=until(history.imaging, "performed_on"),
        assessments=until(history.assessments, "assessed_on"),
        reactions=tuple(r for r in history.reactions if r.infusion_id in known_infusions),
        stopped_on=known(history.stopped_on),
        stop_reason=history.stop_reason if known(history.stopped_on) else "",
        relapse_noted_on=known(history.relapse_noted_on),
        next_course_started_on=known(history.next_course_started_on),
    )


def evaluate(
    history: CourseHistory, as_of: dt.date, guideline: Guideline = DEFAULT
) -> list[Finding]:
    """Every rule's findings for one course on `as_of`, most severe first."""
    known = cut_at(history, as_of)
    findings = [
        finding for _info, check in RULES.values() for finding in check(known, as_of, guideline)
    ]
    return sorted(findings, key=lambda f: (f.severity.rank, f.due_on or as_of, f.rule_id, f.key))
