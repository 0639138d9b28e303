from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from registry.selectors import staff_site_ids

register = template.Library()


@register.simple_tag
def days_overdue(alert: Any, today: dt.date) -> int:
    return (today - alert.due_on).days if alert.due_on else 0


@register.filter
def evidence_items(evidence: dict[str, Any]) -> list[tuple[str, Any]]:
    """Evidence as readable (label, value) pairs; rows (dicts) as "key value" lists."""

    def show(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k.replace('_', ' ')} {show(v)}" for k, v in value.items())
        if isinstance(value, list):
            return "; ".join(show(item) for item in value) or "none"
        return "—" if value is None else str(value)

    return [(key.replace("_", " "), show(value)) for key, value in evidence.items()]


@register.filter
def has_staff_role(user: Any) -> bool:
    """Whether the navigation offers the staff's pages (a clinician, nurse or data manager role)."""
    return bool(staff_site_ids(user))
