"""The guideline's entry safeguards and who may act, at the services (the door every door uses).

Each refusal is field-specific (or names the action to use) and stores nothing.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from monitoring.models import SiteGuideline
from registry import services
from registry.models import Infusion, InfusionReaction, LabResult, RegimenChange, TreatmentCourse
from tests.conftest import TODAY, _member
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    consent_document,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
START = TODAY - 100 * DAY


@pytest.fixture
def course(site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    InfusionFactory(
        course=course, given_on=START, weight_kg=Decimal("27.3"), dose_mg=Decimal("140")
    )
    return course


def give(course, by, *, on=None, weight="27.3", dose="140", **extra):
    on = on or TODAY
    extra.setdefault("weight_measured_on", on)
    return services.infusion_record(
        course=course,
        given_on=on,
        weight_kg=Decimal(weight),
        dose_mg=Decimal(dose),
        by=by,
        **extra,
    )


def refused(call, field: str) -> list[str]:
    before = (Infusion.objects.count(), LabResult.objects.count(), RegimenChange.objects.count())
    with pytest.raises(ValidationError) as caught:
        call()
    after = (Infusion.objects.count(), LabResult.objects.count(), RegimenChange.objects.count())
    assert after == before, "a refused action stored something"
    return caught.value.message_dict[field]


# --- Severe reaction hold -------------------------------------------------------------------------


def test_it_holds_infusions_after_an_unreviewed_severe_reaction(course, nurse_a):
    first = course.infusions.get()
    ReactionFactory(infusion=first, severity="severe")
    [message] = refused(lambda: give(course, nurse_a), "__all__")
    assert message.startswith(
        f"The severe reaction to the infusion of {START:%d %b %Y} has not been reviewed"
    )


def test_the_hold_spans_courses(site_a, nurse_a):
    # Exposure spans courses: a severe reaction in a stopped course still holds a retreatment.
    patient = PatientFactory(site=site_a)
    earlier = CourseFactory(
        patient=patient,
        started_on=START - 400 * DAY,
        stopped_on=START - 300 * DAY,
        stop_reason="adverse_event",
    )
    ReactionFactory(
        infusion=InfusionFactory(course=earlier, given_on=earlier.started_on), severity="severe"
    )
    retreatment = CourseFactory(patient=patient, started_on=START)
    refused(lambda: give(retreatment, nurse_a, on=START), "__all__")


def test_a_clinicians_review_lifts_the_hold_unless_it_stops_infliximab(course, nurse_a):
    reaction = ReactionFactory(infusion=course.infusions.get(), severity="severe")
    clinician = _member("cara", course.patient.site, "clinician")
    services.reaction_review_record(
        reaction=reaction,
        reviewed_on=START + DAY,
        decision="continue_premedicated",
        by=clinician,
    )
    assert give(course, nurse_a, premedication=["antihistamine", "corticosteroid"]).pk


def test_a_review_that_stops_infliximab_keeps_the_hold(site_a, nurse_a, clinician_a):
    patient = PatientFactory(site=site_a)
    stopped = CourseFactory(patient=patient, started_on=START - 200 * DAY)
    infusion = InfusionFactory(course=stopped, given_on=stopped.started_on)
    reaction = ReactionFactory(infusion=infusion, severity="moderate")
    services.reaction_review_record(
        reaction=reaction, reviewed_on=stopped.started_on, decision="stop", by=clinician_a
    )
    later = CourseFactory(patient=patient, started_on=START)
    [message] = refused(lambda: give(later, nurse_a, on=START), "__all__")
    assert "a clinician decided to stop infliximab" in message


# --- Dose -----------------------------------------------------------------------------------------


def test_it_refuses_an_implausible_dose_whatever_the_regimen(course, clinician_a, nurse_a):
    RegimenChangeFactory(
        course=course,
        effective_on=START + 5 * DAY,
        dose_mg_per_kg=Decimal("20"),
        reason="intensification",
    )
    [message] = refused(lambda: give(course, nurse_a, weight="39", dose="1950"), "dose_mg")
    assert "50.00 mg/kg, above 20 mg/kg" in message


def test_a_site_may_lower_the_implausible_dose(course, nurse_a):
    SiteGuideline.objects.create(
        site=course.patient.site, overrides={"implausible_dose_mg_per_kg": "12"}
    )
    RegimenChangeFactory(
        course=course,
        effective_on=START + 5 * DAY,
        dose_mg_per_kg=Decimal("15"),
        reason="intensification",
    )
    [message] = refused(lambda: give(course, nurse_a, dose="400"), "dose_mg")  # 14.65 mg/kg
    assert "above 12 mg/kg: no infusion is that large" in message


def test_it_refuses_above_the_cap_without_an_intensification(course, nurse_a):
    [message] = refused(lambda: give(course, nurse_a, dose="300"), "dose_mg")  # 10.99 mg/kg
    assert message == (
        "300 mg for 27.3 kg is 10.99 mg/kg, above the 10 mg/kg cap, and no intensification is in "
        "force. A dose above the cap needs a clinician's intensification (a regimen change) that "
        "prescribes it."
    )


def test_it_accepts_above_the_cap_what_an_intensification_prescribes_within_tolerance(
    course, clinician_a, nurse_a
):
    services.regimen_change_record(
        course=course,
        effective_on=START + 5 * DAY,
        dose_mg_per_kg=Decimal("12"),
        interval_weeks=8,
        reason="intensification",
        by=clinician_a,
    )
    assert give(course, nurse_a, dose="350").mg_per_kg == Decimal("12.82")  # +6.8 %
    [message] = refused(
        lambda: give(course, nurse_a, on=TODAY - DAY, dose="400"), "dose_mg"
    )  # 14.65 mg/kg: +22 %
    assert "the intensification of" in message
    assert "prescribes 12 mg/kg" in message


def test_only_a_clinician_prescribes_an_intensification(course, data_manager_a):
    with pytest.raises(PermissionDenied, match="Only a clinician of this site may prescribe"):
        services.regimen_change_record(
            course=course,
            effective_on=START + 5 * DAY,
            dose_mg_per_kg=Decimal("10"),
            interval_weeks=8,
            reason="intensification",
            by=data_manager_a,
        )
    assert not RegimenChange.objects.exists()
    # A taper is not a dose above the cap: a data manager may record one from the notes.
    services.regimen_change_record(
        course=course,
        effective_on=START + 5 * DAY,
        dose_mg_per_kg=Decimal("5"),
        interval_weeks=10,
        reason="taper",
        by=data_manager_a,
    )


# --- Weight ---------------------------------------------------------------------------------------


def test_it_asks_to_confirm_a_weight_far_from_the_previous_one(course, nurse_a):
    previous = course.infusions.get()
    Infusion.objects.filter(pk=previous.pk).update(
        given_on=TODAY - 14 * DAY, weight_measured_on=TODAY - 14 * DAY
    )
    [message] = refused(lambda: give(course, nurse_a, weight="2.73", dose="14"), "weight_kg")
    assert message == (
        f"2.73 kg is 90 % away from 27.3 kg measured on {TODAY - 14 * DAY:%d %b %Y} (more than "
        "15 %). Check the weight and its unit; if it is right, confirm it."
    )
    infusion = give(course, nurse_a, weight="2.73", dose="14", weight_confirmed=True)
    assert infusion.weight_confirmed


def test_it_compares_only_with_a_weight_of_the_last_90_days(site_a, nurse_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START - 100 * DAY)
    InfusionFactory(course=course, given_on=course.started_on, weight_kg=Decimal("20"))
    assert give(course, nurse_a, weight="27.3").pk  # 200 days later: a child grows


def test_a_site_may_widen_the_weight_change(course, nurse_a):
    SiteGuideline.objects.create(site=course.patient.site, overrides={"weight_change_pct": "30"})
    assert give(course, nurse_a, weight="33", dose="165").pk  # +21 %


def test_a_carried_over_weight_keeps_its_own_date(course, nurse_a):
    infusion = give(course, nurse_a, weight_measured_on=START)
    assert infusion.weight_measured_on == START  # never "today"


# --- Duplicates -----------------------------------------------------------------------------------


def test_it_does_not_store_an_identical_lab_result_twice(course, nurse_a):
    def record():
        return services.lab_result_record(
            patient=course.patient,
            collected_on=TODAY,
            analyte="crp",
            value=Decimal("3.2"),
            by=nurse_a,
        )

    record()
    [message] = refused(record, "__all__")
    assert message.startswith("This result is already recorded")


# --- Corrections ----------------------------------------------------------------------------------


def test_a_field_an_action_owns_is_not_corrected(course, clinician_a):
    with pytest.raises(ValidationError) as caught:
        services.course_correct(course=course, changes={"stopped_on": TODAY}, by=clinician_a)
    assert caught.value.message_dict == {
        "stopped_on": ["Recorded with the “stop the course” action, not corrected here."]
    }
    reaction = ReactionFactory(infusion=course.infusions.get(), severity="severe")
    with pytest.raises(ValidationError, match="review the reaction"):
        services.reaction_correct(reaction=reaction, changes={"reviewed_on": TODAY}, by=clinician_a)
    assert TreatmentCourse.objects.get(pk=course.pk).stopped_on is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("severity", "mild"), ("onset", "delayed"), ("infusion_stopped", True)],
)
def test_only_a_clinician_corrects_what_the_engine_reads_of_a_reaction(
    course, nurse_a, data_manager_a, clinician_a, field, value
):
    reaction = ReactionFactory(infusion=course.infusions.get(), severity="severe")
    for person in (nurse_a, data_manager_a):
        with pytest.raises(PermissionDenied, match="Only a clinician of this site may correct"):
            services.reaction_correct(reaction=reaction, changes={field: value}, by=person)
        assert getattr(InfusionReaction.objects.get(pk=reaction.pk), field) != value
    services.reaction_correct(reaction=reaction, changes={field: value}, by=clinician_a)
    assert getattr(InfusionReaction.objects.get(pk=reaction.pk), field) == value
    assert InfusionReaction.objects.get(pk=reaction.pk).history.first().history_user == clinician_a


def test_a_nurse_corrects_what_the_engine_does_not_read(course, nurse_a):
    infusion = course.infusions.get()
    services.infusion_correct(infusion=infusion, changes={"lot_number": "IFX-2291"}, by=nurse_a)
    with pytest.raises(PermissionDenied):
        services.infusion_correct(
            infusion=infusion, changes={"dose_mg": Decimal("150")}, by=nurse_a
        )
    infusion.refresh_from_db()
    assert (infusion.lot_number, infusion.dose_mg) == ("IFX-2291", Decimal("140"))


def test_an_unchanged_value_is_not_a_correction(course, nurse_a):
    infusion = course.infusions.get()
    services.infusion_correct(
        infusion=infusion,
        changes={"dose_mg": infusion.dose_mg, "notes": "Cannula re-sited"},
        by=nurse_a,
    )
    assert Infusion.objects.get(pk=infusion.pk).notes == "Cannula re-sited"


def test_a_corrected_dose_passes_the_same_safeguards(course, clinician_a):
    infusion = course.infusions.get()
    with pytest.raises(ValidationError, match="above the 10 mg/kg cap"):
        services.infusion_correct(
            infusion=infusion, changes={"dose_mg": Decimal("400")}, by=clinician_a
        )
    assert Infusion.objects.get(pk=infusion.pk).dose_mg == Decimal("140")


# --- Roles per site -------------------------------------------------------------------------------


@pytest.fixture
def nurse_north_clinician_south(site_a, site_b):
    person = _member("nico", site_a, "nurse")
    MembershipFactory(user=person, site=site_b, role="clinician")
    return person


def clinician_actions(site):
    """Each clinician-only action on a fresh record of `site` (a callable taking the actor)."""
    patient = PatientFactory(site=site)
    course = CourseFactory(patient=patient, started_on=START)
    infusion = InfusionFactory(course=course, given_on=START)
    reaction = ReactionFactory(infusion=infusion, severity="severe")
    return {
        "register a patient": lambda by: services.patient_register(
            site=site,
            mrn=f"NEW-{site.code}",
            given_name="Iris",
            family_name="Nowak",
            date_of_birth=dt.date(2014, 2, 2),
            sex="female",
            by=by,
        ),
        "correct identity": lambda by: services.patient_correct(
            patient=patient, changes={"family_name": "Nowakowska"}, by=by
        ),
        "record consent": lambda by: services.consent_record(
            patient=patient,
            document=consent_document(),
            consented_by="parent_guardian",
            scopes=["research"],
            given_on=TODAY,
            by=by,
        ),
        "start a course": lambda by: services.course_start(
            patient=PatientFactory(site=site), started_on=TODAY, by=by
        ),
        "stop the course": lambda by: services.course_stop(
            course=course, stopped_on=TODAY, reason="remission", by=by
        ),
        "change the regimen": lambda by: services.regimen_change_record(
            course=course,
            effective_on=TODAY,
            dose_mg_per_kg=Decimal("5"),
            interval_weeks=10,
            reason="taper",
            by=by,
        ),
        "review a reaction": lambda by: services.reaction_review_record(
            reaction=reaction, reviewed_on=TODAY, decision="continue_premedicated", by=by
        ),
        "correct a dose": lambda by: services.infusion_correct(
            infusion=infusion, changes={"dose_mg": Decimal("190")}, by=by
        ),
        "record imaging": lambda by: services.imaging_study_record(
            patient=patient, performed_on=TODAY, modality="wb_mri", by=by
        ),
        "record an assessment": lambda by: services.assessment_record(
            patient=patient, assessed_on=TODAY, pain_score=Decimal("2"), by=by
        ),
        "record a relapse": lambda by: services.relapse_record(
            course=course, noted_on=TODAY, evidence="New lesion on MRI", by=by
        ),
    }


ACTIONS = [
    "register a patient",
    "correct identity",
    "record consent",
    "start a course",
    "stop the course",
    "change the regimen",
    "review a reaction",
    "correct a dose",
    "record imaging",
    "record an assessment",
    "record a relapse",
]


@pytest.mark.parametrize("action", ACTIONS)
def test_roles_are_those_of_the_records_site(site_a, site_b, nurse_north_clinician_south, action):
    with pytest.raises(PermissionDenied):
        clinician_actions(site_a)[action](nurse_north_clinician_south)
    assert clinician_actions(site_b)[action](nurse_north_clinician_south) is not None
