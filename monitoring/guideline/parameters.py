"""Every parameter of the guideline, in one place, with its default, evidence grade and source.

Grades (GUIDELINE.md): A = stated in the source document; B = infliximab label or another disease,
applied to CRMO; C = the registry's reasoned default, to be confirmed by the clinic. A site may
override any parameter (monitoring.models.SiteGuideline); the engine receives the effective values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The guideline's version (GUIDELINE.md): 2026.11 was version 1, 2026.12 is version 2. Alerts
# raised under an earlier version that this one no longer finds resolve as "guideline updated".
BASE_VERSION = "2026.12"


def _param(
    default: Any,
    *,
    grade: str,
    source: str,
    unit: str,
    note: str = "",
    minimum: Any = None,
    maximum: Any = None,
) -> Any:
    return field(
        default=default,
        metadata={
            "grade": grade,
            "source": source,
            "unit": unit,
            "note": note,
            "minimum": minimum,
            "maximum": maximum,
        },
    )


SOURCE_DOC = "Source document (infliximab in CRMO summary)"
LABEL = "Infliximab label"
# Methotrexate's monitoring in adult rheumatology, applied to CRMO (hence grade B): blood count and
# liver enzymes at least every 12 weeks once the dose is stable.
METHOTREXATE_MONITORING_SOURCES = (
    "BSR/BHPR 2017 non-biologic DMARD guideline (Ledingham 2017); ACR 2008 (Saag 2008)"
)

# Screening before a biologic: latent TB (the label's boxed warning) and hepatitis B (the label's
# warning of HBV reactivation), as the rheumatology and liver societies ask it.
SCREENING_SOURCES = (
    "Infliximab label (boxed warning: tuberculosis; warnings: hepatitis B reactivation); BSR 2019 "
    "biologic DMARD safety guideline (Holroyd 2019); AASLD 2018 hepatitis B guidance (Terrault "
    "2018)"
)


@dataclass(frozen=True)
class Guideline:
    dose_mg_per_kg: Decimal = _param(
        Decimal("5"),
        grade="A",
        source=SOURCE_DOC,
        unit="mg/kg",
        note="per course; changed by a regimen change",
        minimum=Decimal("1"),
        maximum=Decimal("10"),
    )
    induction_weeks: tuple[int, ...] = _param(
        (0, 2, 6), grade="A", source=SOURCE_DOC, unit="weeks", note="weeks 0, 2 and 6"
    )
    maintenance_interval_weeks: int = _param(
        8,
        grade="A",
        source=SOURCE_DOC,
        unit="weeks",
        note="per course; tapering lengthens it",
        minimum=4,
        maximum=16,
    )
    dose_grace_days: int = _param(
        7,
        grade="C",
        source="Registry default",
        unit="days",
        note="a dose is late after this many days past due",
        minimum=0,
        maximum=28,
    )
    dose_overdue_days: int = _param(
        14,
        grade="C",
        source="Registry default",
        unit="days",
        note="overdue (escalates severity)",
        minimum=1,
        maximum=56,
    )
    interruption_days: int = _param(
        112,
        grade="B",
        source="Infliximab label (readministration after a drug-free interval); ACCENT I; "
        "Baert 2014; Chaparro 2010",
        unit="days",
        note="off-drug gap that makes intermittent therapy / re-exposure (16 weeks); never less "
        "than the interval in force + dose_overdue_days",
        minimum=56,
        maximum=365,
    )
    min_course_days: int = _param(
        365,
        grade="A",
        source=SOURCE_DOC,
        unit="days",
        note='"at least 12 months"',
        minimum=180,
        maximum=730,
    )
    remission_days_for_taper: int = _param(
        180,
        grade="A",
        source=SOURCE_DOC,
        unit="days",
        note='"6–12 months" (180–365)',
        minimum=180,
        maximum=365,
    )
    response_assessment_day: int = _param(
        70,
        grade="B",
        source="Source document, a figure it takes from psoriasis (PASI-75 at week 10)",
        unit="days",
        note="week 10",
        minimum=42,
        maximum=112,
    )
    response_window_start_day: int = _param(
        56,
        grade="B",
        source="Registry window around week 10 (psoriasis)",
        unit="days",
        minimum=28,
        maximum=112,
    )
    response_window_end_day: int = _param(
        98,
        grade="B",
        source="Registry window around week 10 (psoriasis)",
        unit="days",
        minimum=56,
        maximum=140,
    )
    marker_interval_days: int = _param(
        98,
        grade="C",
        source="Registry default",
        unit="days",
        note="CRP and ESR at least every 14 weeks",
        minimum=28,
        maximum=365,
    )
    mri_follow_up_days: tuple[int, ...] = _param(
        (182, 365),
        grade="B",
        source="Schnabel 2016, 2022; Capponi 2021",
        unit="days",
        note="whole-body MRI at baseline, 6 and 12 months",
    )
    mri_yearly_days: int = _param(
        365,
        grade="B",
        source="Schnabel 2016, 2022; Capponi 2021",
        unit="days",
        note="then every year while on treatment",
        minimum=180,
        maximum=730,
    )
    mri_window_days: int = _param(
        90,
        grade="C",
        source="Registry default",
        unit="days",
        note="an MRI this close to a due date counts for it",
        minimum=14,
        maximum=120,
    )
    post_stop_watch_days: int = _param(
        730,
        grade="B/C",
        source="Lovell 2018; Gieling 2022",
        unit="days",
        note="relapse watch after stopping",
        minimum=180,
        maximum=1825,
    )
    post_stop_visit_days: tuple[int, ...] = _param(
        (91, 182, 365, 730),
        grade="B/C",
        source="Registry default",
        unit="days",
        note="follow-up visits at about 3, 6, 12 and 24 months after stopping",
    )
    post_stop_visit_window_days: int = _param(
        30,
        grade="C",
        source="Registry default",
        unit="days",
        note="an assessment this close to a visit counts for it",
        minimum=7,
        maximum=90,
    )
    early_dose_days: int = _param(
        14,
        grade="C",
        source="Registry default",
        unit="days",
        note="a maintenance dose given this much before its due date is early",
        minimum=3,
        maximum=28,
    )
    early_induction_dose_days: int = _param(
        3,
        grade="C",
        source="Registry default",
        unit="days",
        note="an induction dose given this much before its due date is early",
        minimum=1,
        maximum=7,
    )
    duplicate_dose_days: int = _param(
        7,
        grade="C",
        source="Registry default",
        unit="days",
        note="two infusions this close together are a duplicate or an early dose",
        minimum=1,
        maximum=14,
    )
    reexposure_workup_days: int = _param(
        14,
        grade="B",
        source="Infliximab label (delayed reactions within 1–14 days); Baert 2014",
        unit="days",
        note="a trough and antibody result this close before a re-exposure counts for it; "
        "delayed reactions are watched for this long after it",
        minimum=7,
        maximum=28,
    )
    inactive_score_max: Decimal = _param(
        Decimal("1"),
        grade="B",
        source="CARRA consensus (Zhao 2018)",
        unit="0–10",
        note="inactive: pain and physician global at most this (and no active lesion)",
        minimum=Decimal("0"),
        maximum=Decimal("2"),
    )
    activity_score_min: Decimal = _param(
        Decimal("4"),
        grade="B",
        source="CARRA consensus (Zhao 2018)",
        unit="0–10",
        note="scores suggest activity: pain or physician global at least this",
        minimum=Decimal("2"),
        maximum=Decimal("8"),
    )
    crp_upper_normal_mg_l: Decimal = _param(
        Decimal("5"),
        grade="C",
        source="Registry default",
        unit="mg/L",
        note="the lab's own range wins when recorded",
        minimum=Decimal("1"),
        maximum=Decimal("20"),
    )
    esr_upper_normal_mm_h: Decimal = _param(
        Decimal("20"),
        grade="C",
        source="Registry default",
        unit="mm/h",
        note="the lab's own range wins when recorded",
        minimum=Decimal("5"),
        maximum=Decimal("40"),
    )
    dose_tolerance_pct: Decimal = _param(
        Decimal("10"),
        grade="C",
        source="Registry default",
        unit="%",
        note="vial rounding (100 mg vials)",
        minimum=Decimal("0"),
        maximum=Decimal("25"),
    )
    max_dose_mg_per_kg: Decimal = _param(
        Decimal("10"),
        grade="B",
        source=LABEL,
        unit="mg/kg",
        note="labelled maximum",
        minimum=Decimal("5"),
        maximum=Decimal("20"),
    )
    implausible_dose_mg_per_kg: Decimal = _param(
        Decimal("20"),
        grade="C",
        source="Registry default",
        unit="mg/kg",
        note="refused at entry whatever the regimen (the registry's ceiling is 20)",
        minimum=Decimal("10"),
        maximum=Decimal("20"),
    )
    weight_change_pct: Decimal = _param(
        Decimal("15"),
        grade="C",
        source="Registry default",
        unit="%",
        note="a weight this far from the previous one must be confirmed at entry",
        minimum=Decimal("5"),
        maximum=Decimal("50"),
    )
    weight_change_window_days: int = _param(
        90,
        grade="C",
        source="Registry default",
        unit="days",
        note="the previous weight counts for the weight-change check if measured this recently",
        minimum=7,
        maximum=365,
    )
    weight_max_age_days: int = _param(
        30,
        grade="C",
        source="Registry default",
        unit="days",
        note="weight must be this recent for a dose check",
        minimum=1,
        maximum=180,
    )
    trough_min_ug_ml: Decimal = _param(
        Decimal("5"),
        grade="B",
        source="AGA 2017 (IBD target)",
        unit="µg/mL",
        note="configurable 3–7",
        minimum=Decimal("3"),
        maximum=Decimal("7"),
    )
    trough_draw_days: int = _param(
        3,
        grade="C",
        source="Registry default",
        unit="days",
        note="a trough counts if drawn at most this many days before an on-time infusion",
        minimum=0,
        maximum=7,
    )
    min_infusion_minutes: int = _param(
        120,
        grade="B",
        source=LABEL,
        unit="minutes",
        note="until uneventful_infusions_for_short uneventful infusions, and after any reaction",
        minimum=60,
        maximum=240,
    )
    short_infusion_minutes: int = _param(
        60,
        grade="B",
        source=LABEL,
        unit="minutes",
        note="never shorter",
        minimum=30,
        maximum=120,
    )
    uneventful_infusions_for_short: int = _param(
        3,
        grade="B",
        source=LABEL,
        unit="infusions",
        note="uneventful infusions before a shortened infusion",
        minimum=1,
        maximum=10,
    )
    methotrexate_monitoring_days: int = _param(
        98,
        grade="B",
        source=METHOTREXATE_MONITORING_SOURCES,
        unit="days",
        note="a neutrophil count, a platelet count and an ALT at least this often on methotrexate: "
        "every 12 weeks once the dose is stable (84 days) and a 2-week grace",
        minimum=28,
        maximum=182,
    )
    screening_window_days: int = _param(
        365,
        grade="B",
        source=SCREENING_SOURCES,
        unit="days",
        note="a TB screen (IGRA or tuberculin skin test) and hepatitis B (HBsAg and anti-HBc) "
        "count for a course if taken at most this many days before its start, or since",
        minimum=30,
        maximum=730,
    )
    live_vaccine_interval_days: int = _param(
        90,
        grade="C",
        source=f"Registry default after the {LABEL.lower()} (live vaccines not concurrently)",
        unit="days",
        note="no infusion within this many days after a live vaccine, and no live vaccine on "
        "treatment: the label says only “not concurrently”; about 3 months, longer than a "
        "maintenance interval, is the registry's reading, to be confirmed by the clinic",
        minimum=28,
        maximum=365,
    )
    age_of_majority_years: int = _param(
        18,
        grade="C",
        source="Registry default (the law of the site's country)",
        unit="years",
        note="from this age a patient consents for themself: no child's assent, and a consent "
        "given only by a parent asks for the patient's own (reconsent_at_majority)",
        minimum=16,
        maximum=21,
    )

    def with_overrides(self, overrides: dict[str, Any]) -> Guideline:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown guideline parameters: {sorted(unknown)}")
        return dataclasses.replace(self, **overrides)

    @property
    def version(self) -> str:
        """The base version, plus a short fingerprint of any value that differs from the default."""
        changed = {
            f.name: str(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }
        if not changed:
            return BASE_VERSION
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
        return f"{BASE_VERSION}+site.{digest}"


DEFAULT = Guideline()


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    default: Any
    grade: str
    source: str
    unit: str
    note: str
    minimum: Any
    maximum: Any


def parameter_info() -> list[ParameterInfo]:
    return [
        ParameterInfo(name=f.name, default=f.default, **f.metadata)
        for f in dataclasses.fields(Guideline)
    ]
