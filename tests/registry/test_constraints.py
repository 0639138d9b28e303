"""The database refuses bad rows by itself, even from a write that skips validation (a raw import,
a bulk update, a bug). These run on PostgreSQL, the production database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from registry.models import Infusion, InfusionReaction, LabResult, Patient, TreatmentCourse
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    RelapseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def assert_database_refuses(make_row, constraint: str) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make_row()
    assert constraint in str(caught.value)


def test_it_runs_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"weight_kg": Decimal("0.4"), "dose_mg": Decimal("2")}, "infusion_weight_in_range"),
        ({"weight_kg": Decimal("250.5")}, "infusion_weight_in_range"),
        ({"dose_mg": Decimal("0")}, "infusion_dose_positive"),
        ({"dose_mg": Decimal("-50")}, "infusion_dose_positive"),
        ({"dose_mg": Decimal("800.1")}, "infusion_dose_below_ceiling"),
        ({"duration_minutes": 0}, "infusion_duration_positive"),
    ],
)
def test_it_refuses_bad_infusion_rows(fields, constraint):
    assert_database_refuses(
        lambda: InfusionFactory(**({"weight_kg": Decimal("40")} | fields)), constraint
    )


def test_it_allows_up_to_the_ceiling_where_an_intensification_prescribes_it():
    # Whether the regimen prescribes 20 mg/kg is the service's safeguard; the database only
    # refuses what no regimen can.
    infusion = InfusionFactory(dose_mg=Decimal("800"))
    assert Infusion.objects.filter(pk=infusion.pk).exists()


def test_it_refuses_an_infusion_without_the_date_its_weight_was_measured():
    assert_database_refuses(lambda: InfusionFactory(weight_measured_on=None), "weight_measured_on")


def test_it_refuses_a_review_without_its_clinician():
    assert_database_refuses(
        lambda: ReactionFactory(reviewed_on=dt.date(2025, 1, 8), review_decision="stop"),
        "reaction_review_complete",
    )


def test_it_refuses_a_review_decision_that_is_not_one():
    assert_database_refuses(
        lambda: ReactionFactory(
            reviewed_on=dt.date(2025, 1, 8), reviewed_by=UserFactory(), review_decision="maybe"
        ),
        "reaction_review_decision_valid",
    )


def test_it_refuses_two_infusions_on_one_day_of_a_course():
    first = InfusionFactory()
    assert_database_refuses(
        lambda: InfusionFactory(course=first.course, given_on=first.given_on),
        "infusion_one_per_course_per_day",
    )


@pytest.mark.parametrize(
    ("analyte", "value"),
    [("crp", "-0.5"), ("esr", "200.5"), ("ifx_trough", "-1"), ("crp", None)],
)
def test_it_refuses_lab_values_out_of_physical_range(analyte, value):
    assert_database_refuses(
        lambda: LabResultFactory(analyte=analyte, value=None if value is None else Decimal(value)),
        "lab_value_in_physical_range",
    )


def test_it_requires_a_detected_or_not_for_antibodies_only():
    assert_database_refuses(
        lambda: LabResultFactory(analyte="anti_ifx", value=None, antibodies_positive=None),
        "lab_antibody_result_only_for_antibodies",
    )
    assert_database_refuses(
        lambda: LabResultFactory(analyte="crp", antibodies_positive=True),
        "lab_antibody_result_only_for_antibodies",
    )
    LabResultFactory(analyte="anti_ifx", value=None, antibodies_positive=True)
    assert LabResult.objects.count() == 1


def test_it_refuses_a_lab_result_stored_twice():
    first = LabResultFactory(value=Decimal("3.2"))
    assert_database_refuses(
        lambda: LabResultFactory(patient=first.patient, value=Decimal("3.200")),
        "lab_result_no_duplicates",
    )


def test_it_counts_missing_parts_of_a_lab_result_as_equal():
    """NULLS NOT DISTINCT: an antibody result without a titre is the same result twice."""
    first = LabResultFactory(analyte="anti_ifx", value=None, antibodies_positive=False, unit="")
    assert_database_refuses(
        lambda: LabResultFactory(
            patient=first.patient, analyte="anti_ifx", value=None, antibodies_positive=False
        ),
        "lab_result_no_duplicates",
    )


def test_it_keeps_lab_results_that_differ_in_any_part_of_their_identity():
    first = LabResultFactory()
    patient = first.patient
    LabResultFactory(patient=patient, value=Decimal("3.3"))
    LabResultFactory(patient=patient, collected_on=dt.date(2025, 1, 7))
    LabResultFactory(value=first.value)  # another patient
    LabResultFactory(patient=patient, analyte="other", analyte_name="Ferritin", unit="")
    LabResultFactory(patient=patient, analyte="other", analyte_name="Calprotectin", unit="")
    for detected in (True, False):
        LabResultFactory(
            patient=patient, analyte="anti_ifx", value=None, antibodies_positive=detected
        )
    # The other parts of a result do not make it another one.
    assert_database_refuses(
        lambda: LabResultFactory(patient=patient, reference_high=Decimal("5"), assay_name="X"),
        "lab_result_no_duplicates",
    )
    assert LabResult.objects.count() == 8


@pytest.mark.parametrize(
    ("analyte", "unit", "fields"),
    [
        ("anti_ifx", "Quillfeather", {"antibodies_positive": True}),  # free text
        ("anti_ifx", "mmol/L", {"antibodies_positive": True}),  # a unit, not the antibodies'
        ("crp", "mg/dL", {}),
        ("crp", "", {}),  # CRP is always in mg/L
        ("other", "mg%", {"analyte_name": "Ferritin"}),
    ],
)
def test_it_refuses_a_unit_that_is_not_one_of_the_test_s(analyte, unit, fields):
    assert_database_refuses(
        lambda: LabResultFactory(analyte=analyte, unit=unit, **fields), "lab_unit_of_its_analyte"
    )


def test_a_duplicate_lab_result_is_refused_in_the_constraint_s_words():
    first = LabResultFactory()
    copy = LabResult(
        patient=first.patient, collected_on=first.collected_on, analyte="crp", unit="mg/L"
    )
    copy.value = first.value
    with pytest.raises(ValidationError) as refused:
        copy.validate_constraints()
    assert refused.value.messages == [
        "This result is already recorded: same patient, test, date and value."
    ]


def test_it_refuses_an_mrn_twice_in_a_site_but_not_across_sites():
    first = PatientFactory(mrn="H1")
    assert_database_refuses(
        lambda: PatientFactory(site=first.site, mrn="H1"), "patient_mrn_unique_per_site"
    )
    PatientFactory(mrn="H1")
    assert Patient.objects.filter(mrn="H1").count() == 2


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        (
            {"stopped_on": dt.date(2024, 12, 31), "stop_reason": "other"},
            "course_stopped_after_start",
        ),
        ({"stopped_on": dt.date(2025, 6, 1)}, "course_stop_reason_with_stop_date"),
        ({"stop_reason": "remission"}, "course_stop_reason_with_stop_date"),
        ({"planned_dose_mg_per_kg": Decimal("0")}, "course_planned_dose_in_range"),
        ({"planned_dose_mg_per_kg": Decimal("10.5")}, "course_planned_dose_in_range"),
        ({"maintenance_interval_weeks": 0}, "course_interval_in_range"),
    ],
)
def test_it_refuses_bad_course_rows(fields, constraint):
    assert_database_refuses(
        lambda: CourseFactory(started_on=dt.date(2025, 1, 1), **fields), constraint
    )


def test_it_refuses_a_second_active_course_of_a_patient():
    first = CourseFactory()
    assert_database_refuses(
        lambda: CourseFactory(patient=first.patient, started_on=dt.date(2026, 1, 1)),
        "course_one_active_per_patient",
    )


def test_it_refuses_overlapping_courses_of_a_patient():
    first = CourseFactory(
        started_on=dt.date(2024, 1, 1), stopped_on=dt.date(2025, 1, 1), stop_reason="remission"
    )
    assert_database_refuses(
        lambda: CourseFactory(
            patient=first.patient,
            started_on=dt.date(2024, 12, 1),
            stopped_on=dt.date(2025, 3, 1),
            stop_reason="other",
        ),
        "course_no_overlap_per_patient",
    )
    # Back to back is not an overlap: a course occupies [started_on, stopped_on).
    CourseFactory(patient=first.patient, started_on=dt.date(2025, 1, 1))
    assert TreatmentCourse.objects.filter(patient=first.patient).count() == 2


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"dose_mg_per_kg": Decimal("0")}, "regimen_dose_in_range"),
        ({"interval_weeks": 53}, "regimen_interval_in_range"),
        ({"reason": "whim"}, "regimen_reason_valid"),
    ],
)
def test_it_refuses_bad_regimen_changes(fields, constraint):
    assert_database_refuses(lambda: RegimenChangeFactory(**fields), constraint)


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"pain_score": Decimal("11")}, "assessment_pain_score_in_range"),
        ({"chaq": Decimal("3.5")}, "assessment_chaq_in_range"),
        ({"disease_state": "unclear"}, "assessment_disease_state_valid"),
    ],
)
def test_it_refuses_bad_assessments(fields, constraint):
    assert_database_refuses(lambda: AssessmentFactory(**fields), constraint)


def test_it_refuses_a_relapse_without_evidence():
    assert_database_refuses(lambda: RelapseFactory(evidence=""), "relapse_evidence_not_blank")


def test_it_refuses_a_reaction_without_an_infusion():
    assert_database_refuses(
        lambda: InfusionReaction.objects.create(onset="acute", severity="mild", symptoms="Rash"),
        "infusion_id",
    )


def test_it_refuses_a_second_role_for_a_person_at_a_site():
    membership = MembershipFactory()
    assert_database_refuses(
        lambda: MembershipFactory(user=membership.user, site=membership.site, role="nurse"),
        "membership_one_role_per_site",
    )
