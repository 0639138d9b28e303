"""reconsent_at_majority against the database: the loader reads the patient's date of birth and
consent records; a patient with two courses gets one alert (on the latest course); the patient's
own consent, recorded through the service, resolves it, and so does a withdrawal of every scope; a
site's age of majority is the engine's."""

import datetime as dt

import pytest

from monitoring.evaluation import evaluate_courses, load_histories
from monitoring.models import Alert, SiteGuideline
from registry import services
from tests.conftest import TODAY
from tests.factories import (
    ConsentFactory,
    CourseFactory,
    InfusionFactory,
    PatientFactory,
    consent_document,
)

pytestmark = pytest.mark.django_db

RULE = "reconsent_at_majority"
DAY = dt.timedelta(days=1)
TURNED_18 = TODAY - 40 * DAY


@pytest.fixture
def patient(site_a):
    """18 for 40 days, on a parent's consent given at 15; an earlier course and a retreatment."""
    patient = PatientFactory(site=site_a, date_of_birth=TURNED_18.replace(year=TURNED_18.year - 18))
    ConsentFactory(patient=patient, given_on=dt.date(2023, 3, 1), contact_given=False)
    earlier = CourseFactory(
        patient=patient,
        started_on=TODAY - 400 * DAY,
        stopped_on=TODAY - 120 * DAY,
        stop_reason="remission",
    )
    InfusionFactory(course=earlier, given_on=earlier.started_on)
    latest = CourseFactory(patient=patient, started_on=TODAY - 60 * DAY)
    InfusionFactory(course=latest, given_on=latest.started_on)
    return patient


def alerts(patient) -> list[Alert]:
    return list(Alert.objects.filter(course__patient=patient, rule=RULE).order_by("pk"))


def evaluate(patient) -> None:
    evaluate_courses(list(patient.courses.values_list("pk", flat=True)), TODAY)


def test_the_loader_reads_the_date_of_birth_and_every_consent(patient):
    other = ConsentFactory(given_on=dt.date(2024, 1, 1))  # another patient's
    [history, *_] = load_histories(list(patient.courses.values_list("pk", flat=True)))
    assert history.patient_born_on == patient.date_of_birth
    [row] = history.consents
    assert (row.given_on, row.consented_by) == (dt.date(2023, 3, 1), "parent_guardian")
    assert (row.care_data_given, row.research_given, row.contact_given) == (True, True, False)
    assert other.pk != row.id


def test_one_info_alert_on_the_latest_course_for_a_patient_with_two_courses(patient):
    evaluate(patient)
    [alert] = alerts(patient)
    latest = patient.courses.order_by("-started_on").first()
    assert alert.course == latest
    assert (alert.status, alert.severity) == ("open", "info")
    assert alert.due_on == TURNED_18
    assert alert.evidence["consents_in_force"][0]["scopes"] == ["care_data", "research"]


def test_the_patients_own_consent_recorded_by_a_data_manager_resolves_it(patient, data_manager_a):
    evaluate(patient)
    services.consent_record(
        patient=patient,
        document=consent_document("young-person-consent"),
        consented_by="patient",
        scopes=["care_data", "research"],
        given_on=TODAY,
        by=data_manager_a,
    )
    evaluate(patient)
    [alert] = alerts(patient)
    assert alert.status == "resolved"
    assert alert.resolution_reason == "condition cleared"


def test_withdrawing_every_scope_resolves_it_one_scope_does_not(patient, clinician_a):
    evaluate(patient)
    consent = patient.consents.get()
    services.consent_withdraw(
        consent=consent, scopes=["research"], withdrawn_on=TODAY, by=clinician_a
    )
    evaluate(patient)
    assert alerts(patient)[0].status == "open"
    services.consent_withdraw(
        consent=consent, scopes=["care_data"], withdrawn_on=TODAY, by=clinician_a
    )
    evaluate(patient)
    assert alerts(patient)[0].status == "resolved"


def test_a_site_of_age_of_majority_19_waits(patient, site_a):
    SiteGuideline.objects.create(site=site_a, overrides={"age_of_majority_years": 19})
    evaluate(patient)
    assert alerts(patient) == []
