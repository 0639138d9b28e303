"""Every write to the clinical record goes through these functions.

Each one validates the whole row (`full_clean`, the same rules as the forms and the admin), saves it
in a transaction with the acting user recorded in its history, and announces the change with
`clinical_record_saved` so that monitoring can re-evaluate the patient's courses after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry.models import (
    ClinicalAssessment,
    ClinicalRecord,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Patient,
    RegimenChange,
    Relapse,
    Site,
    TreatmentCourse,
)
from registry.signals import clinical_record_saved

R = TypeVar("R", bound=ClinicalRecord)

REGISTRY_CODE_PREFIX = "CRMO-"
PREMEDICATIONS = ("antihistamine", "corticosteroid", "antipyretic")


def patient_id_of(record: ClinicalRecord) -> int:
    match record:
        case Patient():
            return record.pk
        case TreatmentCourse() | LabResult() | ImagingStudy() | ClinicalAssessment() | Relapse():
            return record.patient_id
        case Infusion() | RegimenChange():
            return record.course.patient_id
        case InfusionReaction():
            return record.infusion.course.patient_id
    raise TypeError(f"not a clinical record: {record!r}")


def _refusal(record: ClinicalRecord, error: IntegrityError) -> ValidationError:
    """A database constraint's refusal, in the words of the constraint that refused."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) or ""
    for constraint in record._meta.constraints:
        if constraint.name == name or constraint.name in str(error):
            return ValidationError(constraint.get_violation_error_message())
    return ValidationError(f"The database refused this record ({name or error}).")


def record_save(*, record: R, by: Any | None) -> R:
    """Validate and save one clinical record (a new one or a correction).

    `clean()` gives every rule a row can break a field-specific message; the database constraints
    behind them are not re-checked here one query each (that was most of the write time), but
    enforced by the database itself on save, and a refusal comes back as a ValidationError.
    """
    record.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            if by is not None:
                record._history_user = by  # type: ignore[attr-defined]
            record.save()
            clinical_record_saved.send(
                sender=type(record), record=record, patient_id=patient_id_of(record)
            )
    except IntegrityError as error:
        raise _refusal(record, error) from error
    return record


def _save_or_restore(
    record: R, *, by: Any | None, fields: tuple[str, ...], old: tuple[Any, ...]
) -> R:
    """Save a change to `fields`; if it is refused, the caller's object keeps its old values."""
    try:
        return record_save(record=record, by=by)
    except ValidationError:
        for name, value in zip(fields, old, strict=True):
            setattr(record, name, value)
        raise


# --- Patients and courses -----------------------------------------------------------------------


def _next_registry_code() -> str:
    # Codes are zero-padded, so the text order is the numeric order.
    last = (
        Patient.objects.filter(registry_code__startswith=REGISTRY_CODE_PREFIX)
        .order_by("-registry_code")
        .values_list("registry_code", flat=True)
        .first()
    )
    number = int(last.removeprefix(REGISTRY_CODE_PREFIX)) + 1 if last else 1
    return f"{REGISTRY_CODE_PREFIX}{number:06d}"


def patient_register(
    *,
    site: Site,
    mrn: str,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date,
    sex: str,
    diagnosed_on: dt.date | None = None,
    research_consent_given_on: dt.date | None = None,
    by: Any | None,
) -> Patient:
    patient = Patient(
        site=site,
        mrn=mrn,
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        sex=sex,
        diagnosed_on=diagnosed_on,
        research_consent_given_on=research_consent_given_on,
    )
    return patient_save_new(patient=patient, by=by)


def patient_save_new(*, patient: Patient, by: Any | None) -> Patient:
    """Assign the next registry code and save; two concurrent registrations retry, not collide."""
    patient.full_clean(exclude=["registry_code"])
    for _attempt in range(5):
        patient.registry_code = _next_registry_code()
        try:
            with transaction.atomic():
                return record_save(record=patient, by=by)
        except (IntegrityError, ValidationError):
            # Someone else took this code between our read and our insert: take the next one.
            if not Patient.objects.filter(registry_code=patient.registry_code).exists():
                raise
    raise RuntimeError("could not assign a registry code after 5 attempts")


def course_start(
    *,
    patient: Patient,
    started_on: dt.date,
    planned_dose_mg_per_kg: Decimal = Decimal("5"),
    induction_weeks: Iterable[int] = (0, 2, 6),
    maintenance_interval_weeks: int = 8,
    notes: str = "",
    by: Any | None,
) -> TreatmentCourse:
    course = TreatmentCourse(
        patient=patient,
        started_on=started_on,
        planned_dose_mg_per_kg=planned_dose_mg_per_kg,
        induction_weeks=list(induction_weeks),
        maintenance_interval_weeks=maintenance_interval_weeks,
        notes=notes,
    )
    return record_save(record=course, by=by)


def regimen_change_record(
    *,
    course: TreatmentCourse,
    effective_on: dt.date,
    dose_mg_per_kg: Decimal,
    interval_weeks: int,
    reason: str,
    note: str = "",
    by: Any | None,
) -> RegimenChange:
    change = RegimenChange(
        course=course,
        effective_on=effective_on,
        dose_mg_per_kg=dose_mg_per_kg,
        interval_weeks=interval_weeks,
        reason=reason,
        note=note,
    )
    return record_save(record=change, by=by)


def course_stop(
    *, course: TreatmentCourse, stopped_on: dt.date, reason: str, by: Any | None
) -> TreatmentCourse:
    if course.stopped_on is not None:
        raise ValidationError(
            {"stopped_on": f"This course already stopped on {course.stopped_on:%d %b %Y}."}
        )
    fields = ("stopped_on", "stop_reason")
    old = (course.stopped_on, course.stop_reason)
    course.stopped_on, course.stop_reason = stopped_on, reason
    return _save_or_restore(course, by=by, fields=fields, old=old)


# --- Infusions and reactions ----------------------------------------------------------------------


def infusion_record(
    *,
    course: TreatmentCourse,
    given_on: dt.date,
    weight_kg: Decimal,
    dose_mg: Decimal,
    weight_measured_on: dt.date | None = None,
    duration_minutes: int | None = None,
    premedication: Iterable[str] = (),
    lot_number: str = "",
    intensification_reason: str = "",
    notes: str = "",
    by: Any | None,
) -> Infusion:
    given = set(premedication)
    unknown = given - set(PREMEDICATIONS)
    if unknown:
        raise ValueError(f"unknown premedication: {sorted(unknown)}")
    infusion = Infusion(
        course=course,
        given_on=given_on,
        weight_kg=weight_kg,
        weight_measured_on=weight_measured_on,
        dose_mg=dose_mg,
        duration_minutes=duration_minutes,
        premedication_antihistamine="antihistamine" in given,
        premedication_corticosteroid="corticosteroid" in given,
        premedication_antipyretic="antipyretic" in given,
        lot_number=lot_number,
        intensification_reason=intensification_reason,
        notes=notes,
    )
    return record_save(record=infusion, by=by)


def reaction_record(
    *,
    infusion: Infusion | None,
    onset: str,
    severity: str,
    symptoms: str,
    management: str = "",
    infusion_stopped: bool = False,
    outcome: str = "resolved",
    by: Any | None,
) -> InfusionReaction:
    reaction = InfusionReaction(
        infusion=infusion,
        onset=onset,
        severity=severity,
        symptoms=symptoms,
        management=management,
        infusion_stopped=infusion_stopped,
        outcome=outcome,
    )
    return record_save(record=reaction, by=by)


def reaction_review_record(
    *, reaction: InfusionReaction, reviewed_on: dt.date, by: Any
) -> InfusionReaction:
    """A clinician's review after a reaction; a severe one blocks further infusions until then."""
    fields = ("reviewed_on", "reviewed_by")
    old = (reaction.reviewed_on, reaction.reviewed_by)
    reaction.reviewed_on, reaction.reviewed_by = reviewed_on, by
    return _save_or_restore(reaction, by=by, fields=fields, old=old)


def patient_consent_record(
    *,
    patient: Patient,
    given_on: dt.date | None = None,
    withdrawn_on: dt.date | None = None,
    by: Any | None,
) -> Patient:
    """Record research consent given and/or withdrawn (a withdrawal keeps the date it was given)."""
    fields = ("research_consent_given_on", "research_consent_withdrawn_on")
    old = (patient.research_consent_given_on, patient.research_consent_withdrawn_on)
    if given_on is not None:
        patient.research_consent_given_on = given_on
    if withdrawn_on is not None:
        patient.research_consent_withdrawn_on = withdrawn_on
    return _save_or_restore(patient, by=by, fields=fields, old=old)


# --- Results and assessments ------------------------------------------------------------------


def lab_result_record(
    *, patient: Patient, collected_on: dt.date, analyte: str, by: Any | None, **details: Any
) -> LabResult:
    """`details`: value, unit, antibodies_positive, assay_name, analyte_name, reference range."""
    result = LabResult(patient=patient, collected_on=collected_on, analyte=analyte, **details)
    return record_save(record=result, by=by)


def imaging_study_record(
    *, patient: Patient, performed_on: dt.date, modality: str, by: Any | None, **details: Any
) -> ImagingStudy:
    """`details`: active_lesions, new_lesions, impression, index totals, report_text."""
    study = ImagingStudy(patient=patient, performed_on=performed_on, modality=modality, **details)
    return record_save(record=study, by=by)


def assessment_record(
    *, patient: Patient, assessed_on: dt.date, by: Any | None, **details: Any
) -> ClinicalAssessment:
    """`details`: pain_score, physician_global, patient_global, chaq, lesions, disease_state."""
    assessment = ClinicalAssessment(patient=patient, assessed_on=assessed_on, **details)
    return record_save(record=assessment, by=by)


# --- Relapse and retreatment --------------------------------------------------------------------


def relapse_record(
    *, course: TreatmentCourse, noted_on: dt.date, evidence: str, by: Any | None
) -> Relapse:
    relapse = Relapse(patient=course.patient, course=course, noted_on=noted_on, evidence=evidence)
    return record_save(record=relapse, by=by)


def retreatment_start(
    *,
    relapse: Relapse,
    started_on: dt.date,
    planned_dose_mg_per_kg: Decimal = Decimal("5"),
    induction_weeks: Iterable[int] = (0, 2, 6),
    maintenance_interval_weeks: int = 8,
    by: Any | None,
) -> TreatmentCourse:
    """Start a new course for a relapse and link it; both or neither are saved."""
    with transaction.atomic():
        course = course_start(
            patient=relapse.patient,
            started_on=started_on,
            planned_dose_mg_per_kg=planned_dose_mg_per_kg,
            induction_weeks=induction_weeks,
            maintenance_interval_weeks=maintenance_interval_weeks,
            notes=f"Retreatment after the relapse noted on {relapse.noted_on:%d %b %Y}.",
            by=by,
        )
        relapse.retreatment_course = course
        record_save(record=relapse, by=by)
    return course
