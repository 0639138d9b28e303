"""The registry's own stylesheets are well formed: an unclosed block (a `@media (max-width: …) {`
left open) silently confines every rule after it to that condition, as once happened to the
infusion list's desktop styles."""

import re
from pathlib import Path

import pytest
from django.conf import settings

STYLESHEETS = sorted((Path(settings.BASE_DIR) / "static").rglob("*.css"))
COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", re.S)


@pytest.mark.parametrize("stylesheet", STYLESHEETS, ids=lambda path: path.name)
def test_every_block_of_the_stylesheet_is_closed(stylesheet):
    text = COMMENT_OR_STRING.sub("", stylesheet.read_text(encoding="utf-8"))
    depth = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"{stylesheet.name}:{line_number}: a block closed twice"
    assert depth == 0, f"{stylesheet.name}: {depth} block(s) left open"


def test_there_are_stylesheets_to_check():
    assert any(path.name == "clinic.css" for path in STYLESHEETS)
