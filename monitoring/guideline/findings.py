"""What a rule returns: a finding naming its rule, the guideline text behind it, and its data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return {"urgent": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class RuleInfo:
    """A rule of GUIDELINE.md: its id (the function's name), what it raises, and why."""

    id: str
    title: str
    raises: str  # GUIDELINE.md's "raises when"
    severity: str  # as GUIDELINE.md states it, e.g. "warning → urgent past overdue"
    grade: str
    quote: str  # the guideline text it enforces
    source: str
    key: str  # what makes one problem one alert
    clears: str  # GUIDELINE.md's "clears when", said to the reader of the alert (and its docs)
    # GUIDELINE.md's "clears when" column says "course stopped": once the course has stopped, its
    # alert resolves with that reason and the rule raises nothing more for that course.
    clears_on_stop: bool = False


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    key: str
    title: str
    explanation: str
    due_on: dt.date | None = None
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def plain(value: Any) -> Any:
    """Evidence as JSON-ready values: dates as ISO text, decimals as text, rows as dicts."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
