"""`manage.py seed_demo`: the demo registry, its logins, and every guideline situation in it.

Seeding writes ~1,400 validated rows, so it runs once for the module inside a transaction that is
rolled back at the end; each test then runs in its own savepoint on top of it.
"""

import datetime as dt
import io
import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import F

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.demo import ANTIBODY_ASSAY, DEMO_PASSWORD, PATIENTS, TITRE_UNIT
from registry.models import (
    AWAITING_REVIEW,
    CLINICAL_MODELS,
    SCREENING_AWAITING_REVIEW,
    SCREENING_HOLDS_INFUSIONS,
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    Membership,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    Role,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
)
from registry.products import product_switches
from registry.safety_codes import ScreeningTest
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def output(django_db_setup, django_db_blocker) -> Iterator[str]:
    """What `seed_demo` printed; the registry it seeded stays until the module's tests are done."""
    # conftest's clock is per test; this module-wide seeding needs the same day.
    with (
        django_db_blocker.unblock(),
        time_machine.travel(dt.datetime.combine(TODAY, dt.time(10), dt.UTC), tick=True),
        transaction.atomic(),
    ):
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def days_in(course: TreatmentCourse) -> int:
    return (TODAY - course.started_on).days


def active_courses() -> list[TreatmentCourse]:
    return list(
        TreatmentCourse.objects.filter(stopped_on__isnull=True).prefetch_related("infusions")
    )


def days_past_maintenance_due(course: TreatmentCourse) -> int | None:
    """Days since last infusion + 8 weeks, for courses past induction on the standard interval."""
    infusions = list(course.infusions.all())
    if len(infusions) < 3 or course.regimen_changes.exists():
        return None
    return (TODAY - infusions[-1].given_on).days - 56


def first_infusion(course: TreatmentCourse) -> dt.date:
    infusion = course.infusions.order_by("given_on").first()
    assert infusion is not None
    return infusion.given_on


def last_infusion(course: TreatmentCourse) -> dt.date:
    infusion = course.infusions.order_by("given_on").last()
    assert infusion is not None
    return infusion.given_on


# --- Sites, people, patients -------------------------------------------------------------------


def test_it_creates_two_sites_with_thirty_patients_each(output):
    assert sorted(Site.objects.values_list("code", flat=True)) == ["north", "south"]
    for site in Site.objects.all():
        assert site.patients.count() == 30


def test_it_gives_each_site_one_user_per_role(output):
    for site in Site.objects.all():
        roles = Membership.objects.filter(site=site).values_list("role", flat=True)
        assert sorted(roles) == sorted(Role.values)
    researchers = get_user_model().objects.filter(memberships__role=Role.RESEARCHER)
    assert researchers.count() == 2
    assert get_user_model().objects.exclude(memberships__role=Role.RESEARCHER).count() == 7


def test_it_gives_admin_rights_to_clinicians_and_data_managers_only(output):
    """Nurses do their day in the clinic pages; the admin is for corrections and parameters."""
    users = get_user_model().objects

    def admin_rights(role: Role) -> set[bool]:
        return set(users.filter(memberships__role=role).values_list("is_staff", flat=True))

    assert admin_rights(Role.CLINICIAN) == admin_rights(Role.DATA_MANAGER) == {True}
    assert admin_rights(Role.NURSE) == admin_rights(Role.RESEARCHER) == {False}
    assert users.get(username="admin").is_staff


def test_it_creates_a_superuser_with_the_demo_password(output):
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(DEMO_PASSWORD)
    assert get_user_model().objects.get(username="nurse.south").check_password(DEMO_PASSWORD)


def test_it_registers_children_three_adults_and_mixed_consent(output):
    ages = sorted(patient.age_on(TODAY) for patient in Patient.objects.all())
    assert ages[0] >= 6
    assert ages[-4] <= 17
    assert ages[-3:-1] == [18, 18]  # turned 18 this year: one re-consented, one not yet
    assert ages[-1] >= 19
    never = Patient.objects.exclude(consents__research_given=True)
    assert never.count() >= 3
    assert Patient.objects.filter(consents__research_withdrawn_on__isnull=False).count() == 1
    # Everyone has a consent record, at least to registry care data.
    assert not Patient.objects.filter(consents__isnull=True).exists()


def test_it_records_nothing_after_today(output):
    dated = [
        (TreatmentCourse, "started_on"),
        (TreatmentCourse, "stopped_on"),
        (RegimenChange, "effective_on"),
        (Infusion, "given_on"),
        (InfusionReaction, "reviewed_on"),
        (LabResult, "collected_on"),
        (ImagingStudy, "performed_on"),
        (ClinicalAssessment, "assessed_on"),
        (Relapse, "noted_on"),
        (Medication, "started_on"),
        (Medication, "stopped_on"),
    ]
    for model, field in dated:
        assert not model.objects.filter(**{f"{field}__gt": TODAY}).exists(), model.__name__


# --- The guideline situations ------------------------------------------------------------------


def test_it_has_a_course_on_schedule_with_the_next_dose_still_to_come(output):
    on_schedule = [
        course
        for course in active_courses()
        if (days := days_past_maintenance_due(course)) is not None and days < 0
    ]
    assert len(on_schedule) >= 3


def test_it_has_late_and_overdue_maintenance_doses(output):
    past_due = [days_past_maintenance_due(course) for course in active_courses()]
    assert len([d for d in past_due if d is not None and 8 <= d <= 13]) >= 2
    assert len([d for d in past_due if d is not None and d > 14]) >= 2


def test_it_has_a_missed_induction_dose(output):
    missed = [
        course
        for course in active_courses()
        if (n := course.infusions.count()) < 3
        and (TODAY - course.started_on).days > 7 * course.induction_weeks[n] + 7
    ]
    assert len(missed) >= 2


def test_it_has_an_interruption_longer_than_sixteen_weeks(output):
    def longest_gap(course: TreatmentCourse) -> int:
        days = [infusion.given_on for infusion in course.infusions.all()]
        return max(((b - a).days for a, b in itertools.pairwise(days)), default=0)

    assert len([c for c in active_courses() if longest_gap(c) > 112]) >= 2


def test_it_has_courses_without_a_response_assessment_in_weeks_8_to_14(output):
    unassessed = [
        course
        for course in active_courses()
        if days_in(course) > 98
        and not ClinicalAssessment.objects.filter(
            patient=course.patient,
            assessed_on__range=(
                course.started_on + dt.timedelta(56),
                course.started_on + dt.timedelta(98),
            ),
        ).exists()
    ]
    assert len(unassessed) >= 2


def test_it_has_courses_without_recent_markers(output):
    recently = TODAY - dt.timedelta(days=98)
    without = [
        course
        for course in active_courses()
        if not LabResult.objects.filter(
            patient=course.patient, analyte="crp", collected_on__gte=recently
        ).exists()
    ]
    assert len(without) >= 2


def test_it_has_courses_without_their_6_month_mri(output):
    without = [
        course
        for course in active_courses()
        if days_in(course) > 200
        and not ImagingStudy.objects.filter(
            patient=course.patient, performed_on__gt=course.started_on + dt.timedelta(90)
        ).exists()
    ]
    assert len(without) >= 2


def test_it_has_courses_ready_to_taper(output):
    def ready(course: TreatmentCourse) -> bool:
        latest_mri = course.patient.imaging_studies.order_by("performed_on").last()
        states = course.patient.assessments.filter(assessed_on__gte=TODAY - dt.timedelta(days=200))
        return (
            days_in(course) > 365
            and not course.regimen_changes.exists()
            and latest_mri is not None
            and (TODAY - latest_mri.performed_on).days <= 90
            and latest_mri.active_lesions == 0
            and {a.disease_state for a in states} == {"inactive"}
        )

    assert len([course for course in active_courses() if ready(course)]) >= 2


def test_it_has_a_stop_in_remission_without_follow_up_visits(output):
    unseen = [
        course
        for course in TreatmentCourse.objects.filter(stop_reason="remission")
        if not course.patient.assessments.filter(assessed_on__gt=course.stopped_on).exists()
    ]
    assert unseen


def test_it_has_an_early_stop_by_choice(output):
    stopped = TreatmentCourse.objects.filter(stop_reason="patient_choice")
    assert len([c for c in stopped if c.stopped_on and (c.stopped_on - c.started_on).days < 365])


def test_it_has_a_relapse_after_stopping_not_yet_recorded(output):
    unrecorded = [
        course
        for course in TreatmentCourse.objects.filter(stop_reason="remission", relapses=None)
        if ImagingStudy.objects.filter(
            patient=course.patient, performed_on__gt=course.stopped_on, new_lesions__gte=1
        ).exists()
    ]
    assert unrecorded


def test_it_links_a_recorded_relapse_to_a_retreatment_course_with_its_induction(output):
    relapses = Relapse.objects.filter(retreatment_course__isnull=False)
    assert relapses.count() == 3
    for relapse in relapses:
        retreatment = relapse.retreatment_course
        assert retreatment is not None
        assert retreatment.started_on >= relapse.noted_on
        assert retreatment.infusions.count() >= 3


def test_it_has_a_taper_in_steps_and_an_intensification(output):
    taper_intervals: dict[int, list[int]] = {}
    for change in RegimenChange.objects.filter(reason="taper").order_by("effective_on"):
        taper_intervals.setdefault(change.course_id, []).append(change.interval_weeks)
    assert [10, 12] in taper_intervals.values()
    intensified = RegimenChange.objects.filter(reason="intensification")
    assert {c.dose_mg_per_kg for c in intensified} == {Decimal(10), Decimal(5)}
    assert {c.interval_weeks for c in intensified} == {8, 6, 4}


def test_it_has_a_re_exposure_with_antibodies_and_a_reaction_from_the_first_course(output):
    """GUIDELINE v2, exposure across courses: > 112 days off drug, then a new course."""
    re_exposures = [
        (relapse.course, relapse.retreatment_course)
        for relapse in Relapse.objects.filter(retreatment_course__isnull=False)
        if relapse.course.infusions.filter(reactions__severity="moderate").exists()
    ]
    assert len(re_exposures) == 1
    first, second = re_exposures[0]
    assert second is not None
    assert first.stop_reason == "patient_choice"
    assert first.stopped_on is not None
    assert first.stopped_on < second.started_on
    days_off = (first_infusion(second) - last_infusion(first)).days
    assert 112 < days_off < 300
    assert 1 <= second.infusions.count() <= 3
    antibodies = LabResult.objects.filter(patient=first.patient, analyte="anti_ifx")
    latest = antibodies.order_by("collected_on").last()
    assert latest is not None
    assert latest.antibodies_positive is True
    assert latest.value is not None
    assert (latest.unit, latest.assay_name) == (TITRE_UNIT, ANTIBODY_ASSAY)
    assert last_infusion(first) < latest.collected_on < first_infusion(second)
    assert (first_infusion(second) - latest.collected_on).days <= 14


def test_it_has_a_stop_for_inefficacy_with_active_disease_after_it_and_no_retreatment(output):
    stopped = TreatmentCourse.objects.filter(stop_reason="inefficacy")
    assert stopped.count() == 1
    course = stopped.get()
    assert course.stopped_on is not None
    assert course.patient.courses.count() == 1
    states = course.patient.assessments.values_list("disease_state", flat=True)
    assert set(states) == {"active"}
    after = course.patient.assessments.filter(assessed_on__gt=course.stopped_on)
    assert after.count() == 1
    assert (after.get().assessed_on - course.stopped_on).days >= 28


def test_it_has_an_intensification_decided_between_doses_and_not_yet_given(output):
    """GUIDELINE v2: the next dose is due at max(last infusion + new interval, decision date)."""
    between = [
        change
        for change in RegimenChange.objects.filter(reason="intensification")
        if change.effective_on > last_infusion(change.course)
    ]
    assert len(between) == 1
    change = between[0]
    last = last_infusion(change.course)
    assert change.course.is_active
    assert change.course.regimen_on(last) == (Decimal(5), 8)
    assert change.interval_weeks < 8
    assert last + dt.timedelta(weeks=change.interval_weeks) < change.effective_on < TODAY
    assert (TODAY - change.effective_on).days <= 7
    assert not change.course.infusions.filter(given_on__gte=change.effective_on).exists()


def test_it_has_a_taper_to_every_sixteen_weeks_with_the_latest_dose_on_time(output):
    at_sixteen = [course for course in active_courses() if course.regimen_on(TODAY)[1] == 16]
    assert len(at_sixteen) == 1
    course = at_sixteen[0]
    changes = course.regimen_changes.values_list("reason", "interval_weeks")
    assert list(changes) == [("taper", 12), ("taper", 16)]
    *_, before, latest = course.infusions.order_by("given_on").values_list("given_on", flat=True)
    assert (latest - before).days == 16 * 7
    assert course.regimen_on(before)[1] == 16
    assert TODAY < latest + dt.timedelta(weeks=16) <= TODAY + dt.timedelta(weeks=8)


def test_it_has_mild_moderate_and_severe_reactions_with_and_without_review(output):
    severe = InfusionReaction.objects.filter(severity="severe")
    assert severe.filter(reviewed_on__isnull=True).count() == 1
    assert severe.filter(reviewed_on__isnull=False, reviewed_by__isnull=False).count() == 1
    unreviewed = severe.get(reviewed_on__isnull=True)
    assert not unreviewed.infusion.course.infusions.filter(
        given_on__gt=unreviewed.infusion.given_on
    ).exists()
    assert InfusionReaction.objects.filter(severity="mild").exists()


def test_it_premedicates_the_infusions_after_a_reaction_in_every_later_course(output):
    moderate = InfusionReaction.objects.filter(severity="moderate").select_related("infusion")
    assert moderate.count() == 2
    for reaction in moderate:
        later = Infusion.objects.filter(
            course__patient=reaction.infusion.course.patient,
            given_on__gt=reaction.infusion.given_on,
        )
        assert later.exists()
        assert all(i.premedication_antihistamine and i.premedication_corticosteroid for i in later)


def test_it_doses_by_weight_except_the_one_deliberate_mismatch(output):
    off = []
    for infusion in Infusion.objects.select_related("course").prefetch_related(
        "course__regimen_changes"
    ):
        mg_per_kg, _interval = infusion.course.regimen_on(infusion.given_on)
        if abs(infusion.dose_mg / infusion.weight_kg - mg_per_kg) > mg_per_kg / 10:
            off.append(infusion)
    assert [(i.weight_kg < 45, i.dose_mg) for i in off] == [(True, Decimal(300))]


def test_it_has_an_infusion_given_without_a_recent_weight(output):
    weighed_earlier = Infusion.objects.exclude(weight_measured_on=F("given_on"))
    assert [(i.given_on - i.weight_measured_on).days > 30 for i in weighed_earlier] == [True]


def test_it_has_a_low_trough_and_positive_antibodies(output):
    troughs = LabResult.objects.filter(analyte="ifx_trough")
    assert troughs.filter(value__lt=5).exists()
    assert troughs.filter(value__gte=5).exists()
    antibodies = LabResult.objects.filter(analyte="anti_ifx")
    assert antibodies.filter(antibodies_positive=True).exclude(assay_name="").exists()
    assert antibodies.filter(antibodies_positive=False).exists()


def test_it_raises_markers_at_baseline_and_normalises_them_in_remission(output):
    crp = LabResult.objects.filter(analyte="crp")
    assert crp.filter(value__gt=5).exists()
    assert crp.filter(value__lte=5).count() > crp.filter(value__gt=5).count()


# --- Products and other medications -------------------------------------------------------------


def test_it_plans_each_sites_product_and_gives_every_infusion_one(output):
    planned = TreatmentCourse.objects.values_list("patient__site__code", "product__code")
    assert set(planned) == {("north", "inflectra"), ("south", "remicade")}
    assert not Infusion.objects.filter(product__isnull=True).exists()


def test_it_has_a_switch_from_the_originator_to_a_biosimilar(output):
    switched = [
        switch
        for course in TreatmentCourse.objects.all()
        for switch in product_switches(course.infusions.select_related("product"))
    ]
    assert [(s.switched_from.code, s.switched_to.code) for s in switched] == [
        ("remicade", "remsima")
    ]


def test_it_gives_naproxen_before_infliximab_and_current_co_medications(output):
    naproxen = Medication.objects.filter(drug="naproxen", stop_reason="inefficacy")
    assert naproxen.count() == Patient.objects.count()
    assert not naproxen.filter(stopped_on__gt=F("patient__courses__started_on")).exists()
    current = Medication.objects.filter(stopped_on__isnull=True)
    assert set(current.values_list("drug", flat=True)) == {"methotrexate", "naproxen", "other"}
    assert set(Medication.objects.values_list("stop_reason", flat=True)) == {
        "", "inefficacy", "completed",
    }  # fmt: skip


# --- The safety record ----------------------------------------------------------------------------


def test_every_patient_is_screened_for_tb_and_hepatitis_b_before_each_course(output):
    """But Nora, whose screen left out anti-HBc (screening_missing shows it)."""
    for patient in Patient.objects.prefetch_related("courses", "screening_results"):
        for course in patient.courses.all():
            before = {
                s.test
                for s in patient.screening_results.all()
                if course.started_on - dt.timedelta(days=365) <= s.tested_on < course.started_on
            }
            expected = {"tb_igra", "hbv_hbsag", "hbv_anti_hbc"}
            if patient.given_name == "Nora":
                assert before == {"tb_igra", "hbv_hbsag", "hbv_anti_hbs"}
            else:
                assert expected <= before, (patient, course)


def evaluated_alerts(rule: str) -> dict[str, list[Alert]]:
    """The open alerts of `rule` once every active course is evaluated, by first name."""
    courses = TreatmentCourse.objects.filter(stopped_on__isnull=True)
    evaluate_courses(list(courses.values_list("pk", flat=True)), TODAY)
    found: dict[str, list[Alert]] = {}
    for alert in Alert.objects.filter(rule=rule, status="open").select_related("course__patient"):
        found.setdefault(alert.course.patient.given_name, []).append(alert)
    return found


def test_screening_missing_shows_for_nora_alone_retreatments_included(output):
    """Every other course, retreatments included, has its screen within 365 days before it."""
    missing = evaluated_alerts("screening_missing")
    assert set(missing) == {"Nora"}
    [alert] = missing["Nora"]
    assert alert.severity == "urgent"
    assert alert.evidence["missing"] == ["anti-HBc"]
    assert any(p.courses.count() > 1 for p in Patient.objects.all())  # the demo retreats some


def test_screening_positive_shows_for_kai_s_positive_igra_alone(output):
    positive = evaluated_alerts("screening_positive")
    assert set(positive) == {"Kai"}
    [alert] = positive["Kai"]
    assert alert.severity == "urgent"
    assert alert.evidence["screening"]["test"] == "tb_igra"
    assert "specialist" in alert.explanation


def test_no_demo_infusion_is_given_while_a_tb_or_hepatitis_b_result_awaits_its_review(output):
    """The screening hold (registry.safeguards): the demo's positive IGRA was taken after Kai's
    last infusion, and the indeterminate one was reviewed before Theo's first."""
    for held in ScreeningResult.objects.filter(SCREENING_HOLDS_INFUSIONS):
        assert not Infusion.objects.filter(
            course__patient=held.patient, given_on__gte=held.tested_on
        ).exists(), held
    for reviewed in ScreeningResult.objects.filter(reviewed_on__isnull=False):
        assert not Infusion.objects.filter(
            course__patient=reviewed.patient,
            given_on__gte=reviewed.tested_on,
            given_on__lt=reviewed.reviewed_on,
        ).exists(), reviewed


def test_one_patient_has_the_complete_screening_panel(output):
    """Every test, latent TB by IGRA (a tuberculin skin test is the other way to screen)."""
    panel = set(ScreeningTest.values) - {ScreeningTest.TB_SKIN_TEST}
    complete = [
        patient
        for patient in Patient.objects.prefetch_related("screening_results")
        if {s.test for s in patient.screening_results.all()} == panel
    ]
    assert len(complete) == 1


def test_it_shows_a_serious_adverse_event_awaiting_review_and_reviewed_ones(output):
    awaiting = AdverseEvent.objects.filter(AWAITING_REVIEW)
    assert awaiting.filter(serious=True, term="lung_infection").count() == 1
    reviewed = AdverseEvent.objects.filter(reviewed_on__isnull=False)
    assert set(reviewed.values_list("term", flat=True)) == {"other_infection", "psoriasis"}
    assert AdverseEvent.objects.filter(serious=False, term="upper_respiratory_infection").exists()


def test_it_shows_a_positive_tb_screen_awaiting_review_and_a_reviewed_one(output):
    assert (
        ScreeningResult.objects.filter(
            SCREENING_AWAITING_REVIEW, test="tb_igra", result="positive"
        ).count()
        == 1
    )
    assert (
        ScreeningResult.objects.filter(
            reviewed_on__isnull=False, test="tb_igra", result="indeterminate"
        ).count()
        == 1
    )


def test_it_shows_a_live_vaccine_given_during_a_course(output):
    [mmr] = Vaccination.objects.filter(vaccine="mmr")
    course = mmr.patient.courses.get(stopped_on__isnull=True)
    assert mmr.live
    assert mmr.given_on > course.started_on
    assert mmr.reviewed_on is None
    [varicella] = Vaccination.objects.filter(vaccine="varicella")
    assert (varicella.review_decision, varicella.reviewed_by.username) == (
        "infusion_deferred",
        f"clinician.{varicella.patient.site.code}",
    )


def test_it_raises_the_safety_rules_for_their_patients_only(output):
    """One live vaccine awaiting review and one serious adverse event: one alert each, on the
    patients the demo shows them for; the reviewed vaccine and events raise nothing."""
    evaluate_courses(list(TreatmentCourse.objects.values_list("pk", flat=True)), TODAY)
    shown = {
        rule: sorted(
            Alert.objects.filter(rule=rule, status="open").values_list(
                "course__patient__family_name", flat=True
            )
        )
        for rule in ("live_vaccine_on_treatment", "serious_adverse_event_review")
    }
    assert shown == {
        "live_vaccine_on_treatment": ["Mossgrove"],
        "serious_adverse_event_review": ["Cindervale"],
    }


def test_it_has_methotrexate_with_its_bloods_due_for_one_patient_and_up_to_date_for_another(
    output,
):
    on_methotrexate = Patient.objects.filter(
        medications__drug="methotrexate", medications__stopped_on__isnull=True
    )
    courses = TreatmentCourse.objects.filter(patient__in=on_methotrexate, stopped_on__isnull=True)
    evaluate_courses(list(courses.values_list("pk", flat=True)), TODAY)
    due = {
        alert.course.patient.given_name: alert
        for alert in Alert.objects.filter(rule="methotrexate_monitoring_due", status="open")
    }
    assert set(due) == {"Lena"}
    assert due["Lena"].due_on == TODAY - dt.timedelta(weeks=16) + dt.timedelta(days=98)
    finn = on_methotrexate.get(given_name="Finn")
    drawn = finn.lab_results.filter(analyte__in=["neutrophils", "platelets", "alt"])
    assert drawn.count() == 6
    assert drawn.filter(collected_on=finn.medications.get(drug="methotrexate").started_on)


def test_it_asks_one_patient_turning_18_on_a_parents_consent_for_their_own(output):
    """Jude turned 18 this year on a parent's consent: reconsent_at_majority, once, on the latest
    course. Nell turned 18 too and gave her own consent a month later: nothing. Felix, the adult,
    consented himself or re-consented: nothing."""
    evaluate_courses(list(TreatmentCourse.objects.values_list("pk", flat=True)), TODAY)
    asked = Alert.objects.filter(rule="reconsent_at_majority", status="open")
    assert [a.course.patient.given_name for a in asked] == ["Jude"]
    jude = asked.get().course.patient
    assert jude.age_on(TODAY) == 18
    assert list(jude.consents.values_list("consented_by", flat=True)) == ["parent_guardian"]
    nell = Patient.objects.get(given_name="Nell")
    assert list(nell.consents.order_by("given_on").values_list("consented_by", flat=True)) == [
        "parent_guardian",
        "patient",
    ]


def test_it_has_one_withdrawn_research_consent_and_plausible_consent_for_everyone(output):
    [withdrawn] = Consent.objects.filter(research_withdrawn_on__isnull=False)
    assert withdrawn.patient.given_name == "Aisha"
    assert withdrawn.research_withdrawn_on == TODAY - dt.timedelta(days=45)
    assert withdrawn.care_data_withdrawn_on is None  # care data still in force
    for consent in Consent.objects.select_related("patient", "document"):
        age = consent.patient.age_on(consent.given_on)
        assert consent.consented_by == ("patient" if age >= 18 else "parent_guardian"), consent
        assert consent.document.signed_by == consent.consented_by
        if consent.assent != "not_applicable":
            assert 7 <= age < 18
    assert not Consent.objects.filter(document__code="legacy-research-consent").exists()


# --- Idempotence, history, output ----------------------------------------------------------------


def test_it_shows_spinal_involvement_with_a_vertebral_fracture_on_mri(output):
    fractured = LesionSite.objects.filter(vertebral_fracture=True, imaging_study__isnull=False)
    assert fractured.exists()
    assert {site.bone for site in fractured} == {"vertebra"}
    study = fractured.first().imaging_study
    levels = {s.vertebral_level for s in study.lesion_sites.filter(bone="vertebra", active=True)}
    assert len(levels) >= 2  # more than one vertebra


def test_its_lesion_counts_agree_with_their_sites(output):
    studies = ImagingStudy.objects.filter(lesion_counts="sites").prefetch_related("lesion_sites")
    assert studies.count() > 20
    for study in studies:
        sites = list(study.lesion_sites.all())
        assert study.active_lesions == sum(s.active for s in sites)
        assert study.new_lesions == sum(s.new for s in sites)
    assert LesionSite.objects.filter(resolved=True).exists()
    assert LesionSite.objects.filter(new=True).exists()
    assessments = ClinicalAssessment.objects.filter(lesion_counts="sites")
    assert assessments.exists()
    for assessment in assessments.prefetch_related("lesion_sites"):
        assert assessment.clinically_active_lesions == len(assessment.lesion_sites.all())
    # Nothing active and nothing resolving: a count of 0 without sites.
    assert ClinicalAssessment.objects.filter(
        lesion_counts="recorded", clinically_active_lesions=0
    ).exists()


def test_it_records_the_phenotype_and_comorbidities_of_a_few(output):
    phenotypes = list(Phenotype.objects.select_related("patient"))
    assert 3 <= len(phenotypes) < Patient.objects.count()
    assert any(p.bristol_met for p in phenotypes)
    assert any(p.jansson_score is not None for p in phenotypes)
    for p in phenotypes:
        assert p.first_symptoms_on is not None
        assert p.patient.diagnosed_on is not None
        assert p.first_symptoms_on < p.patient.diagnosed_on
    assert {"yes", "no"} <= {p.family_history for p in phenotypes}
    assert {c.condition for c in Comorbidity.objects.all()} >= {"ppp", "ibd"}


def test_it_adds_nothing_when_run_again(output):
    counts = {model: model.objects.count() for model in apps.get_models()}
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert {model: model.objects.count() for model in apps.get_models()} == counts
    assert "Patients: 0 created, 60 already present." in again.getvalue()


def test_it_keeps_the_history_of_every_record_with_its_author(output):
    for model in (*CLINICAL_MODELS, Site, Membership):
        history = model.history
        assert set(history.values_list("id", flat=True)) == set(
            model.objects.values_list("id", flat=True)
        ), model.__name__
        assert not history.filter(history_user__isnull=True).exists(), model.__name__


def test_it_writes_clinical_data_as_the_sites_clinicians_and_nurses(output):
    authors = Infusion.history.values_list("history_user__username", flat=True).distinct()
    assert set(authors) == {"nurse.north", "nurse.south"}
    authors = TreatmentCourse.history.values_list("history_user__username", flat=True).distinct()
    assert set(authors) == {"clinician.north", "clinician.south"}


def test_it_prints_the_logins(output):
    for username in ("admin", "clinician.north", "nurse.north", "datamanager.south"):
        assert username in output
    assert "researcher.south" in output
    assert DEMO_PASSWORD in output


def test_it_prints_no_patient_names_or_mrns(output):
    for demo in PATIENTS:
        assert demo.given_name not in output
        assert demo.family_name not in output
    for mrn in Patient.objects.values_list("mrn", flat=True):
        assert mrn not in output
