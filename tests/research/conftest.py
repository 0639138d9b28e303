"""The demo registry, seeded once for a module (rolled back after it), and its three exports."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
import time_machine
from celery import current_app
from django.core.management import call_command
from django.db import transaction

from monitoring.evaluation import evaluate_courses
from registry.models import Role, TreatmentCourse
from research.models import ExportFormat, ExportRequest
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    MembershipFactory,
    PatientFactory,
    UserFactory,
)
from tests.research.support import EXACT, build


@pytest.fixture(scope="module")
def demo_exports(django_db_setup, django_db_blocker, tmp_path_factory, settings_module_root):
    """The demo seeded and evaluated (so it has alerts), then exported in every format, exactly
    ("csv", …) and with the defaults ("csv/default", …)."""
    at = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=True), django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        evaluate_courses(list(TreatmentCourse.objects.values_list("pk", flat=True)), TODAY)
        # Exact exports (a data manager's choice) to compare with the database, and exports
        # with a researcher's defaults (weeks, age bands, small cells suppressed).
        exports: dict[str, ExportRequest] = {
            fmt: build(fmt, **EXACT) for fmt in ExportFormat.values
        }
        exports |= {f"{fmt}/default": build(fmt) for fmt in ExportFormat.values}
        yield exports
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def settings_module_root(tmp_path_factory) -> Iterator[None]:
    """Export files of the module go to a temporary folder."""
    from django.conf import settings

    original = settings.EXPORT_ROOT
    settings.EXPORT_ROOT = tmp_path_factory.mktemp("exports")
    yield
    settings.EXPORT_ROOT = original


@pytest.fixture(autouse=True)
def _export_root(settings, tmp_path):
    """Built files go to the test's temporary folder, never to the project's data folder."""
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def eager(settings):
    """Celery runs the build in-process, as the embedded demo does."""
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def other_researcher(site_a):
    user = UserFactory(username="ron", is_staff=False)
    MembershipFactory(user=user, site=site_a, role=Role.RESEARCHER)
    return user


@pytest.fixture
def consenting_course(site_a):
    """A consenting patient of site A with a course and one infusion."""
    patient = PatientFactory(site=site_a, research_consent_given_on=TODAY - dt.timedelta(days=30))
    course = CourseFactory(patient=patient)
    InfusionFactory(course=course)
    return course


@pytest.fixture
def demo(demo_exports, db) -> dict[str, ExportRequest]:
    return demo_exports
