"""methotrexate_monitoring_due against the database: the loader reads the patient's methotrexate
and its bloods, and the alert opens, then resolves when the bloods are recorded (through the lab
panel a nurse saves), when methotrexate stops, or when the course stops."""

import datetime as dt
from decimal import Decimal

import pytest

from monitoring.evaluation import evaluate_courses, load_histories
from monitoring.models import Alert
from registry import services
from registry.services import LabValue
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, LabResultFactory, MedicationFactory

pytestmark = pytest.mark.django_db

RULE = "methotrexate_monitoring_due"
DAY = dt.timedelta(days=1)


@pytest.fixture
def course(site_a):
    """Week 30 of a course on schedule, at site A; methotrexate for 20 weeks."""
    started = TODAY - 30 * 7 * DAY
    course = CourseFactory(patient__site=site_a, started_on=started)
    for week in (0, 2, 6, 14, 22, 30):
        InfusionFactory(course=course, given_on=started + week * 7 * DAY)
    return course


def on_methotrexate(course, **fields):
    fields = {"started_on": TODAY - 140 * DAY, "dose": Decimal("15"), "dose_unit": "mg/m2",
              "route": "subcutaneous", "frequency": "weekly"} | fields  # fmt: skip
    return MedicationFactory(patient=course.patient, drug="methotrexate", **fields)


def blood(course, analyte: str, days_ago: int, value: str = "3") -> None:
    LabResultFactory(
        patient=course.patient, analyte=analyte, value=Decimal(value),
        collected_on=TODAY - days_ago * DAY,
    )  # fmt: skip


def live_alerts(course) -> list[Alert]:
    return list(Alert.objects.filter(course=course, rule=RULE).order_by("pk"))


def test_the_loader_reads_methotrexate_only_and_every_blood(course):
    on_methotrexate(course, started_on=TODAY - 300 * DAY, stopped_on=TODAY - 150 * DAY,
                    stop_reason="dose_changed")  # fmt: skip
    on_methotrexate(course, started_on=TODAY - 150 * DAY)
    MedicationFactory(patient=course.patient, drug="naproxen")
    MedicationFactory(drug="methotrexate")  # another patient's
    blood(course, "neutrophils", 10)
    blood(course, "platelets", 10, "250")
    blood(course, "alt", 10, "19")
    [history] = load_histories([course.pk])
    assert [(m.drug, m.started_on, m.stopped_on) for m in history.medications] == [
        ("methotrexate", TODAY - 300 * DAY, TODAY - 150 * DAY),
        ("methotrexate", TODAY - 150 * DAY, None),
    ]
    assert {lab.analyte for lab in history.labs} == {"neutrophils", "platelets", "alt"}


def test_it_opens_an_info_alert_naming_the_missing_tests_and_their_last_dates(course):
    on_methotrexate(course)
    blood(course, "neutrophils", 120)
    blood(course, "platelets", 120, "250")
    blood(course, "alt", 20, "19")
    evaluate_courses([course.pk], TODAY)
    [alert] = live_alerts(course)
    assert (alert.status, alert.severity) == ("open", "info")
    assert alert.key == alert.due_on.isoformat() == str(TODAY - 22 * DAY)
    assert alert.title == "Methotrexate: blood count and ALT due"
    last = f"{TODAY - 120 * DAY:%d %b %Y}"
    assert (
        f"Missing: the neutrophil count (last on {last}) and the platelet count "
        f"(last on {last}). Draw a full blood count and record the results."
    ) in alert.explanation
    assert alert.evidence["missing"] == ["neutrophil count", "platelet count"]
    assert alert.evidence["last_alt"]["value"] == "19"


def test_recording_the_bloods_on_the_lab_panel_resolves_it(course, nurse_a):
    on_methotrexate(course)
    evaluate_courses([course.pk], TODAY)
    [alert] = live_alerts(course)
    services.lab_panel_record(
        patient=course.patient,
        collected_on=TODAY,
        results={
            "neutrophils": LabValue("neutrophils", Decimal("2.9")),
            "platelets": LabValue("platelets", Decimal("310")),
        },
        by=nurse_a,
    )
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert alert.status == "open"  # ALT is still missing: the same due date, the same alert
    assert alert.evidence["missing"] == ["ALT"]
    services.lab_panel_record(
        patient=course.patient,
        collected_on=TODAY,
        results={"alt": LabValue("alt", Decimal("24"), unit="IU/L")},
        by=nurse_a,
    )
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert [e.kind for e in alert.events.all()] == ["raised", "resolved"]


def test_stopping_methotrexate_resolves_it(course, clinician_a):
    medication = on_methotrexate(course)
    evaluate_courses([course.pk], TODAY)
    [alert] = live_alerts(course)
    services.medication_stop(
        medication=medication, stopped_on=TODAY, reason="remission", by=clinician_a
    )
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")


def test_stopping_the_course_resolves_it_as_course_stopped(course, clinician_a):
    on_methotrexate(course)
    evaluate_courses([course.pk], TODAY)
    [alert] = live_alerts(course)
    services.course_stop(course=course, stopped_on=TODAY, reason="remission", by=clinician_a)
    evaluate_courses([course.pk], TODAY)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "course stopped")


def test_bloods_in_time_raise_nothing(course):
    on_methotrexate(course)
    for analyte in ("neutrophils", "platelets", "alt"):
        blood(course, analyte, 98, "200")
    evaluate_courses([course.pk], TODAY)
    assert live_alerts(course) == []
