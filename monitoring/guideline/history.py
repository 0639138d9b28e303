"""The plain, frozen history of one course: everything the rules read, and nothing else.

Built by `monitoring.evaluation` from the database (or by a test by hand). Lab results, imaging and
assessments belong to the patient, so a course's history carries all of the patient's; each rule
picks the dates it cares about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

# Plain strings, mirroring registry's choices; the engine imports nothing from Django.
CRP, ESR, TROUGH, ANTIBODIES = "crp", "esr", "ifx_trough", "anti_ifx"
MRI_MODALITIES = frozenset({"wb_mri", "mri"})
TAPER, INTENSIFICATION = "taper", "intensification"
ACTIVE, INACTIVE = "active", "inactive"


@dataclass(frozen=True)
class InfusionRow:
    id: int
    given_on: dt.date
    weight_kg: Decimal
    dose_mg: Decimal
    weighed_on: dt.date | None = None  # None: weighed on the day
    duration_minutes: int | None = None
    antihistamine: bool = False
    corticosteroid: bool = False
    antipyretic: bool = False

    @property
    def premedicated(self) -> bool:
        # Premedication against reactions means an antihistamine and/or a corticosteroid.
        return self.antihistamine or self.corticosteroid

    @property
    def mg_per_kg(self) -> Decimal:
        return (self.dose_mg / self.weight_kg).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class RegimenRow:
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
    value: Decimal | None = None
    reference_high: Decimal | None = None
    antibodies_positive: bool | None = None


@dataclass(frozen=True)
class ImagingRow:
    id: int
    performed_on: dt.date
    modality: str
    active_lesions: int | None = None
    new_lesions: int | None = None

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


@dataclass(frozen=True)
class ReactionRow:
    id: int
    infusion_id: int
    severity: str
    onset: str = "acute"
    reviewed_on: dt.date | None = None


@dataclass(frozen=True)
class CourseHistory:
    course_id: int
    patient_code: str
    started_on: dt.date
    dose_mg_per_kg: Decimal = Decimal("5")
    induction_weeks: tuple[int, ...] = (0, 2, 6)
    interval_weeks: int = 8
    stopped_on: dt.date | None = None
    stop_reason: str = ""
    infusions: tuple[InfusionRow, ...] = ()  # ordered by date
    regimen_changes: tuple[RegimenRow, ...] = ()  # ordered by date
    labs: tuple[LabRow, ...] = ()  # the patient's, ordered by date
    imaging: tuple[ImagingRow, ...] = ()  # the patient's, ordered by date
    assessments: tuple[AssessmentRow, ...] = ()  # the patient's, ordered by date
    reactions: tuple[ReactionRow, ...] = ()  # to this course's infusions
    relapse_noted_on: dt.date | None = None  # a relapse recorded after this course
    next_course_started_on: dt.date | None = None  # the patient's next course, if any
    site_code: str = field(default="", compare=False)

    @property
    def day_zero(self) -> dt.date:
        """Day 0 is the first infusion; before any infusion, the planned start."""
        return self.infusions[0].given_on if self.infusions else self.started_on

    def is_on_treatment(self, as_of: dt.date) -> bool:
        return self.stopped_on is None or self.stopped_on > as_of

    def regimen_on(self, day: dt.date) -> tuple[Decimal, int]:
        """Dose (mg/kg) and interval (weeks) in force on `day`."""
        dose, interval = self.dose_mg_per_kg, self.interval_weeks
        for change in self.regimen_changes:
            if change.effective_on <= day:
                dose, interval = change.dose_mg_per_kg, change.interval_weeks
        return dose, interval

    def infusions_until(self, as_of: dt.date) -> tuple[InfusionRow, ...]:
        return tuple(i for i in self.infusions if i.given_on <= as_of)
