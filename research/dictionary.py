"""The one specification of the exported tables: it drives the CSV headers, the Parquet schema and
`data_dictionary.csv`, so the three cannot disagree.

Every date is exported as a whole number of days since the patient's day 0 (the start of their
first course); every table is long and tidy (one row per event), keyed by the patient's pseudonym
and, where a row belongs to a course, the course's number (1 = the patient's first course).

No column carries free text: every text column is a code, a category or a value the registry
makes. A CSV cell of text that a spreadsheet would run as a formula (OWASP "CSV injection": it
begins with =, +, -, @, a tab or a carriage return) gets one ' in front, and so does one that
begins with ' itself, so `Column.parse` (remove one leading ') gives back every value exactly.
Numbers are never changed: -120 stays a number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from monitoring.guideline import RULES
from monitoring.models import AlertStatus, Severity
from registry.models import (
    ANALYTE_LAB_UNITS,
    INFLIXIMAB_ATC,
    MEDICATION_ATC,
    NO_UNIT,
    SERIOUSNESS_CRITERIA,
    ActionTaken,
    AdverseEventDecision,
    AdverseEventGrade,
    AdverseEventOutcome,
    Analyte,
    Assent,
    ConsentedBy,
    DiseaseState,
    DoseUnit,
    DrugClass,
    Frequency,
    Impression,
    LesionCounts,
    MedicationDrug,
    MedicationStopReason,
    Modality,
    ReactionOnset,
    ReactionOutcome,
    ReactionSeverity,
    RegimenReason,
    RelationToInfliximab,
    Route,
    Sex,
    StopReason,
)
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    FAMILY_CONDITIONS,
    JANSSON_ITEMS,
    JANSSON_MAX,
    SNOMED_BODY,
    SNOMED_VERTEBRA,
    VERTEBRAL_LEVELS,
    Bone,
    ComorbidityCondition,
    FamilyHistory,
    Laterality,
)
from registry.safety_codes import (
    LIVE_VACCINES,
    RECORDED_TERMS,
    SCREENING_LOINC,
    ScreeningOutcome,
    ScreeningTest,
    SpecialInterest,
    Vaccine,
)
from research.outcomes import PEDCNO_LEVELS, RELAPSE_FREE_ENDS

ORPHA_CRMO = "ORPHA:324964"
LOINC_CRP, LOINC_ESR, LOINC_INFLIXIMAB, LOINC_WEIGHT = "1988-5", "4537-7", "39803-2", "29463-7"
LOINC_NEUTROPHILS, LOINC_PLATELETS, LOINC_ALT = "751-8", "777-3", "1742-6"
# Said where a column's code is left empty rather than guessed.
NO_SINGLE_LOINC = "no single LOINC code chosen"
AGE_CAP = "90+"  # HIPAA Safe Harbor: ages over 89 are one category
# A text cell beginning with one of these is a formula to a spreadsheet (OWASP); the quote itself
# too, so that removing one leading quote always gives the value back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
CSV_TEXT_CELLS = (
    "A text cell that begins with =, +, -, @, a tab or a carriage return (or with ') has one ' "
    "put in front, so that a spreadsheet shows it as text and never runs it as a formula; remove "
    "that one leading ' to read the value. Number cells are never changed."
)


def text_cell(value: str) -> str:
    """Text as a CSV cell a spreadsheet cannot run as a formula."""
    return QUOTE + value if value.startswith((*FORMULA_STARTS, QUOTE)) else value


def text_of_cell(cell: str) -> str:
    """A text cell's value: `text_cell` undone."""
    return cell.removeprefix(QUOTE)


class ColumnType(enum.Enum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    PROPORTION = "proportion"  # a float between 0 and 1
    TEXT = "text"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    meaning: str
    unit: str = ""
    allowed: str = ""
    code_system: str = ""
    precision: int = 0  # DECIMAL: total digits and digits after the point, as in the database
    scale: int = 0

    def arrow_type(self) -> Any:
        # pyarrow (about 40 MB) is imported where Parquet is written only: not by web workers.
        import pyarrow as pa  # type: ignore[import-untyped]

        return {
            ColumnType.INTEGER: pa.int64(),
            ColumnType.PROPORTION: pa.float64(),
            ColumnType.TEXT: pa.string(),
            ColumnType.BOOLEAN: pa.bool_(),
        }.get(self.type) or pa.decimal128(self.precision, self.scale)

    def parse(self, text: str) -> object:
        """A CSV cell back to its value (an empty cell is missing)."""
        if text == "":
            return None
        match self.type:
            case ColumnType.INTEGER:
                return int(text)
            case ColumnType.DECIMAL:
                return Decimal(text)
            case ColumnType.PROPORTION:
                return float(text)
            case ColumnType.BOOLEAN:
                return text == "true"
        return text_of_cell(text)

    def format(self, value: object) -> str:
        """A value as a CSV cell: empty when missing, booleans as true/false, text never a
        formula (`text_cell`)."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if self.type is ColumnType.TEXT:
            return text_cell(str(value))
        return str(value)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    def arrow_schema(self) -> Any:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, c.arrow_type()) for c in self.columns])


def _choices(values: list[str]) -> str:
    return " | ".join(values)


def _integer(name: str, meaning: str, unit: str = "") -> Column:
    return Column(name, ColumnType.INTEGER, meaning, unit)


def _decimal(
    name: str, meaning: str, unit: str, precision: int, scale: int, code_system: str = ""
) -> Column:
    return Column(
        name,
        ColumnType.DECIMAL,
        meaning,
        unit,
        code_system=code_system,
        precision=precision,
        scale=scale,
    )


def _text(name: str, meaning: str, allowed: str = "", code_system: str = "") -> Column:
    return Column(name, ColumnType.TEXT, meaning, allowed=allowed, code_system=code_system)


def _lab_units() -> str:
    """Each test's units: "crp: mg/L; …; anti_ifx: AU/mL | ng/mL | … | empty"."""
    return "; ".join(
        f"{analyte}: " + _choices(["empty" if unit == NO_UNIT else unit for unit in units])
        for analyte, units in ANALYTE_LAB_UNITS.items()
    )


def _boolean(name: str, meaning: str) -> Column:
    return Column(name, ColumnType.BOOLEAN, meaning, allowed="true | false")


def _day(name: str, what: str) -> Column:
    return _integer(
        name,
        f"{what}, in days since the patient's day 0 (first course start), rounded down to the "
        "export's date precision (manifest.json)",
        "days",
    )


SUPPRESSED_WHEN_EMPTY = "; empty: suppressed (fewer than 5 patients alike)"


PSEUDONYM = _text(
    "patient_pseudonym", "Random pseudonym of the patient, fresh for every export (not linkable)"
)
COURSE_NUMBER = _integer("course_number", "The patient's course: 1 = first, 2 = retreatment, …")
DOSE_NUMBER = _integer("dose_number", "Infusion of the course: 1 = the first dose")
AGE = _text(
    "age_at_course_start_years",
    "Age at the course start, in whole years or 5-year bands (manifest.json: age_precision)"
    + SUPPRESSED_WHEN_EMPTY,
    allowed=f"0 … 89 | {AGE_CAP}, or 0–4 | 5–9 | … | 85–89 | {AGE_CAP}",
)

PATIENTS = Table(
    "patients",
    "One row per consenting patient with at least one infliximab course.",
    (
        PSEUDONYM,
        _text("site_code", "Treating site (registry code of the clinic)" + SUPPRESSED_WHEN_EMPTY),
        _text("sex", "Sex as recorded" + SUPPRESSED_WHEN_EMPTY, _choices(Sex.values)),
        _text(
            "diagnosis",
            "Diagnosis of every registry patient",
            "CRMO/CNO",
            code_system=f"Orphanet {ORPHA_CRMO}",
        ),
        Column(
            "age_at_first_course_years",
            ColumnType.TEXT,
            "Age at day 0, in whole years or 5-year bands" + SUPPRESSED_WHEN_EMPTY,
            allowed=AGE.allowed,
        ),
        _day(
            "diagnosed_day",
            "CRMO/CNO diagnosis (usually negative: before day 0)" + SUPPRESSED_WHEN_EMPTY,
        ),
        _integer("number_of_courses", "Infliximab courses in the export"),
    ),
)

# An infusion's or a course's infliximab product, as the registry's managed product list codes it
# (its code and the codes the list carries). Not its brand name or manufacturer (text a superuser
# types into the list), nor, for an infusion, its lot: see INFUSIONS.
PRODUCT_LIST = "the registry's infliximab product list (codes seeded: remicade, the originator; "
PRODUCT_LIST += "inflectra, remsima, flixabi, zessly, biosimilars)"


def _product(what: str) -> tuple[Column, ...]:
    return (
        _text(
            "product_code",
            f"{what}: its code in the registry's product list (empty: not recorded)",
            f"a code of {PRODUCT_LIST}",
            code_system="registry infliximab product list",
        ),
        _text(
            "product_atc_code",
            "WHO ATC code of the product's substance (every product of the list is infliximab)",
            f"{INFLIXIMAB_ATC} infliximab",
            code_system="WHO ATC",
        ),
        _boolean(
            "product_biosimilar", "The product is a biosimilar (false: the originator, Remicade)"
        ),
        _text(
            "product_ema_number",
            "The product's European Medicines Agency product number (EPAR), as the list has it",
            "EMEA/H/C/ and 6 digits",
            code_system="EMA product number",
        ),
        _text(
            "product_rxnorm_cui",
            "The product's RxNorm branded-drug concept (SBD), where the list has one (the "
            "ingredient is RxNorm 191831 whatever the product)",
            "digits",
            code_system="RxNorm",
        ),
    )


COURSES = Table(
    "courses",
    "One row per infliximab course, with outcome measures computed by the registry (notes are "
    "never exported).",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        AGE,
        _day("started_day", "Course start"),
        _day("stopped_day", "Course stop (empty: still on treatment)"),
        _text("stop_reason", "Why the course stopped", _choices(StopReason.values)),
        _decimal("planned_dose_mg_per_kg", "Planned dose", "mg/kg", 4, 2),
        _text("induction_weeks", "Weeks of the induction doses", "e.g. 0;2;6"),
        _integer("maintenance_interval_weeks", "Planned maintenance interval", "weeks"),
        *_product("The product planned for the course"),
        _integer(
            "days_on_treatment",
            "Start to stop; while on treatment, start to the last infusion given (never to the "
            "export date, which would date day 0)",
            "days",
        ),
        _integer("number_of_infusions", "Infusions given in the course"),
        Column(
            "proportion_doses_on_time",
            ColumnType.PROPORTION,
            "Doses given no later than the guideline's grace period after their due date",
            allowed="0 … 1",
        ),
        _integer("longest_gap_days", "Longest interval between consecutive infusions", "days"),
        _boolean("reached_taper", "A taper (lower dose or longer interval) was started"),
        _boolean("relapsed_after_stopping", "A relapse was recorded after this course stopped"),
        _integer("days_to_relapse", "Course stop to the relapse being noted", "days"),
        _text(
            "pedcno_response_3_months",
            "Highest PedCNO response at 3 months (Beck 2010); empty when data are insufficient",
            _choices(list(PEDCNO_LEVELS)),
        ),
        _text(
            "pedcno_response_12_months",
            "Highest PedCNO response at 12 months (Beck 2010); empty when data are insufficient",
            _choices(list(PEDCNO_LEVELS)),
        ),
        _integer("doses_due", "Doses the schedule had due by the export date (or the stop)"),
        _integer("days_to_taper", "Course start to the first taper (empty: none)", "days"),
        _boolean(
            "inactive_at_12_months",
            "The clinician judged the disease inactive at the assessment nearest month 12 "
            "(within 60 days); empty when none in the window judged it",
        ),
        _integer(
            "relapse_free_days",
            "After a stop: days to the first relapse recorded from the stop on, or to the "
            "censoring (relapse_free_end); empty while on treatment",
            "days",
        ),
        _text(
            "relapse_free_end",
            "How relapse_free_days ends: relapse (the event); retreatment (the next course "
            "started without a relapse recorded before it: censored); follow_up_end (censored at "
            "the patient's last lab result, imaging study or assessment)",
            _choices(list(RELAPSE_FREE_ENDS)),
        ),
    ),
)

REGIMEN_CHANGES = Table(
    "regimen_changes",
    "Changes of dose or interval (taper, intensification) within a course.",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        _day("effective_day", "First day of the new regimen"),
        _decimal("dose_mg_per_kg", "Dose from then on", "mg/kg", 4, 2),
        _integer("interval_weeks", "Interval from then on", "weeks"),
        _text("reason", "Why the regimen changed", _choices(RegimenReason.values)),
    ),
)

INFUSIONS = Table(
    "infusions",
    "One row per infliximab infusion given (notes and lot numbers are never exported: a lot "
    "number is not typed freely, but a rare lot dates and places an infusion; pharmacovigilance "
    "traces lots from the identified record).",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        DOSE_NUMBER,
        _day("given_day", "Infusion"),
        _integer("week_of_course", "Week since the course's first infusion (rounded)", "weeks"),
        _decimal(
            "weight_kg",
            "Body weight the dose was based on",
            "kg",
            5,
            2,
            code_system=f"LOINC {LOINC_WEIGHT}",
        ),
        _day("weight_measured_day", "Weighing"),
        _decimal("dose_mg", "Dose given", "mg", 7, 1),
        _decimal("dose_mg_per_kg", "Dose given per kg of body weight", "mg/kg", 6, 2),
        _integer("duration_minutes", "Infusion duration", "minutes"),
        _boolean("premedication_antihistamine", "Antihistamine given before the infusion"),
        _boolean("premedication_corticosteroid", "Corticosteroid given before the infusion"),
        _boolean("premedication_antipyretic", "Antipyretic given before the infusion"),
        _boolean("intensified", "Given while a clinician's intensification was in force"),
        *_product("The product given"),
    ),
)

LABS = Table(
    "labs",
    "Laboratory results: markers, drug levels, anti-drug antibodies and methotrexate's safety "
    "bloods (neutrophils, platelets, ALT).",
    (
        PSEUDONYM,
        _day("collected_day", "Sample collection"),
        _text("analyte", "What was measured", _choices(Analyte.values)),
        _text(
            "loinc_code",
            "LOINC code of the analyte",
            f"{LOINC_CRP} CRP | {LOINC_ESR} ESR | {LOINC_INFLIXIMAB} infliximab level | "
            f"{LOINC_NEUTROPHILS} neutrophils | {LOINC_PLATELETS} platelets | {LOINC_ALT} ALT",
            code_system="LOINC",
        ),
        _decimal("value", "Result (antibodies: titre, if reported)", "see unit", 10, 3),
        _text("unit", "Unit of the value (empty: none, e.g. a qualitative result)", _lab_units()),
        _boolean(
            "antibodies_positive", "Anti-infliximab antibody result: positive (antibodies only)"
        ),
        _decimal("reference_low", "Lab's lower reference limit", "see unit", 10, 3),
        _decimal("reference_high", "Lab's upper reference limit", "see unit", 10, 3),
    ),
)

IMAGING_NUMBER = _integer(
    "imaging_number",
    "The patient's imaging study: 1 = the first (by date, counting all of the patient's studies)",
)
ASSESSMENT_NUMBER = _integer(
    "assessment_number",
    "The patient's clinical assessment: 1 = the first (by date, counting all of their assessments)",
)
LESION_COUNTS_FROM = _text(
    "lesion_counts_from",
    "Where the lesion counts come from: sites = derived from this row's lesion_sites rows; "
    "recorded = counts recorded without sites (entered as numbers, or recorded before the "
    "registry had sites: there are no lesion_sites rows for them); empty: no count recorded",
    _choices([*LesionCounts.values, "empty"]),
)

IMAGING = Table(
    "imaging",
    "Imaging studies and their structured findings (report text is never exported).",
    (
        PSEUDONYM,
        IMAGING_NUMBER,
        _day("performed_day", "Study"),
        _text("modality", "Imaging modality", _choices(Modality.values)),
        _integer("active_lesions", "Lesions with active inflammation (oedema)"),
        _integer("new_lesions", "Lesions not seen on the previous study"),
        LESION_COUNTS_FROM,
        _text("impression", "Radiologist's overall impression", _choices(Impression.values)),
        _integer("rinbo_total", "RINBO radiological index total"),
        _integer("rai_cromris_total", "RAI-CROMRIS radiological index total"),
    ),
)

ASSESSMENTS = Table(
    "assessments",
    "Clinical assessments (scores; notes are never exported).",
    (
        PSEUDONYM,
        ASSESSMENT_NUMBER,
        _day("assessed_day", "Assessment"),
        _decimal("pain_score", "Pain", "0–10", 3, 1),
        _decimal("physician_global", "Physician global assessment", "0–10", 3, 1),
        _decimal("patient_global", "Patient/parent global assessment", "0–10", 3, 1),
        _decimal("chaq", "Childhood Health Assessment Questionnaire", "0–3", 4, 3),
        _integer("clinically_active_lesions", "Lesions judged active on examination"),
        LESION_COUNTS_FROM,
        _text("disease_state", "Disease state as judged", _choices(DiseaseState.values)),
    ),
)

REACTIONS = Table(
    "reactions",
    "Infusion reactions (symptoms and management text are never exported).",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        DOSE_NUMBER,
        _day("infusion_given_day", "The infusion the reaction followed"),
        _text("onset", "Acute (≤ 24 h) or delayed (1–14 d)", _choices(ReactionOnset.values)),
        _text("severity", "Severity", _choices(ReactionSeverity.values)),
        _boolean("infusion_stopped", "The infusion was stopped"),
        _text("outcome", "Outcome", _choices(ReactionOutcome.values)),
        _day("reviewed_day", "Clinician's review"),
    ),
)

RELAPSES = Table(
    "relapses",
    "Relapses confirmed by a clinician (the evidence text is never exported).",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        _day("noted_day", "Relapse noted"),
        _integer("retreatment_course_number", "The course started to treat it, if any"),
    ),
)

ALERTS = Table(
    "alerts",
    "Guideline alerts raised by the registry (titles and explanations are never exported).",
    (
        PSEUDONYM,
        COURSE_NUMBER,
        _text("rule", "Guideline rule that raised it (see GUIDELINE.md)", _choices(list(RULES))),
        _text("severity", "Severity", _choices(Severity.values)),
        _text("status", "Status on the export date", _choices(AlertStatus.values)),
        _day("due_day", "When the action was due"),
        _integer(
            "days_open",
            "First raised to resolved (empty while not resolved); when it was raised is not "
            "exported: the nightly run's calendar would date the patient's day 0",
            "days",
        ),
        _text("guideline_version", "Guideline parameters' version when last evaluated"),
    ),
)

MEDICATIONS = Table(
    "medications",
    "Drugs other than infliximab (co-medication): one row per drug at one dose, a dose change "
    "being a new row (the name of an “other” drug is free text and never exported).",
    (
        PSEUDONYM,
        _text(
            "drug",
            "The drug, from the registry's list (other: not on the list)",
            _choices(MedicationDrug.values),
        ),
        _text(
            "atc_code",
            "WHO ATC code of the drug (empty: an other drug); methotrexate as an "
            "immunosuppressant (L04AX03)",
            _choices([f"{code} {drug}" for drug, code in MEDICATION_ATC.items()]),
            code_system="WHO ATC",
        ),
        _text("drug_class", "The drug's class", _choices(DrugClass.values)),
        _decimal("dose", "Dose per administration (empty: not recorded)", "see dose_unit", 8, 3),
        _text("dose_unit", "Unit of the dose", _choices(DoseUnit.values), code_system="UCUM"),
        _text("route", "Route of administration", _choices(Route.values)),
        _text("frequency", "How often it is given", _choices(Frequency.values)),
        _day("started_day", "Started"),
        _day("stopped_day", "Stopped (empty: still taken)"),
        _text("stop_reason", "Why it was stopped", _choices(MedicationStopReason.values)),
    ),
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "Adverse events other than infusion reactions (those are the reactions table): CTCAE v5.0 "
    "term and grade, ICH E2A seriousness, relation to infliximab, action and outcome (the name "
    "given to an “other” event is free text and never exported).",
    (
        PSEUDONYM,
        _integer(
            "course_number",
            "The patient's course the event happened on: 1 = first, … (empty: not during one)",
        ),
        _day("onset_day", "Onset"),
        _text("term", "The event's term, from the registry's list", _choices(list(RECORDED_TERMS))),
        _text(
            "ctcae_term",
            "The term's CTCAE v5.0 term; events CTCAE has no term for as CTCAE codes them, "
            "“<system organ class> - Other, specify: <the registry's name>” (an “other” event: "
            "“… - Other, specify” alone)",
            code_system="CTCAE v5.0",
        ),
        _text(
            "meddra_code",
            "MedDRA lowest level term code of the CTCAE term, where the term list carries one "
            "(empty: an “Other, specify” term, whose MedDRA code is not guessed)",
            code_system="MedDRA (LLT)",
        ),
        Column(
            "grade",
            ColumnType.INTEGER,
            "CTCAE v5.0 grade (the event's severity, not its seriousness)",
            allowed=" | ".join(
                f"{grade.value} {grade.label.split(' — ')[1]}" for grade in AdverseEventGrade
            ),
        ),
        _boolean("serious", "Serious per ICH E2A: it meets at least one criterion below"),
        *(
            _boolean(f"seriousness_{name}", f"ICH E2A seriousness criterion: the event {words}")
            for name, words in SERIOUSNESS_CRITERIA.items()
        ),
        _boolean(
            "special_interest",
            "An adverse event of special interest of TNF inhibitors (derived from the term, and "
            "for infections from their seriousness)",
        ),
        _text(
            "special_interest_kinds",
            "Which events of special interest it is, separated by ; (empty: none)",
            _choices(SpecialInterest.values),
        ),
        _text(
            "relation_to_infliximab",
            "Relation to infliximab as judged",
            _choices(RelationToInfliximab.values),
        ),
        _text("action_taken", "Action taken with infliximab", _choices(ActionTaken.values)),
        _text("outcome", "Outcome", _choices(AdverseEventOutcome.values)),
        _day("resolved_day", "The event ended: recovered, or the date of death (empty: not ended)"),
        _boolean(
            "reviewed",
            "A clinician reviewed it (every serious event and every event of special interest "
            "needs a review; others may have none)",
        ),
        _text(
            "review_decision",
            "The reviewing clinician's decision on infliximab (empty: not reviewed)",
            _choices(AdverseEventDecision.values),
        ),
    ),
)

SCREENING_RESULTS = Table(
    "screening_results",
    "Screening tests before or during treatment (latent TB, hepatitis B and C, HIV, varicella "
    "immunity), one row per test and date.",
    (
        PSEUDONYM,
        _day("tested_day", "Sample taken or X-ray performed"),
        _text("test", "The test", _choices(ScreeningTest.values)),
        _text(
            "loinc_code",
            f"LOINC code of the test; empty: {NO_SINGLE_LOINC} (the test has several LOINC codes "
            "by method or specimen, which the registry does not record, or none: a chest X-ray)",
            _choices([f"{code} {test}" for test, code in SCREENING_LOINC.items()] + ["empty"]),
            code_system="LOINC",
        ),
        _text(
            "result",
            "The result (chest X-ray: positive if it shows signs of TB; hbv_anti_hbs and "
            "varicella_igg: positive means immune)",
            _choices(ScreeningOutcome.values),
        ),
        _boolean(
            "reviewed",
            "A specialist reviewed the result (only a result that is not negative is reviewed, "
            "and never one of the tests of immunity)",
        ),
    ),
)

VACCINATIONS = Table(
    "vaccinations",
    "Vaccines given.",
    (
        PSEUDONYM,
        _day("given_day", "Vaccine given"),
        _text("vaccine", "The vaccine, from the registry's list", _choices(Vaccine.values)),
        _boolean(
            "live",
            "A live attenuated vaccine (contraindicated on infliximab): "
            + ", ".join(sorted(LIVE_VACCINES)),
        ),
    ),
)

CONSENTS = Table(
    "consents",
    "Consent records: the document (and version) signed, who consented, the child's assent, and "
    "each scope given and withdrawn. Every patient here has the scope research exports in force "
    "on the export's consent date (the gate of every export).",
    (
        PSEUDONYM,
        _text(
            "document_code",
            "The consent document (the registry's managed list; "
            "legacy-research-consent: consent recorded before consent versions)",
        ),
        _text("document_version", "The document's version, as printed on the form"),
        _text("consented_by", "Who consented", _choices(ConsentedBy.values)),
        _text("assent", "The child's assent alongside a parent's consent", _choices(Assent.values)),
        _day("given_day", "Consent given"),
        _boolean("care_data_given", "The consent gives the scope registry care data"),
        _day("care_data_withdrawn_day", "Registry care data withdrawn (empty: not withdrawn)"),
        _boolean("research_given", "The consent gives the scope research exports"),
        _day("research_withdrawn_day", "Research exports withdrawn (empty: not withdrawn)"),
        _boolean("contact_given", "The consent gives the scope contact for future studies"),
        _day(
            "contact_withdrawn_day", "Contact for future studies withdrawn (empty: not withdrawn)"
        ),
    ),
)

# A value shared by fewer patients than the small-cell threshold (research.deidentify) is
# exported as "other" when small cells are suppressed (a rare vertebral level: empty).
RARE_AS_OTHER = (
    "; with small cells suppressed, a value fewer than 5 patients of the export share is "
    "exported as other (manifest.json: disclosure_control.rare_values)"
)
NOT_RECORDED = " (empty: not recorded)"

PHENOTYPE = Table(
    "phenotype",
    "The CRMO phenotype: one row per patient whose phenotype is recorded — first symptoms, the "
    "Bristol criteria's and the Jansson score's items with what the registry derives from them, "
    "and the family history as the registry's list codes it.",
    (
        PSEUDONYM,
        _day("first_symptoms_day", "First symptoms (negative: days before day 0)"),
        *(
            _boolean(item.name, f"Bristol criteria item: {item.words}" + NOT_RECORDED)
            for item in BRISTOL_ITEMS
        ),
        _boolean(
            "bristol_met",
            "Bristol criteria met (Roderick et al. 2016), derived from the items: typical clinical "
            "and radiological findings and either more than one bone (or the clavicle alone) with "
            "CRP below 30 mg/L, or a typical biopsy (empty: an unrecorded item could decide it)",
        ),
        *(
            _boolean(
                item.name, f"Jansson score item ({item.points} points): {item.words}" + NOT_RECORDED
            )
            for item in JANSSON_ITEMS
        ),
        Column(
            "jansson_score",
            ColumnType.INTEGER,
            "Jansson clinical score (Jansson et al. 2009), the sum of the items' points (empty: "
            "an item is not recorded; the registry does not classify by it)",
            "points",
            allowed=f"0 … {JANSSON_MAX}",
        ),
        _text(
            "family_history",
            "Family history of autoimmune or inflammatory disease" + NOT_RECORDED,
            _choices(FamilyHistory.values),
        ),
        *(
            _boolean(f"family_{name}", f"A relative has: {words}")
            for name, words in FAMILY_CONDITIONS.items()
        ),
    ),
)

COMORBIDITIES = Table(
    "comorbidities",
    "Conditions from the registry's managed list the patient has, one row per condition (an "
    "other condition is never named).",
    (
        PSEUDONYM,
        _text(
            "condition",
            "The condition, by the registry's code" + RARE_AS_OTHER,
            " | ".join(f"{c.value} {c.label}" for c in ComorbidityCondition),
            code_system="registry comorbidity list",
        ),
        _day("onset_day", "Onset"),
    ),
)

LESION_SITES = Table(
    "lesion_sites",
    "One row per lesion site recorded on an imaging study (with its MRI state and a vertebral "
    "fracture) or at a clinical assessment (a clinically active lesion). A study's or "
    "assessment's counts come from these rows when its lesion_counts_from is sites; counts "
    "recorded without sites have no rows here.",
    (
        PSEUDONYM,
        _text("owner", "Where the site was recorded", "imaging | assessment"),
        _integer("imaging_number", "The imaging row it belongs to (empty: an assessment's site)"),
        _integer("assessment_number", "The assessments row it belongs to (empty: an imaging site)"),
        _day("recorded_day", "The study or the assessment"),
        _text(
            "site",
            "The bone, by the registry's code" + RARE_AS_OTHER,
            _choices(Bone.values),
            code_system="registry lesion site list",
        ),
        _text(
            "snomed_code",
            "SNOMED CT body structure code of the bone, only where the registry checked it against "
            "a published source (empty otherwise: not guessed)",
            _choices(
                [f"{body.code} {bone}" for bone, body in SNOMED_BODY.items()]
                + [f"{body.code} vertebra {region}*" for region, body in SNOMED_VERTEBRA.items()]
                + ["empty"]
            ),
            code_system="SNOMED CT",
        ),
        _text(
            "vertebral_level",
            "A vertebra's level (empty: not a vertebra; with small cells suppressed, also a level "
            "fewer than 5 patients of the export share)",
            f"{VERTEBRAL_LEVELS[0]} … {VERTEBRAL_LEVELS[-1]}",
        ),
        _text("laterality", "Side", _choices(Laterality.values)),
        _boolean("active", "MRI: active inflammation (oedema); a new lesion is active"),
        _boolean("new", "MRI: not seen on the previous study"),
        _boolean("resolved", "MRI: resolved since the previous study"),
        _boolean("vertebral_fracture", "Imaging: a fracture (collapse) of this vertebra"),
    ),
)

TABLES: tuple[Table, ...] = (
    PATIENTS,
    COURSES,
    REGIMEN_CHANGES,
    INFUSIONS,
    LABS,
    IMAGING,
    ASSESSMENTS,
    REACTIONS,
    RELAPSES,
    ALERTS,
    MEDICATIONS,
    ADVERSE_EVENTS,
    SCREENING_RESULTS,
    VACCINATIONS,
    CONSENTS,
    PHENOTYPE,
    COMORBIDITIES,
    LESION_SITES,
)
DICTIONARY_HEADER = ("table", "column", "meaning", "type", "unit", "allowed_values", "code_system")


TABLE_ROW = "(table)"  # a table's own row: what a row is, and what is never exported


def dictionary_rows() -> Iterator[tuple[str, ...]]:
    for table in TABLES:
        yield (table.name, TABLE_ROW, table.description, "", "", "", "")
        for c in table.columns:
            yield (table.name, c.name, c.meaning, c.type.value, c.unit, c.allowed, c.code_system)
    yield ("(every CSV file)", "(text cells)", CSV_TEXT_CELLS, ColumnType.TEXT.value, "", "", "")
