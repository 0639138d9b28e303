"""A patient with a record worth reading: the patient page's tests (clinic and browser) use it."""

from __future__ import annotations

from decimal import Decimal

from monitoring.evaluation import evaluate_courses
from registry.models import TreatmentCourse
from tests.clinic.support import DAY, START
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
    ReactionFactory,
)


def followed_course(site, **patient_fields) -> TreatmentCourse:
    """Induction from 04 Aug 2026 (days 0, 14, 42); the first maintenance dose was due on
    10 Nov 2026, 14 days before TODAY. Markers before and during induction, a low trough with
    antibodies, two whole-body MRIs and two assessments. Evaluated, so its alerts are open."""
    patient = PatientFactory(site=site, **patient_fields)
    course = CourseFactory(patient=patient, started_on=START)
    InfusionFactory(course=course, given_on=START, lot_number="IFX-2207")
    InfusionFactory(
        course=course,
        given_on=START + 14 * DAY,
        weight_measured_on=START,  # carried over from the first infusion
        premedication_antihistamine=True,
        premedication_antipyretic=True,
        lot_number="IFX-2207",
    )
    third = InfusionFactory(
        course=course, given_on=START + 42 * DAY, weight_kg=Decimal("41"), dose_mg=Decimal("205"),
        duration_minutes=None,
    )  # fmt: skip
    ReactionFactory(infusion=third, severity="moderate", onset="delayed")
    LabResultFactory(patient=patient, collected_on=START - 3 * DAY, value=Decimal("12"))
    LabResultFactory(
        patient=patient, collected_on=START - 3 * DAY, analyte="esr", value=Decimal("31"),
        unit="mm/h", reference_high=Decimal("15"),
    )  # fmt: skip
    LabResultFactory(
        patient=patient, collected_on=START + 10 * DAY, analyte="anti_ifx", value=None, unit="",
        antibodies_positive=False, assay_name="Drug-tolerant ELISA",
    )  # fmt: skip
    LabResultFactory(
        patient=patient, collected_on=START + 40 * DAY, value=Decimal("3.5"),
        reference_low=Decimal("0"), reference_high=Decimal("8"),
    )  # fmt: skip
    LabResultFactory(
        patient=patient, collected_on=START + 40 * DAY, analyte="ifx_trough",
        value=Decimal("3.1"), unit="µg/mL",
    )  # fmt: skip
    LabResultFactory(
        patient=patient, collected_on=START + 40 * DAY, analyte="anti_ifx", value=Decimal("48"),
        unit="AU/mL", antibodies_positive=True, assay_name="Drug-tolerant ELISA",
    )  # fmt: skip
    ImagingStudyFactory(
        patient=patient, performed_on=START - 5 * DAY, active_lesions=4, new_lesions=4,
        rinbo_total=7,
    )  # fmt: skip
    ImagingStudyFactory(
        patient=patient, performed_on=START + 84 * DAY, active_lesions=1, new_lesions=0,
        impression="improved", rai_cromris_total=3,
    )  # fmt: skip
    AssessmentFactory(
        patient=patient, assessed_on=START - 5 * DAY, pain_score=Decimal("6"),
        physician_global=Decimal("6.5"), patient_global=Decimal("7"), chaq=Decimal("1.25"),
        clinically_active_lesions=3, disease_state="active",
    )  # fmt: skip
    AssessmentFactory(
        patient=patient, assessed_on=START + 84 * DAY, pain_score=Decimal("1"),
        physician_global=Decimal("1"), patient_global=Decimal("1"), chaq=None,
        clinically_active_lesions=0, disease_state="",
    )  # fmt: skip
    evaluate_courses([course.pk], TODAY)
    return course
