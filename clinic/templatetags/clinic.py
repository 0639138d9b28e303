from __future__ import annotations

from typing import Any

from django import template

from clinic.evidence import Line, evidence_lines

register = template.Library()


@register.filter
def evidence_items(evidence: dict[str, Any]) -> list[Line]:
    """Evidence as readable (label, value) lines: a value is a text, or a list of texts."""
    return evidence_lines(evidence)


@register.filter
def is_list(value: Any) -> bool:
    return isinstance(value, list)
