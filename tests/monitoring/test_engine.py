"""Properties of the engine as a whole: purity, determinism, and what adherence implies."""

import ast
import datetime as dt
import pathlib
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

import monitoring.guideline
from monitoring.guideline import DEFAULT, Guideline, evaluate
from tests.monitoring.builders import adherent_days, day, history, infusion, infusions, regimen

DOSE_RULES = {"induction_dose_missed", "maintenance_dose_overdue", "treatment_interrupted"}
OVERDUE_RULES = {"induction_dose_missed", "maintenance_dose_overdue"}
ENGINE = pathlib.Path(monitoring.guideline.__file__).parent


def test_it_imports_nothing_from_django_or_the_project():
    for module in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                allowed = name.startswith("monitoring.guideline") or top in sys.stdlib_module_names
                assert allowed, f"{module.name} imports {name}"
    code = "import sys, monitoring.guideline; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ENGINE.parent.parent)


def test_it_keeps_no_module_state():
    """No cache or counter between evaluations: the only module-level mutable values are the
    registries filled at import (RULES, BLOCKS) and `__all__`; nothing says `global` or caches."""
    allowed = {"RULES", "BLOCKS", "__all__"}
    for module in ENGINE.glob("*.py"):
        text = module.read_text()
        tree = ast.parse(text)
        assert not any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(tree))
        assert "lru_cache" not in text, module.name
        assert "functools.cache" not in text, module.name
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets: list[ast.expr] = node.targets
                value: ast.expr | None = node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            else:
                continue
            if isinstance(value, (ast.Dict, ast.List, ast.Set)):
                names = {getattr(target, "id", "") for target in targets}
                assert names <= allowed, f"{module.name}: module state {names}"


def test_it_fingerprints_a_sites_overrides_in_the_version():
    assert DEFAULT.version == "2026.12"
    assert DEFAULT.with_overrides({"dose_grace_days": 3}).version.startswith("2026.12+site.")
    assert Guideline().version == DEFAULT.version


def test_it_orders_findings_most_severe_first():
    course = history(infusions=infusions(0))  # dose 2 urgent; no baseline markers or MRI (info)
    severities = [f.severity.rank for f in evaluate(course, day(40))]
    assert severities == sorted(severities)


# A perfectly adherent course: every dose on its due date under any regimen sequence.
@st.composite
def adherent_courses(draw):
    intervals = draw(st.lists(st.integers(min_value=4, max_value=12), min_size=0, max_size=10))
    days = adherent_days()
    changes = []
    current = 8
    for interval in intervals:
        if interval != current:
            # Decided between two doses, in force before the next one is due.
            changes.append(regimen(days[-1] + 1, interval=interval, reason="other"))
            current = interval
        days.append(days[-1] + interval * 7)
    as_of = days[-1] + draw(
        st.integers(min_value=0, max_value=current * 7 + DEFAULT.dose_grace_days)
    )
    return history(infusions=infusions(*days), regimen_changes=changes), as_of


@settings(max_examples=150, deadline=None)
@given(adherent_courses())
def test_a_perfectly_adherent_course_raises_no_dose_alert(course_and_day):
    course, as_of = course_and_day
    raised = {f.rule_id for f in evaluate(course, day(as_of))}
    assert raised.isdisjoint(DOSE_RULES)


infusion_days = st.lists(
    st.integers(min_value=0, max_value=700), min_size=1, max_size=15, unique=True
)


@settings(max_examples=150, deadline=None)
@given(infusion_days, st.integers(min_value=0, max_value=900))
def test_evaluation_is_deterministic(days, as_of):
    course = history(infusions=infusions(*sorted(days)))
    assert evaluate(course, day(as_of)) == evaluate(course, day(as_of))


@settings(max_examples=200, deadline=None)
@given(
    infusion_days, st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=300)
)
def test_a_later_infusion_never_creates_an_overdue_for_an_earlier_due_date(days, after, wait):
    days = sorted(days)
    added_on = days[-1] + after
    as_of = day(added_on + wait)
    before = history(infusions=infusions(*days))
    with_added = history(infusions=(*before.infusions, infusion(added_on)))
    old = {(f.rule_id, f.due_on) for f in evaluate(before, as_of) if f.rule_id in OVERDUE_RULES}
    for finding in evaluate(with_added, as_of):
        if finding.rule_id in OVERDUE_RULES and (finding.rule_id, finding.due_on) not in old:
            assert finding.due_on is not None
            assert finding.due_on > day(added_on), finding


def test_it_explains_every_finding_with_its_source_and_grade():
    course = history(infusions=infusions(0), stopped_on=dt.date(2025, 2, 1), stop_reason="other")
    for finding in evaluate(course, dt.date(2025, 2, 2)):
        assert "Guideline (grade" in finding.explanation
        assert finding.evidence["due_on"] == (finding.due_on and finding.due_on.isoformat())
