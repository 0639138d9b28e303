"""FHIR R4 bulk NDJSON of an export, built from the same de-identified rows as the tables.

Working from the tables (never from the database) means FHIR cannot carry anything the tables do
not. FHIR needs calendar dates, so each patient's day offsets are rendered as dates with that
patient's day 0 on DAY_ZERO (1 January 2000): a per-patient shift, the same for all of the
patient's resources, which keeps every interval and reveals no real date.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from research.archive import Archive, HashingWriter
from research.dictionary import (
    ALERTS,
    CONSENTS,
    COURSES,
    IMAGING,
    INFUSIONS,
    LABS,
    LOINC_WEIGHT,
    ORPHA_CRMO,
    PATIENTS,
    REACTIONS,
    Table,
)

DAY_ZERO = dt.date(2000, 1, 1)
BASE = "https://crmo-registry.example.org/fhir"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
INFLIXIMAB = {
    "coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "191831"},
    ],
    "text": "infliximab",
}
CRMO = {
    "coding": [{"system": "http://www.orpha.net", "code": ORPHA_CRMO.removeprefix("ORPHA:")}],
    "text": "Chronic recurrent multifocal osteomyelitis (CRMO/CNO)",
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

Rows = Callable[[Table], Iterator[tuple[Any, ...]]]
Resource = dict[str, Any]


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


def _without_empty(resource: Resource) -> Resource:
    return {key: value for key, value in resource.items() if value not in (None, [], {})}


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
            "medicationCodeableConcept": INFLIXIMAB,
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
        "medicationCodeableConcept": INFLIXIMAB,
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


@dataclass(frozen=True)
class ResourceFile:
    resource_type: str
    sources: tuple[tuple[Table, Callable[[dict[str, Any], int], Resource]], ...]


RESOURCE_FILES = (
    ResourceFile("Patient", ((PATIENTS, patient),)),
    ResourceFile("MedicationRequest", ((COURSES, medication_request),)),
    ResourceFile("MedicationAdministration", ((INFUSIONS, medication_administration),)),
    ResourceFile("Observation", ((LABS, lab_observation), (INFUSIONS, weight_observation))),
    ResourceFile("ImagingStudy", ((IMAGING, imaging_study),)),
    ResourceFile("AdverseEvent", ((REACTIONS, adverse_event),)),
    ResourceFile("DetectedIssue", ((ALERTS, detected_issue),)),
    ResourceFile("Consent", ((CONSENTS, consent),)),
)


def _resources(file: ResourceFile, rows_of: Rows) -> Iterator[Resource]:
    n = 0
    for table, convert in file.sources:
        for row in rows_of(table):
            n += 1
            yield convert(dict(zip(table.header, row, strict=True)), n)


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
    for done, file in enumerate(RESOURCE_FILES, start=1):

        def write(out: HashingWriter, file: ResourceFile = file) -> int:
            count = 0
            for resource in _resources(file, rows_of):
                out.write(json.dumps(resource, ensure_ascii=False).encode() + b"\n")
                count += 1
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
