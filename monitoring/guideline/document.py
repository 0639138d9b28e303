"""The guideline's tables as Markdown, generated from the rule registry and the parameters.

`docs/GUIDELINE.md` and the README carry these tables between `<!-- generated: NAME -->` and
`<!-- end: NAME -->` markers; a test holds the files to the code, and
`python manage.py guideline_document --write` rewrites them. So the documents cannot drift from
what the engine does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from monitoring.guideline.parameters import BASE_VERSION, parameter_info
from monitoring.guideline.rules import RULES


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return "" if value is None else str(value)


def rules_table() -> str:
    lines = [
        "| id | raises when | severity | grade | key | clears when |",
        "|---|---|---|---|---|---|",
    ]
    for rule_id, (info, _check) in RULES.items():
        cells = (f"`{rule_id}`", info.raises, info.severity, info.grade, info.key, info.clears)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def parameters_table() -> str:
    lines = [
        "| name | default | unit | grade | source | note | range |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in parameter_info():
        bounds = (
            f"{_value(p.minimum)}–{_value(p.maximum)}"
            if p.minimum is not None or p.maximum is not None
            else ""
        )
        cells = (f"`{p.name}`", _value(p.default), p.unit, p.grade, p.source, p.note, bounds)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def version_line() -> str:
    return f"Guideline version `{BASE_VERSION}` (version 2), {len(RULES)} rules."


BLOCKS: dict[str, Callable[[], str]] = {
    "rules": rules_table,
    "parameters": parameters_table,
    "version": version_line,
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(\n<!-- end: {name} -->)", re.DOTALL)


def blocks_in(text: str) -> dict[str, str]:
    """The generated blocks a document carries, by name, as they stand in it."""
    found = {}
    for name in BLOCKS:
        match = _pattern(name).search(text)
        if match:
            found[name] = match.group(2)
    return found


def refreshed(text: str) -> str:
    """`text` with every generated block it carries replaced by the code's current table."""
    for name, generate in BLOCKS.items():
        table = generate()

        def with_table(match: re.Match[str], table: str = table) -> str:
            return match.group(1) + table + match.group(3)

        text = _pattern(name).sub(with_table, text)
    return text
