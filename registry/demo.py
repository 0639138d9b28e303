"""The demo registry: two sites, their staff, and 48 fictional patients whose courses between them
meet every situation of GUIDELINE.md, several patients each.

All clinical data is written through `registry.services`, as the site's clinician or nurse, so the
demo passes the same validation and leaves the same history as real data entry. Dates are counted
back from `today`, so the demo shows the same situations whatever day it is seeded. Values vary
from patient to patient, but the variation is seeded by the MRN: every run writes the same
registry, and a patient whose MRN is already at the site is left alone (seeding is idempotent).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction

from registry import demo_safety, dosing, services
from registry.models import (
    Analyte,
    Assent,
    ConsentDocument,
    ConsentedBy,
    ConsentScope,
    ConsentSigner,
    DiseaseState,
    DoseUnit,
    Frequency,
    ImagingStudy,
    InfliximabProduct,
    Infusion,
    InfusionReaction,
    LabUnit,
    LesionSite,
    MedicationDrug,
    MedicationStopReason,
    Membership,
    Modality,
    Patient,
    ReactionOnset,
    ReactionSeverity,
    RegimenReason,
    Relapse,
    ReviewDecision,
    Role,
    Route,
    Sex,
    Site,
    StopReason,
    TreatmentCourse,
)
from registry.reevaluation import one_reevaluation

DEMO_PASSWORD = "demo-crmo-2026"  # noqa: S105 - printed for the demo's users on purpose
ADMIN_USERNAME = "admin"
# Who gets admin rights (is_staff): data managers correct records there, clinicians also set their
# site's guideline parameters and correct what the engine reads. Nurses work in the clinic pages.
ADMIN_ROLES = (Role.CLINICIAN, Role.DATA_MANAGER)
SITES: tuple[tuple[str, str], ...] = (
    ("north", "North Children's Hospital (demo)"),
    ("south", "South University Hospital (demo)"),
)
# Standard infliximab regimen (GUIDELINE.md: 5 mg/kg at weeks 0, 2, 6, then every 8 weeks).
STANDARD_MG_PER_KG = Decimal("5")
INDUCTION_WEEKS = (0, 2, 6)
MAINTENANCE_INTERVAL_WEEKS = 8
INFUSION_MINUTES = 120
# After a reaction the next infusions are premedicated and run more slowly.
PREMEDICATION = ("antihistamine", "corticosteroid")
PREMEDICATED_INFUSION_MINUTES = 180
ANTIBODY_ASSAY = "Anti-infliximab ELISA (drug-sensitive)"
TITRE_UNIT = LabUnit.AU_ML
CRP_UPPER_NORMAL_MG_L = Decimal("5")
ESR_UPPER_NORMAL_MM_H = Decimal("20")
# Methotrexate's safety bloods of one draw: (test, value, the lab's range), a child's usual values.
SAFETY_BLOODS: tuple[tuple[Analyte, str, str, str], ...] = (
    (Analyte.NEUTROPHILS, "3.4", "1.5", "8"),
    (Analyte.PLATELETS, "290", "150", "450"),
    (Analyte.ALT, "17", "0", "40"),
)
# The infliximab product each site's courses plan (its tender), by product code.
SITE_PRODUCTS = {"north": "inflectra", "south": "remicade"}


def username_for(role: str, site_code: str) -> str:
    return f"{role.replace('_', '')}.{site_code}"


# --- The disease as each visit sees it ----------------------------------------------------------


class Activity(enum.Enum):
    ACTIVE = "active"  # before treatment, or a loss of response
    IMPROVING = "improving"  # responding, not yet inactive
    INACTIVE = "inactive"  # remission
    FLARE = "flare"  # relapse after stopping


@dataclass(frozen=True)
class Picture:
    """What a visit shows at one level of activity, before each patient's own variation."""

    pain: float
    physician_global: float
    patient_global: float
    chaq: float
    clinical_lesions: int
    disease_state: DiseaseState
    crp_mg_l: float  # for patients whose markers follow the disease
    esr_mm_h: float
    mri_active_lesions: int


PICTURES: dict[Activity, Picture] = {
    Activity.ACTIVE: Picture(6, 5, 6, 0.875, 3, DiseaseState.ACTIVE, 22, 41, 4),
    Activity.IMPROVING: Picture(3, 3, 3, 0.375, 1, DiseaseState.ACTIVE, 8, 24, 2),
    Activity.INACTIVE: Picture(0, 0, 1, 0, 0, DiseaseState.INACTIVE, 1.5, 8, 0),
    Activity.FLARE: Picture(5, 4, 5, 0.625, 1, DiseaseState.ACTIVE, 14, 31, 2),
}


class Response(enum.Enum):
    """How the disease answers a course: (week of the course, activity from then on)."""

    COMPLETE = ((6, Activity.IMPROVING), (20, Activity.INACTIVE))
    PARTIAL = ((8, Activity.IMPROVING),)
    LOST = ((6, Activity.IMPROVING), (20, Activity.INACTIVE), (38, Activity.ACTIVE))


# Median weight (kg) by age in years, both sexes, roughly the 50th centile; interpolated.
WEIGHT_BY_AGE: tuple[tuple[float, float], ...] = (
    (3, 14.5), (5, 18.5), (6, 21), (7, 23), (8, 26), (9, 28.5), (10, 32), (11, 36), (12, 40),
    (13, 45), (14, 50), (15, 55), (16, 58), (17, 61), (18, 63), (21, 66),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSite:
    """A bone a demo patient's lesions are at (as a radiologist's report words it)."""

    bone: str
    laterality: str
    words: str
    level: str = ""

    def site(self, **findings: bool) -> LesionSite:
        return LesionSite(
            bone=self.bone, laterality=self.laterality, vertebral_level=self.level, **findings
        )


LESION_SITES = (
    DemoSite("tibia", "left", "distal left tibia"),
    DemoSite("clavicle", "right", "right clavicle"),
    DemoSite("vertebra", "midline", "T9 vertebral body", "T9"),
    DemoSite("calcaneus", "left", "left calcaneus"),
    DemoSite("femur", "right", "distal right femur"),
    DemoSite("pelvis", "right", "right ilium"),
    DemoSite("metatarsal", "left", "left first metatarsal"),
    DemoSite("humerus", "right", "proximal right humerus"),
)
# Spinal involvement: three vertebrae, T9 collapsed (a vertebra plana) while it is active.
SPINE_SITES = (
    DemoSite("vertebra", "midline", "T9 vertebral body", "T9"),
    DemoSite("vertebra", "midline", "T10 vertebral body", "T10"),
    DemoSite("vertebra", "midline", "L1 vertebral body", "L1"),
    DemoSite("clavicle", "right", "right clavicle"),
    DemoSite("tibia", "left", "distal left tibia"),
)
FRACTURED_LEVEL = "T9"
REACTION_DETAILS: dict[ReactionSeverity, tuple[str, str, bool]] = {
    # severity: (symptoms, management, infusion stopped)
    ReactionSeverity.MILD: (
        "Flushing and an itchy rash 30 minutes into the infusion.",
        "Rate halved, oral cetirizine; completed.",
        False,
    ),
    ReactionSeverity.MODERATE: (
        "Urticaria and chest tightness at 60 minutes; observations stable.",
        "Paused; IV chlorphenamine and hydrocortisone; restarted at half rate and completed.",
        False,
    ),
    ReactionSeverity.SEVERE: (
        "Hypotension, wheeze and facial swelling 20 minutes into the infusion.",
        "Stopped; IM adrenaline, IV hydrocortisone and chlorphenamine; observed for 6 hours.",
        True,
    ),
}


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _one_decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 1)))


# --- One patient's record -------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteStaff:
    """Who writes a site's demo record: clinicians decide, nurses give infusions and take bloods."""

    clinician: User
    nurse: User


class Chart:
    """One demo patient's record, written through the services as the site's staff would."""

    def __init__(
        self, *, patient: Patient, staff: SiteStaff, today: dt.date, rng: random.Random
    ) -> None:
        self.patient, self.staff, self.today, self.rng = patient, staff, today, rng
        self._build = rng.uniform(0.9, 1.12)  # this child's weight against the median
        # Only about 40 % of CRMO patients have raised markers when active.
        self._markers_follow_disease = rng.random() < 0.5
        self._lesion_sites: tuple[DemoSite, ...] = tuple(rng.sample(LESION_SITES, 5))
        self._last_mri_active_sites: frozenset[DemoSite] = frozenset()
        self._activity: list[tuple[dt.date, Activity]] = []
        self._last_mri_active_lesions: int | None = None

    def weeks_ago(self, weeks: int, *, days: int = 0) -> dt.date:
        return self.today - dt.timedelta(weeks=weeks, days=days)

    @property
    def product_planned(self) -> InfliximabProduct | None:
        return product(SITE_PRODUCTS.get(self.patient.site.code, ""))

    # The disease over time: every observation reads the activity on its date.

    def becomes(self, activity: Activity, on: dt.date) -> None:
        self._activity = sorted([*self._activity, (on, activity)], key=lambda step: step[0])

    def responds(self, response: Response, started_on: dt.date) -> None:
        for week, activity in response.value:
            self.becomes(activity, started_on + dt.timedelta(weeks=week))

    def activity_on(self, day: dt.date) -> Activity:
        current = Activity.ACTIVE
        for since, activity in self._activity:
            if since <= day:
                current = activity
        return current

    def weight_on(self, day: dt.date) -> Decimal:
        age = (day - self.patient.date_of_birth).days / 365.25
        kg = WEIGHT_BY_AGE[-1][1]
        for (age_below, kg_below), (age_above, kg_above) in itertools.pairwise(WEIGHT_BY_AGE):
            if age <= age_above:
                share = max(0.0, (age - age_below) / (age_above - age_below))
                kg = kg_below + share * (kg_above - kg_below)
                break
        return _one_decimal(kg * self._build)

    # Visits.

    def _vary(self, value: float, spread: float, step: float, maximum: float) -> Decimal:
        varied = min(maximum, max(0.0, value + self.rng.uniform(-spread, spread)))
        return Decimal(str(round(varied / step) * step))

    def markers(self, day: dt.date) -> None:
        activity = self.activity_on(day) if self._markers_follow_disease else Activity.INACTIVE
        picture = PICTURES[activity]
        for analyte, value, upper, places in (
            (Analyte.CRP, picture.crp_mg_l, CRP_UPPER_NORMAL_MG_L, 1),
            (Analyte.ESR, picture.esr_mm_h, ESR_UPPER_NORMAL_MM_H, 0),
        ):
            services.lab_result_record(
                patient=self.patient,
                collected_on=day,
                analyte=analyte,
                value=Decimal(str(round(value * self.rng.uniform(0.75, 1.25), places))),
                reference_low=Decimal(0),
                reference_high=upper,
                by=self.staff.nurse,
            )

    def trough(self, day: dt.date, value_ug_ml: Decimal) -> None:
        services.lab_result_record(
            patient=self.patient,
            collected_on=day,
            analyte=Analyte.INFLIXIMAB_TROUGH,
            value=value_ug_ml,
            by=self.staff.nurse,
        )

    def antibodies(self, day: dt.date, *, positive: bool) -> None:
        services.lab_result_record(
            patient=self.patient,
            collected_on=day,
            analyte=Analyte.ANTI_INFLIXIMAB_ANTIBODIES,
            antibodies_positive=positive,
            value=Decimal(48) if positive else None,
            unit=TITRE_UNIT,
            assay_name=ANTIBODY_ASSAY,
            by=self.staff.nurse,
        )

    def safety_bloods(self, day: dt.date, draw: int) -> None:
        """A blood count and ALT on methotrexate, as one lab panel; `draw` varies the values."""
        services.lab_panel_record(
            patient=self.patient,
            collected_on=day,
            results={
                analyte: services.LabValue(
                    analyte,
                    Decimal(value) * Decimal(str(1 + (draw % 3 - 1) / 20)),
                    reference_low=Decimal(low),
                    reference_high=Decimal(high),
                )
                for analyte, value, low, high in SAFETY_BLOODS
            },
            by=self.staff.nurse,
        )

    def assess(self, day: dt.date) -> None:
        picture = PICTURES[self.activity_on(day)]
        services.assessment_record(
            patient=self.patient,
            assessed_on=day,
            pain_score=self._vary(picture.pain, 1, 1, 10),
            physician_global=self._vary(picture.physician_global, 1, 0.5, 10),
            patient_global=self._vary(picture.patient_global, 1, 0.5, 10),
            chaq=self._vary(picture.chaq, 0.25, 0.125, 3),
            disease_state=picture.disease_state,
            # The clinically active lesions are the first of the child's sites (as many as the
            # picture has: the counts the engine reads do not change); none active is a count
            # of 0 without sites.
            clinically_active_lesions=None if picture.clinical_lesions else 0,
            lesion_sites=[site.site() for site in self._lesion_sites[: picture.clinical_lesions]],
            by=self.staff.clinician,
        )

    def has_spinal_involvement(self) -> None:
        """The child's lesions are in the spine (and a clavicle and a tibia)."""
        self._lesion_sites = SPINE_SITES

    def mri(self, day: dt.date) -> ImagingStudy:
        typical = PICTURES[self.activity_on(day)].mri_active_lesions
        active = typical + self.rng.choice((-1, 0, 1)) if typical > 1 else typical
        previous = self._last_mri_active_lesions
        new = None if previous is None else (active if previous == 0 else 0)
        if previous is None:
            impression = ""
        elif new or active > previous:
            impression = "worse"
        elif active == 0:
            impression = "resolved" if previous else "stable"
        else:
            impression = "improved" if active < previous else "stable"
        oedema = ", ".join(site.words for site in self._lesion_sites[:active])
        self._last_mri_active_lesions = active
        return services.imaging_study_record(
            patient=self.patient,
            performed_on=day,
            modality=Modality.WHOLE_BODY_MRI,
            impression=impression,
            report_text=f"Bone-marrow oedema: {oedema}." if active else "No bone-marrow oedema.",
            lesion_sites=(sites := self._mri_sites(active, all_new=bool(new))),
            # No site seen (nothing active, nothing resolving): the counts, without sites.
            **({} if sites else {"active_lesions": active, "new_lesions": new}),
            by=self.staff.clinician,
        )

    def _mri_sites(self, active: int, *, all_new: bool) -> list[LesionSite]:
        """The first `active` of the child's sites active (new when none was active before),
        those active on the previous MRI and not now resolved: the counts derived from them are
        the ones the picture gives (active; new only after an MRI without activity)."""
        now = self._lesion_sites[:active]
        sites = [
            site.site(
                active=True,
                new=all_new,
                vertebral_fracture=site.level == FRACTURED_LEVEL and self._spine,
            )
            for site in now
        ]
        sites += [
            site.site(resolved=True)
            for site in self._lesion_sites
            if site in self._last_mri_active_sites and site not in now
        ]
        self._last_mri_active_sites = frozenset(now)
        return sites

    @property
    def _spine(self) -> bool:
        return self._lesion_sites is SPINE_SITES

    def infuse(
        self,
        course: TreatmentCourse,
        day: dt.date,
        *,
        mg_per_kg: Decimal,
        premedicated: bool,
        dose_mg: Decimal | None = None,
        weighed_on: dt.date | None = None,
        duration_minutes: int | None = None,
        given_with: InfliximabProduct | None = None,
    ) -> Infusion:
        """The dose follows the weight, unless `dose_mg` says otherwise; `weighed_on` is when the
        weight used was measured, if not on the day. The product is the previous infusion's (the
        service's pre-fill) unless `given_with` switches it."""
        weight = self.weight_on(weighed_on or day)
        return services.infusion_record(
            course=course,
            given_on=day,
            weight_kg=weight,
            weight_measured_on=weighed_on or day,
            dose_mg=dose_mg or dosing.whole_vial_dose_mg(weight, mg_per_kg),
            duration_minutes=duration_minutes
            or (PREMEDICATED_INFUSION_MINUTES if premedicated else INFUSION_MINUTES),
            premedication=PREMEDICATION if premedicated else (),
            product=given_with,
            lot_number=f"IFX{day:%y%m}",
            notes="Scales out of service: the last recorded weight was used." if weighed_on else "",
            by=self.staff.nurse,
        )

    def reaction(self, infusion: Infusion, severity: ReactionSeverity) -> InfusionReaction:
        symptoms, management, stopped = REACTION_DETAILS[severity]
        return services.reaction_record(
            infusion=infusion,
            onset=ReactionOnset.ACUTE,
            severity=severity,
            symptoms=symptoms,
            management=management,
            infusion_stopped=stopped,
            by=self.staff.nurse,
        )


def product(code: str) -> InfliximabProduct | None:
    """A product of the registry's list (migration 0008), or none if it has been taken off."""
    return InfliximabProduct.objects.filter(code=code).first()


# --- Other medications ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoTherapy:
    """A drug besides infliximab, from `weeks_ago` until `stopped_weeks_ago` (None: still taken)."""

    drug: MedicationDrug
    dose: Decimal
    unit: DoseUnit
    route: Route
    frequency: Frequency
    weeks_ago: int
    stopped_weeks_ago: int | None = None
    stop_reason: MedicationStopReason | None = None
    name: str = ""  # an "other" drug's


# NSAIDs come first in CNO (the CARRA consensus treatment plans, Zhao 2018): every demo patient
# took naproxen from the diagnosis until infliximab started, without enough effect.
NAPROXEN = (MedicationDrug.NAPROXEN, Decimal("5"), DoseUnit.MG_PER_KG, Route.ORAL)


def take(chart: Chart, therapy: CoTherapy) -> None:
    stopped_on = (
        None if therapy.stopped_weeks_ago is None else chart.weeks_ago(therapy.stopped_weeks_ago)
    )
    services.medication_record(
        patient=chart.patient,
        drug=therapy.drug,
        drug_name=therapy.name,
        dose=therapy.dose,
        dose_unit=therapy.unit,
        route=therapy.route,
        frequency=therapy.frequency,
        started_on=chart.weeks_ago(therapy.weeks_ago),
        stopped_on=stopped_on,
        stop_reason=therapy.stop_reason or "",
        by=chart.staff.clinician,
    )


def nsaid_before_infliximab(chart: Chart, *, until: dt.date) -> None:
    drug, dose, unit, route = NAPROXEN
    services.medication_record(
        patient=chart.patient,
        drug=drug,
        dose=dose,
        dose_unit=unit,
        route=route,
        frequency=Frequency.TWICE_DAILY,
        started_on=chart.patient.diagnosed_on or until,
        stopped_on=until,
        stop_reason=MedicationStopReason.INEFFICACY,
        by=chart.staff.clinician,
    )


# --- Courses -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A regimen change that takes effect with the dose given in `week`."""

    week: int
    reason: RegimenReason
    interval_weeks: int
    dose_mg_per_kg: Decimal = STANDARD_MG_PER_KG


def scheduled_weeks(through: int, steps: tuple[Step, ...] = ()) -> tuple[int, ...]:
    """Dose weeks up to `through`: induction, then the interval in force after each dose."""
    interval_from = {step.week: step.interval_weeks for step in steps}
    weeks, interval = list(INDUCTION_WEEKS), MAINTENANCE_INTERVAL_WEEKS
    while True:
        interval = interval_from.get(weeks[-1], interval)
        if weeks[-1] + interval > through:
            return tuple(week for week in weeks if week <= through)
        weeks.append(weeks[-1] + interval)


@dataclass(frozen=True)
class Irregular:
    """A dose given differently from the regimen: a wrong dose, or a weight not taken that day."""

    dose_mg: Decimal | None = None
    weight_of_week: int | None = None
    duration_minutes: int | None = None  # None: the standard infusion time


@dataclass(frozen=True)
class PlannedReaction:
    week: int
    severity: ReactionSeverity
    reviewed_after_days: int | None = None


@dataclass(frozen=True)
class CoursePlan:
    """How one course went, counted back from today. Routine care is implied: bloods (CRP, ESR)
    before every dose, a clinical assessment at baseline, week 10 and every maintenance dose from
    week 22, a whole-body MRI at `mri_weeks`, and doses on schedule; the other fields say where a
    course departs from that."""

    weeks_in: int  # day 0 was this many weeks ...
    days_in: int = 0  # ... and days ago
    dose_weeks: tuple[int, ...] | None = None  # None: on schedule until today or the stop
    steps: tuple[Step, ...] = ()
    stop: tuple[int, StopReason] | None = None  # (week, reason)
    response: Response = Response.COMPLETE
    response_assessed: bool = True
    markers_until_week: int | None = None
    mri_weeks: tuple[int, ...] = (-1, 26, 52, 104, 156)
    troughs: Mapping[int, Decimal] = field(default_factory=dict)  # dose week: µg/mL
    antibodies: Mapping[int, bool] = field(default_factory=dict)  # dose week: positive
    reaction: PlannedReaction | None = None
    premedicated: bool = False  # every dose: a reaction in an earlier course
    irregular: Mapping[int, Irregular] = field(default_factory=dict)
    switch: tuple[int, str] | None = None  # (week, product code): given with it from that dose

    @property
    def doses(self) -> tuple[int, ...]:
        if self.dose_weeks is not None:
            return self.dose_weeks
        return scheduled_weeks(self.stop[0] if self.stop else self.weeks_in, self.steps)


@dataclass(frozen=True)
class Treated:
    course: TreatmentCourse
    stopped_on: dt.date | None


def treat(chart: Chart, plan: CoursePlan, *, relapse: Relapse | None = None) -> Treated:
    """Write one course as `plan` says, with its routine monitoring."""
    clinician = chart.staff.clinician
    unknown = {step.week for step in plan.steps} - set(plan.doses)
    if unknown:
        raise ValueError(f"regimen changes must come with a dose; no dose in weeks {unknown}")
    started_on = chart.weeks_ago(plan.weeks_in, days=plan.days_in)

    def on(week: int) -> dt.date:
        return started_on + dt.timedelta(weeks=week)

    chart.responds(plan.response, started_on)
    if relapse is None:
        course = services.course_start(
            patient=chart.patient,
            started_on=started_on,
            product=chart.product_planned,
            by=clinician,
        )
    else:
        course = services.retreatment_start(relapse=relapse, started_on=started_on, by=clinician)
    stopped_on = on(plan.stop[0]) if plan.stop else None
    seen_until = min(chart.today, stopped_on or chart.today)
    for week in plan.mri_weeks:
        if on(week) <= seen_until:
            chart.mri(on(week))

    steps = {step.week: step for step in plan.steps}
    mg_per_kg = STANDARD_MG_PER_KG
    for week in plan.doses:
        day = on(week)
        if step := steps.get(week):
            services.regimen_change_record(
                course=course,
                effective_on=day,
                dose_mg_per_kg=step.dose_mg_per_kg,
                interval_weeks=step.interval_weeks,
                reason=step.reason,
                by=clinician,
            )
            mg_per_kg = step.dose_mg_per_kg
        irregular = plan.irregular.get(week, Irregular())
        after_reaction = plan.reaction is not None and week > plan.reaction.week
        infusion = chart.infuse(
            course,
            day,
            mg_per_kg=mg_per_kg,
            premedicated=plan.premedicated or after_reaction,
            dose_mg=irregular.dose_mg,
            weighed_on=None if irregular.weight_of_week is None else on(irregular.weight_of_week),
            duration_minutes=irregular.duration_minutes,
            given_with=product(plan.switch[1]) if plan.switch and plan.switch[0] == week else None,
        )
        if plan.markers_until_week is None or week <= plan.markers_until_week:
            chart.markers(day)
        if week in plan.troughs:
            chart.trough(day, plan.troughs[week])
        if week in plan.antibodies:
            chart.antibodies(day, positive=plan.antibodies[week])
        if plan.reaction and week == plan.reaction.week:
            reaction = chart.reaction(infusion, plan.reaction.severity)
            if plan.reaction.reviewed_after_days is not None:
                reviewed_on = day + dt.timedelta(days=plan.reaction.reviewed_after_days)
                services.reaction_review_record(
                    reaction=reaction,
                    reviewed_on=reviewed_on,
                    decision=ReviewDecision.CONTINUE_PREMEDICATED,
                    note="Reviewed in clinic; continue with premedication and a slower rate.",
                    by=clinician,
                )

    assessment_weeks = {0, *(week for week in plan.doses if week >= 22)}
    if plan.response_assessed:
        assessment_weeks.add(10)
    for week in sorted(assessment_weeks):
        if on(week) <= seen_until:
            chart.assess(on(week))
    if plan.stop and stopped_on:
        if plan.stop[0] not in plan.doses:
            chart.markers(stopped_on)
        if plan.stop[0] not in assessment_weeks:
            chart.assess(stopped_on)
        services.course_stop(
            course=course, stopped_on=stopped_on, reason=plan.stop[1], by=clinician
        )
    return Treated(course=course, stopped_on=stopped_on)


# A course that did what the guideline asks: 14 months every 8 weeks, a taper to every 10 weeks,
# then a stop in sustained remission at week 90.
COMPLETED_COURSE_WEEKS = 90
POST_STOP_VISIT_MONTHS = (3, 6, 12, 24)


def completed_course(chart: Chart, *, stopped_weeks_ago: int, tapered: bool = True) -> dt.date:
    """Treat as the guideline asks (tapered from week 62, or stopped at once), then stop in
    remission; returns the stop date."""
    plan = CoursePlan(
        stopped_weeks_ago + COMPLETED_COURSE_WEEKS,
        steps=(Step(62, RegimenReason.TAPER, 10),) if tapered else (),
        stop=(COMPLETED_COURSE_WEEKS, StopReason.REMISSION),
    )
    return treat(chart, plan).stopped_on or chart.today


def follow_up(
    chart: Chart, stopped_on: dt.date, months: tuple[int, ...], *, until: dt.date | None = None
) -> None:
    """Post-stop visits (GUIDELINE: ~3, 6, 12 and 24 months), with an MRI at 12 months."""
    for month in months:
        day = stopped_on + dt.timedelta(days=round(month * 30.44))
        if day <= (until or chart.today):
            chart.assess(day)
            if month == 12:
                chart.mri(day)


def flare(chart: Chart, on: dt.date, *, on_mri: bool) -> str:
    """The disease comes back after stopping; returns the evidence as a clinician would note it."""
    chart.becomes(Activity.FLARE, on)
    chart.assess(on)
    chart.markers(on)
    if not on_mri:
        return "Bone pain with a clinically active lesion on examination."
    study = chart.mri(on)
    return f"Whole-body MRI: {study.new_lesions} new lesion(s) with bone-marrow oedema."


# --- Scenarios ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    label: str
    first_started_weeks_ago: int  # places the diagnosis before treatment began
    build: Callable[[Chart], object]


def course(label: str, plan: CoursePlan) -> Scenario:
    """A patient with this one course and nothing after it."""
    weeks_ago = plan.weeks_in + math.ceil(plan.days_in / 7)
    return Scenario(label, weeks_ago, lambda chart: treat(chart, plan))


def on_schedule(weeks_in: int, *, switch: tuple[int, str] | None = None) -> Scenario:
    """On schedule; with `switch` (week, product), switched to that product at that dose."""
    plan = CoursePlan(weeks_in, troughs={22: Decimal("8.4")}, antibodies={22: False}, switch=switch)
    label = f"on schedule, week {weeks_in} of the course"
    if switch:
        label += f"; switched to {switch[1]} at week {switch[0]}"
    return course(label, plan)


def dose_late(due_week: int, days_late: int) -> Scenario:
    """The maintenance dose of `due_week` is not given: late up to 14 days, overdue after."""
    plan = CoursePlan(due_week, days_late, dose_weeks=scheduled_weeks(due_week - 1))
    state = "late" if days_late <= 14 else "overdue"
    return course(f"maintenance dose {state} by {days_late} days", plan)


def induction_missed(missed_week: int, days_late: int) -> Scenario:
    given = tuple(week for week in INDUCTION_WEEKS if week < missed_week)
    plan = CoursePlan(missed_week, days_late, dose_weeks=given)
    return course(f"induction dose of week {missed_week} missed ({days_late} days)", plan)


def interrupted(
    weeks_in: int, last_before_gap: int, restart_week: int, *, checked: bool
) -> Scenario:
    """Doses stop after `last_before_gap`; the disease flares and they restart at `restart_week`,
    every 8 weeks since. A trough before the restart would only show the gap, so `checked` means
    antibodies, the re-exposure risk."""
    restarted = range(restart_week, weeks_in + 1, MAINTENANCE_INTERVAL_WEEKS)
    plan = CoursePlan(
        weeks_in,
        dose_weeks=(*scheduled_weeks(last_before_gap), *restarted),
        mri_weeks=(-1, 26, restart_week - 1),
        antibodies={restart_week: False} if checked else {},
    )

    def build(chart: Chart) -> None:
        restarted_on = chart.weeks_ago(weeks_in - restart_week)
        chart.becomes(Activity.FLARE, restarted_on - dt.timedelta(weeks=4))
        chart.becomes(Activity.IMPROVING, restarted_on + dt.timedelta(weeks=6))
        treat(chart, plan)

    checks = "antibodies checked" if checked else "nothing checked"
    label = f"restarted after a {restart_week - last_before_gap}-week gap, {checks}"
    return Scenario(label, weeks_in, build)


def response_unassessed(weeks_in: int) -> Scenario:
    plan = CoursePlan(weeks_in, response_assessed=False)
    return course("no response assessment in weeks 8-14", plan)


def markers_lapsed(weeks_in: int, last_marker_week: int) -> Scenario:
    plan = CoursePlan(weeks_in, markers_until_week=last_marker_week)
    return course(f"no CRP or ESR for {weeks_in - last_marker_week} weeks", plan)


def imaging_lapsed(weeks_in: int, mri_weeks: tuple[int, ...]) -> Scenario:
    missing = "baseline MRI only" if mri_weeks else "no MRI at all"
    return course(f"6-month MRI missing ({missing})", CoursePlan(weeks_in, mri_weeks=mri_weeks))


def stopped_early(weeks_in: int, stop_week: int) -> Scenario:
    plan = CoursePlan(weeks_in, stop=(stop_week, StopReason.PATIENT_CHOICE))

    def build(chart: Chart) -> None:
        follow_up(chart, treat(chart, plan).stopped_on or chart.today, (3,))

    return Scenario(f"stopped by choice at week {stop_week}", weeks_in, build)


def taper_ready(weeks_in: int) -> Scenario:
    return course(f"ready to taper (week {weeks_in})", CoursePlan(weeks_in))


def tapering(weeks_in: int, intervals: tuple[int, ...]) -> Scenario:
    """Taper from week 62, lengthening the interval after every two doses at the previous one."""
    steps, week = [], 62
    for interval in intervals:
        steps.append(Step(week, RegimenReason.TAPER, interval))
        week += 2 * interval
    path = " -> ".join(str(i) for i in (MAINTENANCE_INTERVAL_WEEKS, *intervals))
    return course(f"tapering, interval {path} weeks", CoursePlan(weeks_in, steps=tuple(steps)))


def relapse_unrecorded(stopped_weeks_ago: int, flare_weeks_ago: int, *, on_mri: bool) -> Scenario:
    def build(chart: Chart) -> None:
        stopped_on = completed_course(chart, stopped_weeks_ago=stopped_weeks_ago)
        flared_on = chart.weeks_ago(flare_weeks_ago)
        follow_up(chart, stopped_on, POST_STOP_VISIT_MONTHS, until=flared_on)
        flare(chart, flared_on, on_mri=on_mri)

    evidence = "new lesion on MRI" if on_mri else "clinically active"
    label = f"relapse after stopping, not yet recorded ({evidence})"
    return Scenario(label, stopped_weeks_ago + COMPLETED_COURSE_WEEKS, build)


def relapse_retreated(stopped_weeks_ago: int, relapse_weeks_ago: int) -> Scenario:
    """A relapse recorded and retreated a week later with a new course (induction again)."""
    # The relapse MRI is the new course's baseline.
    retreatment = CoursePlan(relapse_weeks_ago - 1, mri_weeks=(26, 52))

    def build(chart: Chart) -> None:
        stopped_on = completed_course(chart, stopped_weeks_ago=stopped_weeks_ago)
        noted_on = chart.weeks_ago(relapse_weeks_ago)
        follow_up(chart, stopped_on, POST_STOP_VISIT_MONTHS, until=noted_on)
        relapse = services.relapse_record(
            course=chart.patient.courses.get(),
            noted_on=noted_on,
            evidence=flare(chart, noted_on, on_mri=True),
            by=chart.staff.clinician,
        )
        treat(chart, retreatment, relapse=relapse)

    label = f"relapse recorded, retreated {retreatment.weeks_in} weeks ago"
    return Scenario(label, stopped_weeks_ago + COMPLETED_COURSE_WEEKS, build)


def retreated_after_a_gap(days_off: int, weeks_in: int, days_in: int = 0) -> Scenario:
    """A first course stopped by the family's choice in remission at week 58, with a moderate
    reaction at week 14; the disease comes back and a new course starts `days_off` days after the
    last dose, a re-exposure (GUIDELINE: more than 112 days). The antibodies checked before it are
    positive: they formed during the first course and carry into this one, as the reaction does."""
    # Premedicated from the first dose for the earlier reaction; the relapse MRI is the baseline.
    retreatment = CoursePlan(weeks_in, days_in, premedicated=True, mri_weeks=(26, 52))
    first_stop_week = 58
    last_dose_week = scheduled_weeks(first_stop_week)[-1]  # 54: the week-62 dose is not given
    first_days_ago = 7 * weeks_in + days_in + days_off + 7 * last_dose_week
    first = CoursePlan(
        *divmod(first_days_ago, 7),
        stop=(first_stop_week, StopReason.PATIENT_CHOICE),
        reaction=PlannedReaction(14, ReactionSeverity.MODERATE),
    )

    def build(chart: Chart) -> None:
        treated = treat(chart, first)
        retreated_on = chart.weeks_ago(retreatment.weeks_in, days=retreatment.days_in)
        noted_on = retreated_on - dt.timedelta(weeks=2)
        follow_up(chart, treated.stopped_on or chart.today, POST_STOP_VISIT_MONTHS, until=noted_on)
        relapse = services.relapse_record(
            course=treated.course,
            noted_on=noted_on,
            evidence=flare(chart, noted_on, on_mri=True),
            by=chart.staff.clinician,
        )
        chart.antibodies(retreated_on - dt.timedelta(days=10), positive=True)
        treat(chart, retreatment, relapse=relapse)

    label = (
        f"retreated after {days_off} days off infliximab; antibodies positive, "
        "moderate reaction in the first course"
    )
    return Scenario(label, math.ceil(first_days_ago / 7), build)


def stopped_for_inefficacy(stop_week: int, stopped_weeks_ago: int, seen_after: int) -> Scenario:
    """Only a partial response, with a trough on target (so more drug would not help): stopped
    for inefficacy, still active at a visit `seen_after` weeks later, and not retreated."""
    plan = CoursePlan(
        stop_week + stopped_weeks_ago,
        stop=(stop_week, StopReason.INEFFICACY),
        response=Response.PARTIAL,
        troughs={22: Decimal("7.2")},
        antibodies={22: False},
    )

    def build(chart: Chart) -> None:
        stopped_on = treat(chart, plan).stopped_on or chart.today
        # Off infliximab, even the partial response fades.
        chart.becomes(Activity.ACTIVE, stopped_on)
        seen_on = stopped_on + dt.timedelta(weeks=seen_after)
        chart.assess(seen_on)
        chart.markers(seen_on)

    label = (
        f"stopped for inefficacy at week {stop_week}; still active {seen_after} weeks later, "
        "not retreated"
    )
    return Scenario(label, plan.weeks_in, build)


def intensified_between_doses(
    weeks_after_dose: int, days_ago: int, interval_weeks: int
) -> Scenario:
    """Response lost on q8w maintenance with a low trough at the week-38 dose; at a visit
    `weeks_after_dose` weeks after that dose (`days_ago` days ago) the clinician shortens the
    interval, and the next dose is not given yet. GUIDELINE: it is due on the later of the last
    dose + the new interval and the decision date, so not already overdue."""
    last_dose_week = 38
    plan = CoursePlan(
        last_dose_week + weeks_after_dose,
        days_ago,
        dose_weeks=scheduled_weeks(last_dose_week),
        response=Response.LOST,
        troughs={22: Decimal("6.4"), last_dose_week: Decimal("2.4")},
        antibodies={last_dose_week: False},
    )

    def build(chart: Chart) -> None:
        treated = treat(chart, plan)
        decided_on = chart.today - dt.timedelta(days=days_ago)
        chart.assess(decided_on)
        chart.markers(decided_on)
        services.regimen_change_record(
            course=treated.course,
            effective_on=decided_on,
            dose_mg_per_kg=STANDARD_MG_PER_KG,
            interval_weeks=interval_weeks,
            reason=RegimenReason.INTENSIFICATION,
            note="Loss of response with a trough below target and no antibodies.",
            by=chart.staff.clinician,
        )

    label = (
        f"intensified to every {interval_weeks} weeks {days_ago} days ago, "
        f"{weeks_after_dose} weeks after the last dose; next dose not yet given"
    )
    return Scenario(label, plan.weeks_in + math.ceil(plan.days_in / 7), build)


def stopped_in_remission(stopped_weeks_ago: int, months_seen: tuple[int, ...]) -> Scenario:
    def build(chart: Chart) -> None:
        follow_up(chart, completed_course(chart, stopped_weeks_ago=stopped_weeks_ago), months_seen)

    seen = ", ".join(str(m) for m in months_seen) or "none"
    label = f"stopped in remission {stopped_weeks_ago} weeks ago; follow-up months seen: {seen}"
    return Scenario(label, stopped_weeks_ago + COMPLETED_COURSE_WEEKS, build)


def alumnus(
    stopped_weeks_ago: int, relapsed_after_weeks: int | None = None, *, tapered: bool = True
) -> Scenario:
    """A course of earlier years completed in remission (tapered from week 62, or stopped at once),
    followed up at 3, 6, 12 and 24 months; or the disease came back `relapsed_after_weeks` after
    the stop, recorded that day, and the family chose to wait (no retreatment yet). The registry's
    history that the outcomes page's relapse-free survival rests on."""

    def build(chart: Chart) -> None:
        stopped_on = completed_course(chart, stopped_weeks_ago=stopped_weeks_ago, tapered=tapered)
        if relapsed_after_weeks is None:
            follow_up(chart, stopped_on, POST_STOP_VISIT_MONTHS)
            return
        noted_on = stopped_on + dt.timedelta(weeks=relapsed_after_weeks)
        follow_up(chart, stopped_on, POST_STOP_VISIT_MONTHS, until=noted_on - dt.timedelta(days=7))
        services.relapse_record(
            course=chart.patient.courses.get(),
            noted_on=noted_on,
            evidence=flare(chart, noted_on, on_mri=True),
            by=chart.staff.clinician,
        )

    how = "tapered, " if tapered else "no taper, "
    after = (
        f"relapsed {relapsed_after_weeks} weeks after"
        if relapsed_after_weeks is not None
        else "in remission since"
    )
    label = f"earlier course ({how}stopped {stopped_weeks_ago} weeks ago), {after}"
    return Scenario(label, stopped_weeks_ago + COMPLETED_COURSE_WEEKS, build)


def reaction(
    severity: ReactionSeverity, weeks_in: int, at_week: int, reviewed_after_days: int | None = None
) -> Scenario:
    """A reaction at `at_week`; any later dose is premedicated."""
    plan = CoursePlan(weeks_in, reaction=PlannedReaction(at_week, severity, reviewed_after_days))
    label = f"{severity.label.lower()} reaction at week {at_week}"
    if severity == ReactionSeverity.SEVERE:
        label += ", reviewed" if reviewed_after_days is not None else ", not reviewed"
    return course(label, plan)


def dose_mismatch(weeks_in: int, week: int, dose_mg: int) -> Scenario:
    plan = CoursePlan(weeks_in, irregular={week: Irregular(dose_mg=Decimal(dose_mg))})
    return course(f"{dose_mg} mg at week {week}, not what the weight calls for", plan)


def weight_not_measured(weeks_in: int, week: int, weighed_week: int) -> Scenario:
    plan = CoursePlan(weeks_in, irregular={week: Irregular(weight_of_week=weighed_week)})
    return course(f"week-{week} dose on the weight of week {weighed_week}", plan)


def dose_early(weeks_in: int, week: int, due_week: int) -> Scenario:
    """The maintenance dose due at `due_week` was given at `week`, weeks before it was due."""
    plan = CoursePlan(weeks_in, dose_weeks=(*scheduled_weeks(due_week - 1), week))
    return course(f"week-{due_week} dose given at week {week}, early", plan)


def short_infusion(weeks_in: int, week: int, minutes: int) -> Scenario:
    """The dose at `week` ran over `minutes`, before three uneventful infusions allow less."""
    plan = CoursePlan(weeks_in, irregular={week: Irregular(duration_minutes=minutes)})
    return course(f"week-{week} infusion over {minutes} minutes", plan)


def drug_levels(weeks_in: int, week: int, trough: str, *, antibodies: bool = False) -> Scenario:
    """A trough at `week` (after one on target at week 22); antibodies come with a lost response."""
    plan = CoursePlan(
        weeks_in,
        response=Response.LOST if antibodies else Response.COMPLETE,
        troughs={22: Decimal("6.8"), week: Decimal(trough)},
        antibodies={week: antibodies},
    )
    found = "antibodies positive" if antibodies else "antibodies negative"
    return course(f"trough {trough} µg/mL at week {week}, {found}", plan)


def intensified(
    weeks_in: int,
    at_week: int,
    trough_weeks: tuple[int, int],
    *,
    mg_per_kg: int = 5,
    interval_weeks: int = MAINTENANCE_INTERVAL_WEEKS,
) -> Scenario:
    """A partial response with a low trough, more drug from `at_week`, then a trough on target."""
    low_week, on_target_week = trough_weeks
    step = Step(at_week, RegimenReason.INTENSIFICATION, interval_weeks, Decimal(mg_per_kg))
    plan = CoursePlan(
        weeks_in,
        steps=(step,),
        response=Response.PARTIAL,
        troughs={low_week: Decimal("3.1"), on_target_week: Decimal("7.9")},
        antibodies={low_week: False},
    )
    label = f"intensified at week {at_week} to {mg_per_kg} mg/kg every {interval_weeks} weeks"
    return course(label, plan)


# --- The patients ---------------------------------------------------------------------------------


class Consent(enum.Enum):
    """The demo's consent stories (README "Consent"); a child's is a parent's consent, with the
    child's assent from the age of 7, and an adult's their own."""

    GIVEN = "given"  # every scope (contact for future studies: most families)
    NEVER = "never"  # registry care data only: never research
    WITHDRAWN = "withdrawn"  # research exports withdrawn 45 days ago; care data still in force
    # A parent's consent only, and the patient turned 18 this year: reconsent_at_majority.
    PARENT_ONLY = "parent_only"
    # A parent's consent, then the patient's own a month after turning 18: the rule cleared.
    RECONSENTED = "reconsented"


# The age from which the demo records a child's assent alongside a parent's consent.
ASSENT_FROM_AGE = 7
ADULT_AGE = 18  # the guideline's default age of majority


@dataclass(frozen=True)
class DemoPatient:
    given_name: str
    family_name: str
    sex: Sex
    age: int
    scenario: Scenario
    consent: Consent = Consent.GIVEN
    co_therapy: tuple[CoTherapy, ...] = ()  # besides the naproxen every patient took first
    # Weeks ago a blood count and ALT were drawn: methotrexate's monitoring (GUIDELINE.md).
    safety_bloods_weeks_ago: tuple[int, ...] = ()
    spine: bool = False  # vertebral lesions, one collapsing (a fracture on MRI)
    # The phenotype's items (the first symptoms come months before the diagnosis), and
    # comorbidities with their onset in months after the diagnosis.
    phenotype: Mapping[str, object] | None = None
    comorbidities: tuple[tuple[str, int], ...] = ()


F, M = Sex.FEMALE, Sex.MALE
BRISTOL_MET = {
    "bristol_clinical": True,
    "bristol_radiological": True,
    "bristol_multifocal": True,
    "bristol_crp_below_30": True,
}
# Every Jansson item recorded: 13 + 10 + 9 + 8 + 7 = 47 of 63.
JANSSON_RECORDED = {
    "jansson_normal_blood_count": True,
    "jansson_symmetric_lesions": True,
    "jansson_marginal_sclerosis": False,
    "jansson_normal_temperature": True,
    "jansson_vertebral_clavicular_sternal": True,
    "jansson_two_or_more_lesions": True,
    "jansson_crp_1_mg_dl": False,
}


def methotrexate(*, weeks_ago: int, mg_per_m2: int, route: Route) -> CoTherapy:
    """Weekly methotrexate with infliximab: it lowers anti-drug antibodies (co-therapy)."""
    return CoTherapy(
        MedicationDrug.METHOTREXATE, Decimal(mg_per_m2), DoseUnit.MG_PER_M2, route,
        Frequency.WEEKLY, weeks_ago,
    )  # fmt: skip


# A flare after stopping: naproxen again, with a proton-pump inhibitor (a drug not on the list).
FLARE_NSAID = CoTherapy(
    MedicationDrug.NAPROXEN, Decimal("5"), DoseUnit.MG_PER_KG, Route.ORAL, Frequency.TWICE_DAILY, 2
)
GASTRIC_PROTECTION = CoTherapy(
    MedicationDrug.OTHER, Decimal("10"), DoseUnit.MG, Route.ORAL, Frequency.ONCE_DAILY, 2,
    name="Omeprazole",
)  # fmt: skip
# Prednisolone for the weeks of induction, tapered off as infliximab took effect.
STEROID_BRIDGE = CoTherapy(
    MedicationDrug.PREDNISOLONE, Decimal("1"), DoseUnit.MG_PER_KG, Route.ORAL,
    Frequency.ONCE_DAILY, 40, stopped_weeks_ago=34, stop_reason=MedicationStopReason.COMPLETED,
)  # fmt: skip
# A bisphosphonate before infliximab (vertebral lesion), stopped when it did not control it.
PAMIDRONATE_BEFORE = CoTherapy(
    MedicationDrug.PAMIDRONATE, Decimal("1"), DoseUnit.MG_PER_KG, Route.INTRAVENOUS,
    Frequency.EVERY_3_MONTHS, 52, stopped_weeks_ago=41, stop_reason=MedicationStopReason.INEFFICACY,
)  # fmt: skip
MILD, MODERATE, SEVERE = ReactionSeverity.MILD, ReactionSeverity.MODERATE, ReactionSeverity.SEVERE
# Storybook names: plausible in form, obviously nobody's. Patients alternate between the sites.
PATIENTS: tuple[DemoPatient, ...] = (
    DemoPatient(
        "Amelia",
        "Quillfeather",
        F,
        9,
        on_schedule(4),
        phenotype=BRISTOL_MET | JANSSON_RECORDED | {"family_history": "no"},
    ),
    # A managed switch of the south's tender, from the originator to a biosimilar.
    DemoPatient("Oscar", "Brambleworth", M, 13, on_schedule(19, switch=(14, "remsima"))),
    DemoPatient(
        "Isla",
        "Cindervale",
        F,
        11,
        on_schedule(33),
        spine=True,
        phenotype=BRISTOL_MET | {"family_history": "yes", "family_psoriasis": True},
        comorbidities=(("ppp", 4),),
    ),
    DemoPatient(
        "Leo",
        "Dapplemoor",
        M,
        14,
        dose_late(30, 10),
        phenotype={
            "bristol_clinical": True,
            "bristol_radiological": True,
            "bristol_multifocal": False,
            "bristol_biopsy": True,
            "family_history": "unknown",
        },
    ),
    DemoPatient("Freya", "Elderquay", F, 10, dose_late(46, 12)),
    DemoPatient("Maya", "Gorseby", F, 15, dose_late(38, 20), Consent.NEVER),
    DemoPatient("Arlo", "Hollowbeck", M, 12, dose_late(30, 33)),
    DemoPatient("Zara", "Inkwater", F, 8, induction_missed(2, 10)),
    DemoPatient("Ruby", "Juniperlane", F, 16, induction_missed(6, 21)),
    # The adult: the gap came with the move from paediatric to adult care.
    DemoPatient("Felix", "Kettleburn", M, 20, interrupted(70, 30, 67, checked=False)),
    DemoPatient("Elsie", "Larkspurr", F, 12, interrupted(59, 22, 44, checked=True)),
    DemoPatient("Jonah", "Mossgrove", M, 7, response_unassessed(15)),
    DemoPatient("Nora", "Pebbleton", F, 13, response_unassessed(20)),
    DemoPatient(
        "Ivy", "Quincefield", F, 11, markers_lapsed(40, 22), co_therapy=(PAMIDRONATE_BEFORE,)
    ),
    DemoPatient("Rafi", "Rushwhistle", M, 15, markers_lapsed(30, 6), Consent.NEVER),
    DemoPatient("Hannah", "Sorrelby", F, 10, imaging_lapsed(36, (-1,))),
    DemoPatient("Theo", "Tansyford", M, 14, imaging_lapsed(45, ())),
    DemoPatient("Leah", "Umberfold", F, 16, stopped_early(44, 24)),
    DemoPatient("Chloe", "Vetchmoor", F, 12, stopped_early(30, 16)),
    DemoPatient(
        "Kai",
        "Willowick",
        M,
        12,
        taper_ready(63),
        phenotype=BRISTOL_MET | {"family_history": "yes", "family_ibd": True},
        comorbidities=(("ibd", 10), ("severe_acne", 14)),
    ),
    DemoPatient("Priya", "Yarrowfen", F, 15, taper_ready(64)),
    DemoPatient("Milo", "Zephyrine", M, 13, tapering(90, (10,))),
    DemoPatient("Aisha", "Acornby", F, 16, tapering(110, (10, 12)), Consent.WITHDRAWN),
    DemoPatient(
        "Lucia",
        "Cloverdew",
        F,
        12,
        relapse_unrecorded(30, 2, on_mri=True),
        co_therapy=(FLARE_NSAID, GASTRIC_PROTECTION),
    ),
    DemoPatient("Omar", "Dunlinmere", M, 14, relapse_unrecorded(45, 1, on_mri=False)),
    DemoPatient("Mila", "Emberwing", F, 15, relapse_retreated(70, 22)),
    DemoPatient("Sofia", "Foxglover", F, 13, relapse_retreated(50, 9)),
    DemoPatient("Ezra", "Gingerbrook", M, 14, stopped_in_remission(30, ()), Consent.NEVER),
    DemoPatient("Esme", "Heatherstraw", F, 16, stopped_in_remission(61, (3, 6))),
    DemoPatient("Luca", "Ivyclasp", M, 17, stopped_in_remission(117, POST_STOP_VISIT_MONTHS)),
    DemoPatient("Tilly", "Jackdawes", F, 10, reaction(MILD, 29, at_week=22)),
    DemoPatient(
        "Tobias",
        "Kestrelby",
        M,
        11,
        reaction(MODERATE, 40, at_week=14),
        co_therapy=(STEROID_BRIDGE,),
    ),
    DemoPatient("Ada", "Lichenfield", F, 9, reaction(SEVERE, 32, at_week=30)),
    DemoPatient("Sami", "Marigoldsby", M, 14, reaction(SEVERE, 48, 22, reviewed_after_days=4)),
    DemoPatient("Greta", "Nutmegan", F, 12, dose_mismatch(24, 22, dose_mg=300)),
    DemoPatient("Hugo", "Otterwell", M, 8, weight_not_measured(36, 30, weighed_week=6)),
    DemoPatient("Iris", "Puddingstone", F, 13, drug_levels(40, 38, "2.1"), Consent.NEVER),
    DemoPatient(
        "Finn",
        "Thistlewick",
        M,
        15,
        drug_levels(50, 46, "0.4", antibodies=True),
        co_therapy=(methotrexate(weeks_ago=3, mg_per_m2=15, route=Route.SUBCUTANEOUS),),
        # A baseline the day methotrexate started, and the first 2-weekly check: up to date.
        safety_bloods_weeks_ago=(3, 1),
    ),
    DemoPatient(
        "Lena",
        "Nettlecrow",
        F,
        11,
        intensified(50, 38, (30, 46), mg_per_kg=10),
        co_therapy=(methotrexate(weeks_ago=30, mg_per_m2=10, route=Route.ORAL),),
        # 2-weekly, then monthly after starting; none for the last 16 weeks: monitoring is due.
        safety_bloods_weeks_ago=(30, 28, 26, 24, 20, 16),
    ),
    DemoPatient("Noor", "Saffronby", F, 16, intensified(44, 22, (22, 40), interval_weeks=6)),
    # New patients go at the end: the index gives the MRN, which an existing demo keeps.
    DemoPatient("Poppy", "Mallowmere", F, 13, retreated_after_a_gap(290, 6, days_in=2)),
    DemoPatient("Rory", "Burdockley", M, 11, stopped_for_inefficacy(26, 13, seen_after=9)),
    DemoPatient("Edie", "Teaselby", F, 14, intensified_between_doses(6, 3, interval_weeks=4)),
    DemoPatient("Arthur", "Hazelmoth", M, 16, tapering(112, (12, 16))),
    DemoPatient("Wren", "Cobblewick", F, 12, dose_early(19, 19, due_week=22)),
    DemoPatient("Ansel", "Brackenridge", M, 10, short_infusion(3, 2, minutes=75)),
    # Turned 18 this year on a parent's consent only: asked for their own (reconsent_at_majority).
    # (Week 28: no dose falls on the day of seeding, which would tie day 0 to the export date.)
    DemoPatient("Jude", "Fernsworth", M, 18, on_schedule(28), Consent.PARENT_ONLY),
    DemoPatient("Nell", "Rowanbrook", F, 18, on_schedule(26), Consent.RECONSENTED),
    # Earlier courses, stopped in remission over the last four years (the outcomes page's relapse
    # after stopping): about a third relapse, most within the first year.
    DemoPatient("Winifred", "Applegarth", F, 15, alumnus(200, 30)),
    DemoPatient("Otis", "Bramblewood", M, 16, alumnus(190)),
    DemoPatient("Hazel", "Cobblecroft", F, 14, alumnus(170, 14, tapered=False)),
    DemoPatient("Jasper", "Dewberry", M, 15, alumnus(160)),
    DemoPatient("Clara", "Elmstead", F, 16, alumnus(150, 60)),
    DemoPatient("Silas", "Fernhollow", M, 13, alumnus(140, tapered=False)),
    DemoPatient("Isabel", "Gladewater", F, 14, alumnus(130)),
    DemoPatient("Rowan", "Hawthorne", M, 15, alumnus(120, 22, tapered=False)),
    DemoPatient("Matilda", "Inglenook", F, 13, alumnus(110)),
    DemoPatient("Barnaby", "Juniperwood", M, 14, alumnus(100, 40)),
    DemoPatient("Beatrix", "Kingsmere", F, 15, alumnus(85)),
    DemoPatient("Ellis", "Lindenshaw", M, 13, alumnus(70, tapered=False)),
)


# The documents migration 0017 seeds, which the demo records consent on (made again if a database
# was emptied after migrating): who signs it → code, title.
DEMO_CONSENT_DOCUMENTS = {
    ConsentSigner.PARENT_GUARDIAN: ("parent-guardian-consent", "Parent/guardian consent"),
    ConsentSigner.PATIENT: ("young-person-consent", "Young person/adult consent"),
}


def consent_documents() -> dict[str, ConsentDocument]:
    """The latest version of each signer's document, by who signs it."""
    documents = {}
    for signer, (code, title) in DEMO_CONSENT_DOCUMENTS.items():
        latest = ConsentDocument.objects.filter(code=code).order_by("-version").first()
        documents[str(signer)] = latest or ConsentDocument.objects.create(
            code=code,
            title=title,
            version="1",
            signed_by=signer,
            covers_care_data=True,
            covers_research=True,
            covers_contact=True,
        )
    return documents


def consent(
    patient: Patient, story: Consent, *, given_on: dt.date, today: dt.date, by: User
) -> None:
    """The patient's consent, as the clinic took it: a parent's for a child (with the child's
    assent when old enough), the patient's own for an adult, and the patient's own again when a
    child of the demo has since come of age (except in the story that raises the rule)."""
    documents = consent_documents()
    rng = random.Random(f"consent-{patient.mrn}")  # noqa: S311 - apart from the chart's rng
    contact = rng.random() < 0.8
    scopes = [ConsentScope.CARE_DATA]
    if story != Consent.NEVER:
        scopes.append(ConsentScope.RESEARCH)
    if contact and story != Consent.NEVER:
        scopes.append(ConsentScope.CONTACT)
    came_of_age = _years_before(patient.date_of_birth, -ADULT_AGE)
    if story in (Consent.PARENT_ONLY, Consent.RECONSENTED):  # given while still a child
        given_on = min(given_on, came_of_age - dt.timedelta(days=90))
    age = patient.age_on(given_on)
    if age >= ADULT_AGE:
        by_whom, assent = ConsentedBy.PATIENT, Assent.NOT_APPLICABLE
    else:
        by_whom = ConsentedBy.PARENT_GUARDIAN
        assent = Assent.GIVEN if age >= ASSENT_FROM_AGE else Assent.NOT_APPLICABLE
    record = services.consent_record(
        patient=patient,
        document=documents[by_whom],
        consented_by=by_whom,
        assent=assent,
        scopes=scopes,
        given_on=given_on,
        by=by,
    )
    if story == Consent.WITHDRAWN:
        services.consent_withdraw(
            consent=record,
            scopes=[ConsentScope.RESEARCH],
            withdrawn_on=today - dt.timedelta(days=45),
            by=by,
        )
    if by_whom == ConsentedBy.PARENT_GUARDIAN and came_of_age <= today:
        if story == Consent.PARENT_ONLY:
            return  # the patient's own consent is not recorded yet: the rule asks for it
        services.consent_record(
            patient=patient,
            document=documents[ConsentedBy.PATIENT],
            consented_by=ConsentedBy.PATIENT,
            scopes=scopes,
            given_on=min(today, came_of_age + dt.timedelta(days=30)),
            by=by,
        )


def site_code_of(index: int) -> str:
    return SITES[index % len(SITES)][0]


def mrn_of(index: int) -> str:
    """Per-site demo MRNs: the key that makes seeding idempotent."""
    site_code = site_code_of(index)
    return f"DEMO-{site_code[0].upper()}-{index // len(SITES) + 1:04d}"


def register(demo: DemoPatient, *, site: Site, mrn: str, staff: SiteStaff, today: dt.date) -> Chart:
    rng = random.Random(mrn)  # noqa: S311 - demo data, seeded for repeatable runs
    born_on = _years_before(today, demo.age) - dt.timedelta(days=rng.randint(1, 330))
    treated_from = today - dt.timedelta(weeks=demo.scenario.first_started_weeks_ago)
    # Infliximab comes after NSAIDs and often bisphosphonates: months to a year after diagnosis.
    diagnosed_on = max(
        treated_from - dt.timedelta(days=rng.randint(90, 400)),
        _years_before(born_on, -3),
    )
    consented_on = (
        None
        if demo.consent == Consent.NEVER
        else min(today, diagnosed_on + dt.timedelta(days=rng.randint(0, 60)))
    )
    patient = services.patient_register(
        site=site,
        mrn=mrn,
        given_name=demo.given_name,
        family_name=demo.family_name,
        date_of_birth=born_on,
        sex=demo.sex,
        diagnosed_on=diagnosed_on,
        by=staff.clinician,
    )
    consent(
        patient,
        demo.consent,
        given_on=consented_on or min(today, diagnosed_on + dt.timedelta(days=14)),
        today=today,
        by=staff.clinician,
    )
    chart = Chart(patient=patient, staff=staff, today=today, rng=rng)
    if demo.spine:
        chart.has_spinal_involvement()
    if demo.phenotype is not None:
        services.phenotype_record(
            patient=patient,
            values={"first_symptoms_on": diagnosed_on - dt.timedelta(days=150), **demo.phenotype},
            by=staff.clinician,
        )
    for condition, months in demo.comorbidities:
        services.comorbidity_record(
            patient=patient,
            condition=condition,
            onset_on=min(today, diagnosed_on + dt.timedelta(days=round(months * 30.44))),
            by=staff.clinician,
        )
    nsaid_before_infliximab(chart, until=treated_from)
    for therapy in demo.co_therapy:
        take(chart, therapy)
    for draw, weeks in enumerate(demo.safety_bloods_weeks_ago):
        chart.safety_bloods(chart.weeks_ago(weeks), draw)
    return chart


# --- Seeding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    site: str
    created: bool


@dataclass(frozen=True)
class SeededPatient:
    registry_code: str
    site: str
    scenario: str
    created: bool


@dataclass
class SeedReport:
    sites: list[tuple[str, bool]] = field(default_factory=list)  # (code, created)
    logins: list[Login] = field(default_factory=list)
    patients: list[SeededPatient] = field(default_factory=list)


def _admin(report: SeedReport, password_hash: str) -> User:
    user_model = get_user_model()
    admin = user_model.objects.filter(username=ADMIN_USERNAME).first()
    created = admin is None
    if admin is None:
        admin = user_model(
            username=ADMIN_USERNAME,
            email=f"{ADMIN_USERNAME}@example.org",
            is_staff=True,
            is_superuser=True,
            password=password_hash,
        )
        admin.save()
    report.logins.append(Login(ADMIN_USERNAME, "superuser", "all", created))
    return admin


def _site(code: str, name: str, *, admin: User, report: SeedReport) -> Site:
    site = Site.objects.filter(code=code).first()
    report.sites.append((code, site is None))
    if site is None:
        site = Site(code=code, name=name)
        site._history_user = admin  # type: ignore[attr-defined]
        site.full_clean()
        site.save()
    return site


def _member(site: Site, role: Role, *, password_hash: str, admin: User, report: SeedReport) -> User:
    username = username_for(role, site.code)
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = user_model(
            username=username,
            email=f"{username}@example.org",
            first_name="Demo",
            last_name=f"{role.label}, {site.code}",
            is_staff=role in ADMIN_ROLES,
            password=password_hash,
        )
        user.save()
    if not Membership.objects.filter(user=user, site=site).exists():
        membership = Membership(user=user, site=site, role=role)
        membership._history_user = admin  # type: ignore[attr-defined]
        membership.full_clean()
        membership.save()
    report.logins.append(Login(username, role.label, site.code, created))
    return user


def seed(*, today: dt.date) -> SeedReport:
    """Create what is missing of the demo registry; what is already there is left as it is."""
    report = SeedReport()
    # One hash for every demo account: hashing is deliberately slow.
    password_hash = make_password(DEMO_PASSWORD)
    staff: dict[str, SiteStaff] = {}
    sites: dict[str, Site] = {}
    with transaction.atomic():
        admin = _admin(report, password_hash)
        for code, name in SITES:
            site = sites[code] = _site(code, name, admin=admin, report=report)
            users = {
                role: _member(site, role, password_hash=password_hash, admin=admin, report=report)
                for role in Role
            }
            staff[code] = SiteStaff(clinician=users[Role.CLINICIAN], nurse=users[Role.NURSE])

    for index, demo in enumerate(PATIENTS):
        code, mrn = site_code_of(index), mrn_of(index)
        existing = Patient.objects.filter(site=sites[code], mrn=mrn).first()
        if existing is None:
            # A patient is written whole or not at all, so a failed run can simply be repeated;
            # their many actions ask for one re-evaluation.
            with one_reevaluation(), transaction.atomic():
                chart = register(demo, site=sites[code], mrn=mrn, staff=staff[code], today=today)
                demo.scenario.build(chart)
                demo_safety.record_safety(chart)
            registry_code = chart.patient.registry_code
        else:
            registry_code = existing.registry_code
        report.patients.append(
            SeededPatient(registry_code, code, demo.scenario.label, created=existing is None)
        )
    return report
