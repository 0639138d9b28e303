"""Every clinical action, one front door each: the clinic views, the REST API, the admin, imports
and `seed_demo` all call these functions, so a refusal cannot differ between doors.

Each action is keyword-only and typed, checks who may do it by the person's role **at the record's
site** (`registry.roles`), enforces the guideline's entry safeguards (`registry.safeguards`),
validates the whole row (`full_clean`, the rules the forms and serializers show), saves in its own
transaction with the actor in the history, and asks for one re-evaluation of the patient on
commit (`registry.reevaluation`). Field edits are corrections through one allowlisted service per
model; a field an action owns (a course's stop, a reaction's review) is refused there, naming the
action to use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from functools import wraps
from typing import ParamSpec, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from registry import roles, safeguards
from registry.models import (
    CONSENT_SCOPE_FIELDS,
    NOT_LIVE_REFUSAL,
    SERIOUSNESS_CRITERIA,
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    AdverseEventDecision,
    Assent,
    ClinicalAssessment,
    ClinicalRecord,
    Comorbidity,
    Consent,
    ConsentDocument,
    ConsentScope,
    ImagingStudy,
    InfliximabProduct,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionCounts,
    LesionSite,
    Medication,
    MedicationStopReason,
    Patient,
    Phenotype,
    RegimenChange,
    RegimenReason,
    Relapse,
    ReviewDecision,
    ScreeningResult,
    Site,
    StopReason,
    TreatmentCourse,
    Vaccination,
    VaccinationReviewDecision,
)
from registry.products import product_to_give
from registry.reevaluation import one_reevaluation, patient_changed

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R", bound=ClinicalRecord)

REGISTRY_CODE_PREFIX = "CRMO-"
PREMEDICATIONS = ("antihistamine", "corticosteroid", "antipyretic")


def _action(service: Callable[P, T]) -> Callable[P, T]:
    """One transaction and one re-evaluation request per action, however many rows it saves and
    whether it calls other actions (then the outermost one asks)."""

    @wraps(service)
    def act(*args: P.args, **kwargs: P.kwargs) -> T:
        with one_reevaluation(), transaction.atomic():
            return service(*args, **kwargs)

    return act


# --- Where a record belongs, and who may touch it ------------------------------------------------


# The records that name their patient themselves (`record.patient`).
_PATIENT_RECORDS = (
    TreatmentCourse,
    LabResult,
    ImagingStudy,
    ClinicalAssessment,
    Relapse,
    Medication,
    AdverseEvent,
    ScreeningResult,
    Vaccination,
    Consent,
    Phenotype,
    Comorbidity,
)


def patient_id_of(record: ClinicalRecord) -> int:
    if isinstance(record, _PATIENT_RECORDS):
        return record.patient_id
    match record:
        case Patient():
            return record.pk
        case LesionSite():
            return patient_id_of(_parent_of(record))
        case Infusion() | RegimenChange():
            return record.course.patient_id
        case InfusionReaction():
            return record.infusion.course.patient_id
    raise TypeError(f"not a clinical record: {record!r}")


def site_id_of(record: ClinicalRecord) -> int:
    if isinstance(record, _PATIENT_RECORDS):
        return record.patient.site_id
    match record:
        case Patient():
            return record.site_id
        case LesionSite():
            return site_id_of(_parent_of(record))
        case Infusion() | RegimenChange():
            return record.course.patient.site_id
        case InfusionReaction():
            return record.infusion.course.patient.site_id
    raise TypeError(f"not a clinical record: {record!r}")


def _require(by: User, permission: str, site_id: int, doing: str) -> None:
    roles.require(
        by, permission, site_id, f"Your role at this patient's site does not allow {doing}."
    )


# --- Saving --------------------------------------------------------------------------------------


def _refusal(record: ClinicalRecord, error: IntegrityError) -> ValidationError:
    """A database constraint's refusal, in the words of the constraint that refused."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) or ""
    for constraint in record._meta.constraints:
        if constraint.name == name or constraint.name in str(error):
            return ValidationError(constraint.get_violation_error_message())
    return ValidationError(f"The database refused this record ({name or error}).")


def _store(record: R, *, by: User, check: Callable[[R], None] | None = None) -> R:
    """Validate and save one row, with `by` in its history; note its patient for re-evaluation.

    `clean()` gives every rule a row can break a field-specific message; then `check` (an entry
    safeguard) sees a row that is valid on its own. The database constraints behind `clean()` are
    enforced by the database on save (not re-checked one query each), and a refusal comes back as
    a ValidationError.
    """
    record.full_clean(validate_constraints=False)
    if check is not None:
        check(record)
    try:
        with transaction.atomic():
            record._history_user = by  # type: ignore[attr-defined]
            record.save()
    except IntegrityError as error:
        raise _refusal(record, error) from error
    patient_changed(patient_id_of(record), actor_id=by.pk)
    return record


def _store_changes(
    record: R,
    changes: Mapping[str, object],
    *,
    by: User,
    check: Callable[[R], None] | None = None,
) -> R:
    """Apply `changes` and store; if refused, the caller's object keeps its old values."""
    old = {name: getattr(record, name) for name in changes}
    for name, value in changes.items():
        setattr(record, name, value)
    try:
        return _store(record, by=by, check=check)
    except ValidationError:
        for name, value in old.items():
            setattr(record, name, value)
        raise


# --- Corrections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corrections:
    """What a correction of one model may change.

    `engine_fields` are read by the guideline engine: correcting one can clear a safety alert, so
    only a clinician of the site may. `owned` names the action that records a field instead.
    """

    fields: frozenset[str]
    engine_fields: frozenset[str] = frozenset()
    owned: Mapping[str, str] = field(default_factory=dict)


def _correct(
    record: R,
    changes: Mapping[str, object],
    *,
    by: User,
    policy: Corrections,
    check: Callable[[R], None] | None = None,
) -> R:
    fields = {f.name for f in record._meta.concrete_fields}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValidationError({name: ["No such field."] for name in unknown})
    # Only what differs counts: a full PUT repeats the values it does not change.
    changed = {name: value for name, value in changes.items() if getattr(record, name) != value}
    errors: dict[str, list[str]] = {}
    for name in changed:
        if name in policy.owned:
            errors[name] = [f"Recorded with the “{policy.owned[name]}” action, not corrected here."]
        elif name not in policy.fields:
            errors[name] = ["This field cannot be corrected."]
    if errors:
        raise ValidationError(errors)
    site_id = site_id_of(record)
    model = record._meta.model_name
    _require(by, f"registry.change_{model}", site_id, "correcting this record")
    engine = sorted(changed.keys() & policy.engine_fields)
    if engine:
        names = ", ".join(
            str(getattr(record._meta.get_field(name), "verbose_name", name)) for name in engine
        )
        roles.require(
            by,
            roles.CORRECT_ENGINE_INPUT,
            site_id,
            f"Only a clinician of this site may correct {names}: the guideline's alerts read it.",
        )
    if not changed:
        return record
    return _store_changes(record, changed, by=by, check=check)


# --- Patients ------------------------------------------------------------------------------------


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


@_action
def patient_register(
    *,
    site: Site,
    mrn: str,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date,
    sex: str,
    diagnosed_on: dt.date | None = None,
    by: User,
) -> Patient:
    """Register a patient at `site` with the next registry code (concurrent registrations retry)."""
    _require(by, "registry.add_patient", site.pk, "registering a patient")
    patient = Patient(
        site=site,
        mrn=mrn,
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        sex=sex,
        diagnosed_on=diagnosed_on,
    )
    patient.full_clean(exclude=["registry_code"])
    for _attempt in range(5):
        patient.registry_code = _next_registry_code()
        try:
            with transaction.atomic():
                return _store(patient, by=by)
        except (IntegrityError, ValidationError):
            # Someone else took this code between our read and our insert: take the next one.
            if not Patient.objects.filter(registry_code=patient.registry_code).exists():
                raise
    raise RuntimeError("could not assign a registry code after 5 attempts")


PATIENT_CORRECTIONS = Corrections(
    fields=frozenset({"mrn", "given_name", "family_name", "date_of_birth", "sex", "diagnosed_on"}),
    engine_fields=frozenset(),
)


@_action
def patient_correct(*, patient: Patient, changes: Mapping[str, object], by: User) -> Patient:
    """Correct identity or diagnosis; a patient's site and registry code do not change."""
    return _correct(
        patient, changes, by=by, policy=PATIENT_CORRECTIONS, check=_check_first_symptoms
    )


def _check_first_symptoms(patient: Patient) -> None:
    """A corrected diagnosis (or birth) date still comes after the first symptoms recorded."""
    phenotype = Phenotype.objects.filter(patient=patient).first()
    if phenotype is None or phenotype.first_symptoms_on is None:
        return
    first = phenotype.first_symptoms_on
    if patient.diagnosed_on and patient.diagnosed_on < first:
        raise ValidationError(
            {
                "diagnosed_on": f"The first symptoms are recorded on {first:%d %b %Y}: the "
                "diagnosis cannot be before them."
            }
        )
    if first < patient.date_of_birth:
        raise ValidationError(
            {
                "date_of_birth": f"The first symptoms are recorded on {first:%d %b %Y}: birth "
                "cannot be after them."
            }
        )


# --- Consent -------------------------------------------------------------------------------------


def _scope_errors(scopes: Iterable[str]) -> list[str]:
    known = ", ".join(ConsentScope.values)
    unknown = sorted(set(scopes) - set(ConsentScope.values))
    return [f"{name} is not a consent scope ({known})." for name in unknown]


@_action
def consent_record(
    *,
    patient: Patient,
    document: ConsentDocument,
    consented_by: str,
    scopes: Iterable[str],
    given_on: dt.date,
    assent: str = Assent.NOT_APPLICABLE,
    by: User,
) -> Consent:
    """Record consent given on `document` to `scopes` (a clinician or a data manager: consent is
    often taken in clinic). A later consent (a new version, the patient's own at majority) is a
    new record; the earlier one stays as it was."""
    _require(by, roles.RECORD_CONSENT, patient.site_id, "recording consent")
    chosen = set(scopes)
    errors = _scope_errors(chosen)
    if errors:
        raise ValidationError({"scopes": errors})
    consent = Consent(
        patient=patient,
        document=document,
        consented_by=consented_by,
        assent=assent,
        given_on=given_on,
        **{given: scope in chosen for scope, (given, _w, _c) in CONSENT_SCOPE_FIELDS.items()},
    )
    return _store(consent, by=by)


@_action
def consent_withdraw(
    *, consent: Consent, scopes: Iterable[str], withdrawn_on: dt.date, by: User
) -> Consent:
    """Record the withdrawal of `scopes` of a consent on `withdrawn_on` (each scope keeps its own
    date: a later withdrawal of another scope leaves the first one's as it was)."""
    _require(by, roles.WITHDRAW_CONSENT, consent.patient.site_id, "recording a withdrawal")
    chosen = [scope for scope in ConsentScope.values if scope in set(scopes)]
    errors = _scope_errors(scopes)
    if not errors and not chosen:
        errors = ["Tick the scopes the withdrawal withdraws."]
    for scope in chosen:
        given = CONSENT_SCOPE_FIELDS[scope][0]
        label = ConsentScope(scope).label
        if not getattr(consent, given):
            errors.append(f"{label} was never given, so it cannot be withdrawn.")
        elif (already := consent.withdrawn_on(scope)) is not None:
            errors.append(f"{label} was already withdrawn on {already:%d %b %Y}.")
    if errors:
        raise ValidationError({"scopes": errors})
    changes = {CONSENT_SCOPE_FIELDS[scope][1]: withdrawn_on for scope in chosen}
    try:
        return _store_changes(consent, changes, by=by)
    except ValidationError as error:
        # The model names each scope's date field; the withdrawal's door has one date.
        if hasattr(error, "error_dict"):
            moved: dict[str, list[str]] = {}
            for name, messages in error.message_dict.items():
                key = "withdrawn_on" if name in changes else name
                for message in messages:
                    if message not in moved.get(key, []):
                        moved.setdefault(key, []).append(message)
            raise ValidationError(moved) from error
        raise


CONSENT_CORRECTIONS = Corrections(
    fields=frozenset(
        {
            "document",
            "consented_by",
            "assent",
            "given_on",
            *(name for fields in CONSENT_SCOPE_FIELDS.values() for name in fields[:2]),
        }
    ),
    owned={"patient": "record consent"},
)


@_action
def consent_correct(*, consent: Consent, changes: Mapping[str, object], by: User) -> Consent:
    """Correct a consent record as it was signed (a data manager only: registry.change_consent)."""
    return _correct(consent, changes, by=by, policy=CONSENT_CORRECTIONS)


# --- Courses and regimen -------------------------------------------------------------------------


@_action
def course_start(
    *,
    patient: Patient,
    started_on: dt.date,
    planned_dose_mg_per_kg: Decimal = Decimal("5"),
    induction_weeks: Iterable[int] = (0, 2, 6),
    maintenance_interval_weeks: int = 8,
    product: InfliximabProduct | None = None,
    notes: str = "",
    by: User,
) -> TreatmentCourse:
    """Start a course; `product` is the infliximab product planned for it (if known)."""
    _require(by, "registry.add_treatmentcourse", patient.site_id, "starting a course")
    course = TreatmentCourse(
        patient=patient,
        started_on=started_on,
        planned_dose_mg_per_kg=planned_dose_mg_per_kg,
        induction_weeks=list(induction_weeks),
        maintenance_interval_weeks=maintenance_interval_weeks,
        product=product,
        notes=notes,
    )
    return _store(course, by=by)


@_action
def course_stop(
    *,
    course: TreatmentCourse,
    stopped_on: dt.date,
    reason: str,
    note: str = "",
    by: User,
) -> TreatmentCourse:
    _require(by, "registry.change_treatmentcourse", course.patient.site_id, "stopping a course")
    if course.stopped_on is not None:
        raise ValidationError(
            {"stopped_on": f"This course already stopped on {course.stopped_on:%d %b %Y}."}
        )
    if reason not in StopReason.values:
        raise ValidationError({"reason": "Choose why the course stopped."})
    changes: dict[str, object] = {"stopped_on": stopped_on, "stop_reason": reason}
    if note.strip():
        stop = f"Stopped on {stopped_on:%d %b %Y}: {note.strip()}"
        changes["notes"] = f"{course.notes}\n{stop}".strip()
    return _store_changes(course, changes, by=by)


COURSE_CORRECTIONS = Corrections(
    fields=frozenset(
        {
            "started_on",
            "planned_dose_mg_per_kg",
            "induction_weeks",
            "maintenance_interval_weeks",
            "stop_reason",
            "product",
            "notes",
        }
    ),
    engine_fields=frozenset(
        {
            "started_on",
            "planned_dose_mg_per_kg",
            "induction_weeks",
            "maintenance_interval_weeks",
            "stop_reason",
        }
    ),
    owned={"stopped_on": "stop the course", "patient": "start a course"},
)


@_action
def course_correct(
    *, course: TreatmentCourse, changes: Mapping[str, object], by: User
) -> TreatmentCourse:
    return _correct(course, changes, by=by, policy=COURSE_CORRECTIONS)


def _check_regimen(change: RegimenChange, *, by: User) -> None:
    """An intensification is a clinician's decision, and never above the implausible dose."""
    if change.reason != RegimenReason.INTENSIFICATION:
        return
    site_id = change.course.patient.site_id
    roles.require(
        by,
        roles.CORRECT_ENGINE_INPUT,
        site_id,
        "Only a clinician of this site may prescribe an intensification.",
    )
    ceiling = safeguards.thresholds_for(site_id).implausible_dose_mg_per_kg
    if change.dose_mg_per_kg is not None and change.dose_mg_per_kg > ceiling:
        raise ValidationError(
            {
                "dose_mg_per_kg": f"{change.dose_mg_per_kg} mg/kg is above {ceiling} mg/kg, "
                "more than is plausible."
            }
        )


@_action
def regimen_change_record(
    *,
    course: TreatmentCourse,
    effective_on: dt.date,
    dose_mg_per_kg: Decimal,
    interval_weeks: int,
    reason: str,
    note: str = "",
    by: User,
) -> RegimenChange:
    """A taper or an intensification, dated the day the clinician decides it."""
    _require(by, "registry.add_regimenchange", course.patient.site_id, "changing the regimen")
    change = RegimenChange(
        course=course,
        effective_on=effective_on,
        dose_mg_per_kg=dose_mg_per_kg,
        interval_weeks=interval_weeks,
        reason=reason,
        note=note,
    )
    _check_regimen(change, by=by)
    return _store(change, by=by)


REGIMEN_CORRECTIONS = Corrections(
    fields=frozenset({"effective_on", "dose_mg_per_kg", "interval_weeks", "reason", "note"}),
    engine_fields=frozenset({"effective_on", "dose_mg_per_kg", "interval_weeks", "reason"}),
    owned={"course": "change the regimen"},
)


@_action
def regimen_change_correct(
    *, change: RegimenChange, changes: Mapping[str, object], by: User
) -> RegimenChange:
    def check(corrected: RegimenChange) -> None:
        _check_regimen(corrected, by=by)

    return _correct(change, changes, by=by, policy=REGIMEN_CORRECTIONS, check=check)


# --- Infusions and reactions ---------------------------------------------------------------------


def _infusion_safeguards(*, weight_confirmed: bool) -> Callable[[Infusion], None]:
    """The dose and weight safeguards; a far-off weight passes only if confirmed in this action."""

    def check(infusion: Infusion) -> None:
        limits = safeguards.thresholds_for(infusion.course.patient.site_id)
        safeguards.check_dose(infusion, limits)
        safeguards.check_weight(infusion, limits, confirmed=weight_confirmed)

    return check


@_action
def infusion_record(
    *,
    course: TreatmentCourse,
    given_on: dt.date,
    weight_kg: Decimal,
    weight_measured_on: dt.date,
    dose_mg: Decimal,
    weight_confirmed: bool = False,
    duration_minutes: int | None = None,
    premedication: Iterable[str] = (),
    product: InfliximabProduct | None = None,
    lot_number: str = "",
    notes: str = "",
    by: User,
) -> Infusion:
    """Record an infusion given. Refused while a severe reaction awaits review, or a TB or
    hepatitis B result taken by its date awaits its specialist review; a dose above the
    caps needs a clinician's intensification; a weight far from the previous one needs
    `weight_confirmed`; the weight keeps the date it was measured. Without a `product`, the
    infusion is given with the previous infusion's of the course (else the course's)."""
    _require(by, "registry.add_infusion", course.patient.site_id, "recording an infusion")
    given = set(premedication)
    unknown = given - set(PREMEDICATIONS)
    if unknown:
        raise ValidationError({"premedication": f"Unknown premedication: {sorted(unknown)}."})
    safeguards.check_no_infusion_hold(patient_id=course.patient_id, given_on=given_on)
    infusion = Infusion(
        course=course,
        given_on=given_on,
        weight_kg=weight_kg,
        weight_measured_on=weight_measured_on,
        weight_confirmed=weight_confirmed,
        dose_mg=dose_mg,
        duration_minutes=duration_minutes,
        premedication_antihistamine="antihistamine" in given,
        premedication_corticosteroid="corticosteroid" in given,
        premedication_antipyretic="antipyretic" in given,
        product=product or product_to_give(course, before=given_on),
        lot_number=lot_number,
        notes=notes,
    )
    return _store(infusion, by=by, check=_infusion_safeguards(weight_confirmed=weight_confirmed))


_INFUSION_ENGINE_FIELDS = frozenset(
    {
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "dose_mg",
        "duration_minutes",
        "premedication_antihistamine",
        "premedication_corticosteroid",
        "premedication_antipyretic",
    }
)
INFUSION_CORRECTIONS = Corrections(
    fields=_INFUSION_ENGINE_FIELDS | {"weight_confirmed", "product", "lot_number", "notes"},
    engine_fields=_INFUSION_ENGINE_FIELDS,
    owned={"course": "record an infusion"},
)


@_action
def infusion_correct(*, infusion: Infusion, changes: Mapping[str, object], by: User) -> Infusion:
    """Correct an infusion; the corrected dose and weight pass the same safeguards as a new one."""
    confirmed = bool(changes.get("weight_confirmed", False))
    check = _infusion_safeguards(weight_confirmed=confirmed)
    return _correct(infusion, changes, by=by, policy=INFUSION_CORRECTIONS, check=check)


@_action
def reaction_record(
    *,
    infusion: Infusion | None,
    onset: str,
    severity: str,
    symptoms: str,
    management: str = "",
    infusion_stopped: bool = False,
    outcome: str = "resolved",
    by: User,
) -> InfusionReaction:
    if infusion is None:
        raise ValidationError(
            {"infusion": "A reaction must be linked to the infusion it followed."}
        )
    site_id = infusion.course.patient.site_id
    _require(by, "registry.add_infusionreaction", site_id, "recording a reaction")
    reaction = InfusionReaction(
        infusion=infusion,
        onset=onset,
        severity=severity,
        symptoms=symptoms,
        management=management,
        infusion_stopped=infusion_stopped,
        outcome=outcome,
    )
    return _store(reaction, by=by)


def _refuse_a_second_review(
    record: InfusionReaction | AdverseEvent | ScreeningResult | Vaccination, noun: str
) -> None:
    """A review is recorded once: a reaction's, an adverse event's, a screening result's, a live
    vaccination's."""
    if record.reviewed_on is not None:
        raise ValidationError(
            {
                "reviewed_on": f"This {noun} was reviewed on {record.reviewed_on:%d %b %Y} "
                f"by {record.reviewed_by}."
            }
        )


@_action
def reaction_review_record(
    *,
    reaction: InfusionReaction,
    reviewed_on: dt.date,
    decision: str,
    note: str = "",
    by: User,
) -> InfusionReaction:
    """A clinician's review of a reaction: the decision on further infusions, and why. A severe
    reaction holds every further infusion until it; "stop infliximab" also stops the course."""
    course = reaction.infusion.course
    roles.require(
        by,
        roles.REVIEW_REACTION,
        course.patient.site_id,
        "Only a clinician of this site may review a reaction.",
    )
    _refuse_a_second_review(reaction, "reaction")
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": "Choose the decision on further infusions."})
    reviewed = _store_changes(
        reaction,
        {
            "reviewed_on": reviewed_on,
            "reviewed_by": by,
            "review_decision": decision,
            "review_note": note.strip(),
        },
        by=by,
    )
    if decision == ReviewDecision.STOP and course.stopped_on is None:
        course_stop(
            course=course,
            stopped_on=reviewed_on,
            reason=StopReason.ADVERSE_EVENT,
            note=f"infliximab stopped after the {reaction.get_severity_display().lower()} "
            f"reaction to the infusion of {reaction.infusion.given_on:%d %b %Y}",
            by=by,
        )
    return reviewed


_REACTION_ENGINE_FIELDS = frozenset({"onset", "severity", "infusion_stopped"})
REACTION_CORRECTIONS = Corrections(
    fields=_REACTION_ENGINE_FIELDS | {"symptoms", "management", "outcome"},
    engine_fields=_REACTION_ENGINE_FIELDS,
    owned={
        "reviewed_on": "review the reaction",
        "reviewed_by": "review the reaction",
        "review_decision": "review the reaction",
        "review_note": "review the reaction",
        "infusion": "record a reaction",
    },
)


@_action
def reaction_correct(
    *, reaction: InfusionReaction, changes: Mapping[str, object], by: User
) -> InfusionReaction:
    return _correct(reaction, changes, by=by, policy=REACTION_CORRECTIONS)


# --- Results and assessments ---------------------------------------------------------------------


def _check_not_recorded(result: LabResult) -> None:
    """An identical result (patient, analyte, date, value) is not stored twice."""
    same = LabResult.objects.filter(
        patient_id=result.patient_id,
        analyte=result.analyte,
        analyte_name=result.analyte_name,
        collected_on=result.collected_on,
        value=result.value,
        antibodies_positive=result.antibodies_positive,
    ).exclude(pk=result.pk)
    if same.exists():
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"This result is already recorded ({result}, {result.value})."]}
        )


@_action
def lab_result_record(
    *,
    patient: Patient,
    collected_on: dt.date,
    analyte: str,
    value: Decimal | None = None,
    analyte_name: str = "",
    antibodies_positive: bool | None = None,
    assay_name: str = "",
    unit: str = "",
    reference_low: Decimal | None = None,
    reference_high: Decimal | None = None,
    by: User,
) -> LabResult:
    _require(by, "registry.add_labresult", patient.site_id, "recording a lab result")
    result = LabResult(
        patient=patient,
        collected_on=collected_on,
        analyte=analyte,
        analyte_name=analyte_name,
        value=value,
        unit=unit,
        antibodies_positive=antibodies_positive,
        assay_name=assay_name,
        reference_low=reference_low,
        reference_high=reference_high,
    )
    return _store(result, by=by, check=_check_not_recorded)


@dataclass(frozen=True)
class LabValue:
    """One result of a lab panel; the panel gives the patient and the collection date."""

    analyte: str
    value: Decimal | None = None
    analyte_name: str = ""
    antibodies_positive: bool | None = None
    assay_name: str = ""
    unit: str = ""
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None


@_action
def lab_panel_record(
    *,
    patient: Patient,
    collected_on: dt.date,
    results: Mapping[str, LabValue],
    by: User,
) -> dict[str, LabResult]:
    """The results of one draw, saved together or not at all, with one re-evaluation.

    Each result goes through `lab_result_record` (its validation, the duplicate check); every
    refusal is collected, so the person sees them all at once, and then nothing is kept. The
    refusal's keys are `<key>.<field>` for a result's field (the caller's key of that result),
    `<key>` for a result as a whole (a duplicate), and `collected_on` once for the shared date.
    """
    _require(by, "registry.add_labresult", patient.site_id, "recording a lab result")
    if not results:
        raise ValidationError({NON_FIELD_ERRORS: ["Enter at least one result of this draw."]})
    errors: dict[str, list[str]] = {}
    recorded: dict[str, LabResult] = {}
    for key, result in results.items():
        try:
            recorded[key] = lab_result_record(
                patient=patient,
                collected_on=collected_on,
                analyte=result.analyte,
                value=result.value,
                analyte_name=result.analyte_name,
                antibodies_positive=result.antibodies_positive,
                assay_name=result.assay_name,
                unit=result.unit,
                reference_low=result.reference_low,
                reference_high=result.reference_high,
                by=by,
            )
        except ValidationError as refused:
            for name, messages in refused.message_dict.items():
                if name == "collected_on":
                    where = name
                elif name == NON_FIELD_ERRORS:
                    where = key
                else:
                    where = f"{key}.{name}"
                shown = errors.setdefault(where, [])
                shown.extend(message for message in messages if message not in shown)
    if errors:
        # Raising rolls back the results already saved: the panel is all or nothing.
        raise ValidationError(errors)
    return recorded


_LAB_ENGINE_FIELDS = frozenset(
    {
        "collected_on",
        "analyte",
        "value",
        "antibodies_positive",
        "reference_low",
        "reference_high",
    }
)
LAB_CORRECTIONS = Corrections(
    fields=_LAB_ENGINE_FIELDS | {"analyte_name", "assay_name", "unit"},
    engine_fields=_LAB_ENGINE_FIELDS,
    owned={"patient": "record a lab result"},
)


@_action
def lab_result_correct(*, result: LabResult, changes: Mapping[str, object], by: User) -> LabResult:
    return _correct(result, changes, by=by, policy=LAB_CORRECTIONS, check=_check_not_recorded)


UNIT_REVIEW = Corrections(fields=frozenset({"unit_to_review"}))


@_action
def lab_result_unit_reviewed(*, result: LabResult, by: User) -> LabResult:
    """A person of the site has checked the unit (and value) of a result whose typed unit the
    units migration could not map: the typed text is cleared from the record (its history keeps
    it). Correct the unit or value first, with `lab_result_correct`."""
    return _correct(result, {"unit_to_review": ""}, by=by, policy=UNIT_REVIEW)


@_action
def imaging_study_record(
    *,
    patient: Patient,
    performed_on: dt.date,
    modality: str,
    active_lesions: int | None = None,
    new_lesions: int | None = None,
    impression: str = "",
    rinbo_total: int | None = None,
    rai_cromris_total: int | None = None,
    report_text: str = "",
    lesion_sites: Sequence[LesionSite] = (),
    by: User,
) -> ImagingStudy:
    """Record a study. With `lesion_sites` its counts are derived from them (a count sent along
    must agree); without, the counts given are "recorded without sites"."""
    _require(by, "registry.add_imagingstudy", patient.site_id, "recording imaging")
    study = ImagingStudy(
        patient=patient,
        performed_on=performed_on,
        modality=modality,
        active_lesions=active_lesions,
        new_lesions=new_lesions,
        impression=impression,
        rinbo_total=rinbo_total,
        rai_cromris_total=rai_cromris_total,
        report_text=report_text,
    )
    return _store_with_sites(study, lesion_sites, by=by)


_IMAGING_ENGINE_FIELDS = frozenset(
    {"performed_on", "modality", "active_lesions", "new_lesions", "impression"}
)
IMAGING_CORRECTIONS = Corrections(
    fields=_IMAGING_ENGINE_FIELDS
    | {"rinbo_total", "rai_cromris_total", "report_text", "lesion_counts"},
    engine_fields=_IMAGING_ENGINE_FIELDS,
    owned={"patient": "record imaging"},
)


@_action
def imaging_study_correct(
    *, study: ImagingStudy, changes: Mapping[str, object], by: User
) -> ImagingStudy:
    """Correct a study; its counts stay derived from its sites when it has them (correct the
    sites with `lesion_sites_set`), and a modality change re-derives them."""
    return _correct(study, _with_counts(study, changes), by=by, policy=IMAGING_CORRECTIONS)


@_action
def assessment_record(
    *,
    patient: Patient,
    assessed_on: dt.date,
    pain_score: Decimal | None = None,
    physician_global: Decimal | None = None,
    patient_global: Decimal | None = None,
    chaq: Decimal | None = None,
    clinically_active_lesions: int | None = None,
    disease_state: str = "",
    notes: str = "",
    lesion_sites: Sequence[LesionSite] = (),
    by: User,
) -> ClinicalAssessment:
    """Record an assessment. With `lesion_sites` (the clinically active lesions) its count is
    derived from them; without, the count given is "recorded without sites"."""
    _require(by, "registry.add_clinicalassessment", patient.site_id, "recording an assessment")
    assessment = ClinicalAssessment(
        patient=patient,
        assessed_on=assessed_on,
        pain_score=pain_score,
        physician_global=physician_global,
        patient_global=patient_global,
        chaq=chaq,
        clinically_active_lesions=clinically_active_lesions,
        disease_state=disease_state,
        notes=notes,
    )
    return _store_with_sites(assessment, lesion_sites, by=by)


_ASSESSMENT_ENGINE_FIELDS = frozenset(
    {
        "assessed_on",
        "pain_score",
        "physician_global",
        "patient_global",
        "chaq",
        "clinically_active_lesions",
        "disease_state",
    }
)
ASSESSMENT_CORRECTIONS = Corrections(
    fields=_ASSESSMENT_ENGINE_FIELDS | {"notes", "lesion_counts"},
    engine_fields=_ASSESSMENT_ENGINE_FIELDS,
    owned={"patient": "record an assessment"},
)


@_action
def assessment_correct(
    *, assessment: ClinicalAssessment, changes: Mapping[str, object], by: User
) -> ClinicalAssessment:
    return _correct(
        assessment, _with_counts(assessment, changes), by=by, policy=ASSESSMENT_CORRECTIONS
    )


# --- Lesion sites (their counts are derived) -----------------------------------------------------

LesionParent = ImagingStudy | ClinicalAssessment
_COUNT_FIELDS = {
    ImagingStudy: ("active_lesions", "new_lesions"),
    ClinicalAssessment: ("clinically_active_lesions",),
}


def _parent_of(site: LesionSite) -> LesionParent:
    parent = site.imaging_study if site.imaging_study_id else site.assessment
    if parent is None:
        raise TypeError(f"a lesion site without its study or assessment: {site!r}")
    return parent


def _counts_from(parent: LesionParent, sites: Sequence[LesionSite]) -> dict[str, int | None]:
    """What the sites give: an MRI's active and new lesions (none from other modalities, whose
    sites have no state), or an assessment's clinically active lesions (each site is one)."""
    if isinstance(parent, ClinicalAssessment):
        return {"clinically_active_lesions": len(sites)}
    if not parent.is_mri:
        return {"active_lesions": None, "new_lesions": None}
    return {
        "active_lesions": sum(site.active for site in sites),
        "new_lesions": sum(site.new for site in sites),
    }


def _source_of(parent: LesionParent, counts: Mapping[str, object], *, sites: bool) -> str:
    if sites:
        return LesionCounts.SITES
    recorded = any(counts.get(name) is not None for name in _COUNT_FIELDS[type(parent)])
    return LesionCounts.RECORDED if recorded else ""


def _with_counts(parent: LesionParent, changes: Mapping[str, object]) -> dict[str, object]:
    """A correction's changes with the counts and their source as they follow from it."""
    if "lesion_counts" in changes and changes["lesion_counts"] != parent.lesion_counts:
        raise ValidationError({"lesion_counts": ["Set by the registry, not corrected."]})
    changes = {name: value for name, value in changes.items() if name != "lesion_counts"}
    fields = _COUNT_FIELDS[type(parent)]
    if parent.lesion_counts != LesionCounts.SITES:
        merged = {name: changes.get(name, getattr(parent, name)) for name in fields}
        return changes | {"lesion_counts": _source_of(parent, merged, sites=False)}
    sites = list(parent.lesion_sites.all())
    changed = copy(parent)
    for name, value in changes.items():
        setattr(changed, name, value)
    derived = _counts_from(changed, sites)
    refused = {
        name: [f"Derived from the lesion sites ({_count_words(derived[name])}): correct the sites."]
        for name in fields
        if name in changes
        and changes[name] != getattr(parent, name)
        and changes[name] != derived[name]
    }
    if refused:
        raise ValidationError(refused)
    return changes | derived


def _count_words(count: int | None) -> str:
    return "none for this modality" if count is None else str(count)


def _check_sites(parent: LesionParent, sites: Sequence[LesionSite]) -> None:
    """Each site valid for its parent, and none twice; refusals name the site by its number."""
    errors: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for number, site in enumerate(sites, start=1):
        site.imaging_study = parent if isinstance(parent, ImagingStudy) else None
        site.assessment = parent if isinstance(parent, ClinicalAssessment) else None
        try:
            site.full_clean(exclude=["imaging_study", "assessment"], validate_constraints=False)
        except ValidationError as refused:
            for messages in refused.message_dict.values():
                errors.extend(f"Site {number} ({site.words}): {message}" for message in messages)
            continue
        key = (site.bone, site.vertebral_level, site.laterality)
        if key in seen and site.bone not in ("metatarsal", "other"):
            errors.append(f"Site {number} ({site.words}): recorded twice.")
        seen.add(key)
    if errors:
        raise ValidationError({"lesion_sites": errors})


def _store_with_sites(parent: R, sites: Sequence[LesionSite], *, by: User) -> R:
    """Store a new study or assessment and its sites, the counts derived from the sites."""
    assert isinstance(parent, ImagingStudy | ClinicalAssessment)  # noqa: S101
    sites = list(sites)
    if sites:
        derived = _counts_from(parent, sites)
        refused = {
            name: [f"Derived from the lesion sites ({_count_words(value)}): leave it blank."]
            for name, value in derived.items()
            if getattr(parent, name) is not None and getattr(parent, name) != value
        }
        if refused:
            raise ValidationError(refused)
        for name, value in derived.items():
            setattr(parent, name, value)
    parent.lesion_counts = _source_of(
        parent,
        {name: getattr(parent, name) for name in _COUNT_FIELDS[type(parent)]},
        sites=bool(sites),
    )
    if sites:
        parent.full_clean(validate_constraints=False)
        _check_sites(parent, sites)
    stored = _store(parent, by=by)
    _save_sites(stored, sites, by=by)
    return stored


def _save_sites(parent: LesionParent, sites: Iterable[LesionSite], *, by: User) -> None:
    for site in sites:
        site.pk = None
        site.imaging_study = parent if isinstance(parent, ImagingStudy) else None
        site.assessment = parent if isinstance(parent, ClinicalAssessment) else None
        try:
            with transaction.atomic():
                site._history_user = by  # type: ignore[attr-defined]
                site.save()
        except IntegrityError as error:
            raise ValidationError({"lesion_sites": [_refusal(site, error).messages[0]]}) from error


@_action
def lesion_sites_set(
    *, record: LesionParent, sites: Sequence[LesionSite], by: User
) -> LesionParent:
    """Replace the lesion sites of a stored study or assessment (the history keeps the old ones);
    its counts are derived from the new sites. With no sites left the counts become "recorded
    without sites" — the ones derived last, so the engine's input does not change silently.

    The counts are read by the guideline's alerts: changing them is a clinician's correction."""
    model = record._meta.model_name
    site_id = site_id_of(record)
    _require(by, f"registry.change_{model}", site_id, "correcting this record's lesion sites")
    sites = list(sites)
    _check_sites(record, sites)
    fields = _COUNT_FIELDS[type(record)]
    counts = _counts_from(record, sites) if sites else {n: getattr(record, n) for n in fields}
    if any(counts[name] != getattr(record, name) for name in fields):
        roles.require(
            by,
            roles.CORRECT_ENGINE_INPUT,
            site_id,
            "Only a clinician of this site may change the lesion sites' counts: the guideline's "
            "alerts read them.",
        )
    for site in record.lesion_sites.all():
        site._history_user = by  # type: ignore[attr-defined]
        site.delete()
    changes = counts | {"lesion_counts": _source_of(record, counts, sites=bool(sites))}
    stored = _store_changes(record, changes, by=by)
    _save_sites(stored, sites, by=by)
    return stored


# --- The phenotype -------------------------------------------------------------------------------

PHENOTYPE_FIELDS = frozenset(
    f.name
    for f in Phenotype._meta.concrete_fields
    if f.name not in {"id", "patient", "created_at", "updated_at"}
)


@_action
def phenotype_record(*, patient: Patient, values: Mapping[str, object], by: User) -> Phenotype:
    """Record or correct the patient's phenotype (one per patient): `values` are its fields;
    those not given keep their stored value. "Met" and the score are derived, never given."""
    unknown = sorted(set(values) - PHENOTYPE_FIELDS)
    if unknown:
        raise ValidationError({name: ["No such field."] for name in unknown})
    stored = Phenotype.objects.filter(patient=patient).first()
    if stored is None:
        _require(by, "registry.add_phenotype", patient.site_id, "recording the phenotype")
        return _store(Phenotype(patient=patient, **values), by=by)
    _require(by, "registry.change_phenotype", patient.site_id, "correcting the phenotype")
    changed = {name: value for name, value in values.items() if getattr(stored, name) != value}
    return _store_changes(stored, changed, by=by) if changed else stored


@_action
def comorbidity_record(
    *, patient: Patient, condition: str, onset_on: dt.date, by: User
) -> Comorbidity:
    _require(by, "registry.add_comorbidity", patient.site_id, "recording a comorbidity")
    return _store(Comorbidity(patient=patient, condition=condition, onset_on=onset_on), by=by)


COMORBIDITY_CORRECTIONS = Corrections(
    fields=frozenset({"condition", "onset_on"}), owned={"patient": "record a comorbidity"}
)


@_action
def comorbidity_correct(
    *, comorbidity: Comorbidity, changes: Mapping[str, object], by: User
) -> Comorbidity:
    return _correct(comorbidity, changes, by=by, policy=COMORBIDITY_CORRECTIONS)


# --- Relapse and retreatment ---------------------------------------------------------------------


@_action
def relapse_record(
    *, course: TreatmentCourse, noted_on: dt.date, evidence: str, by: User
) -> Relapse:
    _require(by, "registry.add_relapse", course.patient.site_id, "recording a relapse")
    relapse = Relapse(patient=course.patient, course=course, noted_on=noted_on, evidence=evidence)
    return _store(relapse, by=by)


RELAPSE_CORRECTIONS = Corrections(
    fields=frozenset({"noted_on", "evidence", "course"}),
    engine_fields=frozenset({"noted_on", "course"}),
    owned={"retreatment_course": "start retreatment", "patient": "record a relapse"},
)


@_action
def relapse_correct(*, relapse: Relapse, changes: Mapping[str, object], by: User) -> Relapse:
    return _correct(relapse, changes, by=by, policy=RELAPSE_CORRECTIONS)


@_action
def retreatment_start(
    *,
    relapse: Relapse,
    started_on: dt.date,
    planned_dose_mg_per_kg: Decimal = Decimal("5"),
    induction_weeks: Iterable[int] = (0, 2, 6),
    maintenance_interval_weeks: int = 8,
    product: InfliximabProduct | None = None,
    by: User,
) -> TreatmentCourse:
    """Start a new course for a relapse and link it: both are saved, or neither. Without a
    `product`, the new course plans the product of the course the relapse followed."""
    if relapse.retreatment_course_id is not None:
        raise ValidationError(
            {
                "retreatment_course": "This relapse is already being retreated (the course from "
                f"{relapse.retreatment_course.started_on:%d %b %Y})."  # type: ignore[union-attr]
            }
        )
    course = course_start(
        patient=relapse.patient,
        started_on=started_on,
        planned_dose_mg_per_kg=planned_dose_mg_per_kg,
        induction_weeks=induction_weeks,
        maintenance_interval_weeks=maintenance_interval_weeks,
        product=product or relapse.course.product,
        notes=f"Retreatment after the relapse noted on {relapse.noted_on:%d %b %Y}.",
        by=by,
    )
    try:
        _store_changes(relapse, {"retreatment_course": course}, by=by)
    except ValidationError:
        # The course's row is rolled back with the transaction; the object must not look saved.
        course.pk = None
        raise
    return course


# --- Other medications ---------------------------------------------------------------------------


@_action
def medication_record(
    *,
    patient: Patient,
    drug: str,
    started_on: dt.date,
    route: str,
    frequency: str,
    dose: Decimal | None = None,
    dose_unit: str = "",
    drug_name: str = "",
    stopped_on: dt.date | None = None,
    stop_reason: str = "",
    by: User,
) -> Medication:
    """A drug the patient takes (or took: with its stop date and reason) besides infliximab."""
    _require(by, "registry.add_medication", patient.site_id, "recording a medication")
    medication = Medication(
        patient=patient,
        drug=drug,
        drug_name=drug_name,
        dose=dose,
        dose_unit=dose_unit,
        route=route,
        frequency=frequency,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
    )
    return _store(medication, by=by)


@_action
def medication_stop(
    *, medication: Medication, stopped_on: dt.date, reason: str, by: User
) -> Medication:
    """The patient stopped taking it, on `stopped_on`, for `reason`."""
    _require(by, "registry.change_medication", medication.patient.site_id, "stopping a medication")
    if medication.stopped_on is not None:
        raise ValidationError(
            {"stopped_on": f"This medication already stopped on {medication.stopped_on:%d %b %Y}."}
        )
    if reason not in MedicationStopReason.values:
        raise ValidationError({"reason": "Choose why it was stopped."})
    return _store_changes(medication, {"stopped_on": stopped_on, "stop_reason": reason}, by=by)


# methotrexate_monitoring_due reads which drug is taken and when: correcting those can clear it.
_MEDICATION_ENGINE_FIELDS = frozenset({"drug", "started_on", "stopped_on"})
MEDICATION_CORRECTIONS = Corrections(
    fields=frozenset(
        {
            "drug",
            "drug_name",
            "dose",
            "dose_unit",
            "route",
            "frequency",
            "started_on",
            "stopped_on",
            "stop_reason",
        }
    ),
    engine_fields=_MEDICATION_ENGINE_FIELDS,
    owned={"patient": "record a medication"},
)


@_action
def medication_correct(
    *, medication: Medication, changes: Mapping[str, object], by: User
) -> Medication:
    return _correct(medication, changes, by=by, policy=MEDICATION_CORRECTIONS)


# --- Safety: adverse events, screening results, vaccinations ------------------------------------


def _seriousness(criteria: Iterable[str]) -> dict[str, bool]:
    """The seriousness fields of the criteria named (ICH E2A: "death", "hospitalisation", …)."""
    named = set(criteria)
    unknown = named - set(SERIOUSNESS_CRITERIA)
    if unknown:
        raise ValidationError(
            {
                "seriousness": f"Unknown seriousness criteria: {sorted(unknown)}; the criteria "
                f"are {', '.join(SERIOUSNESS_CRITERIA)}."
            }
        )
    return {f"seriousness_{name}": name in named for name in SERIOUSNESS_CRITERIA}


@_action
def adverse_event_record(
    *,
    patient: Patient,
    onset_on: dt.date,
    term: str,
    grade: int,
    relation_to_infliximab: str,
    action_taken: str,
    outcome: str,
    serious: bool = False,
    seriousness: Iterable[str] = (),
    course: TreatmentCourse | None = None,
    specified_term: str = "",
    resolved_on: dt.date | None = None,
    by: User,
) -> AdverseEvent:
    """An adverse event other than an infusion reaction (those are `reaction_record`): its grade
    and its seriousness (ICH E2A) are separate, and a serious event names the criteria it meets."""
    _require(by, "registry.add_adverseevent", patient.site_id, "recording an adverse event")
    event = AdverseEvent(
        patient=patient,
        course=course,
        onset_on=onset_on,
        term=term,
        specified_term=specified_term,
        grade=grade,
        serious=serious,
        **_seriousness(seriousness),
        relation_to_infliximab=relation_to_infliximab,
        action_taken=action_taken,
        outcome=outcome,
        resolved_on=resolved_on,
    )
    return _store(event, by=by)


_ADVERSE_EVENT_ENGINE_FIELDS = frozenset({"onset_on", "term", "serious", *SERIOUSNESS_FIELDS})
_ADVERSE_EVENT_REVIEW = "review the adverse event"
ADVERSE_EVENT_CORRECTIONS = Corrections(
    fields=_ADVERSE_EVENT_ENGINE_FIELDS
    | {
        "course",
        "specified_term",
        "grade",
        "relation_to_infliximab",
        "action_taken",
        "outcome",
        "resolved_on",
    },
    engine_fields=_ADVERSE_EVENT_ENGINE_FIELDS,
    owned={
        "patient": "record an adverse event",
        "reviewed_on": _ADVERSE_EVENT_REVIEW,
        "reviewed_by": _ADVERSE_EVENT_REVIEW,
        "review_decision": _ADVERSE_EVENT_REVIEW,
    },
)


@_action
def adverse_event_correct(
    *, event: AdverseEvent, changes: Mapping[str, object], by: User
) -> AdverseEvent:
    return _correct(event, changes, by=by, policy=ADVERSE_EVENT_CORRECTIONS)


@_action
def adverse_event_review_record(
    *, event: AdverseEvent, reviewed_on: dt.date, decision: str, by: User
) -> AdverseEvent:
    """A clinician's review of an adverse event: the decision on infliximab. "Stop infliximab"
    also stops the patient's active course (reason: adverse event), as a reaction's review does."""
    roles.require(
        by,
        roles.REVIEW_ADVERSE_EVENT,
        event.patient.site_id,
        "Only a clinician of this site may review an adverse event.",
    )
    _refuse_a_second_review(event, "event")
    if decision not in AdverseEventDecision.values:
        raise ValidationError({"decision": "Choose the decision on infliximab."})
    reviewed = _store_changes(
        event,
        {"reviewed_on": reviewed_on, "reviewed_by": by, "review_decision": decision},
        by=by,
    )
    active = event.patient.courses.filter(stopped_on__isnull=True).first()
    if decision == AdverseEventDecision.STOP and active is not None:
        course_stop(
            course=active,
            stopped_on=reviewed_on,
            reason=StopReason.ADVERSE_EVENT,
            note=f"infliximab stopped after the adverse event of {event.onset_on:%d %b %Y} "
            f"({event.get_term_display().lower()}, grade {event.grade})",
            by=by,
        )
    return reviewed


@_action
def screening_result_record(
    *, patient: Patient, test: str, tested_on: dt.date, result: str, by: User
) -> ScreeningResult:
    """A screening test's result (TB, hepatitis B and C, HIV, varicella immunity)."""
    _require(by, "registry.add_screeningresult", patient.site_id, "recording a screening result")
    screening = ScreeningResult(patient=patient, test=test, tested_on=tested_on, result=result)
    return _store(screening, by=by)


@_action
def screening_panel_record(
    *, patient: Patient, tested_on: dt.date, results: Mapping[str, str], by: User
) -> dict[str, ScreeningResult]:
    """The screening results of one date (a biologic's screening before its first dose: TB,
    hepatitis B and C, HIV, varicella), saved together or not at all. Each goes through
    `screening_result_record`; the refusal's keys are the tests, and `tested_on` for the date."""
    _require(by, "registry.add_screeningresult", patient.site_id, "recording a screening result")
    if not results:
        raise ValidationError({NON_FIELD_ERRORS: ["Enter at least one result of this date."]})
    errors: dict[str, list[str]] = {}
    recorded: dict[str, ScreeningResult] = {}
    for test, result in results.items():
        try:
            recorded[test] = screening_result_record(
                patient=patient, test=test, tested_on=tested_on, result=result, by=by
            )
        except ValidationError as refused:
            for name, messages in refused.message_dict.items():
                shown = errors.setdefault("tested_on" if name == "tested_on" else test, [])
                shown.extend(message for message in messages if message not in shown)
    if errors:
        raise ValidationError(errors)  # and the results saved so far are rolled back
    return recorded


_SCREENING_REVIEW = "review the screening result"
SCREENING_CORRECTIONS = Corrections(
    fields=frozenset({"test", "tested_on", "result"}),
    engine_fields=frozenset({"test", "tested_on", "result"}),
    owned={
        "patient": "record a screening result",
        "reviewed_on": _SCREENING_REVIEW,
        "reviewed_by": _SCREENING_REVIEW,
    },
)


@_action
def screening_result_correct(
    *, screening: ScreeningResult, changes: Mapping[str, object], by: User
) -> ScreeningResult:
    return _correct(screening, changes, by=by, policy=SCREENING_CORRECTIONS)


@_action
def screening_review_record(
    *, screening: ScreeningResult, reviewed_on: dt.date, by: User
) -> ScreeningResult:
    """A clinician records that a specialist reviewed a result that is not negative (latent TB,
    hepatitis B): before the next infusion (GUIDELINE: screening_positive)."""
    roles.require(
        by,
        roles.REVIEW_SCREENING,
        screening.patient.site_id,
        "Only a clinician of this site may record the review of a screening result.",
    )
    _refuse_a_second_review(screening, "result")
    return _store_changes(screening, {"reviewed_on": reviewed_on, "reviewed_by": by}, by=by)


@_action
def vaccination_record(
    *, patient: Patient, vaccine: str, given_on: dt.date, by: User
) -> Vaccination:
    _require(by, "registry.add_vaccination", patient.site_id, "recording a vaccination")
    vaccination = Vaccination(patient=patient, vaccine=vaccine, given_on=given_on)
    return _store(vaccination, by=by)


_VACCINATION_REVIEW = "review the vaccination"
VACCINATION_CORRECTIONS = Corrections(
    fields=frozenset({"vaccine", "given_on"}),
    engine_fields=frozenset({"vaccine", "given_on"}),
    owned={
        "patient": "record a vaccination",
        "reviewed_on": _VACCINATION_REVIEW,
        "reviewed_by": _VACCINATION_REVIEW,
        "review_decision": _VACCINATION_REVIEW,
        "review_note": _VACCINATION_REVIEW,
    },
)


@_action
def vaccination_correct(
    *, vaccination: Vaccination, changes: Mapping[str, object], by: User
) -> Vaccination:
    return _correct(vaccination, changes, by=by, policy=VACCINATION_CORRECTIONS)


@_action
def vaccination_review_record(
    *, vaccination: Vaccination, reviewed_on: dt.date, decision: str, note: str = "", by: User
) -> Vaccination:
    """A clinician's review of a live vaccine given on or near infliximab (GUIDELINE.md
    live_vaccine_on_treatment): the infusion deferred until the interval has passed, or the risk
    accepted, and why. Refused for a vaccine that is not live."""
    roles.require(
        by,
        roles.REVIEW_VACCINATION,
        vaccination.patient.site_id,
        "Only a clinician of this site may review a vaccination.",
    )
    if not vaccination.live:
        raise ValidationError(
            {"vaccine": NOT_LIVE_REFUSAL.format(vaccine=vaccination.get_vaccine_display())}
        )
    _refuse_a_second_review(vaccination, "vaccination")
    if decision not in VaccinationReviewDecision.values:
        raise ValidationError({"decision": "Choose the decision on the infusions."})
    return _store_changes(
        vaccination,
        {
            "reviewed_on": reviewed_on,
            "reviewed_by": by,
            "review_decision": decision,
            "review_note": note.strip(),
        },
        by=by,
    )


# --- The same actions, for doors that hold a model instance (admin, API) ------------------------


def record_create(
    *, record: ClinicalRecord, by: User, lesion_sites: Sequence[LesionSite] = ()
) -> ClinicalRecord:
    """Record a new row built by a door (an admin form, an API body) through its action; an
    imaging study or assessment with its `lesion_sites`."""
    if lesion_sites and not isinstance(record, ImagingStudy | ClinicalAssessment):
        raise TypeError(f"lesion sites belong to a study or an assessment, not {record!r}")
    match record:
        case Patient():
            patient = patient_register(
                site=record.site,
                mrn=record.mrn,
                given_name=record.given_name,
                family_name=record.family_name,
                date_of_birth=record.date_of_birth,
                sex=record.sex,
                diagnosed_on=record.diagnosed_on,
                by=by,
            )
            return patient
        case TreatmentCourse():
            if record.stopped_on or record.stop_reason:
                raise ValidationError(
                    {"stopped_on": "Start the course, then stop it with the “stop” action."}
                )
            return course_start(
                patient=record.patient,
                started_on=record.started_on,
                planned_dose_mg_per_kg=record.planned_dose_mg_per_kg,
                induction_weeks=record.induction_weeks,
                maintenance_interval_weeks=record.maintenance_interval_weeks,
                product=record.product,
                notes=record.notes,
                by=by,
            )
        case RegimenChange():
            return regimen_change_record(
                course=record.course,
                effective_on=record.effective_on,
                dose_mg_per_kg=record.dose_mg_per_kg,
                interval_weeks=record.interval_weeks,
                reason=record.reason,
                note=record.note,
                by=by,
            )
        case Infusion():
            return infusion_record(
                course=record.course,
                given_on=record.given_on,
                weight_kg=record.weight_kg,
                weight_measured_on=record.weight_measured_on,
                weight_confirmed=record.weight_confirmed,
                dose_mg=record.dose_mg,
                duration_minutes=record.duration_minutes,
                premedication=[
                    name for name in PREMEDICATIONS if getattr(record, f"premedication_{name}")
                ],
                product=record.product,
                lot_number=record.lot_number,
                notes=record.notes,
                by=by,
            )
        case InfusionReaction():
            if record.reviewed_on or record.review_decision:
                raise ValidationError(
                    {"reviewed_on": "Record the reaction, then a clinician reviews it."}
                )
            return reaction_record(
                infusion=record.infusion,
                onset=record.onset,
                severity=record.severity,
                symptoms=record.symptoms,
                management=record.management,
                infusion_stopped=record.infusion_stopped,
                outcome=record.outcome,
                by=by,
            )
        case LabResult():
            return lab_result_record(
                patient=record.patient,
                collected_on=record.collected_on,
                analyte=record.analyte,
                value=record.value,
                analyte_name=record.analyte_name,
                antibodies_positive=record.antibodies_positive,
                assay_name=record.assay_name,
                unit=record.unit,
                reference_low=record.reference_low,
                reference_high=record.reference_high,
                by=by,
            )
        case ImagingStudy():
            return imaging_study_record(
                patient=record.patient,
                performed_on=record.performed_on,
                modality=record.modality,
                active_lesions=record.active_lesions,
                new_lesions=record.new_lesions,
                impression=record.impression,
                rinbo_total=record.rinbo_total,
                rai_cromris_total=record.rai_cromris_total,
                report_text=record.report_text,
                lesion_sites=lesion_sites,
                by=by,
            )
        case ClinicalAssessment():
            return assessment_record(
                patient=record.patient,
                assessed_on=record.assessed_on,
                pain_score=record.pain_score,
                physician_global=record.physician_global,
                patient_global=record.patient_global,
                chaq=record.chaq,
                clinically_active_lesions=record.clinically_active_lesions,
                disease_state=record.disease_state,
                notes=record.notes,
                lesion_sites=lesion_sites,
                by=by,
            )
        case Phenotype():
            values = {name: getattr(record, name) for name in PHENOTYPE_FIELDS}
            return phenotype_record(patient=record.patient, values=values, by=by)
        case Comorbidity():
            return comorbidity_record(
                patient=record.patient, condition=record.condition, onset_on=record.onset_on, by=by
            )
        case Relapse():
            if record.retreatment_course_id:
                raise ValidationError(
                    {"retreatment_course": "Record the relapse, then start its retreatment."}
                )
            return relapse_record(
                course=record.course, noted_on=record.noted_on, evidence=record.evidence, by=by
            )
        case Medication():
            return medication_record(
                patient=record.patient,
                drug=record.drug,
                drug_name=record.drug_name,
                dose=record.dose,
                dose_unit=record.dose_unit,
                route=record.route,
                frequency=record.frequency,
                started_on=record.started_on,
                stopped_on=record.stopped_on,
                stop_reason=record.stop_reason,
                by=by,
            )
        case AdverseEvent() | ScreeningResult() | Vaccination():
            return _safety_record_create(record, by=by)
        case Consent():
            if record.scopes_withdrawn():
                raise ValidationError(
                    {"research_withdrawn_on": "Record the consent, then its withdrawal."}
                )
            return consent_record(
                patient=record.patient,
                document=record.document,
                consented_by=record.consented_by,
                assent=record.assent,
                scopes=record.scopes_given(),
                given_on=record.given_on,
                by=by,
            )
    raise TypeError(f"not a clinical record: {record!r}")


def _safety_record_create(
    record: AdverseEvent | ScreeningResult | Vaccination, *, by: User
) -> ClinicalRecord:
    match record:
        case AdverseEvent():
            if record.reviewed_on or record.review_decision:
                raise ValidationError(
                    {"reviewed_on": "Record the adverse event, then a clinician reviews it."}
                )
            return adverse_event_record(
                patient=record.patient,
                course=record.course,
                onset_on=record.onset_on,
                term=record.term,
                specified_term=record.specified_term,
                grade=record.grade,
                serious=record.serious,
                seriousness=[
                    name for name in SERIOUSNESS_CRITERIA if getattr(record, f"seriousness_{name}")
                ],
                relation_to_infliximab=record.relation_to_infliximab,
                action_taken=record.action_taken,
                outcome=record.outcome,
                resolved_on=record.resolved_on,
                by=by,
            )
        case ScreeningResult():
            if record.reviewed_on:
                raise ValidationError(
                    {"reviewed_on": "Record the result, then a clinician records its review."}
                )
            return screening_result_record(
                patient=record.patient,
                test=record.test,
                tested_on=record.tested_on,
                result=record.result,
                by=by,
            )
        case Vaccination():
            if record.reviewed_on or record.review_decision or record.review_note:
                raise ValidationError(
                    {"reviewed_on": "Record the vaccination, then a clinician reviews it."}
                )
            return vaccination_record(
                patient=record.patient, vaccine=record.vaccine, given_on=record.given_on, by=by
            )


def record_correct(
    *, record: ClinicalRecord, changes: Mapping[str, object], by: User
) -> ClinicalRecord:
    """Correct a stored row through its model's allowlisted correction service."""
    match record:
        case Patient():
            return patient_correct(patient=record, changes=changes, by=by)
        case TreatmentCourse():
            return course_correct(course=record, changes=changes, by=by)
        case RegimenChange():
            return regimen_change_correct(change=record, changes=changes, by=by)
        case Infusion():
            return infusion_correct(infusion=record, changes=changes, by=by)
        case InfusionReaction():
            return reaction_correct(reaction=record, changes=changes, by=by)
        case LabResult():
            return lab_result_correct(result=record, changes=changes, by=by)
        case ImagingStudy():
            return imaging_study_correct(study=record, changes=changes, by=by)
        case ClinicalAssessment():
            return assessment_correct(assessment=record, changes=changes, by=by)
        case Relapse():
            return relapse_correct(relapse=record, changes=changes, by=by)
        case Medication():
            return medication_correct(medication=record, changes=changes, by=by)
        case AdverseEvent():
            return adverse_event_correct(event=record, changes=changes, by=by)
        case ScreeningResult():
            return screening_result_correct(screening=record, changes=changes, by=by)
        case Vaccination():
            return vaccination_correct(vaccination=record, changes=changes, by=by)
        case Consent():
            return consent_correct(consent=record, changes=changes, by=by)
        case Phenotype():
            return phenotype_record(patient=record.patient, values=changes, by=by)
        case Comorbidity():
            return comorbidity_correct(comorbidity=record, changes=changes, by=by)
    raise TypeError(f"not a clinical record: {record!r}")
