"""Numbers of the record as a person writes them (the patient page's tables)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from clinic.patient_record import number

register = template.Library()


@register.filter
def plain(value: Decimal | int | None) -> str:
    """1.250 → "1.25", 41.00 → "41"; nothing → "—"."""
    return "—" if value is None else number(value)
