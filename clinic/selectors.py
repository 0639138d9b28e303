"""Reads behind the clinic pages: course schedules (from the engine), the timeline, the history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, Field, IntegerField, Model, QuerySet, Value, When
from django.utils import timezone

from clinic.patient_record import PatientRecord, analyte_name, number, sites_summary
from monitoring.evaluation import load_histories, site_guidelines
from monitoring.guideline import DEFAULT, Guideline, cut_at
from monitoring.guideline.history import CourseHistory
from monitoring.guideline.schedule import Schedule, ScheduledDose, schedule
from monitoring.models import Alert, Severity
from registry.models import (
    AdverseEvent,
    Analyte,
    ClinicalAssessment,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    Patient,
    RegimenChange,
    Relapse,
    ScreeningResult,
    TreatmentCourse,
    Vaccination,
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


@dataclass(frozen=True)
class TimelineRow:
    """One point of the chart in words: its table alternative (for screen readers and print)."""

    on: dt.date
    series: str
    value: str


@dataclass(frozen=True)
class Timeline:
    chart: dict[str, Any]  # what static/clinic/timeline.js draws, JSON-ready
    rows: list[TimelineRow]  # the same points, newest first
    summary: str  # the canvas's accessible name


def timeline(
    record: PatientRecord,
    guideline: Guideline,
    *,
    today: dt.date,
    next_dose: ScheduledDose | None = None,
) -> Timeline:
    """Everything the patient's timeline chart draws, with the same points as table rows.

    `next_dose` is the active course's next due dose: the chart marks it, and the gap to today
    when it is overdue.
    """
    rows: list[TimelineRow] = []

    def row(day: dt.date, series: str, value: str) -> None:
        rows.append(TimelineRow(day, series, value))

    infusions = []
    for infusion in record.infusions:
        infusions.append(
            {
                "x": _ms(infusion.given_on),
                "y": _num(infusion.mg_per_kg),
                "dose_mg": _num(infusion.dose_mg),
            }
        )
        product = f", {infusion.product}" if infusion.product else ""
        row(
            infusion.given_on,
            "Infusion",
            f"{number(infusion.dose_mg)} mg ({infusion.mg_per_kg} mg/kg){product}",
        )

    def measured(analyte: str) -> list[dict[str, Any]]:
        points = []
        for lab in record.labs:
            if lab.analyte == analyte and lab.value is not None:
                points.append({"x": _ms(lab.collected_on), "y": _num(lab.value)})
                row(lab.collected_on, analyte_name(analyte), f"{number(lab.value)} {lab.unit}")
        return points

    def latest_limit(analyte: str) -> Decimal | None:
        limits = [lab.reference_high for lab in record.labs if lab.analyte == analyte]
        known = [limit for limit in limits if limit is not None]
        return known[-1] if known else None

    antibodies = []
    for lab in record.labs:
        if lab.analyte == Analyte.ANTI_INFLIXIMAB_ANTIBODIES:
            antibodies.append(
                {
                    "x": _ms(lab.collected_on),
                    "positive": bool(lab.antibodies_positive),
                    "titre": _num(lab.value),
                    "unit": lab.unit,
                    "assay": lab.assay_name,
                }
            )
            words = "detected" if lab.antibodies_positive else "not detected"
            if lab.value is not None:
                words += f", titre {number(lab.value)} {lab.unit}".rstrip()
            row(lab.collected_on, "Anti-infliximab antibodies", words)

    mri = []
    for study in record.imaging:
        if study.is_mri:
            mri.append(
                {
                    "x": _ms(study.performed_on),
                    "y": study.active_lesions or 0,
                    "new": study.new_lesions or 0,
                    "modality": study.get_modality_display(),
                }
            )
            sites = sites_summary(study)
            row(
                study.performed_on,
                study.get_modality_display(),
                f"{study.active_lesions or 0} active, {study.new_lesions or 0} new lesions"
                + (f" — {sites}" if sites else ""),
            )

    assessments = []
    for a in record.assessments:
        assessments.append(
            {"x": _ms(a.assessed_on), "y": _num(a.physician_global), "state": a.disease_state}
        )
        global_words = "—" if a.physician_global is None else number(a.physician_global)
        state = f", {a.get_disease_state_display().lower()}" if a.disease_state else ""
        row(a.assessed_on, "Assessment", f"physician global {global_words}{state}")

    reactions = []
    for r in record.reactions:
        reactions.append(
            {
                "x": _ms(r.infusion.given_on),
                "severity": r.severity,
                "onset": r.get_onset_display().lower(),
            }
        )
        row(
            r.infusion.given_on,
            "Reaction",
            f"{r.get_severity_display()}, {r.get_onset_display().lower()}",
        )

    adverse_events = []
    for event in record.adverse_events:
        words = f"{event.term_words}, grade {event.grade}"
        words += ", serious" if event.serious else ""
        adverse_events.append({"x": _ms(event.onset_on), "label": words, "serious": event.serious})
        row(event.onset_on, "Adverse event", words)
    screening = []
    for result in record.screening_results:
        words = f"{result.get_test_display()}: {result.result_words}"
        screening.append(
            {"x": _ms(result.tested_on), "label": words, "flagged": result.needs_specialist}
        )
        row(result.tested_on, "Screening", words)
    vaccinations = []
    for vaccination in record.vaccinations:
        words = vaccination.get_vaccine_display() + (" (live)" if vaccination.live else "")
        vaccinations.append(
            {"x": _ms(vaccination.given_on), "label": words, "live": vaccination.live}
        )
        row(vaccination.given_on, "Vaccination", words)

    events: list[dict[str, Any]] = []
    for course in record.courses:
        events.append(
            {"x": _ms(course.started_on), "label": f"Course start {course.started_on:%d %b %Y}"}
        )
        row(course.started_on, "Course", "started")
        if course.stopped_on:
            stopped = f"Stopped ({course.get_stop_reason_display().lower()})"
            events.append({"x": _ms(course.stopped_on), "label": stopped})
            row(course.stopped_on, "Course", stopped.lower())
    for change in record.regimen_changes:
        regimen = f"{change.dose_mg_per_kg} mg/kg q{change.interval_weeks}w"
        events.append(
            {"x": _ms(change.effective_on), "label": f"{change.get_reason_display()}: {regimen}"}
        )
        row(change.effective_on, "Regimen", f"{change.get_reason_display()}: {regimen}")

    for switch in record.product_switches:
        given_on = switch.infusion.given_on
        events.append({"x": _ms(given_on), "label": switch.words})
        row(given_on, "Product", switch.words.removeprefix("Product "))

    medications = [_medication_span(m, today) for m in record.medications]
    for m in record.medications:
        row(m.started_on, "Medication", f"{m.drug_label} {m.dose_words}: started")
        if m.stopped_on:
            reason = m.get_stop_reason_display().lower()
            row(m.stopped_on, "Medication", f"{m.drug_label}: stopped ({reason})")

    next_due = None
    if next_dose is not None:
        overdue = max((today - next_dose.due_on).days, 0)
        label = f"Dose {next_dose.number} due {next_dose.due_on:%d %b %Y}"
        label += f" ({overdue} days overdue)" if overdue else ""
        next_due = {"x": _ms(next_dose.due_on), "label": label, "days_overdue": overdue}
        row(next_dose.due_on, "Next dose due", label)
    row(today, "Today", f"{today:%d %b %Y}")

    trough = measured(Analyte.INFLIXIMAB_TROUGH)
    chart = {
        "infusions": infusions,
        "crp": measured(Analyte.CRP),
        "esr": measured(Analyte.ESR),
        "trough": trough,
        "antibodies": antibodies,
        "crp_uln": _num(latest_limit(Analyte.CRP) or guideline.crp_upper_normal_mg_l),
        "esr_uln": _num(latest_limit(Analyte.ESR) or guideline.esr_upper_normal_mm_h),
        "trough_min": _num(guideline.trough_min_ug_ml) if trough else None,
        "mri": mri,
        "assessments": assessments,
        "reactions": reactions,
        "medications": medications,
        "adverse_events": adverse_events,
        "screening": screening,
        "vaccinations": vaccinations,
        "events": sorted(events, key=lambda event: event["x"]),
        "today": _ms(today),
        "next_due": next_due,
    }
    rows.sort(key=lambda r: r.on, reverse=True)  # stable: same-day points keep their order
    return Timeline(chart, rows, _timeline_summary(record, next_due, rows))


def _medication_span(medication: Medication, today: dt.date) -> dict[str, Any]:
    """A medication on the chart: from its start to its stop (or today, while it is taken)."""
    return {
        "x": _ms(medication.started_on),
        "until": _ms(medication.stopped_on or today),
        "current": medication.stopped_on is None,
        "label": f"{medication.drug_label} {medication.dose_words}",
    }


def _timeline_summary(
    record: PatientRecord, next_due: dict[str, Any] | None, rows: list[TimelineRow]
) -> str:
    points = len(rows)
    summary = (
        f"Timeline chart of {len(record.infusions)} infusions (mg/kg), CRP, ESR and infliximab "
        f"trough levels, antibody results, reactions, MRI lesions, assessments, other medications, "
        f"adverse events, screening, vaccinations and course events"
    )
    if points:
        summary += f", {rows[-1].on:%d %b %Y} to {rows[0].on:%d %b %Y}"
    if next_due:
        summary += f"; next dose: {next_due['label']}"
    return summary + ". The same data is in the table “Timeline data” below the chart."


# --- History -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    at: dt.datetime
    who: str
    what: str  # in words: "CRP result of 04 Nov 2026 corrected: value 4 → 40"
    kind: str  # created | changed | deleted
    fields: list[str]  # the verbose names of the fields a change changed


_HISTORY_KINDS = {"+": "created", "~": "changed", "-": "deleted"}
HISTORY_TEXT_CHARS = 60  # free text is quoted this far in the history; the record has the rest


def _shown(field: Field[Any, Any], value: object) -> str:
    """A stored value as the page shows it: choices by their labels, dates and numbers readable."""
    if value is None or value == "":
        return "—"
    choices = dict(field.flatchoices) if field.choices else {}
    if value in choices:
        return str(choices[value])
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return _on(value)
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = " ".join(str(value).split())
    return text if len(text) <= HISTORY_TEXT_CHARS else text[: HISTORY_TEXT_CHARS - 1] + "…"


def _on(day: dt.date | None) -> str:
    return f"{day:%d %b %Y}" if day else ""


def _field_changes(model: type[Model], delta: Any, *, action: bool) -> list[tuple[str, str]]:
    """(verbose name, "old → new") in the model's field order; a link (a foreign key) by name
    only. An action (a stop, a review) fills fields in: only what it filled them with is said."""
    fields = {f.name: f for f in model._meta.concrete_fields}
    order = list(fields)
    changes = sorted(delta.changes, key=lambda change: order.index(change.field))
    described = []
    for change in changes:
        field = fields[change.field]
        name = str(field.verbose_name)
        if field.is_relation:
            # An action's link is to its doer (named by the history anyway) or to what it made.
            described.append((name, "" if action else f"{name} changed"))
        else:
            old, new = _shown(field, change.old), _shown(field, change.new)
            described.append(
                (name, f"{name} {new}" if action and old == "—" else f"{name} {old} → {new}")
            )
    return described


@dataclass(frozen=True)
class _Source:
    """A kind of record in the history: whose it is, how one row is named, what an action on it
    is called (created, or a change that an action — not a correction — records)."""

    model: type[Model]
    owner: str
    name: Callable[[Any, dict[int, dt.date]], str]
    created: str = "recorded"
    actions: tuple[tuple[str, str], ...] = ()  # (field set from empty, verb), e.g. a stop


def _reaction_name(row: Any, infusion_dates: dict[int, dt.date]) -> str:
    given_on = infusion_dates.get(row.infusion_id)
    infusion = f"the infusion of {_on(given_on)}" if given_on else "an infusion"
    return f"{row.get_severity_display()} reaction to {infusion}"


# Infusions before reactions: a reaction is named by its infusion's date.
_HISTORY_SOURCES = (
    _Source(Patient, "id", lambda r, _: f"Patient {r.registry_code}", created="registered"),
    _Source(
        TreatmentCourse,
        "patient_id",
        lambda r, _: f"Course from {_on(r.started_on)}",
        created="started",
        actions=(("stopped_on", "stopped"),),
    ),
    _Source(
        RegimenChange,
        "course__patient_id",
        lambda r, _: (
            f"{r.get_reason_display()} from {_on(r.effective_on)} "
            f"({number(r.dose_mg_per_kg)} mg/kg every {r.interval_weeks} weeks)"
        ),
    ),
    _Source(
        Infusion,
        "course__patient_id",
        lambda r, _: f"Infusion of {_on(r.given_on)} ({number(r.dose_mg)} mg)",
    ),
    _Source(
        InfusionReaction,
        "infusion__course__patient_id",
        _reaction_name,
        actions=(("reviewed_on", "reviewed"),),
    ),
    _Source(
        LabResult,
        "patient_id",
        lambda r, _: f"{analyte_name(r.analyte, r.analyte_name)} result of {_on(r.collected_on)}",
    ),
    _Source(
        ImagingStudy,
        "patient_id",
        lambda r, _: f"{r.get_modality_display()} of {_on(r.performed_on)}",
    ),
    _Source(ClinicalAssessment, "patient_id", lambda r, _: f"Assessment of {_on(r.assessed_on)}"),
    _Source(
        Medication,
        "patient_id",
        lambda r, _: f"{r.drug_name or r.get_drug_display()} from {_on(r.started_on)}",
        actions=(("stopped_on", "stopped"),),
    ),
    _Source(
        Relapse,
        "patient_id",
        lambda r, _: f"Relapse noted {_on(r.noted_on)}",
        actions=(("retreatment_course", "linked to its retreatment course"),),
    ),
    _Source(
        AdverseEvent,
        "patient_id",
        lambda r, _: f"Adverse event of {_on(r.onset_on)} ({r.get_term_display().lower()})",
        actions=(("reviewed_on", "reviewed"),),
    ),
    _Source(
        ScreeningResult,
        "patient_id",
        lambda r, _: f"{r.get_test_display()} of {_on(r.tested_on)}",
        actions=(("reviewed_on", "reviewed by a specialist"),),
    ),
    _Source(
        Vaccination,
        "patient_id",
        lambda r, _: f"Vaccination of {_on(r.given_on)} ({r.get_vaccine_display()})",
    ),
    _Source(
        Consent,
        "patient_id",
        lambda r, _: f"Consent of {_on(r.given_on)} ({r.get_consented_by_display().lower()})",
        actions=(
            ("care_data_withdrawn_on", "registry care data withdrawn"),
            ("research_withdrawn_on", "research exports withdrawn"),
            ("contact_withdrawn_on", "contact for future studies withdrawn"),
        ),
    ),
)


def _sentence(source: _Source, row: Any, before: Any, name: str) -> tuple[str, list[str]]:
    if row.history_type == "+":
        return f"{name} {source.created}", []
    if row.history_type == "-":
        return f"{name} deleted", []
    if before is None:  # the row's earlier history is gone (pruned): say only that it changed
        return f"{name} changed", []
    verb = _action_of(source, before, row)
    described = _field_changes(source.model, row.diff_against(before), action=bool(verb))
    words = "; ".join(words for _, words in described if words)
    what = f"{name} {verb or 'corrected'}" + (f": {words}" if words else "")
    return what, [field for field, _ in described]


def _action_of(source: _Source, before: Any, row: Any) -> str:
    """The action that filled one of its fields in (a stop, a review); "" for a correction."""
    fields = {f.name: f for f in source.model._meta.concrete_fields}
    for field, verb in source.actions:
        attname = fields[field].attname
        if getattr(before, attname) in (None, "") and getattr(row, attname) not in (None, ""):
            return verb
    return ""


def record_history(patient: Patient) -> list[Change]:
    """Every change to any of the patient's records in words, newest first: who, when, what.

    One query per kind of record; each row is diffed in memory against the row before it. A save
    that changed nothing a person entered (only timestamps) is left out.
    """
    changes = []
    infusion_dates: dict[int, dt.date] = {}
    for source in _HISTORY_SOURCES:
        rows = source.model.history.filter(**{source.owner: patient.pk})  # type: ignore[attr-defined]
        previous: dict[int, Any] = {}
        for row in rows.select_related("history_user").order_by("id", "history_date", "history_id"):
            if source.model is Infusion:
                infusion_dates[row.id] = row.given_on
            before = previous.get(row.id)
            previous[row.id] = row
            what, fields = _sentence(source, row, before, source.name(row, infusion_dates))
            if row.history_type == "~" and before is not None and not fields:
                continue
            user = row.history_user
            changes.append(
                Change(
                    at=row.history_date,
                    who=user.get_username() if user else "registry",
                    what=what,
                    kind=_HISTORY_KINDS[row.history_type],
                    fields=fields,
                )
            )
    return sorted(changes, key=lambda change: change.at, reverse=True)
