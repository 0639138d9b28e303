"""An alert's evidence (the rows and values its rule used) as a clinic reads it: labelled lines in
words, dates as "04 Nov 2026", values with their units, rows as one sentence each.

The keys are those the rules of `monitoring.guideline.rules` give `_finding(...)`, and the rows are
its `_infusion`, `_lab`, `_mri`, `_assessment`, `_reaction` and `_screening` dicts (JSON: dates as
ISO text, decimals as text). A key this module does not know is still shown: labelled from its
name, its value formatted by its suffix (`_on` a date, `_mg` milligrams, …) or by the shape of its
row.
Record ids are never shown: they mean nothing to a reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from registry.models import (
    ANALYTE_UNITS,
    Analyte,
    DiseaseState,
    Impression,
    Modality,
    ReactionSeverity,
    StopReason,
)
from registry.safety_codes import ScreeningOutcome, ScreeningTest, Vaccine

Line = tuple[str, str | list[str]]
NOT_RECORDED = "none recorded"
# A list this long is cut: the newest rows matter, the count says how many more there are.
LIST_LIMIT = 6


def date_text(value: Any) -> str:
    day = _as_date(value)
    return f"{day:%d %b %Y}" if day else str(value)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _number(value: Any, places: int | None = None) -> str:
    """A decimal as the clinic writes it: no trailing zeros, unless `places` fixes them."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        return f"{number:.{places}f}"
    text = format(number.normalize(), "f")
    return text


def _unit(unit: str, places: int | None = None) -> Callable[[Any], str]:
    return lambda value: f"{_number(value, places)} {unit}"


def days_text(value: Any) -> str:
    return "1 day" if str(value) == "1" else f"{_number(value)} days"


def _weeks(value: Any) -> str:
    return "1 week" if str(value) == "1" else f"{_number(value)} weeks"


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _choice(choices: Any, value: Any) -> str:
    labels = dict(choices.choices)
    return str(labels.get(value, str(value).replace("_", " "))).lower()


# --- Rows ---------------------------------------------------------------------------------------


def infusion_text(row: dict[str, Any]) -> str:
    """ "Infusion of 02 Sep 2026: 200 mg (5.00 mg/kg) at 40 kg"."""
    parts = []
    if row.get("dose_mg") is not None:
        parts.append(f"{_number(row['dose_mg'])} mg")
    if row.get("mg_per_kg") is not None:
        parts.append(f"({_number(row['mg_per_kg'], 2)} mg/kg)")
    if row.get("weight_kg") is not None:
        parts.append(f"at {_number(row['weight_kg'])} kg")
    when = f"Infusion of {date_text(row['given_on'])}" if row.get("given_on") else "Infusion"
    return f"{when}: {' '.join(parts)}" if parts else when


_ANALYTE_NAMES = {
    Analyte.CRP: "CRP",
    Analyte.ESR: "ESR",
    Analyte.INFLIXIMAB_TROUGH: "Infliximab trough",
    Analyte.ANTI_INFLIXIMAB_ANTIBODIES: "Anti-infliximab antibodies",
    Analyte.NEUTROPHILS: "Neutrophil count",
    Analyte.PLATELETS: "Platelet count",
    Analyte.ALT: "ALT",
}


def lab_text(row: dict[str, Any]) -> str:
    """ "CRP, 29 Jul 2026: 1.3 mg/L (upper limit 5)"; antibodies as "detected, titre 48 AU/mL"."""
    analyte = row.get("analyte", "")
    name = _ANALYTE_NAMES.get(analyte) or str(dict(Analyte.choices).get(analyte, "Lab result"))
    when = f"{name}, {date_text(row['collected_on'])}" if row.get("collected_on") else name
    unit = row.get("unit") or ANALYTE_UNITS.get(analyte, "")
    value = row.get("value")
    if analyte == Analyte.ANTI_INFLIXIMAB_ANTIBODIES:
        positive = row.get("antibodies_positive")
        result = (
            "result not stated" if positive is None else "detected" if positive else "not detected"
        )
        if value is not None:
            result += f", titre {_number(value)} {unit}".rstrip()
        if row.get("assay_name"):
            result += f"; assay {row['assay_name']}"
        return f"{when}: {result}"
    result = f"{_number(value)} {unit}".rstrip() if value is not None else "no value"
    if row.get("reference_high") is not None:
        result += f" (upper limit {_number(row['reference_high'])})"
    return f"{when}: {result}"


def _lesions(count: int, kind: str) -> str:
    if count == 0:
        return f"no {kind} lesion"
    return f"{count} {kind} lesion{'' if count == 1 else 's'}"


def imaging_text(row: dict[str, Any]) -> str:
    """ "Whole-body MRI, 18 Nov 2026: 3 active lesions, 3 new lesions, reported worse"."""
    modality = dict(Modality.choices).get(row.get("modality", ""), "Imaging")
    when = f"{modality}, {date_text(row['performed_on'])}" if row.get("performed_on") else modality
    parts = []
    for field, noun in (("active_lesions", "active"), ("new_lesions", "new")):
        count = row.get(field)
        if count is not None:
            parts.append(_lesions(count, noun))
    if row.get("impression"):
        parts.append(f"reported {_choice(Impression, row['impression'])}")
    return f"{when}: {', '.join(parts) or 'no lesion count recorded'}"


_SCORES = (
    ("pain_score", "pain", "/10"),
    ("physician_global", "physician global", "/10"),
    ("patient_global", "patient global", "/10"),
    ("chaq", "CHAQ", ""),
)


def assessment_text(row: dict[str, Any]) -> str:
    """ "Assessment of 18 Nov 2026: judged active; pain 6/10, …; 1 clinically active lesion"."""
    when = (
        f"Assessment of {date_text(row['assessed_on'])}" if row.get("assessed_on") else "Assessment"
    )
    parts = []
    if row.get("disease_state"):
        parts.append(f"judged {_choice(DiseaseState, row['disease_state'])}")
    scores = [
        f"{label} {_number(row[field])}{scale}"
        for field, label, scale in _SCORES
        if row.get(field) is not None
    ]
    if scores:
        parts.append(", ".join(scores))
    lesions = row.get("clinically_active_lesions")
    if lesions is not None:
        parts.append(_lesions(lesions, "clinically active"))
    return f"{when}: {'; '.join(parts)}" if parts else when


def reaction_text(row: dict[str, Any]) -> str:
    """ "Severe acute reaction"."""
    severity = _choice(ReactionSeverity, row.get("severity", "")) if row.get("severity") else ""
    onset = str(row.get("onset", "")).replace("_", " ")
    return " ".join(part for part in (severity, onset, "reaction") if part).capitalize()


def screening_text(row: dict[str, Any]) -> str:
    """ "Hepatitis B core antibody (anti-HBc), 03 Mar 2026: positive; no specialist review"."""
    test = str(dict(ScreeningTest.choices).get(row.get("test", ""), "Screening"))
    when = f"{test}, {date_text(row['tested_on'])}"
    result = _choice(ScreeningOutcome, row.get("result", "")) or "no result"
    reviewed = row.get("reviewed_on")
    review = f"reviewed {date_text(reviewed)}" if reviewed else "no specialist review"
    return f"{when}: {result}; {review}"


# A row is known by the field that dates it (the rules' row dicts carry the model's field names).
_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("given_on", infusion_text),
    ("collected_on", lab_text),
    ("performed_on", imaging_text),
    ("assessed_on", assessment_text),
    ("onset", reaction_text),
    ("tested_on", screening_text),
)


def _row_text(row: dict[str, Any]) -> str:
    for field, describe in _ROWS:
        if field in row:
            return describe(row)
    pairs = [
        f"{_label(key).lower()} {_value(key, value)}"
        for key, value in row.items()
        if not _is_id(key) and value not in (None, "")
    ]
    return ", ".join(pairs) or NOT_RECORDED


def _rows(value: Any) -> list[str]:
    items = [_value("", item) for item in value]
    if len(items) > LIST_LIMIT:
        more = len(items) - LIST_LIMIT
        items = [*items[-LIST_LIMIT:], f"and {more} earlier"]
    return items


# --- Keys ---------------------------------------------------------------------------------------


def _stop_reason(value: Any) -> str:
    return _choice(StopReason, value) if value else "no reason recorded"


def _disease_state(value: Any) -> str:
    if value == "suggests_activity":
        return "scores suggest activity"
    return _choice(DiseaseState, value) if value else "not known"


def _window(value: Any) -> str:
    return " to ".join(date_text(day) for day in value)


def _words(value: Any) -> str:
    return " and ".join(str(item) for item in value) if value else "none"


def _visit(value: Any) -> str:
    return f"day {value} after the stop"


def _moved_by_change(_value: Any) -> str:
    return "yes"


def _vaccination(row: dict[str, Any]) -> str:
    """ "Measles, mumps and rubella (MMR), given 04 Nov 2026"."""
    vaccine = str(dict(Vaccine.choices).get(row.get("vaccine", ""), "Live vaccine"))
    return f"{vaccine}, given {date_text(row.get('given_on'))}"


def _adverse_event(row: dict[str, Any]) -> str:
    """ "Lung infection (pneumonia), serious, from 04 Nov 2026"."""
    serious = ", serious" if row.get("serious") else ""
    return f"{row.get('term', 'adverse event')}{serious}, from {date_text(row.get('onset_on'))}"


def _listed_words(value: Any) -> str:
    return ", ".join(str(item) for item in value) if value else "none"


# key → (label, how its value reads; None: the default by suffix and shape).
_KEYS: dict[str, tuple[str, Callable[[Any], str] | None]] = {
    "day_zero": ("Day 0 (first infusion)", date_text),
    "dose_number": ("Dose number", str),
    "days_late": ("Days late", days_text),  # alerts raised before the texts stopped counting
    "late_from": ("Late from", date_text),
    "overdue_from": ("Overdue from", date_text),
    "infusions": ("Infusions of this course", None),
    "last_infusion": ("Last infusion", None),
    "interval_weeks": ("Interval in force", _weeks),
    "regimen_change_id": ("Due date set by a regimen change", _moved_by_change),
    "infusion": ("Infusion", None),
    "previous_infusion": ("Previous infusion", None),
    "scheduled_on": ("Was due on", date_text),
    "days_early": ("Days early", days_text),
    "last_infusion_before": ("Last infusion of the earlier course", None),
    "days_off_drug": ("Days off infliximab", days_text),
    "before": ("Last infusion before the gap", None),
    "restart": ("Infusion at the restart", None),
    "gap_days": ("Gap without an infusion", days_text),
    "threshold_days": ("Interruption threshold", days_text),
    "missing": ("Missing results", _words),
    "weight_measured_on": ("Weight measured on", date_text),
    "mg_per_kg_in_force": ("Dose in force", _unit("mg/kg")),
    "expected_mg": ("Expected dose", _unit("mg")),
    "off_by_pct": ("Difference from the expected dose", _unit("%")),
    "duration_minutes": ("Infusion time", _unit("min")),
    "uneventful_infusions_before": ("Uneventful infusions before", str),
    "reaction_before": ("A reaction at an earlier infusion", _yes_no),
    "window": ("Response window", _window),
    "last_crp": ("Latest CRP", None),
    "last_esr": ("Latest ESR", None),
    "milestone": ("MRI milestone", str),
    "latest_mri": ("Latest MRI", None),
    "trough": ("Trough", None),
    "target_ug_ml": ("Trough target", _unit("µg/mL")),
    "antibodies_same_draw": ("Antibodies in the same draw", None),
    "disease_state": ("Disease state at the latest assessment", _disease_state),
    "result": ("Result", None),
    "trough_same_draw": ("Trough in the same draw", None),
    "days_on_treatment": ("Days on treatment", days_text),
    "inactive_since": ("Inactive since", date_text),
    "latest_assessment": ("Latest assessment", None),
    "crp": ("Last two CRP", None),
    "esr": ("Last two ESR", None),
    "stopped_on": ("Stopped on", date_text),
    "stop_reason": ("Why it stopped", _stop_reason),
    "mri": ("MRI with new or active lesions, or worse", None),
    "assessments": ("Assessments with active disease", None),
    "suggestive_assessments": ("Assessments whose scores suggest activity", None),
    "raised_markers": ("Raised CRP or ESR", None),
    "visit_day": ("Follow-up visit", _visit),
    "reaction": ("Reaction", None),
    "reaction_infusion": ("Infusion it followed", None),
    "given_without_premedication": ("Given since without premedication", None),
    "given_since": ("Infusions given since", None),
    "methotrexate_since": ("On methotrexate since", date_text),
    "last_neutrophils": ("Latest neutrophil count", None),
    "last_platelets": ("Latest platelet count", None),
    "last_alt": ("Latest ALT", None),
    "monitoring_interval_days": ("Blood count and ALT due every", days_text),
    "course_started_on": ("Course started on", date_text),
    "counts_from": ("A screen counts if taken from", date_text),
    "screening_window_days": ("Screening window before the start", days_text),
    "infusions_given": ("Infusions of this course given", str),
    "retrospective": ("Retrospective (first infusion long ago)", _yes_no),
    "screening": ("Screening result", None),
    "vaccination": ("Live vaccine", _vaccination),
    "infused_within": ("Infusions within the interval after it", None),
    "next_due_on": ("Next infusion due", date_text),
    "earliest_infusion_on": ("Earliest date for the next infusion", date_text),
    "live_vaccine_interval_days": ("No infusion within", days_text),
    "adverse_event": ("Adverse event", _adverse_event),
    "special_interest": ("Of special interest", _listed_words),
    "age_of_majority_years": ("Age of majority", None),
    "consents_in_force": ("Consent in force", None),
}
# Shown with the alert itself, in words that fit its rule (see clinic.alert_timing).
_SHOWN_WITH_THE_ALERT = frozenset({"due_on"})
# Said only when there is something to say: no regimen change moved the due date; a relapse's
# kinds of evidence are alternatives, and the ones it did not find are noise.
_OMITTED_WHEN_EMPTY = frozenset(
    {
        "regimen_change_id",
        "mri",
        "assessments",
        "suggestive_assessments",
        "raised_markers",
        "infused_within",
        "next_due_on",
        "earliest_infusion_on",
        "special_interest",
    }
)
_ORDER = {key: position for position, key in enumerate(_KEYS)}

# A key's suffix says its unit when the key is not one of the above.
_SUFFIXES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("_on", date_text),
    ("_mg_per_kg", _unit("mg/kg")),
    ("_ug_ml", _unit("µg/mL")),
    ("_mg_l", _unit("mg/L")),
    ("_mm_h", _unit("mm/h")),
    ("_mg", _unit("mg")),
    ("_kg", _unit("kg")),
    ("_days", days_text),
    ("_weeks", _weeks),
    ("_minutes", _unit("min")),
    ("_pct", _unit("%")),
)


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith("_id")


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _value(key: str, value: Any) -> str:
    """One value by its shape, then by its key's suffix."""
    if value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, dict):
        return _row_text(value)
    if isinstance(value, (list, tuple)):
        return "; ".join(_rows(value)) or "none"
    for suffix, describe in _SUFFIXES:
        if key.endswith(suffix):
            return describe(value)
    if _as_date(value):
        return date_text(value)
    return str(value).replace("_", " ") if isinstance(value, str) else _number(value)


def evidence_lines(evidence: dict[str, Any]) -> list[Line]:
    """(label, value) lines; a value is a text, or a list of texts for a list of rows."""
    lines: list[Line] = []
    # In the order above (rows before the figures drawn from them); unknown keys last.
    for key, value in sorted(evidence.items(), key=lambda item: _ORDER.get(item[0], len(_ORDER))):
        if key in _SHOWN_WITH_THE_ALERT or (_is_id(key) and key not in _KEYS):
            continue
        if value in (None, [], ()) and key in _OMITTED_WHEN_EMPTY:
            continue
        label, describe = _KEYS.get(key, (_label(key), None))
        text: str | list[str]
        if value is None:
            text = NOT_RECORDED
        elif describe is not None:
            text = describe(value)
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
            text = _rows(value)
        else:
            text = _value(key, value)
        lines.append((label, text))
    return lines
