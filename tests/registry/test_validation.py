"""The bad-input catalogue: each case gets a clear, field-specific message and saves nothing."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from registry import services
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Patient,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, PatientFactory, acting_superuser

TOMORROW = TODAY + dt.timedelta(days=1)

pytestmark = pytest.mark.django_db


def assert_refused(
    save: Callable[[], Any], model: type, field: str, fragment: str
) -> ValidationError:
    """`save` raises a ValidationError on `field` with a message containing `fragment`; no row."""
    before = model.objects.count()
    with pytest.raises(ValidationError) as caught:
        save()
    messages = caught.value.message_dict.get(field, [])
    assert any(fragment in message for message in messages), caught.value.message_dict
    assert model.objects.count() == before
    return caught.value


@pytest.fixture
def course():
    return CourseFactory(started_on=dt.date(2025, 1, 6))


def record_infusion(course, **overrides):
    values = {
        "course": course,
        "given_on": dt.date(2025, 1, 6),
        "weight_kg": Decimal("40"),
        "dose_mg": Decimal("200"),
        "by": acting_superuser(),
    } | overrides
    values.setdefault("weight_measured_on", values["given_on"])
    return lambda: services.infusion_record(**values)


@pytest.mark.parametrize(
    "weight", [Decimal("0.49"), Decimal("0"), Decimal("250.01"), Decimal("-3")]
)
def test_it_refuses_a_weight_outside_half_to_250_kg(course, weight):
    assert_refused(
        record_infusion(course, weight_kg=weight), Infusion, "weight_kg", "outside 0.5–250 kg"
    )


@pytest.mark.parametrize("weight", [Decimal("0.5"), Decimal("250")])
def test_it_accepts_the_weight_limits_themselves(course, weight):
    record_infusion(course, weight_kg=weight, dose_mg=weight * 5)()
    assert Infusion.objects.count() == 1


@pytest.mark.parametrize("dose", [Decimal("0"), Decimal("-100")])
def test_it_refuses_a_zero_or_negative_dose(course, dose):
    assert_refused(record_infusion(course, dose_mg=dose), Infusion, "dose_mg", "more than 0 mg")


def test_it_refuses_a_dose_above_10_mg_per_kg_without_an_intensification(course):
    assert_refused(
        record_infusion(course, dose_mg=Decimal("401")),
        Infusion,
        "dose_mg",
        "401 mg for 40 kg is 10.02 mg/kg, above the 10 mg/kg cap, and no intensification is in "
        "force",
    )


def test_it_accepts_a_dose_above_10_mg_per_kg_that_an_intensification_prescribes(course):
    services.regimen_change_record(
        course=course,
        effective_on=course.started_on,
        dose_mg_per_kg=Decimal("12.5"),
        interval_weeks=8,
        reason="intensification",
        note="Refractory; trough 1.2 µg/mL",
        by=acting_superuser(),
    )
    infusion = record_infusion(course, dose_mg=Decimal("500"))()
    assert infusion.mg_per_kg == Decimal("12.50")


def test_it_refuses_any_dose_above_20_mg_per_kg(course):
    assert_refused(
        record_infusion(course, dose_mg=Decimal("1950"), weight_kg=Decimal("39")),
        Infusion,
        "dose_mg",
        "1950 mg is 50.00 mg/kg, above 20 mg/kg: check the dose and the weight",
    )


def test_it_accepts_exactly_10_mg_per_kg_without_an_intensification(course):
    assert record_infusion(course, dose_mg=Decimal("400"))().mg_per_kg == 10


def test_it_refuses_a_dose_a_hair_above_10_mg_per_kg_even_if_it_rounds_to_10(course):
    # 400.1 mg / 40 kg = 10.0025 mg/kg: rounds to 10.00, but the database would refuse it.
    assert_refused(
        record_infusion(course, dose_mg=Decimal("400.1")), Infusion, "dose_mg", "10 mg/kg cap"
    )


def test_it_refuses_an_infusion_in_the_future(course):
    assert_refused(
        record_infusion(course, given_on=TOMORROW), Infusion, "given_on", "is in the future"
    )


def test_it_refuses_an_infusion_before_the_course_start(course):
    assert_refused(
        record_infusion(course, given_on=dt.date(2025, 1, 5)),
        Infusion,
        "given_on",
        "The course started on 06 Jan 2025",
    )


def test_it_refuses_an_infusion_before_birth():
    # A course row that predates birth can only come from a bad import; the infusion still says so.
    patient = PatientFactory(date_of_birth=dt.date(2020, 5, 1))
    course = CourseFactory(patient=patient, started_on=dt.date(2020, 1, 1))
    assert_refused(
        record_infusion(course, given_on=dt.date(2020, 4, 30)),
        Infusion,
        "given_on",
        "before the patient's date of birth",
    )


def test_it_refuses_a_second_infusion_on_the_same_day_in_the_same_course(course):
    InfusionFactory(course=course, given_on=dt.date(2025, 1, 6))
    assert_refused(
        record_infusion(course), Infusion, "given_on", "already has an infusion on 06 Jan 2025"
    )


def test_it_refuses_an_infusion_after_the_course_stopped():
    course = CourseFactory(stopped_on=dt.date(2025, 6, 1), stop_reason="remission")
    assert_refused(
        record_infusion(course, given_on=dt.date(2025, 6, 2)),
        Infusion,
        "given_on",
        "start a new course",
    )


@pytest.mark.parametrize(
    ("analyte", "value", "fragment"),
    [
        ("crp", Decimal("-0.1"), "CRP (mg/L) cannot be negative"),
        ("esr", Decimal("201"), "above the physical maximum of 200 mm/h"),
        ("esr", Decimal("-1"), "cannot be negative"),
        ("crp", Decimal("1000.5"), "above the physical maximum of 1000 mg/L"),
        ("ifx_trough", Decimal("-2"), "cannot be negative"),
        ("crp", None, "Enter the CRP (mg/L) value"),
    ],
)
def test_it_refuses_lab_values_out_of_physical_range(analyte, value, fragment):
    patient = PatientFactory()
    assert_refused(
        lambda: services.lab_result_record(
            patient=patient,
            collected_on=dt.date(2025, 2, 1),
            analyte=analyte,
            value=value,
            by=acting_superuser(),
        ),
        LabResult,
        "value",
        fragment,
    )


@pytest.mark.parametrize(("analyte", "value"), [("crp", "0"), ("esr", "200"), ("crp", "1000")])
def test_it_accepts_lab_values_at_the_physical_limits(analyte, value):
    result = services.lab_result_record(
        patient=PatientFactory(),
        collected_on=dt.date(2025, 2, 1),
        analyte=analyte,
        value=Decimal(value),
        by=acting_superuser(),
    )
    assert result.unit == {"crp": "mg/L", "esr": "mm/h"}[analyte]


def _lab(analyte: str, unit: str, **fields: Any) -> LabResult:
    return services.lab_result_record(
        patient=PatientFactory(),
        collected_on=dt.date(2025, 2, 1),
        analyte=analyte,
        unit=unit,
        by=acting_superuser(),
        **fields,
    )


def test_it_refuses_a_fixed_unit_test_measured_in_another_unit():
    # Stored as µg/mL, a trough measured in mg/dL would read a hundred times too low.
    assert_refused(
        lambda: _lab("ifx_trough", "mg/dL", value=Decimal("0.4")),
        LabResult,
        "unit",
        "Infliximab trough level (µg/mL) is recorded in µg/mL, not mg/dL: convert the value to "
        "µg/mL, or leave the unit empty.",
    )


@pytest.mark.parametrize(
    ("analyte", "unit", "fields", "allowed"),
    [
        ("anti_ifx", "Quillfeather", {"antibodies_positive": True},
         "AU/mL, ng/mL, µg/mL, U/mL, titre, or none"),
        ("anti_ifx", "mmol/L", {"antibodies_positive": True},
         "AU/mL, ng/mL, µg/mL, U/mL, titre, or none"),
        ("other", "mg%", {"analyte_name": "Ferritin"}, "mg/L, mg/dL, g/L, g/dL, µg/mL, µg/L"),
    ],
)  # fmt: skip
def test_it_refuses_a_unit_that_is_not_one_of_the_test_s_naming_those(
    analyte, unit, fields, allowed
):
    refused = assert_refused(lambda: _lab(analyte, unit, **fields), LabResult, "unit", allowed)
    assert refused.message_dict["unit"][0].startswith(f"{unit} is not a unit of ")


@pytest.mark.parametrize(
    ("analyte", "unit", "fields"),
    [
        ("anti_ifx", "", {"antibodies_positive": False}),
        ("anti_ifx", "titre", {"antibodies_positive": True, "value": Decimal("160")}),
        ("other", "×10⁹/L", {"analyte_name": "Neutrophils", "value": Decimal("2.1")}),
        ("other", "", {"analyte_name": "HLA-B27", "value": Decimal("1")}),
    ],
)
def test_it_records_a_test_in_one_of_its_units_or_none(analyte, unit, fields):
    assert _lab(analyte, unit, **fields).unit == unit


def test_it_refuses_an_antibody_result_without_detected_or_not():
    patient = PatientFactory()
    assert_refused(
        lambda: services.lab_result_record(
            patient=patient,
            collected_on=dt.date(2025, 2, 1),
            analyte="anti_ifx",
            by=acting_superuser(),
        ),
        LabResult,
        "antibodies_positive",
        "Record whether antibodies were detected",
    )


def test_it_refuses_a_lab_result_in_the_future():
    patient = PatientFactory()
    assert_refused(
        lambda: services.lab_result_record(
            patient=patient,
            collected_on=TOMORROW,
            analyte="crp",
            value=Decimal("1"),
            by=acting_superuser(),
        ),
        LabResult,
        "collected_on",
        "is in the future",
    )


def test_it_refuses_a_course_starting_before_the_previous_course_stopped():
    previous = CourseFactory(stopped_on=dt.date(2025, 12, 1), stop_reason="remission")
    assert_refused(
        lambda: services.course_start(
            patient=previous.patient, started_on=dt.date(2025, 11, 30), by=acting_superuser()
        ),
        TreatmentCourse,
        "started_on",
        "The previous course stopped on 01 Dec 2025",
    )


def test_it_refuses_a_second_course_while_one_is_active():
    active = CourseFactory()
    assert_refused(
        lambda: services.course_start(
            patient=active.patient, started_on=dt.date(2026, 1, 1), by=acting_superuser()
        ),
        TreatmentCourse,
        "started_on",
        "has not stopped; stop it before starting a new course",
    )


def test_it_accepts_a_new_course_from_the_day_the_previous_one_stopped():
    previous = CourseFactory(stopped_on=dt.date(2025, 12, 1), stop_reason="remission")
    course = services.course_start(
        patient=previous.patient, started_on=dt.date(2025, 12, 1), by=acting_superuser()
    )
    assert course.pk is not None


def test_it_refuses_a_course_starting_in_the_future():
    patient = PatientFactory()
    assert_refused(
        lambda: services.course_start(patient=patient, started_on=TOMORROW, by=acting_superuser()),
        TreatmentCourse,
        "started_on",
        "is in the future",
    )


@pytest.mark.parametrize(
    ("weeks", "field"),
    [([2, 6], "induction_weeks"), ([0, 6, 2], "induction_weeks"), ([0, 0, 2], "induction_weeks")],
)
def test_it_refuses_induction_weeks_that_do_not_start_at_0_and_increase(weeks, field):
    patient = PatientFactory()
    assert_refused(
        lambda: services.course_start(
            patient=patient,
            started_on=dt.date(2025, 1, 1),
            induction_weeks=weeks,
            by=acting_superuser(),
        ),
        TreatmentCourse,
        field,
        "increasing whole weeks starting at 0",
    )


def test_it_refuses_a_reaction_without_an_infusion():
    assert_refused(
        lambda: services.reaction_record(
            infusion=None, onset="acute", severity="mild", symptoms="Rash", by=acting_superuser()
        ),
        InfusionReaction,
        "infusion",
        "must be linked to the infusion it followed",
    )


def test_it_refuses_an_mrn_duplicated_in_a_site():
    existing = PatientFactory(mrn="H123456")

    def register(site):
        return services.patient_register(
            site=site,
            mrn="H123456",
            given_name="Ben",
            family_name="Okafor",
            date_of_birth=dt.date(2014, 2, 2),
            sex="male",
            by=acting_superuser(),
        )

    assert_refused(lambda: register(existing.site), Patient, "mrn", "has MRN H123456")
    other_site = PatientFactory().site
    assert register(other_site).mrn == "H123456"


def test_it_refuses_a_date_of_birth_in_the_future(site_a):
    assert_refused(
        lambda: services.patient_register(
            site=site_a,
            mrn="X1",
            given_name="Ben",
            family_name="Okafor",
            date_of_birth=TOMORROW,
            sex="male",
            by=acting_superuser(),
        ),
        Patient,
        "date_of_birth",
        "is in the future",
    )


def test_it_refuses_a_stop_date_before_the_last_infusion(course):
    InfusionFactory(course=course, given_on=dt.date(2025, 3, 17))
    assert_refused(
        lambda: services.course_stop(
            course=course,
            stopped_on=dt.date(2025, 3, 16),
            reason="remission",
            by=acting_superuser(),
        ),
        TreatmentCourse,
        "stopped_on",
        "The last infusion was given on 17 Mar 2025",
    )
    course.refresh_from_db()
    assert course.stopped_on is None


def test_it_refuses_a_stop_without_a_reason(course):
    with pytest.raises(ValidationError) as caught:
        services.course_stop(
            course=course, stopped_on=dt.date(2025, 6, 1), reason="", by=acting_superuser()
        )
    assert "Choose why the course stopped." in caught.value.message_dict["reason"]


def test_it_refuses_imaging_and_assessments_in_the_future():
    patient = PatientFactory()
    assert_refused(
        lambda: services.imaging_study_record(
            patient=patient, performed_on=TOMORROW, modality="wb_mri", by=acting_superuser()
        ),
        ImagingStudy,
        "performed_on",
        "is in the future",
    )
    assert_refused(
        lambda: services.assessment_record(
            patient=patient, assessed_on=TOMORROW, by=acting_superuser()
        ),
        ClinicalAssessment,
        "assessed_on",
        "is in the future",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("pain_score", "10.5"), ("physician_global", "-1"), ("chaq", "3.125")],
)
def test_it_refuses_assessment_scores_out_of_range(field, value):
    patient = PatientFactory()
    assert_refused(
        lambda: services.assessment_record(
            patient=patient,
            assessed_on=dt.date(2025, 2, 1),
            by=acting_superuser(),
            **{field: Decimal(value)},
        ),
        ClinicalAssessment,
        field,
        "is outside that",
    )


def test_it_refuses_a_relapse_in_the_future_or_without_evidence():
    course = CourseFactory(stopped_on=dt.date(2026, 1, 1), stop_reason="remission")
    assert_refused(
        lambda: services.relapse_record(
            course=course, noted_on=TOMORROW, evidence="MRI", by=acting_superuser()
        ),
        Relapse,
        "noted_on",
        "is in the future",
    )
    assert_refused(
        lambda: services.relapse_record(
            course=course, noted_on=dt.date(2026, 5, 1), evidence="  ", by=acting_superuser()
        ),
        Relapse,
        "evidence",
        "Describe the evidence",
    )


@pytest.mark.parametrize(
    ("reason", "dose", "interval", "fragment"),
    [
        ("taper", "5", "6", "A taper lowers the dose or lengthens the interval"),
        ("taper", "5", "8", "A taper lowers the dose or lengthens the interval"),
        ("intensification", "5", "10", "An intensification raises the dose"),
    ],
)
def test_it_refuses_a_regimen_change_that_contradicts_its_reason(
    course, reason, dose, interval, fragment
):
    assert_refused(
        lambda: services.regimen_change_record(
            course=course,
            effective_on=dt.date(2026, 2, 1),
            dose_mg_per_kg=Decimal(dose),
            interval_weeks=int(interval),
            reason=reason,
            by=acting_superuser(),
        ),
        RegimenChange,
        "reason",
        fragment,
    )


def test_it_refuses_a_weight_measured_after_the_infusion(course):
    assert_refused(
        record_infusion(course, weight_measured_on=dt.date(2025, 1, 7)),
        Infusion,
        "weight_measured_on",
        "measured before the infusion",
    )
