"""The API door of the screening rules: a TB or hepatitis B result awaiting its specialist review
refuses an infusion (400, the hold's message, nothing stored); the clinician's review through the
API lifts it and clears the alert at once; screening recorded through the API clears
screening_missing."""

import datetime as dt

import pytest
from celery import current_app

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import Infusion
from tests.api.conftest import Record
from tests.factories import ScreeningResultFactory

pytestmark = pytest.mark.django_db

D = "2026-11-20"  # after the active course's last infusion (15 Sep 2026), before TODAY
SCREENING = "/api/v1/screening-results/"


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


def infusion_body(record: Record) -> dict:
    return {
        "course": record.course.pk,
        "given_on": D,
        "weight_kg": "40",
        "weight_measured_on": D,
        "dose_mg": "200",
    }


def test_an_unreviewed_positive_hepatitis_b_core_antibody_holds_the_infusion_until_reviewed(
    record_a, as_nurse, as_clinician, eager, django_capture_on_commit_callbacks
):
    core = ScreeningResultFactory(
        patient=record_a.patient,
        test="hbv_anti_hbc",
        tested_on=record_a.course.started_on - dt.timedelta(days=20),
        result="positive",
    )
    evaluate_courses([record_a.course.pk], dt.date(2026, 11, 24))
    alert = Alert.objects.get(course=record_a.course, rule="screening_positive")
    before = Infusion.objects.count()

    refused = as_nurse.post("/api/v1/infusions/", infusion_body(record_a), format="json")

    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "non_field_errors": [
            f"Hepatitis B core antibody (anti-HBc) of {core.tested_on:%d %b %Y} is positive, and "
            "no specialist review is recorded: no further infusion until a clinician records the "
            "specialist's review of it (GUIDELINE: screening_positive)."
        ]
    }
    assert Infusion.objects.count() == before

    with django_capture_on_commit_callbacks(execute=True):
        reviewed = as_clinician.post(
            f"{SCREENING}{core.pk}/review/", {"reviewed_on": D}, format="json"
        )
    assert reviewed.status_code == 200, reviewed.json()
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    given = as_nurse.post("/api/v1/infusions/", infusion_body(record_a), format="json")
    assert given.status_code == 201, given.json()


def test_screening_recorded_through_the_api_clears_screening_missing(
    record_a, as_clinician, eager, django_capture_on_commit_callbacks
):
    evaluate_courses([record_a.course.pk], dt.date(2026, 11, 24))
    alert = Alert.objects.get(course=record_a.course, rule="screening_missing", status="open")
    assert alert.severity == "urgent"
    with django_capture_on_commit_callbacks(execute=True):
        for test in ("tb_igra", "hbv_hbsag", "hbv_anti_hbc"):
            body = {"patient": record_a.patient.pk, "test": test, "tested_on": D}
            recorded = as_clinician.post(SCREENING, body | {"result": "negative"}, format="json")
            assert recorded.status_code == 201, recorded.json()
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
