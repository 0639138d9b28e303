"""Reads behind the clinic pages: course schedules (from the engine), the timeline, the history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from monitoring.evaluation import load_histories, site_guidelines
from monitoring.guideline import DEFAULT, Guideline, cut_at
from monitoring.guideline.history import CourseHistory
from monitoring.guideline.schedule import Schedule, ScheduledDose, schedule
from monitoring.models import Alert, Severity
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

SEVERITY_ORDER = Case(
    When(severity=Severity.URGENT, then=Value(0)),
    When(severity=Severity.WARNING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def guideline_for(site_code: str) -> Guideline:
    return site_guidelines().get(site_code, DEFAULT)


@dataclass(frozen=True)
class DoseLine:
    dose: ScheduledDose
    days_late: int
    late: bool

    @property
    def status(self) -> str:
        return "late" if self.late else "on time"


@dataclass(frozen=True)
class CourseOverview:
    course_id: int
    history: CourseHistory
    schedule: Schedule
    dose_mg_per_kg: Decimal
    interval_weeks: int
    doses: list[DoseLine]
    today: dt.date

    @property
    def next_dose(self) -> ScheduledDose | None:
        return self.schedule.next_dose

    @property
    def next_due_in_days(self) -> int | None:
        dose = self.next_dose
        return (dose.due_on - self.today).days if dose else None


def course_overviews(
    course_ids: Iterable[int], today: dt.date | None = None
) -> dict[int, CourseOverview]:
    """The computed schedule of each course (a constant number of queries, as the engine loads)."""
    today = today or timezone.localdate()
    guidelines = site_guidelines()
    overviews = {}
    for history in load_histories(list(course_ids)):
        known = cut_at(history, today)
        grace = guidelines.get(history.site_code, DEFAULT).dose_grace_days
        plan = schedule(known, today)
        dose, interval = known.regimen_on(today)
        lines = [DoseLine(d, d.days_late(today), d.days_late(today) > grace) for d in plan.doses]
        overviews[history.course_id] = CourseOverview(
            history.course_id, known, plan, dose, interval, lines, today
        )
    return overviews


def worklist_alerts(site_ids: Iterable[int]) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(course__patient__site_id__in=list(site_ids))
        .select_related("course__patient__site")
        .annotate(severity_order=SEVERITY_ORDER)
        .order_by("severity_order", "due_on", "pk")
    )


# --- Timeline ------------------------------------------------------------------------------------


def _ms(day: dt.date) -> int:
    """Chart x values: milliseconds since the epoch at midnight UTC."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def timeline(patient: Patient, guideline: Guideline) -> dict[str, Any]:
    """Everything the patient's timeline chart draws, as JSON-ready values."""
    infusions = list(Infusion.objects.filter(course__patient=patient).order_by("given_on"))
    labs = list(patient.lab_results.filter(analyte__in=["crp", "esr"]).order_by("collected_on"))
    reactions = InfusionReaction.objects.filter(infusion__course__patient=patient).select_related(
        "infusion"
    )
    courses = list(patient.courses.order_by("started_on"))
    changes = RegimenChange.objects.filter(course__patient=patient).order_by("effective_on")

    def markers(analyte: str) -> list[dict[str, Any]]:
        return [
            {"x": _ms(lab.collected_on), "y": _num(lab.value)}
            for lab in labs
            if lab.analyte == analyte and lab.value is not None
        ]

    crp_limits = [lab.reference_high for lab in labs if lab.analyte == "crp" and lab.reference_high]
    esr_limits = [lab.reference_high for lab in labs if lab.analyte == "esr" and lab.reference_high]
    events = [
        {"x": _ms(course.started_on), "label": f"Course start {course.started_on:%d %b %Y}"}
        for course in courses
    ]
    events += [
        {"x": _ms(c.stopped_on), "label": f"Stopped ({c.get_stop_reason_display().lower()})"}
        for c in courses
        if c.stopped_on
    ]
    events += [
        {"x": _ms(change.effective_on), "label": f"{change.get_reason_display()}: "
         f"{change.dose_mg_per_kg} mg/kg q{change.interval_weeks}w"}
        for change in changes
    ]  # fmt: skip
    return {
        "infusions": [
            {"x": _ms(i.given_on), "y": _num(i.mg_per_kg), "dose_mg": _num(i.dose_mg)}
            for i in infusions
        ],
        "crp": markers("crp"),
        "esr": markers("esr"),
        "crp_uln": _num(crp_limits[-1] if crp_limits else guideline.crp_upper_normal_mg_l),
        "esr_uln": _num(esr_limits[-1] if esr_limits else guideline.esr_upper_normal_mm_h),
        "mri": [
            {"x": _ms(s.performed_on), "y": s.active_lesions or 0, "new": s.new_lesions or 0}
            for s in patient.imaging_studies.order_by("performed_on")
            if s.is_mri
        ],
        "assessments": [
            {"x": _ms(a.assessed_on), "y": _num(a.physician_global), "state": a.disease_state}
            for a in patient.assessments.order_by("assessed_on")
        ],
        "reactions": [{"x": _ms(r.infusion.given_on), "severity": r.severity} for r in reactions],
        "events": sorted(events, key=lambda event: event["x"]),
    }


# --- History -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    at: dt.datetime
    who: str
    what: str
    kind: str  # created | changed | deleted
    fields: list[str]


_HISTORY_KINDS = {"+": "created", "~": "changed", "-": "deleted"}


def _on(day: dt.date | None) -> str:
    return f"{day:%d %b %Y}" if day else ""


# What each kind of record is called in the history, and how one row is described.
_HISTORY_SOURCES: list[tuple[str, Any, str, Any]] = [
    ("Patient", Patient, "id", lambda r: r.registry_code),
    ("Course", TreatmentCourse, "patient_id", lambda r: f"from {_on(r.started_on)}"),
    (
        "Regimen change",
        RegimenChange,
        "course__patient_id",
        lambda r: f"from {_on(r.effective_on)}",
    ),
    ("Infusion", Infusion, "course__patient_id", lambda r: f"{r.dose_mg} mg on {_on(r.given_on)}"),
    ("Reaction", InfusionReaction, "infusion__course__patient_id", lambda r: r.severity),
    ("Lab result", LabResult, "patient_id", lambda r: f"{r.analyte} on {_on(r.collected_on)}"),
    ("Imaging", ImagingStudy, "patient_id", lambda r: f"{r.modality} on {_on(r.performed_on)}"),
    ("Assessment", ClinicalAssessment, "patient_id", lambda r: _on(r.assessed_on)),
    ("Relapse", Relapse, "patient_id", lambda r: f"noted {_on(r.noted_on)}"),
]


def record_history(patient: Patient, limit: int = 80) -> list[Change]:
    """The latest changes to any of the patient's records: who, when, which fields changed.

    One query per kind of record; the changed fields are diffed in memory, row against the row
    before it.
    """
    changes = []
    for label, model, owner, describe in _HISTORY_SOURCES:
        rows = model.history.filter(**{owner: patient.pk}).select_related("history_user")
        previous: dict[int, Any] = {}
        for row in rows.order_by("id", "history_date", "history_id"):
            fields: list[str] = []
            before = previous.get(row.id)
            if row.history_type == "~" and before is not None:
                delta = row.diff_against(before)
                fields = [str(model._meta.get_field(n).verbose_name) for n in delta.changed_fields]
            previous[row.id] = row
            changes.append(
                Change(
                    at=row.history_date,
                    who=row.history_user.get_username() if row.history_user else "registry",
                    what=f"{label} {describe(row)}",
                    kind=_HISTORY_KINDS[row.history_type],
                    fields=fields,
                )
            )
    return sorted(changes, key=lambda change: change.at, reverse=True)[:limit]
