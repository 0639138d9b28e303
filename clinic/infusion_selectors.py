"""Reads behind the infusion list: who is due for a dose (overdue, today, this week) at the user's
sites, with what the infusion unit needs to prepare it, and the vials pharmacy needs each day.

A constant number of queries whatever the number of courses: the schedules (and the patients' live
vaccines) come from the engine's bulk loader (`clinic.selectors.course_overviews`); alerts, holds
(severe reactions, adverse events awaiting review) and permissions are read once for all rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User

from clinic.selectors import SEVERITY_ORDER, course_overviews
from monitoring.evaluation import site_guidelines
from monitoring.guideline import DEFAULT
from monitoring.guideline.history import CourseHistory, InfusionRow
from monitoring.models import ACTIONABLE_STATUSES, Alert
from registry import roles, safeguards
from registry.dosing import ExpectedDose, expected_dose
from registry.models import (
    AWAITING_REVIEW,
    AdverseEvent,
    Patient,
    ReactionSeverity,
    Site,
    TreatmentCourse,
)
from registry.safety_codes import Vaccine
from registry.selectors import staff_site_ids

WEEK_DAYS = 7
OVERDUE, TODAY, THIS_WEEK = "overdue", "today", "week"
SECTIONS = (
    (OVERDUE, "Overdue"),
    (TODAY, "Due today"),
    (THIS_WEEK, f"This week (next {WEEK_DAYS} days)"),
)
ANTIBODIES_RULE, PREMEDICATION_RULE = "antibodies_detected", "premedication_advised"
ADD_INFUSION = "registry.add_infusion"
# Whoever reviews a reaction reviews a live vaccine and an adverse event (one permission query).
_CLINICIANS_REVIEW_ALL = all(
    {roles.REVIEW_VACCINATION, roles.REVIEW_ADVERSE_EVENT} <= permissions
    for permissions in roles.ROLE_PERMISSIONS.values()
    if roles.REVIEW_REACTION in permissions
)


@dataclass(frozen=True)
class Hold:
    """Why this dose is not to be given yet."""

    message: str
    reaction_id: int | None = None  # a severe reaction a clinician's review would lift
    screening_id: int | None = None  # a TB or hepatitis B result a specialist review would lift
    refused: bool = True  # the registry refuses the infusion (else: ask a clinician first)
    vaccination_id: int | None = None  # a live vaccine a clinician's review would lift
    adverse_event_id: int | None = None  # a serious adverse event a clinician's review would lift


@dataclass(frozen=True)
class DueInfusion:
    course_id: int
    patient: Patient
    dose_number: int
    phase: str  # induction | maintenance
    due_on: dt.date
    today: dt.date
    mg_per_kg: Decimal
    interval_weeks: int
    weight: InfusionRow | None  # the infusion that recorded the latest weight
    weight_max_age_days: int
    antibodies: Alert | None = None
    premedication: Alert | None = None
    severe_reaction_hold: Hold | None = None
    screening_hold: Hold | None = None
    # Ask a clinician first: an unreviewed live vaccine, an unreviewed serious adverse event.
    live_vaccine_hold: Hold | None = None
    adverse_event_holds: tuple[Hold, ...] = ()
    can_record: bool = False
    can_review: bool = False
    can_review_screening: bool = False
    can_review_safety: bool = False  # a live vaccine's, an adverse event's review

    @property
    def days_to_due(self) -> int:
        return (self.due_on - self.today).days

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_to_due)

    @property
    def section(self) -> str:
        if self.days_to_due < 0:
            return OVERDUE
        return TODAY if self.days_to_due == 0 else THIS_WEEK

    @property
    def given_on(self) -> dt.date:
        """The day the dose would be given: its due date, or today once it is overdue."""
        return max(self.due_on, self.today)

    @property
    def weighed_on(self) -> dt.date | None:
        if self.weight is None:
            return None
        return self.weight.weight_measured_on or self.weight.given_on

    @property
    def weight_age_days(self) -> int | None:
        return (self.today - self.weighed_on).days if self.weighed_on else None

    @property
    def needs_weighing(self) -> bool:
        """No weight recent enough for a dose check on the day it is given (weight_max_age_days)."""
        if self.weighed_on is None:
            return True
        return (self.given_on - self.weighed_on).days > self.weight_max_age_days

    @property
    def expected(self) -> ExpectedDose | None:
        """mg/kg in force x the latest weight, as the infusion form suggests it."""
        return expected_dose(self.weight.weight_kg, self.mg_per_kg) if self.weight else None

    @property
    def holds(self) -> list[Hold]:
        found = [hold for hold in (self.severe_reaction_hold, self.screening_hold) if hold]
        if self.antibodies is not None:
            # The registry does not refuse the dose, but the guideline asks for a decision first.
            ask = f"{self.antibodies.title}: ask a clinician before giving it."
            found.append(Hold(ask, refused=False))
        if self.live_vaccine_hold is not None:
            found.append(self.live_vaccine_hold)
        found.extend(self.adverse_event_holds)
        return found

    @property
    def on_hold(self) -> bool:
        return bool(self.holds)


def _latest_weight(history: CourseHistory) -> InfusionRow | None:
    """The most recently measured weight of the patient, any course (a retreatment's first dose
    starts from the last course's, which is then usually too old)."""
    return max(
        history.all_infusions,
        key=lambda i: (i.weight_measured_on or i.given_on, i.given_on),
        default=None,
    )


def _live_vaccine_hold(history: CourseHistory, given_on: dt.date, interval: int) -> Hold | None:
    """Ask a clinician first: a live vaccine no clinician reviewed, given at most `interval` days
    (live_vaccine_interval_days) before the day the dose would be given (GUIDELINE.md
    live_vaccine_on_treatment)."""
    recent = [
        v
        for v in history.live_vaccinations
        if v.reviewed_on is None and 0 <= (given_on - v.given_on).days <= interval
    ]
    if not recent:
        return None
    vaccine = recent[-1]
    earliest = vaccine.given_on + dt.timedelta(days=interval + 1)
    return Hold(
        f"Live vaccine ({Vaccine(vaccine.vaccine).label}) given {vaccine.given_on:%d %b %Y}, not "
        f"reviewed: no infusion before {earliest:%d %b %Y} ({interval} days after it) unless a "
        "clinician accepts the risk. Ask a clinician first.",
        refused=False,
        vaccination_id=vaccine.id,
    )


def _adverse_event_holds(patient_ids: list[int], today: dt.date) -> dict[int, tuple[Hold, ...]]:
    """Ask a clinician first: each serious adverse event (or one of special interest) of the
    patient that no clinician has reviewed (GUIDELINE.md serious_adverse_event_review), whichever
    course it belongs to. One query."""
    holds: dict[int, list[Hold]] = defaultdict(list)
    awaiting = AdverseEvent.objects.filter(
        AWAITING_REVIEW, patient_id__in=patient_ids, onset_on__lte=today
    ).order_by("onset_on", "pk")
    for event in awaiting:
        kind = "Serious adverse event" if event.serious else "Adverse event of special interest"
        holds[event.patient_id].append(
            Hold(
                f"{kind} ({event.get_term_display().replace(' (name it)', '')}, from "
                f"{event.onset_on:%d %b %Y}) awaiting a clinician's review. Ask a clinician first.",
                refused=False,
                adverse_event_id=event.pk,
            )
        )
    return {patient_id: tuple(found) for patient_id, found in holds.items()}


def infusions_due(
    user: User, *, today: dt.date, site_codes: Iterable[str] | None = None
) -> list[DueInfusion]:
    """Every course on treatment at the user's sites (or those of `site_codes`) whose next dose is
    overdue or due within WEEK_DAYS days, by due date."""
    courses = TreatmentCourse.objects.filter(
        patient__site_id__in=staff_site_ids(user), stopped_on__isnull=True
    ).select_related("patient__site")
    if site_codes is not None:
        courses = courses.filter(patient__site__code__in=list(site_codes))
    course_of = {course.pk: course for course in courses}
    guidelines = site_guidelines()
    horizon = today + dt.timedelta(days=WEEK_DAYS)
    rows = []
    for course_id, overview in course_overviews(list(course_of), today).items():
        dose = overview.next_dose
        if dose is None or dose.due_on > horizon:
            continue
        patient = course_of[course_id].patient
        guideline = guidelines.get(patient.site.code, DEFAULT)
        given_on = max(dose.due_on, today)
        rows.append(
            DueInfusion(
                course_id=course_id,
                patient=patient,
                dose_number=dose.number,
                phase=dose.phase,
                due_on=dose.due_on,
                today=today,
                mg_per_kg=overview.dose_mg_per_kg,
                interval_weeks=overview.interval_weeks,
                weight=_latest_weight(overview.history),
                weight_max_age_days=guideline.weight_max_age_days,
                live_vaccine_hold=_live_vaccine_hold(
                    overview.history, given_on, guideline.live_vaccine_interval_days
                ),
            )
        )
    return _with_holds_and_permissions(user, rows, today)


def _with_holds_and_permissions(
    user: User, rows: list[DueInfusion], today: dt.date
) -> list[DueInfusion]:
    alerts = Alert.objects.filter(
        course_id__in=[row.course_id for row in rows],
        rule__in=(ANTIBODIES_RULE, PREMEDICATION_RULE),
        status__in=ACTIONABLE_STATUSES,
    ).order_by(SEVERITY_ORDER, "pk")
    open_alerts: dict[tuple[int, str], Alert] = {}
    for alert in alerts:
        open_alerts.setdefault((alert.course_id, alert.rule), alert)
    reactions = safeguards.infusion_holds(row.patient.pk for row in rows)
    screenings = safeguards.screening_holds(row.patient.pk for row in rows)
    may_record = roles.sites_where(user, ADD_INFUSION)
    may_review = roles.sites_where(user, roles.REVIEW_REACTION)
    may_review_screening = roles.sites_where(user, roles.REVIEW_SCREENING)
    # A live vaccine's and an adverse event's reviews are a clinician's, as a reaction's is.
    may_review_safety = may_review if _CLINICIANS_REVIEW_ALL else set()
    events = _adverse_event_holds([row.patient.pk for row in rows], today)
    complete = []
    for row in rows:
        reaction = reactions.get(row.patient.pk)
        hold = None
        if reaction is not None:
            unreviewed = reaction.severity == ReactionSeverity.SEVERE and not reaction.reviewed_on
            hold = Hold(safeguards.hold_message(reaction), reaction.pk if unreviewed else None)
        screening = screenings.get(row.patient.pk)
        screening_hold = (
            Hold(safeguards.screening_hold_message(screening), screening_id=screening.pk)
            if screening is not None
            else None
        )
        site_id = row.patient.site_id
        complete.append(
            dataclasses.replace(
                row,
                antibodies=open_alerts.get((row.course_id, ANTIBODIES_RULE)),
                premedication=open_alerts.get((row.course_id, PREMEDICATION_RULE)),
                severe_reaction_hold=hold,
                screening_hold=screening_hold,
                adverse_event_holds=events.get(row.patient.pk, ()),
                can_record=site_id in may_record and hold is None and screening_hold is None,
                can_review=site_id in may_review,
                can_review_screening=site_id in may_review_screening,
                can_review_safety=site_id in may_review_safety,
            )
        )
    return sorted_rows(complete, "due")


# The orders the list offers (?sort=): each ends on the registry code, so ties stay put.
SORTS = {
    "due": lambda row: (row.due_on, row.patient.registry_code),
    "patient": lambda row: (
        row.patient.family_name.casefold(),
        row.patient.given_name.casefold(),
        row.patient.registry_code,
    ),
    "site": lambda row: (row.patient.site.code, row.due_on, row.patient.registry_code),
}


def sorted_rows(rows: Iterable[DueInfusion], sort: str) -> list[DueInfusion]:
    return sorted(rows, key=SORTS.get(sort, SORTS["due"]))


# --- Vial forecast ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastDay:
    day: dt.date
    vials: int
    doses: int


@dataclass(frozen=True)
class SiteForecast:
    site: Site
    days: list[ForecastDay]
    not_counted: list[DueInfusion]  # on hold, or no weight to dose by

    @property
    def total_vials(self) -> int:
        return sum(day.vials for day in self.days)

    @property
    def total_doses(self) -> int:
        return sum(day.doses for day in self.days)


def vial_forecast(rows: Iterable[DueInfusion], *, today: dt.date) -> list[SiteForecast]:
    """100 mg vials per day from today to the end of the list's week, per site: each dose takes
    whole vials (a vial is not shared between patients); an overdue dose counts today. A dose on
    hold, or without any weight, is left out and named."""
    days = [today + dt.timedelta(days=n) for n in range(WEEK_DAYS + 1)]
    vials: dict[tuple[int, dt.date], int] = defaultdict(int)
    doses: dict[tuple[int, dt.date], int] = defaultdict(int)
    not_counted: dict[int, list[DueInfusion]] = defaultdict(list)
    sites: dict[int, Site] = {}
    for row in rows:
        site = row.patient.site
        sites[site.pk] = site
        expected = row.expected
        if expected is None or row.on_hold:
            not_counted[site.pk].append(row)
            continue
        vials[site.pk, row.given_on] += expected.vials
        doses[site.pk, row.given_on] += 1
    return [
        SiteForecast(
            site,
            [ForecastDay(day, vials[site.pk, day], doses[site.pk, day]) for day in days],
            not_counted[site.pk],
        )
        for site in sorted(sites.values(), key=lambda site: site.code)
    ]
