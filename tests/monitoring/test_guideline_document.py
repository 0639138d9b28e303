"""The guideline the code implements is the one its documents show: the tables of docs/GUIDELINE.md
and the README are the rule registry and the parameters, and no parameter goes unread."""

import dataclasses
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from monitoring.guideline import RULES, Guideline
from monitoring.guideline.document import BLOCKS, blocks_in, refreshed

ROOT = Path(__file__).resolve().parents[2]

# Where the parameters are read: the engine, and the entry safeguards and the scope.
READERS = [
    ROOT / "monitoring/guideline/rules.py",
    ROOT / "monitoring/guideline/schedule.py",
    ROOT / "monitoring/evaluation.py",
    ROOT / "registry/safeguards.py",
    ROOT / "monitoring/safeguards.py",
]


@pytest.mark.parametrize(
    ("document", "blocks"),
    [("docs/GUIDELINE.md", {"version", "rules", "parameters"}), ("README.md", {"rules"})],
)
def test_the_documents_carry_the_tables_the_code_generates(document, blocks):
    text = (ROOT / document).read_text(encoding="utf-8")
    found = blocks_in(text)
    assert set(found) == blocks
    for name in blocks:
        assert found[name] == BLOCKS[name](), f"{document}: the {name} table drifted"


def test_the_rule_table_lists_every_rule_with_its_clears_when():
    table = BLOCKS["rules"]()
    for rule_id, (info, _check) in RULES.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{rule_id}` |"))
        assert info.clears in row.replace("\\|", "|")
        assert f"| {info.grade} |" in row


def test_a_drifted_table_is_rewritten_from_the_code():
    text = (ROOT / "docs/GUIDELINE.md").read_text(encoding="utf-8")
    drifted = text.replace("| `dose_given_early` |", "| `dose_given_too_early` |")
    assert drifted != text
    assert refreshed(drifted) == text


def test_the_command_finds_the_documents_in_step_with_the_code(capsys):
    call_command("guideline_document")
    assert "match the code" in capsys.readouterr().out


def test_every_parameter_is_read_by_a_rule_or_a_safeguard():
    source = "\n".join(path.read_text(encoding="utf-8") for path in READERS)
    unread = [
        f.name for f in dataclasses.fields(Guideline) if not re.search(rf"\.{f.name}\b", source)
    ]
    assert unread == []
