"""FHIR R4 bulk NDJSON of an export, built from the same de-identified rows as the tables.

Working from the tables (never from the database) means FHIR cannot carry anything the tables do
not. FHIR needs calendar dates, so each patient's day offsets are rendered as dates with that
patient's day 0 on DAY_ZERO (1 January 2000): a per-patient shift, the same for all of the
patient's resources, which keeps every interval and reveals no real date.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from registry.models import INFLIXIMAB_ATC, INFLIXIMAB_RXNORM, ROUTE_SNOMED
from registry.phenotype_codes import SNOMED_DISPLAY, ComorbidityCondition, site_words
from registry.safety_codes import VACCINE_CVX, ScreeningTest
from research.archive import Archive, HashingWriter
from research.dictionary import (
    ADVERSE_EVENTS,
    ALERTS,
    ASSESSMENTS,
    COMORBIDITIES,
    CONSENTS,
    COURSES,
    IMAGING,
    INFUSIONS,
    LABS,
    LESION_SITES,
    LOINC_WEIGHT,
    MEDICATIONS,
    ORPHA_CRMO,
    PATIENTS,
    PHENOTYPE,
    REACTIONS,
    SCREENING_RESULTS,
    VACCINATIONS,
    Table,
)

DAY_ZERO = dt.date(2000, 1, 1)
BASE = "https://crmo-registry.example.org/fhir"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
# The substance (RxNorm's ingredient concept, WHO ATC), and an infusion or a course without a
# recorded product.
INFLIXIMAB = {
    "coding": [
        {"system": RXNORM, "code": INFLIXIMAB_RXNORM},
        {"system": ATC, "code": INFLIXIMAB_ATC},
    ],
    "text": "infliximab",
}
CRMO = {
    "coding": [{"system": "http://www.orpha.net", "code": ORPHA_CRMO.removeprefix("ORPHA:")}],
    "text": "Chronic recurrent multifocal osteomyelitis (CRMO/CNO)",
}
# The CRMO/CNO Condition: Orphanet, and ICD-10 M86.3 (chronic multifocal osteomyelitis), the one
# code that is certain (SNOMED CT's concepts for CRMO are not coded: none was checked).
CRMO_CONDITION = {
    "coding": [
        *CRMO["coding"],
        {"system": ICD10, "code": "M86.3", "display": "Chronic multifocal osteomyelitis"},
    ],
    "text": CRMO["text"],
}
CONDITION_CONFIRMED = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "confirmed",
        }
    ]
}
PSEUDONYMISED = {
    "security": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED"}
    ]
}
LAB_CODES: dict[str, dict[str, str]] = {
    "crp": {"system": LOINC, "code": "1988-5", "display": "C reactive protein"},
    "esr": {"system": LOINC, "code": "4537-7", "display": "Erythrocyte sedimentation rate"},
    "ifx_trough": {"system": LOINC, "code": "39803-2", "display": "Infliximab"},
    "neutrophils": {
        "system": LOINC,
        "code": "751-8",
        "display": "Neutrophils [#/volume] in Blood by Automated count",
    },
    "platelets": {
        "system": LOINC,
        "code": "777-3",
        "display": "Platelets [#/volume] in Blood by Automated count",
    },
    "alt": {
        "system": LOINC,
        "code": "1742-6",
        "display": "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    },
    "anti_ifx": {"system": f"{BASE}/CodeSystem/analyte", "code": "anti_ifx"},
    "other": {"system": f"{BASE}/CodeSystem/analyte", "code": "other"},
}
# Every managed lab unit (registry.models.LabUnit) and the body's: its UCUM code.
UCUM_UNITS = {
    "mg/L": "mg/L",
    "mg/dL": "mg/dL",
    "g/L": "g/L",
    "g/dL": "g/dL",
    "µg/mL": "ug/mL",
    "µg/L": "ug/L",
    "ng/mL": "ng/mL",
    "mmol/L": "mmol/L",
    "µmol/L": "umol/L",
    "nmol/L": "nmol/L",
    "pmol/L": "pmol/L",
    "U/L": "U/L",
    "IU/L": "[IU]/L",
    "mU/L": "mU/L",
    "U/mL": "U/mL",
    "IU/mL": "[IU]/mL",
    "AU/mL": "[arb'U]/mL",
    "×10⁹/L": "10*9/L",
    "×10¹²/L": "10*12/L",
    "%": "%",
    "mm/h": "mm/h",
    "mg/mmol": "mg/mmol",
    "µg/g": "ug/g",
    "fL": "fL",
    "pg": "pg",
    "s": "s",
    "mL/min/1.73m²": "mL/min/{1.73_m2}",
    "ratio": "{ratio}",
    "titre": "{titer}",
    "kg": "kg",
    "mg": "mg",
}
DICOM_MODALITY = {"wb_mri": "MR", "mri": "MR", "xray": "DX", "bone_scan": "NM", "ct": "CT"}
DETECTED_ISSUE_SEVERITY = {"urgent": "high", "warning": "moderate", "info": "low"}
ADVERSE_EVENT_OUTCOME = {
    "resolved": "resolved",
    "sequelae": "resolvedWithSequelae",
    "ongoing": "ongoing",
    "unknown": "unknown",
}

# The registry's outcomes of an adverse event in FHIR R4's adverse-event-outcome codes.
EVENT_OUTCOME = {
    "recovered": "resolved",
    "recovering": "recovering",
    "not_recovered": "ongoing",
    "recovered_with_sequelae": "resolvedWithSequelae",
    "fatal": "fatal",
    "unknown": "unknown",
}
# A CTCAE grade as FHIR R4's adverse-event-severity (mild | moderate | severe); the grade itself
# is an extension.
GRADE_SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
SCREENING_INTERPRETATION = {"positive": "POS", "negative": "NEG", "indeterminate": "IND"}
# FHIR Timing of each medication frequency (as_needed: asNeededBoolean, no timing).
FREQUENCY_TIMING: dict[str, dict[str, Any]] = {
    "once_daily": {"frequency": 1, "period": 1, "periodUnit": "d"},
    "twice_daily": {"frequency": 2, "period": 1, "periodUnit": "d"},
    "three_times_daily": {"frequency": 3, "period": 1, "periodUnit": "d"},
    "weekly": {"frequency": 1, "period": 1, "periodUnit": "wk"},
    "every_2_weeks": {"frequency": 1, "period": 2, "periodUnit": "wk"},
    "every_4_weeks": {"frequency": 1, "period": 4, "periodUnit": "wk"},
    "every_3_months": {"frequency": 1, "period": 3, "periodUnit": "mo"},
    "every_6_months": {"frequency": 1, "period": 6, "periodUnit": "mo"},
    "once": {"count": 1},
}

# Bytes gathered before they go to a zip entry: a deflate and checksum call per line (or per row
# of a COPY, which sends a message per row) costs more than the line.
WRITE_BUFFER_BYTES = 1 << 20

Rows = Callable[[Table], Iterator[tuple[Any, ...]]]
Resource = dict[str, Any]


@functools.cache  # a few thousand distinct days, each rendered once
def _date(day: int | None) -> str | None:
    return None if day is None else (DAY_ZERO + dt.timedelta(days=day)).isoformat()


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": _number(value)}
    if unit:  # a result without a unit (e.g. a ratio) has none, not an empty one
        quantity["unit"] = unit
    if unit in UCUM_UNITS:
        quantity |= {"system": UCUM, "code": UCUM_UNITS[unit]}
    return quantity


def _patient(pseudonym: str) -> dict[str, str]:
    return {"reference": f"Patient/{pseudonym}"}


def _course_id(row: dict[str, Any]) -> str:
    return f"{row['patient_pseudonym']}-c{row['course_number']}"


def _extension(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"url": f"{BASE}/StructureDefinition/{name}", f"value{kind}": value}


def _registry_code(system: str, code: str) -> dict[str, str]:
    """A code of one of the registry's own lists (its code system under BASE)."""
    return {"system": f"{BASE}/CodeSystem/{system}", "code": code}


def _without_empty(resource: Resource) -> Resource:
    return {key: value for key, value in resource.items() if value not in (None, [], {})}


def _medication_id(product_code: str) -> str:
    return f"product-{product_code}"


def _medication(row: dict[str, Any]) -> dict[str, Any]:
    """A course's or an infusion's medication[x]: its product's Medication, else infliximab."""
    if row["product_code"] is None:
        return {"medicationCodeableConcept": INFLIXIMAB}
    return {
        "medicationReference": {"reference": f"Medication/{_medication_id(row['product_code'])}"}
    }


def medication(row: dict[str, Any]) -> Resource:
    """The infliximab product of a course or an infusion row: its codes as the product list has
    them (no brand name or manufacturer: text typed into the list)."""
    coding = [
        _registry_code("infliximab-product", row["product_code"]),
        {"system": ATC, "code": row["product_atc_code"]},
    ]
    if row["product_rxnorm_cui"]:
        coding.append({"system": RXNORM, "code": row["product_rxnorm_cui"]})
    identifier = (
        [{"system": f"{BASE}/sid/ema-product-number", "value": number}]
        if (number := row["product_ema_number"])
        else []
    )
    return _without_empty(
        {
            "resourceType": "Medication",
            "id": _medication_id(row["product_code"]),
            "identifier": identifier,
            "code": {"coding": coding},
            "extension": [_extension("biosimilar", "Boolean", row["product_biosimilar"])],
            "ingredient": [{"itemCodeableConcept": INFLIXIMAB, "isActive": True}],
        }
    )


def patient(row: dict[str, Any], _n: int) -> Resource:
    """A value suppressed in the patients table (a small cell) is left out here too."""
    extensions = (
        ("age-at-first-course", row["age_at_first_course_years"]),
        ("treating-site", row["site_code"]),
    )
    return _without_empty(
        {
            "resourceType": "Patient",
            "id": row["patient_pseudonym"],
            "meta": PSEUDONYMISED,
            "gender": row["sex"],
            "extension": [
                _extension(name, "String", value) for name, value in extensions if value is not None
            ],
        }
    )


def medication_request(row: dict[str, Any], _n: int) -> Resource:
    return _without_empty(
        {
            "resourceType": "MedicationRequest",
            "id": _course_id(row),
            "status": "active" if row["stopped_day"] is None else "stopped",
            "statusReason": (
                {"coding": [{"system": f"{BASE}/CodeSystem/stop-reason", "code": reason}]}
                if (reason := row["stop_reason"])
                else None
            ),
            "intent": "order",
            **_medication(row),
            "subject": _patient(row["patient_pseudonym"]),
            "authoredOn": _date(row["started_day"]),
            "reasonCode": [CRMO],
            "dosageInstruction": [
                {
                    "timing": {
                        "repeat": {
                            "period": row["maintenance_interval_weeks"],
                            "periodUnit": "wk",
                        }
                    },
                    "doseAndRate": [
                        {"doseQuantity": _quantity(row["planned_dose_mg_per_kg"], "mg/kg")}
                    ],
                }
            ],
        }
    )


def _administration_id(row: dict[str, Any]) -> str:
    return f"{_course_id(row)}-d{row['dose_number']}"


def medication_administration(row: dict[str, Any], _n: int) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": _administration_id(row),
        "status": "completed",
        **_medication(row),
        "subject": _patient(row["patient_pseudonym"]),
        "effectiveDateTime": _date(row["given_day"]),
        "request": {"reference": f"MedicationRequest/{_course_id(row)}"},
        "dosage": {"dose": _quantity(row["dose_mg"], "mg")},
    }


def weight_observation(row: dict[str, Any], n: int) -> Resource:
    return {
        "resourceType": "Observation",
        "id": f"weight-{n}",
        "status": "final",
        "category": [_category("vital-signs")],
        "code": {"coding": [{"system": LOINC, "code": LOINC_WEIGHT, "display": "Body weight"}]},
        "subject": _patient(row["patient_pseudonym"]),
        "effectiveDateTime": _date(row["weight_measured_day"]),
        "valueQuantity": _quantity(row["weight_kg"], "kg"),
    }


def _category(code: str) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return {"coding": [{"system": system, "code": code}]}


def lab_observation(row: dict[str, Any], n: int) -> Resource:
    unit = row["unit"] or ""
    value: dict[str, Any] = {}
    if row["antibodies_positive"] is not None:
        value = {"valueBoolean": row["antibodies_positive"]}
    elif row["value"] is not None:
        value = {"valueQuantity": _quantity(row["value"], unit)}
    reference = _without_empty(
        {
            "low": _quantity(row["reference_low"], unit) if row["reference_low"] else None,
            "high": _quantity(row["reference_high"], unit) if row["reference_high"] else None,
        }
    )
    return _without_empty(
        {
            "resourceType": "Observation",
            "id": f"lab-{n}",
            "status": "final",
            "category": [_category("laboratory")],
            "code": {"coding": [LAB_CODES[row["analyte"]]]},
            "subject": _patient(row["patient_pseudonym"]),
            "effectiveDateTime": _date(row["collected_day"]),
            **value,
            "referenceRange": [reference] if reference else None,
        }
    )


def imaging_study(row: dict[str, Any], n: int) -> Resource:
    findings = [
        _extension(name.replace("_", "-"), "Integer", row[name])
        for name in ("active_lesions", "new_lesions", "rinbo_total", "rai_cromris_total")
        if row[name] is not None
    ]
    if row["impression"]:
        findings.append(_extension("impression", "Code", row["impression"]))
    return _without_empty(
        {
            "resourceType": "ImagingStudy",
            "id": f"imaging-{n}",
            "status": "available",
            "subject": _patient(row["patient_pseudonym"]),
            "started": _date(row["performed_day"]),
            "modality": [
                {
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": DICOM_MODALITY[row["modality"]],
                }
            ],
            "extension": [_extension("modality", "Code", row["modality"]), *findings],
        }
    )


def adverse_event(row: dict[str, Any], n: int) -> Resource:
    system = "http://terminology.hl7.org/CodeSystem"
    return {
        "resourceType": "AdverseEvent",
        "id": f"reaction-{n}",
        "actuality": "actual",
        "event": {
            "coding": [{"system": f"{BASE}/CodeSystem/reaction-onset", "code": row["onset"]}],
            "text": "Infliximab infusion reaction",
        },
        "subject": _patient(row["patient_pseudonym"]),
        "date": _date(row["infusion_given_day"]),
        "severity": {
            "coding": [{"system": f"{system}/adverse-event-severity", "code": row["severity"]}]
        },
        "outcome": {
            "coding": [
                {
                    "system": f"{system}/adverse-event-outcome",
                    "code": ADVERSE_EVENT_OUTCOME[row["outcome"]],
                }
            ]
        },
        "suspectEntity": [
            {"instance": {"reference": f"MedicationAdministration/{_administration_id(row)}"}}
        ],
    }


def medication_statement(row: dict[str, Any], n: int) -> Resource:
    """A co-medication: its drug (ATC where the list has one; an "other" drug by the registry's
    code only, its name never), the period taken and the dosage (route as SNOMED CT)."""
    coding = [_registry_code("medication-drug", row["drug"])]
    if row["atc_code"]:
        coding.append({"system": ATC, "code": row["atc_code"]})
    dosage: dict[str, Any] = {
        "route": {
            "coding": [
                {"system": SNOMED, "code": ROUTE_SNOMED[row["route"]]},
                _registry_code("route", row["route"]),
            ]
        },
        "timing": {
            "code": {"coding": [_registry_code("medication-frequency", row["frequency"])]},
            **(
                {"repeat": FREQUENCY_TIMING[row["frequency"]]}
                if row["frequency"] in FREQUENCY_TIMING
                else {}
            ),
        },
    }
    if row["frequency"] == "as_needed":
        dosage["asNeededBoolean"] = True
    if row["dose"] is not None:
        dosage["doseAndRate"] = [{"doseQuantity": _ucum(row["dose"], row["dose_unit"])}]
    stopped = row["stopped_day"] is not None
    return _without_empty(
        {
            "resourceType": "MedicationStatement",
            "id": f"medication-{n}",
            "status": ("completed" if row["stop_reason"] == "completed" else "stopped")
            if stopped
            else "active",
            "statusReason": (
                [{"coding": [_registry_code("medication-stop-reason", row["stop_reason"])]}]
                if stopped
                else None
            ),
            "category": {
                "coding": [_registry_code("drug-class", row["drug_class"])],
            },
            "medicationCodeableConcept": {"coding": coding},
            "subject": _patient(row["patient_pseudonym"]),
            "effectivePeriod": _without_empty(
                {"start": _date(row["started_day"]), "end": _date(row["stopped_day"])}
            ),
            "dosage": [dosage],
        }
    )


def _ucum(value: Decimal, code: str) -> dict[str, Any]:
    """A quantity whose unit is stored as its UCUM code (a medication's dose)."""
    return {"value": _number(value), "unit": code, "system": UCUM, "code": code}


def recorded_adverse_event(row: dict[str, Any], n: int) -> Resource:
    """An adverse event besides an infusion reaction: its CTCAE term (MedDRA where the term list
    carries the code), ICH E2A seriousness and the criteria met, grade, outcome, the suspected
    course, the review."""
    event = [_registry_code("adverse-event-term", row["term"])]
    if row["meddra_code"]:
        event.insert(0, {"system": MEDDRA, "code": row["meddra_code"]})
    criteria = [
        _extension("seriousness-criterion", "Code", column.removeprefix("seriousness_"))
        for column in row
        if column.startswith("seriousness_") and row[column]
    ]
    kinds = (row["special_interest_kinds"] or "").split(";")
    extensions = [
        _extension("ctcae-grade", "Integer", row["grade"]),
        *criteria,
        *(_extension("special-interest", "Code", kind) for kind in kinds if kind),
        _extension("action-taken", "Code", row["action_taken"]),
        _extension("reviewed", "Boolean", row["reviewed"]),
    ]
    if row["resolved_day"] is not None:
        extensions.append(_extension("resolved-date", "Date", _date(row["resolved_day"])))
    if row["review_decision"]:
        extensions.append(_extension("review-decision", "Code", row["review_decision"]))
    suspect: dict[str, Any] = {
        "instance": (
            {"reference": f"MedicationRequest/{_course_id(row)}"}
            if row["course_number"] is not None
            else {"display": "infliximab"}
        ),
        "causality": [
            {
                "assessment": {
                    "coding": [
                        _registry_code("relation-to-infliximab", row["relation_to_infliximab"])
                    ]
                }
            }
        ],
    }
    serious = "serious" if row["serious"] else "non-serious"
    return {
        "resourceType": "AdverseEvent",
        "id": f"adverse-event-{n}",
        "actuality": "actual",
        "event": {"coding": event, "text": row["ctcae_term"]},
        "subject": _patient(row["patient_pseudonym"]),
        "date": _date(row["onset_day"]),
        "seriousness": {
            "coding": [{"system": f"{TERMINOLOGY}/adverse-event-seriousness", "code": serious}]
        },
        "severity": {
            "coding": [
                {
                    "system": f"{TERMINOLOGY}/adverse-event-severity",
                    "code": GRADE_SEVERITY[row["grade"]],
                }
            ]
        },
        "outcome": {
            "coding": [
                {
                    "system": f"{TERMINOLOGY}/adverse-event-outcome",
                    "code": EVENT_OUTCOME[row["outcome"]],
                }
            ]
        },
        "suspectEntity": [suspect],
        "extension": extensions,
    }


def screening_observation(row: dict[str, Any], n: int) -> Resource:
    code = [_registry_code("screening-test", row["test"])]
    if row["loinc_code"]:
        code.insert(0, {"system": LOINC, "code": row["loinc_code"]})
    imaging = row["test"] == ScreeningTest.TB_CHEST_XRAY
    return {
        "resourceType": "Observation",
        "id": f"screening-{n}",
        "status": "final",
        "category": [_category("imaging" if imaging else "laboratory")],
        "code": {"coding": code},
        "subject": _patient(row["patient_pseudonym"]),
        "effectiveDateTime": _date(row["tested_day"]),
        "valueCodeableConcept": {"coding": [_registry_code("screening-result", row["result"])]},
        "interpretation": [
            {
                "coding": [
                    {
                        "system": f"{TERMINOLOGY}/v3-ObservationInterpretation",
                        "code": SCREENING_INTERPRETATION[row["result"]],
                    }
                ]
            }
        ],
        "extension": [_extension("specialist-reviewed", "Boolean", row["reviewed"])],
    }


def immunization(row: dict[str, Any], n: int) -> Resource:
    """A vaccination: the registry's vaccine code, and CVX where one code is certain."""
    coding = [_registry_code("vaccine", row["vaccine"])]
    if cvx := VACCINE_CVX.get(row["vaccine"]):
        coding.append({"system": CVX, "code": cvx})
    return {
        "resourceType": "Immunization",
        "id": f"vaccination-{n}",
        "status": "completed",
        "vaccineCode": {"coding": coding},
        "patient": _patient(row["patient_pseudonym"]),
        "occurrenceDateTime": _date(row["given_day"]),
        "extension": [_extension("live-vaccine", "Boolean", row["live"])],
    }


def detected_issue(row: dict[str, Any], n: int) -> Resource:
    return _without_empty(
        {
            "resourceType": "DetectedIssue",
            "id": f"alert-{n}",
            "status": "final",
            "code": {
                "coding": [{"system": f"{BASE}/CodeSystem/guideline-rule", "code": row["rule"]}]
            },
            "severity": DETECTED_ISSUE_SEVERITY[row["severity"]],
            "patient": _patient(row["patient_pseudonym"]),
            # No identified[x]: the nightly run's calendar would date the patient's day 0.
            "implicated": [{"reference": f"MedicationRequest/{_course_id(row)}"}],
            "extension": [
                _extension("alert-status", "Code", row["status"]),
                *(
                    [_extension("due-date", "Date", _date(row["due_day"]))]
                    if row["due_day"] is not None
                    else []
                ),
                *(
                    [_extension("days-open", "Integer", row["days_open"])]
                    if row["days_open"] is not None
                    else []
                ),
            ],
        }
    )


# Consent (FHIR R4): the scope is the consent's purpose, in HL7's consentscope code system: research
# for a consent whose scopes include research exports, patient-privacy (consent to collect and
# share data) otherwise. Category: LOINC 59284-0, "Consent Document" (LOINC's display; it is in
# FHIR R4's consent-category value set). Each scope given is a nested provision (permit), with
# the registry's code, and a period that ends on the day it was withdrawn, if it was.
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = {"coding": [{"system": LOINC, "code": "59284-0", "display": "Consent Document"}]}
CONSENT_SCOPES = ("care_data", "research", "contact")


def _consent_provision(row: dict[str, Any], scope: str) -> Resource | None:
    if not row[f"{scope}_given"]:
        return None
    period = _without_empty(
        {"start": _date(row["given_day"]), "end": _date(row[f"{scope}_withdrawn_day"])}
    )
    return {
        "type": "permit",
        "period": period,
        "purpose": [{"system": f"{BASE}/CodeSystem/consent-scope", "code": scope}],
    }


def consent(row: dict[str, Any], n: int) -> Resource:
    """Active while any scope it gave is not withdrawn (as of the export's consent date)."""
    provisions = [p for scope in CONSENT_SCOPES if (p := _consent_provision(row, scope))]
    in_force = any(
        row[f"{scope}_given"] and row[f"{scope}_withdrawn_day"] is None for scope in CONSENT_SCOPES
    )
    purpose = "research" if row["research_given"] else "patient-privacy"
    document = f"{row['document_code']} v{row['document_version']}"
    return {
        "resourceType": "Consent",
        "id": f"consent-{n}",
        "status": "active" if in_force else "inactive",
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": purpose}]},
        "category": [CONSENT_CATEGORY],
        "patient": _patient(row["patient_pseudonym"]),
        "dateTime": _date(row["given_day"]),
        "policyRule": {
            "coding": [{"system": f"{BASE}/CodeSystem/consent-document", "code": document}]
        },
        "extension": [
            _extension("consented-by", "Code", row["consented_by"]),
            _extension("assent", "Code", row["assent"]),
        ],
        "provision": {"type": "deny", "provision": provisions},
    }


def _body_site(site: dict[str, Any]) -> dict[str, Any]:
    """A lesion site as a Condition's bodySite: the registry's bone code, SNOMED CT where the code
    list carries one, and the level and side as the concept's extensions."""
    coding = [_registry_code("lesion-site", site["site"])]
    if site["snomed_code"]:
        code = site["snomed_code"]
        coding.append({"system": SNOMED, "code": code, "display": SNOMED_DISPLAY[code]})
    extensions = [_extension("laterality", "Code", site["laterality"])]
    if site["vertebral_level"]:
        extensions.append(_extension("vertebral-level", "Code", site["vertebral_level"]))
    return {
        "coding": coding,
        "text": site_words(site["site"], site["vertebral_level"] or "", site["laterality"]),
        "extension": extensions,
    }


def _latest_with_counts(
    rows: Iterator[tuple[Any, ...]], table: Table, *, mri: bool
) -> dict[str, tuple[int, bool]]:
    """Pseudonym → the number of their latest study (an MRI) or assessment with counts, and
    whether those counts come from sites."""
    latest: dict[str, tuple[int, bool]] = {}
    number = "imaging_number" if table is IMAGING else "assessment_number"
    for row in rows:
        values = dict(zip(table.header, row, strict=True))
        if values["lesion_counts_from"] is None:
            continue
        if mri and DICOM_MODALITY[values["modality"]] != "MR":
            continue
        pseudonym = values["patient_pseudonym"]
        if pseudonym not in latest or values[number] > latest[pseudonym][0]:
            latest[pseudonym] = (values[number], values["lesion_counts_from"] == "sites")
    return latest


def crmo_conditions(rows_of: Rows, patients: list[str]) -> Iterator[Resource]:
    """One CRMO/CNO Condition per patient: onset at the first symptoms (the phenotype's), and a
    bodySite per site active now — the active sites of the latest MRI with counts, and the sites
    of the latest assessment with counts, as the patient page shows them (none where those counts
    were recorded without sites). `patients`: the pseudonyms the Patient file wrote (the patients
    table is read once: it counts the small cells). Memory: a few values per patient."""
    onset: dict[str, int | None] = {}
    bristol: dict[str, bool | None] = {}
    for row in rows_of(PHENOTYPE):
        values = dict(zip(PHENOTYPE.header, row, strict=True))
        onset[values["patient_pseudonym"]] = values["first_symptoms_day"]
        bristol[values["patient_pseudonym"]] = values["bristol_met"]
    latest = {
        "imaging": _latest_with_counts(rows_of(IMAGING), IMAGING, mri=True),
        "assessment": _latest_with_counts(rows_of(ASSESSMENTS), ASSESSMENTS, mri=False),
    }
    sites: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
    for row in rows_of(LESION_SITES):
        site = dict(zip(LESION_SITES.header, row, strict=True))
        owner, pseudonym = site["owner"], site["patient_pseudonym"]
        number = site[f"{owner}_number"]
        if latest[owner].get(pseudonym, (None, False)) != (number, True):
            continue
        if owner == "imaging" and not site["active"]:
            continue
        key = (site["site"], site["vertebral_level"] or "", site["laterality"])
        sites.setdefault(pseudonym, {}).setdefault(key, site)
    for pseudonym in patients:
        met = bristol.get(pseudonym)
        yield _without_empty(
            {
                "resourceType": "Condition",
                "id": f"crmo-{pseudonym}",
                "verificationStatus": CONDITION_CONFIRMED,
                "code": CRMO_CONDITION,
                "subject": _patient(pseudonym),
                "onsetDateTime": _date(onset.get(pseudonym)),
                "bodySite": [
                    _body_site(site) for _, site in sorted(sites.get(pseudonym, {}).items())
                ],
                "extension": (
                    [_extension("bristol-criteria-met", "Boolean", met)] if met is not None else []
                ),
            }
        )


def comorbidity_condition(row: dict[str, Any], n: int) -> Resource:
    """A comorbidity by the registry's code (no ICD-10 or SNOMED CT code was checked for them)."""
    condition = row["condition"]
    return _without_empty(
        {
            "resourceType": "Condition",
            "id": f"comorbidity-{n}",
            "verificationStatus": CONDITION_CONFIRMED,
            "code": {
                "coding": [_registry_code("comorbidity", condition)],
                "text": ComorbidityCondition(condition).label,
            },
            "subject": _patient(row["patient_pseudonym"]),
            "onsetDateTime": _date(row["onset_day"]),
        }
    )


@dataclass(frozen=True)
class ResourceFile:
    resource_type: str
    sources: tuple[tuple[Table, Callable[[dict[str, Any], int], Resource]], ...]
    # The Medication file: one resource per product the files before it referenced, gathered
    # while they were written (the tables hold products only as an infusion's or a course's).
    products_referenced: bool = False
    # Resources gathered from several tables (before those of `sources`).
    gathered: Callable[[Rows, list[str]], Iterator[Resource]] | None = None


RESOURCE_FILES = (
    ResourceFile("Patient", ((PATIENTS, patient),)),
    ResourceFile("Condition", ((COMORBIDITIES, comorbidity_condition),), gathered=crmo_conditions),
    ResourceFile("MedicationRequest", ((COURSES, medication_request),)),
    ResourceFile("MedicationAdministration", ((INFUSIONS, medication_administration),)),
    ResourceFile("Medication", (), products_referenced=True),
    ResourceFile("MedicationStatement", ((MEDICATIONS, medication_statement),)),
    ResourceFile(
        "Observation",
        (
            (LABS, lab_observation),
            (INFUSIONS, weight_observation),
            (SCREENING_RESULTS, screening_observation),
        ),
    ),
    ResourceFile("ImagingStudy", ((IMAGING, imaging_study),)),
    ResourceFile(
        "AdverseEvent", ((REACTIONS, adverse_event), (ADVERSE_EVENTS, recorded_adverse_event))
    ),
    ResourceFile("Immunization", ((VACCINATIONS, immunization),)),
    ResourceFile("DetectedIssue", ((ALERTS, detected_issue),)),
    ResourceFile("Consent", ((CONSENTS, consent),)),
)


def _resources(
    file: ResourceFile, rows_of: Rows, products: dict[str, Resource], patients: list[str]
) -> Iterator[Resource]:
    """The file's resources; the products its rows name are noted in `products` (one per code:
    memory grows with the product list, not with the registry), the patients in `patients`."""
    if file.products_referenced:
        yield from (products[code] for code in sorted(products))
        return
    if file.gathered is not None:
        yield from file.gathered(rows_of, patients)
    n = 0
    for table, convert in file.sources:
        for row in rows_of(table):
            n += 1
            values = dict(zip(table.header, row, strict=True))
            if table is PATIENTS:
                patients.append(values["patient_pseudonym"])
            if (code := values.get("product_code")) is not None and code not in products:
                products[code] = medication(values)
            yield convert(values, n)


def write_bundle(
    archive: Archive,
    rows_of: Rows,
    progress: Callable[[int], None],
    *,
    export_id: int,
    transaction_time: str,
    extension: dict[str, Any],
) -> dict[str, int]:
    """One NDJSON file per resource type, then the bulk data manifest; returns counts by type."""
    counts: dict[str, int] = {}
    products: dict[str, Resource] = {}
    patients: list[str] = []
    for done, file in enumerate(RESOURCE_FILES, start=1):

        def write(out: HashingWriter, file: ResourceFile = file) -> int:
            count = 0
            buffered = io.BufferedWriter(out, WRITE_BUFFER_BYTES)
            for resource in _resources(file, rows_of, products, patients):
                # orjson: a twentieth of json.dumps's time per resource, the same JSON (compact).
                buffered.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
            buffered.detach()  # flushed; the zip entry stays open for the archive to close
            return count

        counts[file.resource_type] = archive.write_stream(
            f"{file.resource_type}.ndjson", write
        ).rows
        progress(done * 100 // (len(RESOURCE_FILES) + 1))
    manifest = {
        "transactionTime": transaction_time,
        "request": f"research export {export_id}",
        "requiresAccessToken": True,
        "output": [
            {"type": kind, "url": f"{kind}.ndjson", "count": count}
            for kind, count in counts.items()
        ],
        "error": [],
        "extension": extension,
    }
    archive.write_text("manifest.json", json.dumps(manifest, indent=2) + "\n")
    return counts
