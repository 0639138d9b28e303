"""The phenotype: first symptoms against birth, diagnosis and today; Bristol "met" and the Jansson
score derived from their items; family history from the managed list; comorbidities."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry import services
from registry.models import Phenotype
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    JANSSON_ITEMS,
    JANSSON_MAX,
    SNOMED_DISPLAY,
    snomed_body_structure,
)
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a, date_of_birth=dt.date(2012, 3, 14))


def record(patient, by, **values):
    return services.phenotype_record(patient=patient, values=values, by=by)


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (dt.date(2023, 2, 1), "after the diagnosis"),
        (dt.date(2011, 1, 1), "before the patient's date of birth"),
        (dt.date(2027, 1, 1), "in the future"),
    ],
)
def test_first_symptoms_are_refused_out_of_place(patient, clinician_a, first, message):
    with pytest.raises(ValidationError) as refused:
        record(patient, clinician_a, first_symptoms_on=first)
    assert message in str(refused.value.message_dict["first_symptoms_on"])


def test_a_diagnosis_corrected_to_before_the_first_symptoms_is_refused(patient, clinician_a):
    record(patient, clinician_a, first_symptoms_on=dt.date(2022, 9, 1))
    with pytest.raises(ValidationError) as refused:
        services.patient_correct(
            patient=patient, changes={"diagnosed_on": dt.date(2022, 8, 1)}, by=clinician_a
        )
    assert "cannot be before them" in str(refused.value.message_dict["diagnosed_on"])


def test_one_phenotype_per_patient_corrected_in_place(patient, clinician_a):
    record(patient, clinician_a, first_symptoms_on=dt.date(2022, 9, 1))
    record(patient, clinician_a, bristol_clinical=True)
    phenotype = Phenotype.objects.get(patient=patient)
    assert (phenotype.first_symptoms_on, phenotype.bristol_clinical) == (dt.date(2022, 9, 1), True)
    assert [h.history_type for h in phenotype.history.order_by("history_date")] == ["+", "~"]
    with pytest.raises(ValidationError, match="No such field"):
        record(patient, clinician_a, bristol_met=True)


BRISTOL = [item.name for item in BRISTOL_ITEMS]


@pytest.mark.parametrize(
    ("values", "met"),
    [
        ((True, True, True, True, None), True),  # multifocal, low CRP: no biopsy needed
        ((True, True, False, True, True), True),  # unifocal, with a sterile inflammatory biopsy
        ((True, True, False, True, False), False),
        ((True, True, True, False, False), False),  # CRP ≥ 30 without a biopsy
        ((False, True, True, True, True), False),
        ((True, True, False, True, None), None),  # the biopsy would decide
        ((None, None, None, None, None), None),
    ],
)
def test_bristol_met_is_derived_from_its_items(values, met):
    phenotype = Phenotype(**dict(zip(BRISTOL, values, strict=True)))
    assert phenotype.bristol_met is met


def test_the_jansson_score_is_the_sum_of_the_items_present():
    phenotype = Phenotype(**{item.name: True for item in JANSSON_ITEMS})
    assert phenotype.jansson_score == JANSSON_MAX == 63
    phenotype.jansson_normal_blood_count = False
    assert phenotype.jansson_score == 50
    phenotype.jansson_crp_1_mg_dl = None
    assert phenotype.jansson_score is None  # not every item recorded: no score


def test_family_history_names_conditions_only_when_yes(patient, clinician_a):
    with pytest.raises(ValidationError, match="Name at least one condition"):
        record(patient, clinician_a, family_history="yes")
    with pytest.raises(ValidationError, match="only when the family history is yes"):
        record(patient, clinician_a, family_history="unknown", family_psoriasis=True)
    phenotype = record(patient, clinician_a, family_history="yes", family_psoriasis=True)
    assert phenotype.family_conditions == ["psoriasis"]


def test_the_database_refuses_family_conditions_without_a_history(patient):
    with pytest.raises(IntegrityError), transaction.atomic():
        Phenotype.objects.create(patient=patient, family_history="no", family_ibd=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Phenotype.objects.create(patient=patient, family_history="yes")


def test_a_comorbidity_is_refused_before_birth_in_the_future_and_twice(patient, clinician_a):
    services.comorbidity_record(
        patient=patient, condition="psoriasis", onset_on=dt.date(2024, 5, 1), by=clinician_a
    )
    for onset, message in (
        (dt.date(2010, 1, 1), "before the patient's date of birth"),
        (dt.date(2027, 1, 1), "in the future"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.comorbidity_record(
                patient=patient, condition="ibd", onset_on=onset, by=clinician_a
            )
        assert message in str(refused.value.message_dict["onset_on"])
    with pytest.raises(ValidationError, match="already recorded"):
        services.comorbidity_record(
            patient=patient, condition="psoriasis", onset_on=dt.date(2024, 6, 1), by=clinician_a
        )


def test_a_researcher_records_no_phenotype(patient, researcher_a):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        record(patient, researcher_a, first_symptoms_on=dt.date(2022, 9, 1))


def test_a_site_has_a_snomed_code_only_where_one_was_checked():
    assert snomed_body_structure("tibia").code == "12611008"
    assert snomed_body_structure("clavicle").code == "51299004"
    # A vertebra by the region of its level; without a level it stays uncoded.
    assert snomed_body_structure("vertebra", "C2").code == "84667006"
    assert snomed_body_structure("vertebra", "S1").code == "699698002"
    assert snomed_body_structure("vertebra", None) is None
    assert snomed_body_structure("metatarsal") is None
    assert snomed_body_structure("other") is None
    # Every code has its display, for the FHIR bodySite.
    assert SNOMED_DISPLAY["35769007"] == "Bone structure of thoracic vertebra"


def test_the_jansson_points_follow_the_published_odds_ratios():
    """The abstract's odds ratios, in the items' order: each item's points are round(3 ln OR)."""
    import math

    odds_ratios = (81.5, 30.0, 26.8, 20.3, 13.9, 10.9, 6.9)
    assert [item.points for item in JANSSON_ITEMS] == [round(3 * math.log(o)) for o in odds_ratios]
    assert JANSSON_MAX == 63
