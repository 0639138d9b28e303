"""The plain, frozen history of one course: everything the rules read, and nothing else.

Built by `monitoring.evaluation` from the database (or by a test by hand). Lab results, imaging,
assessments, medications, screening results and live vaccinations belong to the patient, so a
course's history carries all of the patient's (of medications, only the drugs a rule reads:
`MEDICATIONS_READ`; of screening results, only the TB and hepatitis B tests: `SCREENINGS_READ`; of
vaccinations, only the live ones); each rule picks the dates it cares about. An adverse event that
needs a clinician's review belongs to one course (`attached_course`), whose history alone carries
it. The patient's other courses come along as their infliximab
**exposure** (GUIDELINE.md "Exposure: what carries across courses"): their infusions and reactions,
so a gap, an antibody or a reaction carries into a retreatment.

The rows' fields carry the model's field names (and `id` for the primary key): the loader picks
its columns by these names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

# Plain strings, mirroring registry's choices; the engine imports nothing from Django.
CRP, ESR, TROUGH, ANTIBODIES = "crp", "esr", "ifx_trough", "anti_ifx"
NEUTROPHILS, PLATELETS, ALT = "neutrophils", "platelets", "alt"
METHOTREXATE = "methotrexate"
# The drugs besides infliximab that a rule reads: the loader loads no other medication.
MEDICATIONS_READ = frozenset({METHOTREXATE})
# Screening before a biologic (GUIDELINE.md screening_missing, screening_positive).
TB_IGRA, TB_SKIN_TEST, TB_CHEST_XRAY = "tb_igra", "tb_skin_test", "tb_chest_xray"
HBV_SURFACE_ANTIGEN, HBV_CORE_ANTIBODY = "hbv_hbsag", "hbv_anti_hbc"
# A screen of latent TB is an IGRA or a tuberculin skin test: a chest X-ray alone is not one (it
# looks for active disease, and follows a positive screen).
TB_SCREENS = (TB_IGRA, TB_SKIN_TEST)
# Hepatitis B needs both: HBsAg finds a current infection, anti-HBc a resolved one that can
# reactivate. Anti-HBs (immunity) is neither, and is not read.
HBV_SCREENS = (HBV_SURFACE_ANTIGEN, HBV_CORE_ANTIBODY)
# The tests the rules read: the loader loads no other screening result (not hepatitis C, HIV,
# anti-HBs or varicella immunity).
SCREENINGS_READ = frozenset({*TB_SCREENS, TB_CHEST_XRAY, *HBV_SCREENS})
POSITIVE, INDETERMINATE = "positive", "indeterminate"
MRI_MODALITIES = frozenset({"wb_mri", "mri"})
TAPER, INTENSIFICATION = "taper", "intensification"
ACTIVE, INACTIVE = "active", "inactive"
WORSE = "worse"
MILD, MODERATE, SEVERE = "mild", "moderate", "severe"
DELAYED = "delayed"
REVIEW_STOP = "stop"
ADVERSE_EVENT, INEFFICACY = "adverse_event", "inefficacy"


@dataclass(frozen=True)
class InfusionRow:
    id: int
    given_on: dt.date
    weight_kg: Decimal
    dose_mg: Decimal
    weight_measured_on: dt.date | None = None  # None: weighed on the day
    duration_minutes: int | None = None
    premedication_antihistamine: bool = False
    premedication_corticosteroid: bool = False
    premedication_antipyretic: bool = False
    course_id: int = 0

    @property
    def premedicated(self) -> bool:
        # Premedication against reactions means an antihistamine and/or a corticosteroid.
        return self.premedication_antihistamine or self.premedication_corticosteroid

    @property
    def mg_per_kg(self) -> Decimal:
        return (self.dose_mg / self.weight_kg).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class RegimenRow:
    """A regimen change, dated on the day the clinician decided it (GUIDELINE.md "The schedule")."""

    id: int
    effective_on: dt.date
    dose_mg_per_kg: Decimal
    interval_weeks: int
    reason: str


@dataclass(frozen=True)
class LabRow:
    id: int
    collected_on: dt.date
    analyte: str
    value: Decimal | None = None  # antibodies: the titre, if reported
    reference_high: Decimal | None = None
    antibodies_positive: bool | None = None
    unit: str = ""
    assay_name: str = ""


@dataclass(frozen=True)
class ImagingRow:
    id: int
    performed_on: dt.date
    modality: str
    active_lesions: int | None = None
    new_lesions: int | None = None
    impression: str = ""  # resolved | improved | stable | worse | ""

    @property
    def is_mri(self) -> bool:
        return self.modality in MRI_MODALITIES


@dataclass(frozen=True)
class AssessmentRow:
    id: int
    assessed_on: dt.date
    pain_score: Decimal | None = None
    physician_global: Decimal | None = None
    clinically_active_lesions: int | None = None
    disease_state: str = ""  # as judged by the clinician; "" when not judged
    patient_global: Decimal | None = None
    chaq: Decimal | None = None

    @property
    def has_core_value(self) -> bool:
        """At least one core value (GUIDELINE.md response_assessment_due)."""
        values = (
            self.pain_score,
            self.physician_global,
            self.patient_global,
            self.chaq,
            self.clinically_active_lesions,
        )
        return any(value is not None for value in values) or bool(self.disease_state)


@dataclass(frozen=True)
class MedicationRow:
    """One entry of a drug besides infliximab, at one dose: a dose change stops the entry and
    starts another, so a patient's time on a drug may be several entries end to end."""

    id: int
    drug: str
    started_on: dt.date
    stopped_on: dt.date | None = None  # None: still taken

    def is_current_on(self, day: dt.date) -> bool:
        """Taken on `day`: started by then and not stopped by then (a stop on `day` counts)."""
        return self.started_on <= day and (self.stopped_on is None or self.stopped_on > day)


# Consent (registry.models.Consent): who consented, and the scopes with their withdrawal dates.
CONSENTED_BY_PATIENT = "patient"


@dataclass(frozen=True)
class ConsentRow:
    """One consent record of the patient: given on a date by the patient or a parent/guardian
    (or, for consent recorded before consent versions, by someone not recorded), each scope
    given and perhaps withdrawn on its own date."""

    id: int
    given_on: dt.date
    consented_by: str
    care_data_given: bool = False
    research_given: bool = False
    contact_given: bool = False
    care_data_withdrawn_on: dt.date | None = None
    research_withdrawn_on: dt.date | None = None
    contact_withdrawn_on: dt.date | None = None

    def scopes_in_force(self, day: dt.date) -> tuple[str, ...]:
        """The scopes this consent holds on `day` (given by then, not withdrawn by then)."""
        if self.given_on > day:
            return ()
        scopes = (
            ("care_data", self.care_data_given, self.care_data_withdrawn_on),
            ("research", self.research_given, self.research_withdrawn_on),
            ("contact", self.contact_given, self.contact_withdrawn_on),
        )
        return tuple(
            name
            for name, given, withdrawn in scopes
            if given and (withdrawn is None or withdrawn > day)
        )

    @property
    def withdrawals(self) -> tuple[dt.date, ...]:
        days = (self.care_data_withdrawn_on, self.research_withdrawn_on, self.contact_withdrawn_on)
        return tuple(day for day in days if day is not None)


@dataclass(frozen=True)
class ScreeningRow:
    """One dated TB or hepatitis B screening result, and the specialist review of one that is
    not negative."""

    id: int
    test: str
    tested_on: dt.date
    result: str  # positive | negative | indeterminate
    reviewed_on: dt.date | None = None

    @property
    def needs_specialist(self) -> bool:
        """Positive or indeterminate (every test read is one of infection, not of immunity)."""
        return self.result in (POSITIVE, INDETERMINATE)


@dataclass(frozen=True)
class VaccinationRow:
    """A live vaccine given to the patient (the loader loads no other), and its clinician's
    review (GUIDELINE.md live_vaccine_on_treatment)."""

    id: int
    vaccine: str
    given_on: dt.date
    reviewed_on: dt.date | None = None
    review_decision: str = ""


@dataclass(frozen=True)
class AdverseEventRow:
    """An adverse event that needs a clinician's review: serious (ICH E2A) or of special interest.
    `term_label` and `special_interest` are the registry's words for its term (the engine knows
    no labels); the name a clinician typed for a "name it" term is not carried (free text)."""

    id: int
    onset_on: dt.date
    term: str
    serious: bool
    reviewed_on: dt.date | None = None
    review_decision: str = ""
    term_label: str = ""
    special_interest: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReactionRow:
    id: int
    infusion_id: int
    severity: str
    onset: str = "acute"
    reviewed_on: dt.date | None = None
    review_decision: str = ""


@dataclass(frozen=True)
class Exposure:
    """The infusions and reactions of the patient's *other* courses (earlier or later)."""

    infusions: tuple[InfusionRow, ...] = ()  # ordered by date
    reactions: tuple[ReactionRow, ...] = ()


@dataclass(frozen=True)
class CourseHistory:
    course_id: int
    patient_code: str
    started_on: dt.date
    planned_dose_mg_per_kg: Decimal = Decimal("5")
    induction_weeks: tuple[int, ...] = (0, 2, 6)
    maintenance_interval_weeks: int = 8
    stopped_on: dt.date | None = None
    stop_reason: str = ""
    infusions: tuple[InfusionRow, ...] = ()  # this course's, ordered by date
    regimen_changes: tuple[RegimenRow, ...] = ()  # ordered by date
    labs: tuple[LabRow, ...] = ()  # the patient's, ordered by date
    imaging: tuple[ImagingRow, ...] = ()  # the patient's, ordered by date
    assessments: tuple[AssessmentRow, ...] = ()  # the patient's, ordered by date
    reactions: tuple[ReactionRow, ...] = ()  # to this course's infusions
    relapses_noted_on: tuple[dt.date, ...] = ()  # relapses recorded against this course, by date
    medications: tuple[MedicationRow, ...] = ()  # the patient's, of MEDICATIONS_READ, by start
    screenings: tuple[ScreeningRow, ...] = ()  # the patient's, of SCREENINGS_READ, by date
    live_vaccinations: tuple[VaccinationRow, ...] = ()  # the patient's, by date
    adverse_events: tuple[AdverseEventRow, ...] = ()  # attached to this course, by onset
    next_course_started_on: dt.date | None = None  # the patient's next course, if any
    exposure: Exposure = Exposure()  # the patient's other courses
    site_code: str = field(default="", compare=False)
    patient_born_on: dt.date | None = None  # read by reconsent_at_majority only
    consents: tuple[ConsentRow, ...] = ()  # the patient's, by date given

    @property
    def day_zero(self) -> dt.date:
        """Day 0 is the first infusion; before any infusion, the planned start."""
        return self.infusions[0].given_on if self.infusions else self.started_on

    def is_on_treatment(self, as_of: dt.date) -> bool:
        return self.stopped_on is None or self.stopped_on > as_of

    def is_stopped(self, as_of: dt.date) -> bool:
        return not self.is_on_treatment(as_of)

    def regimen_on(self, day: dt.date) -> tuple[Decimal, int]:
        """Dose (mg/kg) and interval (weeks) in force on `day`."""
        change = self.regimen_change_on(day)
        if change is None:
            return self.planned_dose_mg_per_kg, self.maintenance_interval_weeks
        return change.dose_mg_per_kg, change.interval_weeks

    def regimen_change_on(self, day: dt.date) -> RegimenRow | None:
        """The regimen change in force on `day`, if any."""
        in_force = None
        for change in self.regimen_changes:
            if change.effective_on > day:
                break
            in_force = change
        return in_force

    def infusions_until(self, as_of: dt.date) -> tuple[InfusionRow, ...]:
        return tuple(i for i in self.infusions if i.given_on <= as_of)

    def taking_since(self, drug: str, day: dt.date) -> dt.date | None:
        """Since when the patient has taken `drug` without a break up to `day` (entries end to end,
        as after a dose change, count as one time on it); None when it is not taken on `day`."""
        entries = [m for m in self.medications if m.drug == drug]
        current = [m for m in entries if m.is_current_on(day)]
        if not current:
            return None
        since = min(m.started_on for m in current)
        earlier = True
        while earlier:
            earlier = False
            for m in entries:
                if m.started_on < since and m.stopped_on is not None and m.stopped_on >= since:
                    since, earlier = m.started_on, True
        return since

    # --- Exposure across courses ---------------------------------------------------------------

    @property
    def all_infusions(self) -> tuple[InfusionRow, ...]:
        """Every infusion of the patient (all courses), by date."""
        if not self.exposure.infusions:
            return self.infusions
        return tuple(sorted((*self.exposure.infusions, *self.infusions), key=_by_date))

    @property
    def all_reactions(self) -> tuple[ReactionRow, ...]:
        return (*self.exposure.reactions, *self.reactions)

    def last_infusion_before(self, day: dt.date) -> InfusionRow | None:
        """The patient's last infusion of another course before `day`."""
        earlier = [i for i in self.exposure.infusions if i.given_on < day]
        return earlier[-1] if earlier else None

    @property
    def days_off_drug(self) -> int | None:
        """Days between the last infusion of an earlier course and this course's day 0 (or its
        planned start); None for a first course."""
        last = self.last_infusion_before(self.day_zero)
        return None if last is None else (self.day_zero - last.given_on).days

    @property
    def is_latest_course(self) -> bool:
        """No later course has started: patient-level alerts live on this course."""
        return self.next_course_started_on is None


@dataclass(frozen=True)
class CourseSpan:
    """One of the patient's courses, as `attached_course` reads it."""

    id: int
    started_on: dt.date
    stopped_on: dt.date | None = None


def attached_course(
    event_course_id: int | None, onset_on: dt.date, courses: tuple[CourseSpan, ...]
) -> int | None:
    """The one course an adverse event's review alert lives on (GUIDELINE.md
    serious_adverse_event_review): the course it was recorded against; without one, the patient's
    course on treatment at its onset (started by then, not stopped before it); else the patient's
    latest course (by start). One event, one course: its alert is raised once, not per course."""
    if event_course_id is not None:
        return event_course_id
    ordered = sorted(courses, key=lambda c: (c.started_on, c.id))
    for course in ordered:
        if course.started_on <= onset_on and (
            course.stopped_on is None or course.stopped_on >= onset_on
        ):
            return course.id
    return ordered[-1].id if ordered else None


def _by_date(row: InfusionRow) -> tuple[dt.date, int]:
    return row.given_on, row.id
