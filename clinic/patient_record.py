"""Reads behind the patient page's tables: the patient's infusions, labs, imaging, assessments and
other medications (and the safety record, clinic.safety_selectors), loaded once (a constant
number of queries) and shown in words, newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from django.db.models import Prefetch

from monitoring.guideline import Guideline
from monitoring.guideline.history import AssessmentRow, ImagingRow
from monitoring.guideline.rules import SUGGESTS_ACTIVITY, disease_state
from registry.models import (
    AdverseEvent,
    Analyte,
    ClinicalAssessment,
    DiseaseState,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionCounts,
    LesionSite,
    Medication,
    Patient,
    RegimenChange,
    ScreeningResult,
    TreatmentCourse,
    Vaccination,
)
from registry.products import ProductSwitch, product_switches

# A long table shows its latest rows; the older ones wait behind a "show all" (and all print).
ROWS_SHOWN = 10

Row = TypeVar("Row")


@dataclass(frozen=True)
class RecordTable(Generic[Row]):
    rows: Sequence[Row]  # newest first

    @property
    def latest(self) -> Sequence[Row]:
        return self.rows[:ROWS_SHOWN]

    @property
    def older(self) -> Sequence[Row]:
        return self.rows[ROWS_SHOWN:]


@dataclass(frozen=True)
class PatientRecord:
    """Everything the patient page draws and tabulates, read once."""

    courses: list[TreatmentCourse]  # oldest first
    regimen_changes: list[RegimenChange]
    infusions: list[Infusion]  # oldest first, with `dose_number` and their reactions
    labs: list[LabResult]
    imaging: list[ImagingStudy]
    assessments: list[ClinicalAssessment]
    medications: list[Medication]  # oldest first
    # The safety record, oldest first.
    adverse_events: list[AdverseEvent]
    screening_results: list[ScreeningResult]
    vaccinations: list[Vaccination]

    @property
    def reactions(self) -> list[InfusionReaction]:
        return [r for infusion in self.infusions for r in infusion.reactions.all()]

    @property
    def product_switches(self) -> list[ProductSwitch]:
        return product_switches(self.infusions)


def load_patient_record(patient: Patient) -> PatientRecord:
    """Thirteen queries, however long the record."""
    reactions = Prefetch("reactions", InfusionReaction.objects.order_by("pk"))
    infusions = (
        Infusion.objects.filter(course__patient=patient)
        .with_course_position()
        .select_related("course", "product")
        .prefetch_related(reactions)
        .order_by("given_on", "pk")
    )
    return PatientRecord(
        courses=list(patient.courses.order_by("started_on")),
        regimen_changes=list(
            RegimenChange.objects.filter(course__patient=patient).order_by("effective_on", "pk")
        ),
        infusions=list(infusions),
        labs=list(patient.lab_results.order_by("collected_on", "analyte", "pk")),
        imaging=list(
            patient.imaging_studies.order_by("performed_on", "pk").prefetch_related("lesion_sites")
        ),
        assessments=list(
            patient.assessments.order_by("assessed_on", "pk").prefetch_related("lesion_sites")
        ),
        medications=list(patient.medications.order_by("started_on", "pk")),
        adverse_events=list(patient.adverse_events.order_by("onset_on", "pk")),
        screening_results=list(patient.screening_results.order_by("tested_on", "test", "pk")),
        vaccinations=list(patient.vaccinations.order_by("given_on", "pk")),
    )


def number(value: Decimal | int) -> str:
    """12.500 → "12.5", 100.0 → "100": as a person writes it."""
    if isinstance(value, int):
        return str(value)
    return f"{value.normalize():f}"


def on(day: dt.date | None) -> str:
    return f"{day:%d %b %Y}" if day else ""


def analyte_name(analyte: str, other_name: str = "") -> str:
    """The name of a test ("CRP", "Infliximab trough level"): its label without the unit."""
    if analyte == Analyte.OTHER:
        return other_name or "Other test"
    return str(Analyte(analyte).label).split(" (")[0]


# --- Infusions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfusionLine:
    infusion: Infusion
    course_started_on: dt.date
    switch: ProductSwitch | None = None  # given with another product than the infusion before

    @property
    def weight_age_days(self) -> int:
        return (self.infusion.given_on - self.infusion.weight_measured_on).days

    @property
    def premedication(self) -> str:
        given = [
            name
            for name, flag in (
                ("antihistamine", self.infusion.premedication_antihistamine),
                ("corticosteroid", self.infusion.premedication_corticosteroid),
                ("antipyretic", self.infusion.premedication_antipyretic),
            )
            if flag
        ]
        return ", ".join(given) or "none"

    @property
    def reactions(self) -> list[str]:
        return [_reaction_words(r) for r in self.infusion.reactions.all()]


def _reaction_words(reaction: InfusionReaction) -> str:
    words = f"{reaction.get_severity_display()}, {reaction.get_onset_display().lower()}"
    if reaction.infusion_stopped:
        words += ", infusion stopped"
    if reaction.reviewed_on:
        decision = reaction.get_review_decision_display()
        words += f"; reviewed {on(reaction.reviewed_on)}" + (f": {decision}" if decision else "")
    elif reaction.severity == "severe":
        words += "; awaiting a clinician's review"
    return words


def infusion_table(record: PatientRecord) -> RecordTable[InfusionLine]:
    switches = {switch.infusion.pk: switch for switch in record.product_switches}
    lines = [
        InfusionLine(i, i.course.started_on, switches.get(i.pk)) for i in reversed(record.infusions)
    ]
    return RecordTable(lines)


# --- Labs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabLine:
    result: LabResult
    name: str
    value: str  # "12 mg/L", "detected, titre 48 AU/mL (ELISA)"
    judgement: str  # "high; ≤ 5" — against the lab's range, the guideline's default or target
    abnormal: bool
    range_source: str  # "" (the lab's), "guideline default" (the site's), "guideline target"


def _range_words(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"{number(low)}–{number(high)}"
    if high is not None:
        return f"≤ {number(high)}"
    return f"≥ {number(low)}" if low is not None else ""


def _lab_line(result: LabResult, guideline: Guideline) -> LabLine:
    name = analyte_name(result.analyte, result.analyte_name)
    unit = f" {result.unit}" if result.unit else ""
    if result.analyte == Analyte.ANTI_INFLIXIMAB_ANTIBODIES:
        words = "detected" if result.antibodies_positive else "not detected"
        if result.value is not None:
            words += f", titre {number(result.value)}{unit}"
        if result.assay_name:
            words += f" ({result.assay_name})"
        return LabLine(result, name, words, "", bool(result.antibodies_positive), "")
    value = "—" if result.value is None else f"{number(result.value)}{unit}"
    low, high, source = result.reference_low, result.reference_high, ""
    if result.analyte == Analyte.INFLIXIMAB_TROUGH and low is None and high is None:
        # A trough has a therapeutic target, not a normal range (GUIDELINE.md, trough_min).
        low, source = guideline.trough_min_ug_ml, "guideline target"
    elif low is None and high is None:
        default = {
            Analyte.CRP: guideline.crp_upper_normal_mg_l,
            Analyte.ESR: guideline.esr_upper_normal_mm_h,
        }.get(Analyte(result.analyte))
        high, source = default, "guideline default" if default is not None else ""
    if result.value is None or (low is None and high is None):
        return LabLine(result, name, value, "", False, "")
    target = source == "guideline target"
    if high is not None and result.value > high:
        verdict = "high"
    elif low is not None and result.value < low:
        verdict = "below target" if target else "low"
    else:
        verdict = "at target" if target else "normal"
    judgement = f"{verdict}; {_range_words(low, high)}"
    return LabLine(result, name, value, judgement, verdict not in ("normal", "at target"), source)


def lab_table(record: PatientRecord, guideline: Guideline) -> RecordTable[LabLine]:
    return RecordTable([_lab_line(result, guideline) for result in reversed(record.labs)])


# --- Imaging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImagingLine:
    study: ImagingStudy

    @property
    def scores(self) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("RINBO", self.study.rinbo_total),
                ("RAI-CROMRIS", self.study.rai_cromris_total),
            )
            if value is not None
        ]
        return " · ".join(parts)

    @property
    def sites(self) -> str:
        return sites_summary(self.study)


def imaging_table(record: PatientRecord) -> RecordTable[ImagingLine]:
    return RecordTable([ImagingLine(study) for study in reversed(record.imaging)])


# --- Assessments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentLine:
    assessment: ClinicalAssessment
    state: str  # "Active", "Inactive", or the guideline's reading when not judged
    judged: bool

    @property
    def sites(self) -> str:
        return sites_summary(self.assessment)


_READINGS = {
    DiseaseState.ACTIVE: "active",
    DiseaseState.INACTIVE: "inactive",
    SUGGESTS_ACTIVITY: "scores suggest activity",
    "": "cannot tell",
}


def _imaging_row(study: ImagingStudy) -> ImagingRow:
    return ImagingRow(
        study.pk, study.performed_on, study.modality, study.active_lesions, study.new_lesions,
        study.impression,
    )  # fmt: skip


def _assessment_line(
    assessment: ClinicalAssessment, mri: list[ImagingStudy], guideline: Guideline
) -> AssessmentLine:
    if assessment.disease_state:
        return AssessmentLine(assessment, assessment.get_disease_state_display(), judged=True)
    # Not judged: say what the engine reads from the scores and the latest MRI (GUIDELINE.md
    # "Disease states"), so the table agrees with the alerts.
    before = [s for s in mri if s.performed_on <= assessment.assessed_on]
    latest = _imaging_row(before[-1]) if before else None
    row = AssessmentRow(
        assessment.pk,
        assessment.assessed_on,
        pain_score=assessment.pain_score,
        physician_global=assessment.physician_global,
        clinically_active_lesions=assessment.clinically_active_lesions,
        patient_global=assessment.patient_global,
        chaq=assessment.chaq,
    )
    reading = _READINGS[disease_state(row, latest, guideline)]
    return AssessmentLine(assessment, f"not judged (guideline reading: {reading})", judged=False)


def assessment_table(record: PatientRecord, guideline: Guideline) -> RecordTable[AssessmentLine]:
    mri = [study for study in record.imaging if study.is_mri]
    return RecordTable([_assessment_line(a, mri, guideline) for a in reversed(record.assessments)])


# --- Other medications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MedicationLine:
    medication: Medication

    @property
    def stopped(self) -> str:
        m = self.medication
        if m.stopped_on is None:
            return "taken"
        return f"{on(m.stopped_on)} ({m.get_stop_reason_display().lower()})"


def medication_table(record: PatientRecord) -> RecordTable[MedicationLine]:
    return RecordTable([MedicationLine(m) for m in reversed(record.medications)])


def current_medications(record: PatientRecord, today: dt.date) -> list[Medication]:
    """What the patient takes today besides infliximab, the longest-taken first."""
    return [m for m in record.medications if m.is_current_on(today)]


# --- Lesion sites ---------------------------------------------------------------------------------


def site_words(site: LesionSite) -> str:
    """ "Vertebra T7 (new, fracture)", "Right clavicle (active)", "Left tibia"."""
    notes = [site.mri_state] if site.mri_state else []
    if site.vertebral_fracture:
        notes.append("fracture")
    return f"{site.words} ({', '.join(notes)})" if notes else site.words


def sites_summary(record: ImagingStudy | ClinicalAssessment) -> str:
    """The sites of a study or assessment, or how its counts were recorded."""
    if record.lesion_counts == LesionCounts.RECORDED:
        return "counts recorded without sites"
    return ", ".join(site_words(site) for site in record.lesion_sites.all())


@dataclass(frozen=True)
class ActiveSites:
    """The sites active now by one source: the latest MRI (its active sites) or the latest
    assessment (its clinically active sites); `recorded` when its count has no sites."""

    source: str
    on: dt.date
    sites: list[LesionSite]
    recorded: int | None = None


def active_sites_now(record: PatientRecord) -> list[ActiveSites]:
    found = []
    mri = [study for study in record.imaging if study.is_mri and study.lesion_counts]
    if mri:
        study = mri[-1]
        active = [site for site in study.lesion_sites.all() if site.active]
        recorded = study.active_lesions if study.counts_recorded_without_sites else None
        found.append(
            ActiveSites(f"{study.get_modality_display()}", study.performed_on, active, recorded)
        )
    assessed = [a for a in record.assessments if a.lesion_counts]
    if assessed:
        last = assessed[-1]
        recorded = last.clinically_active_lesions if last.counts_recorded_without_sites else None
        found.append(
            ActiveSites("Assessment", last.assessed_on, list(last.lesion_sites.all()), recorded)
        )
    return found
