"""The demo registry's alerts (`seed_demo`, then `evaluate_courses`): every rule raises, each alert
explains itself, and the situations of guideline version 2 come out as the demo means them.

The demo is seeded and evaluated once for the module (rolled back after it): every test here only
reads it.
"""

import datetime as dt
import io
from collections.abc import Iterator

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from monitoring.guideline import RULES
from monitoring.models import LIVE_STATUSES, Alert
from registry.models import TreatmentCourse


@pytest.fixture(scope="module")
def _seeded_and_evaluated(django_db_setup, django_db_blocker) -> Iterator[None]:
    at = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # tests/conftest.py's TODAY
    with time_machine.travel(at, tick=True), django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        call_command("evaluate_courses", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def evaluated_demo(_seeded_and_evaluated, db) -> None:
    """Each test's own transaction (`db`) inside the module's, which holds the demo."""


def test_the_demo_registry_raises_every_alert_type_with_its_explanation(evaluated_demo):
    raised = set(Alert.objects.values_list("rule", flat=True))
    assert raised == set(RULES)
    for alert in Alert.objects.all():
        info = RULES[alert.rule][0]
        assert f"Guideline (grade {info.grade}, {info.source}): “" in alert.explanation
        assert f"Clears when: {info.clears}." in alert.explanation
        assert alert.evidence


def test_the_demo_shows_the_situations_of_guideline_version_2(evaluated_demo):

    def live(given_name: str) -> dict[str, list[Alert]]:
        found: dict[str, list[Alert]] = {}
        for alert in Alert.objects.filter(
            course__patient__given_name=given_name, status__in=LIVE_STATUSES
        ).order_by("course__started_on"):
            found.setdefault(alert.rule, []).append(alert)
        return found

    # Retreated after 290 days off, antibodies from before the course, a reaction in the first.
    poppy = live("Poppy")
    latest = TreatmentCourse.objects.filter(patient__given_name="Poppy").latest("started_on")
    for rule in ("treatment_interrupted", "antibodies_detected"):
        assert [a.course_id for a in poppy[rule]] == [latest.pk], rule
    assert poppy["treatment_interrupted"][0].key == "course-start"
    # Every dose of the retreatment was premedicated, without reaction: nothing to advise.
    assert "premedication_advised" not in poppy
    # Stopped for inefficacy, still active: no "relapse after stopping".
    assert "relapse_after_stopping" not in live("Rory")
    # Intensified between doses three days ago: the next dose is not overdue yet.
    assert "maintenance_dose_overdue" not in live("Edie")
    # A taper at 16 weeks, on time: no dose alert, no interruption.
    assert not {"maintenance_dose_overdue", "treatment_interrupted"} & set(live("Arthur"))
    assert "dose_given_early" in live("Wren")
    assert "infusion_too_fast" in live("Ansel")
