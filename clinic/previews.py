"""What a confirmed action will create or change, read from the records the action itself wrote in a
transaction that is then rolled back (`clinic.views._entry`): the preview cannot differ from the
save, and its alerts are the engine's own findings for the new course."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import selectors
from monitoring.evaluation import load_histories
from monitoring.guideline import evaluate_course
from registry import dosing, safeguards
from registry.models import (
    Analyte,
    Infusion,
    InfusionReaction,
    LabResult,
    Relapse,
    TreatmentCourse,
)

WEEK = dt.timedelta(weeks=1)


@dataclass(frozen=True)
class DueDose:
    number: int
    week: int
    due_on: dt.date
    phase: str


@dataclass(frozen=True)
class ExpectedDose:
    weight_kg: Decimal
    weighed_on: dt.date
    dose_mg: Decimal
    vials: int


@dataclass(frozen=True)
class RaisedAlert:
    severity: str
    title: str


@dataclass(frozen=True)
class Retreatment:
    course: TreatmentCourse
    doses: list[DueDose]
    expected: ExpectedDose | None
    antibodies: LabResult | None
    reactions: list[InfusionReaction]
    hold: str
    alerts: list[RaisedAlert]


@dataclass(frozen=True)
class RelapsePreview:
    relapse: Relapse
    retreatment: Retreatment | None


@dataclass(frozen=True)
class StopPreview:
    course: TreatmentCourse
    note: str
    last_infusion: Infusion | None
    watch_days: int
    visit_days: tuple[int, ...]


def first_doses(course: TreatmentCourse) -> list[DueDose]:
    """The induction doses and the first maintenance dose, if dose 1 is given on the start date."""
    weeks = list(course.induction_weeks)
    doses = [
        DueDose(number, week, course.started_on + week * WEEK, "induction")
        for number, week in enumerate(weeks, start=1)
    ]
    maintenance = weeks[-1] + course.maintenance_interval_weeks
    doses.append(
        DueDose(len(weeks) + 1, maintenance, course.started_on + maintenance * WEEK, "maintenance")
    )
    return doses


def _expected_dose(course: TreatmentCourse) -> ExpectedDose | None:
    """The planned dose at the patient's latest weight (from any course)."""
    last = (
        Infusion.objects.filter(course__patient_id=course.patient_id)
        .order_by("-given_on", "-pk")
        .first()
    )
    if last is None:
        return None
    # The figure the infusion form and the infusion list give (registry.dosing).
    dose = dosing.expected_dose(last.weight_kg, course.planned_dose_mg_per_kg)
    return ExpectedDose(last.weight_kg, last.weight_measured_on, dose.dose_mg, dose.vials)


def _hold(patient_id: int) -> str:
    try:
        safeguards.check_no_infusion_hold(patient_id=patient_id)
    except ValidationError as refused:
        return " ".join(refused.messages)
    return ""


def retreatment(course: TreatmentCourse) -> Retreatment:
    """The new course, its first due dates, and what carries over from the earlier courses: the
    latest antibody result, every reaction, a hold, and the alerts the engine raises today."""
    patient = course.patient
    history = load_histories([course.pk])[0]
    findings = evaluate_course(
        history, timezone.localdate(), selectors.guideline_for(patient.site.code)
    ).findings
    antibodies = (
        patient.lab_results.filter(analyte=Analyte.ANTI_INFLIXIMAB_ANTIBODIES)
        .order_by("-collected_on", "-pk")
        .first()
    )
    reactions = list(
        InfusionReaction.objects.filter(infusion__course__patient=patient)
        .select_related("infusion")
        .order_by("infusion__given_on", "pk")
    )
    return Retreatment(
        course=course,
        doses=first_doses(course),
        expected=_expected_dose(course),
        antibodies=antibodies,
        reactions=reactions,
        hold=_hold(patient.pk),
        alerts=[RaisedAlert(str(f.severity), f.title) for f in findings],
    )


def relapse(recorded: Relapse) -> RelapsePreview:
    course = recorded.retreatment_course
    return RelapsePreview(recorded, retreatment(course) if course is not None else None)


def stop(course: TreatmentCourse, note: str) -> StopPreview:
    guideline = selectors.guideline_for(course.patient.site.code)
    return StopPreview(
        course=course,
        note=note.strip(),
        last_infusion=course.infusions.order_by("-given_on").first(),
        watch_days=guideline.post_stop_watch_days,
        visit_days=guideline.post_stop_visit_days,
    )
