"""The incremental nightly run leaves exactly the alerts a full run would, every day.

A hypothesis property over generated registries (patients at two sites, courses started at
different times, on time or late, stopped, on methotrexate) and random sequences of days and
changes made through the services a clinic uses (infusions, labs, assessments, MRIs, stops,
reaction reviews, a site's guideline parameters). Each simulated day, the nightly run evaluates
only the courses due; then, in a savepoint rolled back afterwards, a full run evaluates every
course from the same state. Their alerts must be the same to the letter (rule, key, status,
severity, title, explanation, evidence, dates). By induction the incremental nights leave the
same alerts as full nights would.

The services' on-commit re-evaluation does not run here (the test's transaction never commits):
the nightly run must find the changed courses by their record version alone, as after a broker
outage. Sometimes the immediate re-evaluation is run by hand, as it runs after a commit.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import evaluation, tasks
from monitoring.models import Alert, CourseEvaluation, EvaluationRun, SiteGuideline
from registry import services
from registry.models import (
    ClinicalAssessment,
    Infusion,
    InfusionReaction,
    Role,
    TreatmentCourse,
)
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    MedicationFactory,
    MembershipFactory,
    PatientFactory,
    ScreeningResultFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
FIRST = TODAY - 30 * DAY  # the first simulated night


def at(day: dt.date) -> Any:
    return time_machine.travel(dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC), tick=False)


# --- The registry ------------------------------------------------------------------------------

patients = st.fixed_dictionaries(
    {
        "site": st.sampled_from(["north", "south"]),
        "started": st.integers(-500, 20),  # days from FIRST
        "interval": st.sampled_from([6, 8]),
        "given": st.integers(0, 9),  # infusions given before FIRST, on schedule
        "late_by": st.sampled_from([0, 0, 5, 12, 40]),  # the last one's delay
        "stopped": st.none() | st.sampled_from(["remission", "patient_choice", "inefficacy"]),
        "methotrexate": st.booleans(),
        "screened": st.booleans(),
        "markers_every": st.none() | st.sampled_from([56, 120]),
        "assessed": st.sampled_from(["", "inactive", "active"]),
    }
)

changes = st.one_of(
    st.tuples(st.just("infusion"), st.integers(0, 9), st.sampled_from(["200", "260"])),
    st.tuples(st.just("lab"), st.integers(0, 9), st.sampled_from(["crp", "esr", "alt"])),
    st.tuples(
        st.just("assessment"), st.integers(0, 9), st.sampled_from(["", "inactive", "active"])
    ),
    st.tuples(st.just("mri"), st.integers(0, 9), st.sampled_from([0, 2])),
    st.tuples(st.just("stop"), st.integers(0, 9), st.sampled_from(["remission", "other"])),
    st.tuples(st.just("reaction"), st.integers(0, 9), st.sampled_from(["mild", "severe"])),
    st.tuples(st.just("review"), st.integers(0, 9), st.just("")),
    st.tuples(st.just("guideline"), st.integers(0, 9), st.sampled_from(["{}", "grace", "markers"])),
    st.tuples(st.just("evaluate_now"), st.integers(0, 9), st.just("")),
)
nights = st.lists(
    st.tuples(st.sampled_from([1, 1, 1, 2, 3, 7, 20, 45]), st.lists(changes, max_size=3)),
    min_size=3,
    max_size=8,
)


def build(shape: list[dict[str, Any]]) -> tuple[list[Any], Any]:
    """The registry as it stood before the first night (factories: it is history)."""
    sites = {"north": SiteFactory(code="north"), "south": SiteFactory(code="south")}
    clinician = UserFactory(username="carl")
    for site in sites.values():
        MembershipFactory(user=clinician, site=site, role=Role.CLINICIAN)
    made = []
    for n, p in enumerate(shape):
        patient = PatientFactory(site=sites[p["site"]], mrn=f"MRN{n}")
        start = FIRST + p["started"] * DAY
        course = CourseFactory(
            patient=patient, started_on=start, maintenance_interval_weeks=p["interval"]
        )
        days = [0, 14, 42]
        while len(days) < p["given"]:
            days.append(days[-1] + p["interval"] * 7)
        days = days[: p["given"]]
        if days:
            days[-1] += p["late_by"]
        given = [start + d * DAY for d in days if start + d * DAY < FIRST]
        for on in given:
            InfusionFactory(course=course, given_on=on, weight_measured_on=on)
        if p["screened"]:
            for test in ("tb_igra", "hbv_hbsag", "hbv_anti_hbc"):
                ScreeningResultFactory(patient=patient, test=test, tested_on=start - 10 * DAY)
        if p["markers_every"]:
            on = start
            while on < FIRST:
                for analyte in ("crp", "esr"):
                    LabResultFactory(patient=patient, analyte=analyte, collected_on=on)
                on += p["markers_every"] * DAY
        if p["methotrexate"]:
            MedicationFactory(patient=patient, drug="methotrexate", started_on=start)
        if p["assessed"] and given:
            AssessmentFactory(patient=patient, assessed_on=given[-1], disease_state=p["assessed"])
            ImagingStudyFactory(patient=patient, performed_on=given[-1], active_lesions=0)
        if p["stopped"] and given:
            course.stopped_on, course.stop_reason = given[-1] + 20 * DAY, p["stopped"]
            course.stopped_on = min(course.stopped_on, FIRST - DAY)
            course.save()
        made.append(patient)
    return made, clinician


def apply(change: tuple[str, int, str], patients_: list[Any], by: Any, today: dt.date) -> None:
    """One change through the services (a refusal, as a clinic would meet it, changes nothing)."""
    kind, index, value = change
    patient = patients_[index % len(patients_)]
    course = TreatmentCourse.objects.filter(patient=patient).order_by("-started_on").first()
    try:
        if kind == "infusion" and course.started_on <= today:
            services.infusion_record(
                course=course,
                given_on=today,
                weight_kg=Decimal("40"),
                weight_measured_on=today,
                dose_mg=Decimal(value),
                weight_confirmed=True,
                duration_minutes=130,
                by=by,
            )
        elif kind == "lab":
            services.lab_result_record(
                patient=patient, collected_on=today, analyte=value, value=Decimal("3"), by=by
            )
        elif kind == "assessment":
            services.assessment_record(
                patient=patient,
                assessed_on=today,
                pain_score=Decimal("0"),
                physician_global=Decimal("0"),
                clinically_active_lesions=1 if value == "active" else 0,
                disease_state=value,
                by=by,
            )
        elif kind == "mri":
            services.imaging_study_record(
                patient=patient,
                performed_on=today,
                modality="wb_mri",
                active_lesions=int(value),
                new_lesions=0,
                by=by,
            )
        elif kind == "stop" and course.stopped_on is None and course.started_on <= today:
            services.course_stop(course=course, stopped_on=today, reason=value, by=by)
        elif kind == "reaction":
            infusion = Infusion.objects.filter(course=course).order_by("-given_on").first()
            if infusion is not None:
                services.reaction_record(
                    infusion=infusion, onset="acute", severity=value, symptoms="rash", by=by
                )
        elif kind == "review":
            for reaction in severe_reactions_awaiting_review(course):
                services.reaction_review_record(
                    reaction=reaction, reviewed_on=today, decision="continue_premedicated", by=by
                )
        elif kind == "guideline":
            overrides = {"grace": {"dose_grace_days": 3}, "markers": {"marker_interval_days": 60}}
            SiteGuideline.objects.update_or_create(
                site=patient.site, defaults={"overrides": overrides.get(value, {})}
            )
        elif kind == "evaluate_now":  # what the on-commit re-evaluation does after a save
            evaluation.evaluate_patient(patient.pk)
    except ValidationError:
        pass


def severe_reactions_awaiting_review(course: TreatmentCourse) -> list[Any]:
    return list(
        InfusionReaction.objects.filter(
            infusion__course__patient=course.patient, severity="severe", reviewed_on__isnull=True
        )
    )


def alerts() -> list[tuple[Any, ...]]:
    """Every alert as it reads to a clinician (last_seen_at aside: when it was last looked at)."""
    return [
        (
            a.course_id,
            a.rule,
            a.key,
            a.status,
            a.severity,
            a.title,
            a.explanation,
            a.evidence,
            a.due_on,
            a.guideline_version,
            a.resolution_reason,
            a.first_raised_at.date(),
            a.resolved_at and a.resolved_at.date(),
        )
        for a in Alert.objects.order_by("course_id", "rule", "key", "pk")
    ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(shape=st.lists(patients, min_size=2, max_size=6), nights_=nights)
def test_the_incremental_nights_leave_the_alerts_of_full_nights(shape, nights_):
    with transaction.atomic():  # each example rolls back what it wrote
        made, clinician = build(shape)
        day = FIRST
        skipped = 0
        for step, todays_changes in nights_:
            day += step * DAY
            with at(day):
                for change in todays_changes:
                    apply(change, made, clinician, day)
                run, _ = evaluation.run_evaluation(as_of=day, kind="nightly")
                skipped += run.skipped
                incremental = alerts()
                with transaction.atomic():
                    evaluation.run_evaluation(as_of=day, kind="nightly", full=True)
                    full = alerts()
                    transaction.set_rollback(True)
            assert incremental == full, f"night of {day}"
        assert CourseEvaluation.objects.exists()
        transaction.set_rollback(True)


def test_a_change_through_a_service_makes_its_course_due(site_a, clinician_a):
    """The mark the nightly run follows: the record version moves with the change."""
    patient = PatientFactory(site=site_a)
    course = CourseFactory(patient=patient, started_on=TODAY - 100 * DAY)
    evaluation.run_evaluation(as_of=TODAY, full=True)
    assert list(evaluation.courses_due(TODAY)) == []
    services.assessment_record(
        patient=patient, assessed_on=TODAY, disease_state="inactive", by=clinician_a
    )
    assert list(evaluation.courses_due(TODAY)) == [course]
    run, outcome = evaluation.run_evaluation(as_of=TODAY)
    assert (outcome.courses, run.skipped) == (1, 0)
    assert list(evaluation.courses_due(TODAY)) == []
    assert ClinicalAssessment.objects.filter(patient=patient).count() == 1


def test_beat_runs_the_incremental_night_six_days_a_week_and_a_full_one_on_the_seventh(settings):
    nightly = settings.CELERY_BEAT_SCHEDULE["nightly-evaluation"]
    weekly = settings.CELERY_BEAT_SCHEDULE["weekly-full-evaluation"]
    assert nightly["task"] == weekly["task"] == "monitoring.evaluate_nightly"
    assert weekly["kwargs"] == {"full": True}
    assert "kwargs" not in nightly  # incremental
    assert nightly["schedule"].hour == weekly["schedule"].hour
    assert nightly["schedule"].minute == weekly["schedule"].minute
    # Every day of the week has exactly one of the two (crontab: 0 is Sunday).
    assert weekly["schedule"].day_of_week == {0}
    assert nightly["schedule"].day_of_week == {1, 2, 3, 4, 5, 6}


@pytest.fixture
def eager(settings):
    current_app.conf.task_always_eager = True  # the chord's chunks run in this process
    yield
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


def test_the_nightly_task_leaves_alone_what_did_not_change(eager, site_a, clinician_a):

    patient = PatientFactory(site=site_a)
    CourseFactory(patient=patient, started_on=TODAY - 100 * DAY)
    CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 50 * DAY)
    first = EvaluationRun.objects.get(pk=tasks.evaluate_nightly(TODAY.isoformat()))
    assert (first.full, first.courses, first.skipped) == (False, 2, 0)
    services.lab_result_record(
        patient=patient, collected_on=TODAY, analyte="crp", value=Decimal("3"), by=clinician_a
    )
    second = EvaluationRun.objects.get(pk=tasks.evaluate_nightly(TODAY.isoformat()))
    assert (second.full, second.courses, second.skipped) == (False, 1, 1)
    weekly = EvaluationRun.objects.get(pk=tasks.evaluate_nightly(TODAY.isoformat(), full=True))
    assert (weekly.full, weekly.courses, weekly.skipped) == (True, 2, 0)
