"""Fixtures of the API tests: a small clinical record at each site, and clients by role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from celery import current_app
from rest_framework.test import APIClient

from api.models import ApiToken
from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import (
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
)
from tests.conftest import TODAY
from tests.factories import (
    AdverseEventFactory,
    AssessmentFactory,
    ComorbidityFactory,
    ConsentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    MedicationFactory,
    PatientFactory,
    PhenotypeFactory,
    ReactionFactory,
    RegimenChangeFactory,
    RelapseFactory,
    ScreeningResultFactory,
    VaccinationFactory,
)

DAY = dt.timedelta(days=1)
# The active course: induction on time (days 0, 14, 42 from 04 Aug 2026) at 40 kg and 200 mg; the
# first maintenance dose was due on 10 Nov 2026, 14 days before TODAY.
START = TODAY - 112 * DAY


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemathesis: property-based tests of the live OpenAPI schema (bounded; in CI)"
    )


@dataclass
class Record:
    """One site's clinical record, one row of each kind."""

    site: Site
    patient: Patient
    course: TreatmentCourse  # active, maintenance dose overdue
    stopped_course: TreatmentCourse  # the earlier course, stopped in remission
    regimen_change: RegimenChange
    infusion: Infusion
    reaction: InfusionReaction
    lab_result: LabResult
    imaging_study: ImagingStudy
    assessment: ClinicalAssessment
    relapse: Relapse
    medication: Medication  # naproxen, taken
    alert: Alert  # maintenance_dose_overdue, open
    new_patient: Patient  # registered, no course yet
    adverse_event: AdverseEvent  # of the active course, not reviewed
    # A positive hepatitis C antibody before the active course, not reviewed: it awaits its review
    # without holding infusions (a TB or hepatitis B one would: tests/api/test_screening_hold.py).
    screening_result: ScreeningResult
    vaccination: Vaccination  # a live one (MMR) before the active course, not reviewed
    consent: Consent
    phenotype: Phenotype
    comorbidity: Comorbidity  # psoriasis
    export: Any = None  # a research export of the site (the access matrix adds one)
    retreatable: Any = None  # a relapse of a patient with no active course (the matrix adds one)


def build_record(site: Site, *, mrn: str) -> Record:
    patient = PatientFactory(site=site, mrn=mrn, date_of_birth=dt.date(2012, 3, 14))
    stopped = CourseFactory(
        patient=patient,
        started_on=dt.date(2025, 1, 6),
        stopped_on=dt.date(2025, 6, 2),
        stop_reason="remission",
    )
    change = RegimenChangeFactory(
        course=stopped, effective_on=dt.date(2025, 4, 1), interval_weeks=10, reason="taper"
    )
    relapse = RelapseFactory(course=stopped, patient=patient, noted_on=dt.date(2026, 7, 20))
    course = CourseFactory(patient=patient, started_on=START)
    infusions = [InfusionFactory(course=course, given_on=START + n * DAY) for n in (0, 14, 42)]
    reaction = ReactionFactory(infusion=infusions[0])
    lab = LabResultFactory(patient=patient, collected_on=START)
    imaging = ImagingStudyFactory(patient=patient, performed_on=START - 2 * DAY)
    assessment = AssessmentFactory(patient=patient, assessed_on=START)
    evaluate_courses([course.pk], TODAY)
    alert = Alert.objects.get(course=course, rule="maintenance_dose_overdue")
    return Record(
        site=site,
        patient=patient,
        course=course,
        stopped_course=stopped,
        regimen_change=change,
        infusion=infusions[-1],
        reaction=reaction,
        lab_result=lab,
        imaging_study=imaging,
        assessment=assessment,
        relapse=relapse,
        medication=MedicationFactory(patient=patient, started_on=START),
        alert=alert,
        new_patient=PatientFactory(site=site, mrn=f"{mrn}-2", date_of_birth=dt.date(2015, 6, 1)),
        adverse_event=AdverseEventFactory(
            patient=patient, course=course, onset_on=START + 20 * DAY
        ),
        screening_result=ScreeningResultFactory(
            patient=patient, test="hcv_antibody", tested_on=START - 30 * DAY, result="positive"
        ),
        vaccination=VaccinationFactory(patient=patient, vaccine="mmr", given_on=START - 60 * DAY),
        consent=ConsentFactory(patient=patient, given_on=START - 90 * DAY),
        phenotype=PhenotypeFactory(patient=patient, first_symptoms_on=dt.date(2022, 9, 1)),
        comorbidity=ComorbidityFactory(patient=patient, condition="psoriasis"),
    )


def built_export(record: Record, requested_by: Any, tmp_path: Any) -> Any:
    """A finished CSV export of the record's site by `requested_by`, its file an empty zip."""
    from research.models import ExportRequest

    archive = tmp_path / f"{record.site.code}.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    export = ExportRequest.objects.create(
        requested_by=requested_by,
        format="csv",
        status="done",
        consent_checked_on=TODAY,
        file_path=str(archive),
    )
    export.sites.set([record.site])
    return export


@pytest.fixture
def record_a(site_a) -> Record:
    return build_record(site_a, mrn="MRN-A1")


@pytest.fixture
def record_b(site_b) -> Record:
    return build_record(site_b, mrn="MRN-B1")


def api_token(user: Any) -> str:
    """A new API token of `user`: its secret."""
    _token, secret = ApiToken.objects.issue(user=user, name="Test script")
    return str(secret)


def token_client(user: Any | None) -> APIClient:
    """A client that authenticates like a script does: with an API token of the user."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.fixture
def as_clinician(clinician_a) -> APIClient:
    return token_client(clinician_a)


@pytest.fixture
def as_nurse(nurse_a) -> APIClient:
    return token_client(nurse_a)


@pytest.fixture
def as_researcher(researcher_a) -> APIClient:
    return token_client(researcher_a)


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks,
) -> Iterator[Callable[[], AbstractContextManager[Any]]]:
    """`with committed(): client.post(...)` runs, on leaving the block, the on-commit callbacks the
    request registered, as its commit would (under the `db` fixture the test's transaction never
    commits): the one re-evaluation the action asked for, in this process (Celery eager)."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        current_app.conf.task_always_eager = eager
