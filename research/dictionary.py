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

import pyarrow as pa  # type: ignore[import-untyped]

from monitoring.guideline import RULES
from monitoring.models import AlertStatus, Severity
from registry.models import (
    ANALYTE_LAB_UNITS,
    NO_UNIT,
    Analyte,
    Assent,
    ConsentedBy,
    DiseaseState,
    Impression,
    Modality,
    ReactionOnset,
    ReactionOutcome,
    ReactionSeverity,
    RegimenReason,
    Sex,
    StopReason,
)

ORPHA_CRMO = "ORPHA:324964"
LOINC_CRP, LOINC_ESR, LOINC_INFLIXIMAB, LOINC_WEIGHT = "1988-5", "4537-7", "39803-2", "29463-7"
LOINC_NEUTROPHILS, LOINC_PLATELETS, LOINC_ALT = "751-8", "777-3", "1742-6"
AGE_CAP = "90+"  # HIPAA Safe Harbor: ages over 89 are one category
PEDCNO_LEVELS = ("PedCNO70", "PedCNO50", "PedCNO30", "none")
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

    def arrow_type(self) -> pa.DataType:
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

    def arrow_schema(self) -> pa.Schema:
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

COURSES = Table(
    "courses",
    "One row per infliximab course, with outcome measures computed by the registry.",
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
    "One row per infliximab infusion given.",
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

IMAGING = Table(
    "imaging",
    "Imaging studies and their structured findings (report text is never exported).",
    (
        PSEUDONYM,
        _day("performed_day", "Study"),
        _text("modality", "Imaging modality", _choices(Modality.values)),
        _integer("active_lesions", "Lesions with active inflammation (oedema)"),
        _integer("new_lesions", "Lesions not seen on the previous study"),
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
        _day("assessed_day", "Assessment"),
        _decimal("pain_score", "Pain", "0–10", 3, 1),
        _decimal("physician_global", "Physician global assessment", "0–10", 3, 1),
        _decimal("patient_global", "Patient/parent global assessment", "0–10", 3, 1),
        _decimal("chaq", "Childhood Health Assessment Questionnaire", "0–3", 4, 3),
        _integer("clinically_active_lesions", "Lesions judged active on examination"),
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
    CONSENTS,
)
DICTIONARY_HEADER = ("table", "column", "meaning", "type", "unit", "allowed_values", "code_system")


def dictionary_rows() -> Iterator[tuple[str, ...]]:
    for table in TABLES:
        for c in table.columns:
            yield (table.name, c.name, c.meaning, c.type.value, c.unit, c.allowed, c.code_system)
    yield ("(every CSV file)", "(text cells)", CSV_TEXT_CELLS, ColumnType.TEXT.value, "", "", "")
