"""Lesion sites: each refusal in the model, the database and the service; the counts derived from
the sites (what the engine reads), and counts recorded without sites kept as they are."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from monitoring.evaluation import load_histories
from registry import services
from registry.models import ImagingStudy, LesionSite
from tests.factories import AssessmentFactory, CourseFactory, ImagingStudyFactory, PatientFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 6, 2)


def site(bone: str, laterality: str = "", level: str = "", **flags: bool) -> LesionSite:
    if not laterality:
        laterality = "midline" if bone in ("vertebra", "sternum") else "left"
    return LesionSite(bone=bone, laterality=laterality, vertebral_level=level, **flags)


def mri(patient, sites, by, **fields):
    return services.imaging_study_record(
        patient=patient,
        performed_on=fields.pop("performed_on", DAY),
        modality=fields.pop("modality", "wb_mri"),
        lesion_sites=sites,
        by=by,
        **fields,
    )


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a)


def test_an_mri_s_counts_are_derived_from_its_sites(patient, clinician_a):
    study = mri(
        patient,
        [
            site("vertebra", level="T7", active=True, new=True, vertebral_fracture=True),
            site("clavicle", "right", active=True),
            site("tibia", "left", resolved=True),
        ],
        clinician_a,
    )
    study.refresh_from_db()
    assert (study.active_lesions, study.new_lesions, study.lesion_counts) == (2, 1, "sites")
    assert sorted(s.words for s in study.lesion_sites.all()) == [
        "Left tibia",
        "Right clavicle",
        "Vertebra T7",
    ]
    # The engine reads the same numbers.
    course = CourseFactory(patient=patient, started_on=dt.date(2025, 1, 6))
    (history,) = load_histories([course.pk])
    (row,) = history.imaging
    assert (row.active_lesions, row.new_lesions) == (2, 1)


def test_a_count_sent_with_sites_must_agree(patient, clinician_a):
    with pytest.raises(ValidationError) as refused:
        mri(patient, [site("femur", "left", active=True)], clinician_a, active_lesions=3)
    assert "Derived from the lesion sites (1)" in str(refused.value.message_dict["active_lesions"])
    agreed = mri(patient, [site("femur", "left", active=True)], clinician_a, active_lesions=1)
    assert agreed.active_lesions == 1


def test_counts_without_sites_are_recorded_without_sites(patient, clinician_a):
    study = mri(patient, [], clinician_a, active_lesions=2, new_lesions=0)
    assert study.lesion_counts == "recorded"
    assert study.counts_recorded_without_sites
    blank = mri(patient, [], clinician_a, performed_on=DAY - dt.timedelta(days=1))
    assert (blank.lesion_counts, blank.active_lesions) == ("", None)


def test_an_xray_s_sites_give_no_activity_count_and_take_no_mri_state(patient, clinician_a):
    xray = mri(patient, [site("clavicle", "left")], clinician_a, modality="xray")
    assert (xray.active_lesions, xray.new_lesions, xray.lesion_counts) == (None, None, "sites")
    with pytest.raises(ValidationError) as refused:
        mri(patient, [site("clavicle", "left", active=True)], clinician_a, modality="xray")
    assert "MRI findings" in str(refused.value)


def test_an_assessment_s_sites_are_its_clinically_active_lesions(patient, clinician_a):
    assessment = services.assessment_record(
        patient=patient,
        assessed_on=DAY,
        lesion_sites=[site("clavicle", "right"), site("sternum")],
        by=clinician_a,
    )
    assert (assessment.clinically_active_lesions, assessment.lesion_counts) == (2, "sites")
    with pytest.raises(ValidationError) as refused:
        services.assessment_record(
            patient=patient,
            assessed_on=DAY - dt.timedelta(days=3),
            lesion_sites=[site("tibia", "left", active=True)],
            by=clinician_a,
        )
    assert "recorded on imaging" in str(refused.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (site("clavicle", "left", level="T4"), "only recorded for a vertebra"),
        (site("vertebra"), "Give the vertebra's level"),
        (site("tibia", "midline"), "paired: left or right"),
        (site("sternum", "left"), "midline bone"),
        (site("tibia", "left", active=True, new=True, resolved=True), "both new and resolved"),
        (site("tibia", "left", new=True), "A new lesion is active"),
        (site("tibia", "left", active=True, resolved=True), "resolved lesion is not active"),
        (site("femur", "left", vertebral_fracture=True), "on a vertebra only"),
    ],
)
def test_the_service_refuses_a_bad_site_naming_it(patient, clinician_a, entry, message):
    with pytest.raises(ValidationError) as refused:
        mri(patient, [site("pelvis", "right"), entry], clinician_a)
    (text,) = refused.value.message_dict["lesion_sites"]
    assert text.startswith("Site 2 (")
    assert message in text
    assert not ImagingStudy.objects.filter(patient=patient).exists()


def test_a_site_twice_on_one_study_is_refused(patient, clinician_a):
    with pytest.raises(ValidationError, match="recorded twice"):
        mri(patient, [site("tibia", "left"), site("tibia", "left")], clinician_a)
    # Metatarsals (five a foot) and "other" may repeat.
    study = mri(patient, [site("metatarsal", "left"), site("metatarsal", "left")], clinician_a)
    assert study.lesion_sites.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"bone": "clavicle", "laterality": "left", "vertebral_level": "T4"},
        {"bone": "vertebra", "laterality": "midline"},
        {"bone": "tibia", "laterality": "midline"},
        {"bone": "tibia", "laterality": "left", "active": True, "new": True, "resolved": True},
        {"bone": "tibia", "laterality": "left", "new": True},
        {"bone": "femur", "laterality": "left", "vertebral_fracture": True},
        {"bone": "skull", "laterality": "left"},
    ],
)
def test_the_database_refuses_a_bad_site(patient, fields):
    study = ImagingStudyFactory(patient=patient, active_lesions=None, new_lesions=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        LesionSite.objects.create(imaging_study=study, **fields)


def test_the_database_refuses_imaging_findings_on_an_assessment_site(patient):
    assessment = AssessmentFactory(patient=patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        LesionSite.objects.create(
            assessment=assessment, bone="tibia", laterality="left", active=True
        )


def test_the_database_refuses_counts_that_disagree_with_their_source(patient):
    with pytest.raises(IntegrityError), transaction.atomic():
        ImagingStudyFactory(patient=patient, lesion_counts="")  # counts, no source
    with pytest.raises(IntegrityError), transaction.atomic():
        ImagingStudyFactory(patient=patient, lesion_counts="sites", active_lesions=1, new_lesions=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssessmentFactory(patient=patient, lesion_counts="sites", clinically_active_lesions=0)


def test_replacing_the_sites_rederives_the_counts_and_keeps_the_history(patient, clinician_a):
    study = mri(patient, [site("tibia", "left", active=True)], clinician_a)
    services.lesion_sites_set(
        record=study,
        sites=[site("tibia", "left", resolved=True), site("vertebra", level="L2", active=True)],
        by=clinician_a,
    )
    study.refresh_from_db()
    assert (study.active_lesions, study.new_lesions) == (1, 0)
    assert LesionSite.history.filter(history_type="-").count() == 1
    # With no site left the last derived counts stay, as counts recorded without sites.
    services.lesion_sites_set(record=study, sites=[], by=clinician_a)
    study.refresh_from_db()
    assert (study.active_lesions, study.lesion_counts) == (1, "recorded")


def test_only_a_clinician_changes_the_counts_through_the_sites(
    patient, clinician_a, data_manager_a
):
    study = mri(patient, [site("tibia", "left", active=True)], clinician_a)
    with pytest.raises(PermissionDenied, match="Only a clinician"):
        services.lesion_sites_set(record=study, sites=[site("tibia", "left")], by=data_manager_a)
    # Sites that leave the counts as they are are the data manager's to correct.
    services.lesion_sites_set(
        record=study, sites=[site("tibia", "right", active=True)], by=data_manager_a
    )


def test_a_derived_count_is_not_corrected_by_hand(patient, clinician_a):
    study = mri(patient, [site("tibia", "left", active=True)], clinician_a)
    with pytest.raises(ValidationError) as refused:
        services.imaging_study_correct(study=study, changes={"active_lesions": 4}, by=clinician_a)
    assert "correct the sites" in str(refused.value.message_dict["active_lesions"])
    with pytest.raises(ValidationError, match="Set by the registry"):
        services.imaging_study_correct(
            study=study, changes={"lesion_counts": "recorded"}, by=clinician_a
        )


def test_a_modality_change_rederives_or_is_refused(patient, clinician_a):
    plain = mri(patient, [site("tibia", "left")], clinician_a)
    services.imaging_study_correct(study=plain, changes={"modality": "xray"}, by=clinician_a)
    plain.refresh_from_db()
    assert (plain.active_lesions, plain.lesion_counts) == (None, "sites")
    active = mri(
        patient, [site("tibia", "left", active=True)], clinician_a, performed_on=DAY.replace(day=1)
    )
    with pytest.raises(ValidationError) as refused:
        services.imaging_study_correct(study=active, changes={"modality": "xray"}, by=clinician_a)
    assert "only an MRI shows" in str(refused.value.message_dict["modality"])


def test_correcting_recorded_counts_keeps_their_source_right(patient, clinician_a):
    study = mri(patient, [], clinician_a, active_lesions=2, new_lesions=0)
    services.imaging_study_correct(
        study=study, changes={"active_lesions": None, "new_lesions": None}, by=clinician_a
    )
    study.refresh_from_db()
    assert study.lesion_counts == ""
    services.imaging_study_correct(study=study, changes={"active_lesions": 1}, by=clinician_a)
    study.refresh_from_db()
    assert study.lesion_counts == "recorded"
