"""The write paths: what each service stores, who it records as the author, what it announces."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from registry import services
from registry.models import Infusion, Patient, Relapse, TreatmentCourse
from registry.signals import reevaluation_requested
from tests.conftest import TODAY, _member
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    PatientFactory,
    ReactionFactory,
    RelapseFactory,
    SiteFactory,
    acting_superuser,
)

pytestmark = pytest.mark.django_db


def register(site, mrn: str, by=None) -> Patient:
    return services.patient_register(
        site=site,
        mrn=mrn,
        given_name="Mia",
        family_name="Kowalski",
        date_of_birth=dt.date(2013, 7, 1),
        sex="female",
        by=by or acting_superuser(),
    )


def test_it_assigns_sequential_registry_codes(site_a, site_b):
    codes = [register(site_a, "A1").registry_code, register(site_b, "B1").registry_code]
    assert codes == ["CRMO-000001", "CRMO-000002"]


def test_it_continues_after_the_highest_existing_code(site_a):
    PatientFactory(registry_code="CRMO-000041")
    assert register(site_a, "A1").registry_code == "CRMO-000042"


def test_it_records_who_made_each_change(site_a, clinician_a):
    patient = register(site_a, "A1", by=clinician_a)
    services.patient_correct(patient=patient, changes={"family_name": "Kowalska"}, by=clinician_a)
    history = list(patient.history.order_by("history_date"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert {h.history_user for h in history} == {clinician_a}
    change = history[1].diff_against(history[0])
    assert change.changed_fields == ["family_name"]


def test_it_asks_once_per_action_for_a_re_evaluation_after_commit(
    site_a, clinician_a, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, patient_ids, actor_id, **kwargs):
        received.append((patient_ids, actor_id))

    reevaluation_requested.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            patient = register(site_a, "A1", by=clinician_a)
            course = services.course_start(
                patient=patient, started_on=dt.date(2025, 1, 6), by=clinician_a
            )
            infusion = services.infusion_record(
                course=course,
                given_on=dt.date(2025, 1, 6),
                weight_kg=Decimal("40"),
                weight_measured_on=dt.date(2025, 1, 6),
                dose_mg=Decimal("200"),
                by=clinician_a,
            )
            services.reaction_record(
                infusion=infusion, onset="acute", severity="mild", symptoms="Rash", by=clinician_a
            )
    finally:
        reevaluation_requested.disconnect(receiver)
    assert received == [([patient.pk], clinician_a.pk)] * 4


def test_an_action_that_calls_another_asks_once(
    site_a, clinician_a, django_capture_on_commit_callbacks
):
    course = CourseFactory(
        patient=PatientFactory(site=site_a),
        started_on=dt.date(2024, 1, 8),
        stopped_on=dt.date(2025, 3, 1),
        stop_reason="remission",
    )
    relapse = RelapseFactory(course=course, patient=course.patient, noted_on=dt.date(2025, 10, 2))
    with django_capture_on_commit_callbacks() as callbacks:
        services.retreatment_start(relapse=relapse, started_on=dt.date(2025, 10, 9), by=clinician_a)
    assert len(callbacks) == 1  # a course and a link: one action, one re-evaluation


def test_a_refused_action_asks_for_nothing(site_a, clinician_a, django_capture_on_commit_callbacks):
    patient = PatientFactory(site=site_a)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        services.course_start(
            patient=patient, started_on=TODAY + dt.timedelta(days=1), by=clinician_a
        )
    assert callbacks == []


def test_it_records_an_infusion_with_its_premedication():
    course = CourseFactory()
    infusion = services.infusion_record(
        course=course,
        given_on=course.started_on,
        weight_kg=Decimal("38.5"),
        weight_measured_on=course.started_on,
        dose_mg=Decimal("200"),
        duration_minutes=120,
        premedication=["antihistamine", "corticosteroid"],
        lot_number="IFX-2291",
        by=acting_superuser(),
    )
    infusion.refresh_from_db()
    assert infusion.premedication_antihistamine
    assert infusion.premedication_corticosteroid
    assert not infusion.premedication_antipyretic
    assert infusion.mg_per_kg == Decimal("5.19")


def test_it_rejects_an_unknown_premedication():
    course = CourseFactory()
    with pytest.raises(ValidationError, match="Unknown premedication"):
        services.infusion_record(
            course=course,
            given_on=course.started_on,
            weight_kg=Decimal("40"),
            weight_measured_on=course.started_on,
            dose_mg=Decimal("200"),
            premedication=["aspirin"],
            by=acting_superuser(),
        )


def test_it_stops_a_course_once():
    course = CourseFactory()
    InfusionFactory(course=course, given_on=dt.date(2025, 1, 6))
    services.course_stop(
        course=course, stopped_on=dt.date(2026, 1, 6), reason="remission", by=acting_superuser()
    )
    course.refresh_from_db()
    assert (course.stopped_on, course.stop_reason) == (dt.date(2026, 1, 6), "remission")
    with pytest.raises(ValidationError, match="already stopped on 06 Jan 2026"):
        services.course_stop(
            course=course, stopped_on=dt.date(2026, 2, 1), reason="other", by=acting_superuser()
        )


def test_it_records_a_taper_that_the_regimen_then_follows():
    course = CourseFactory(started_on=dt.date(2025, 1, 6))
    services.regimen_change_record(
        course=course,
        effective_on=dt.date(2026, 1, 12),
        dose_mg_per_kg=Decimal("5"),
        interval_weeks=10,
        reason="taper",
        by=acting_superuser(),
    )
    services.regimen_change_record(
        course=course,
        effective_on=dt.date(2026, 5, 4),
        dose_mg_per_kg=Decimal("5"),
        interval_weeks=12,
        reason="taper",
        by=acting_superuser(),
    )
    assert course.regimen_on(dt.date(2026, 1, 11)) == (Decimal("5"), 8)
    assert course.regimen_on(dt.date(2026, 1, 12)) == (Decimal("5"), 10)
    assert course.regimen_on(dt.date(2026, 6, 1)) == (Decimal("5"), 12)


def test_it_records_a_relapse_and_starts_a_retreatment_course():
    course = CourseFactory(
        started_on=dt.date(2024, 1, 8), stopped_on=dt.date(2025, 3, 1), stop_reason="remission"
    )
    relapse = services.relapse_record(
        course=course,
        noted_on=dt.date(2025, 10, 2),
        evidence="New femoral lesion on MRI",
        by=acting_superuser(),
    )
    retreatment = services.retreatment_start(
        relapse=relapse, started_on=dt.date(2025, 10, 9), by=acting_superuser()
    )
    relapse.refresh_from_db()
    assert relapse.retreatment_course == retreatment
    assert retreatment.patient == course.patient
    assert retreatment.induction_weeks == [0, 2, 6]
    assert "relapse noted on 02 Oct 2025" in retreatment.notes


def test_it_saves_neither_the_course_nor_the_link_when_retreatment_is_refused():
    course = CourseFactory(
        started_on=dt.date(2024, 1, 8), stopped_on=dt.date(2025, 3, 1), stop_reason="remission"
    )
    relapse = services.relapse_record(
        course=course, noted_on=dt.date(2025, 10, 2), evidence="New lesion", by=acting_superuser()
    )
    with pytest.raises(ValidationError) as caught:
        # Before the relapse was noted: the link is refused after the course was created.
        services.retreatment_start(
            relapse=relapse, started_on=dt.date(2025, 9, 1), by=acting_superuser()
        )
    assert "retreatment_course" in caught.value.message_dict
    assert TreatmentCourse.objects.filter(patient=course.patient).count() == 1
    assert Relapse.objects.get().retreatment_course is None


def severe_reaction_at(site):
    course = CourseFactory(patient=PatientFactory(site=site))
    return ReactionFactory(infusion=InfusionFactory(course=course), severity="severe")


def test_it_records_a_clinicians_review_of_a_reaction(site_a, clinician_a):
    reaction = severe_reaction_at(site_a)
    services.reaction_review_record(
        reaction=reaction,
        reviewed_on=dt.date(2025, 1, 8),
        decision="continue_premedicated",
        note="Premedicate and halve the rate.",
        by=clinician_a,
    )
    reaction.refresh_from_db()
    assert (reaction.reviewed_on, reaction.reviewed_by) == (dt.date(2025, 1, 8), clinician_a)
    assert (reaction.review_decision, reaction.review_note) == (
        "continue_premedicated",
        "Premedicate and halve the rate.",
    )
    with pytest.raises(ValidationError, match="was reviewed on 08 Jan 2025 by carl"):
        services.reaction_review_record(
            reaction=reaction,
            reviewed_on=dt.date(2025, 1, 9),
            decision="continue_unchanged",
            by=clinician_a,
        )


def test_a_review_that_stops_infliximab_stops_the_course(site_a, clinician_a):
    reaction = severe_reaction_at(site_a)
    services.reaction_review_record(
        reaction=reaction, reviewed_on=dt.date(2025, 1, 8), decision="stop", by=clinician_a
    )
    course = reaction.infusion.course
    course.refresh_from_db()
    assert (course.stopped_on, course.stop_reason) == (dt.date(2025, 1, 8), "adverse_event")
    assert (
        "infliximab stopped after the severe reaction to the infusion of 06 Jan 2025"
        in course.notes
    )


@pytest.mark.parametrize("reviewer", ["nurse_a", "clinician_elsewhere"])
def test_only_a_clinician_of_the_site_can_review_a_reaction(request, site_a, reviewer):
    if reviewer == "clinician_elsewhere":
        person = _member("cleo", SiteFactory(code="east"), "clinician")
    else:
        person = request.getfixturevalue(reviewer)
    reaction = severe_reaction_at(site_a)
    with pytest.raises(PermissionDenied, match="Only a clinician of this site may review"):
        services.reaction_review_record(
            reaction=reaction, reviewed_on=dt.date(2025, 1, 8), decision="stop", by=person
        )
    # The refused values do not linger on the caller's object.
    assert (reaction.reviewed_on, reaction.reviewed_by) == (None, None)
    reaction.refresh_from_db()
    assert reaction.reviewed_on is None


def test_a_refused_stop_leaves_the_course_as_it_was():
    course = CourseFactory()
    InfusionFactory(course=course, given_on=dt.date(2025, 3, 1))
    with pytest.raises(ValidationError):
        services.course_stop(
            course=course, stopped_on=dt.date(2025, 2, 1), reason="other", by=acting_superuser()
        )
    assert (course.stopped_on, course.stop_reason) == (None, "")


@pytest.mark.django_db(transaction=True)
def test_a_race_the_validation_cannot_see_is_refused_by_the_database_with_its_message():
    # Two nurses record the same infusion at once: neither sees the other's uncommitted row; the
    # unique index makes the second wait, then refuses it, and the refusal reads like validation.
    course = CourseFactory()
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    nurse = acting_superuser()

    def record() -> None:
        try:
            with transaction.atomic():
                barrier.wait()
                infusion = services.infusion_record(
                    course=course,
                    given_on=course.started_on,
                    weight_kg=Decimal("40"),
                    weight_measured_on=course.started_on,
                    dose_mg=Decimal("200"),
                    by=nurse,
                )
                outcomes.append(infusion)
                time.sleep(0.5)  # hold the transaction open while the other validates
        except ValidationError as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refusals = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(refusals) == 1
    assert refusals[0].messages == ["This course already has an infusion on this date."]
    assert Infusion.objects.filter(course=course).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_gives_concurrent_registrations_distinct_codes(site_a):
    # Two clinics registering at once read the same "last code"; the unique index and a retry
    # give each its own code instead of an error.
    barrier = threading.Barrier(4)
    codes: list[str] = []
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            codes.append(register(site_a, f"T{n}").registry_code)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(codes) == [f"CRMO-00000{n}" for n in range(1, 5)]
