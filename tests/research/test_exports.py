"""The demo registry exported in every format: nothing identifying leaks, consent holds, the
tables round-trip, FHIR validates, and the manifest tells the truth."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
from decimal import Decimal

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from monitoring.models import Alert
from registry.models import (
    ANALYTE_LOINC,
    AdverseEvent,
    Analyte,
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LabUnit,
    Medication,
    Patient,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from registry.selectors import consent_in_force
from research.dictionary import INFUSIONS, LABS, PATIENTS, TABLES
from research.fhir import LAB_CODES, LOINC, RESOURCE_FILES, UCUM_UNITS
from research.models import PseudonymMapping
from tests.conftest import TODAY
from tests.research.support import archive_text, csv_rows, entries, manifest

FREE_TEXT = (
    (TreatmentCourse, "notes"),
    (RegimenChange, "note"),
    (Infusion, "notes"),
    (InfusionReaction, "review_note"),
    (Infusion, "lot_number"),
    (ImagingStudy, "report_text"),
    (ClinicalAssessment, "notes"),
    (InfusionReaction, "symptoms"),
    (InfusionReaction, "management"),
    (Relapse, "evidence"),
    (Alert, "title"),
    (Alert, "explanation"),
    (Medication, "drug_name"),
    (AdverseEvent, "specified_term"),
)


def identifiers() -> set[str]:
    """Every identifier of the demo: names, MRNs, registry codes, dates of birth, free text."""
    found: set[str] = set()
    for patient in Patient.objects.all():
        born = patient.date_of_birth
        found |= {
            patient.given_name,
            patient.family_name,
            patient.mrn,
            patient.registry_code,
            born.isoformat(),
            f"{born:%d %b %Y}",
            f"{born:%d/%m/%Y}",
        }
    for model, field in FREE_TEXT:
        found |= {text for text in model.objects.values_list(field, flat=True) if text}
    return found


def leaked(secrets: set[str], text: str) -> set[str]:
    """Secrets found in the text: single words as whole words, longer ones as substrings."""
    lowered = text.lower()
    words = set(re.findall(r"\w+", lowered))
    return {
        secret
        for secret in secrets
        if (secret.lower() in words if re.fullmatch(r"\w+", secret) else secret.lower() in lowered)
    }


def test_it_leaks_no_identifier_in_any_file_of_any_format(demo):
    secrets = identifiers()
    assert len(secrets) > 150  # the demo's names, MRNs, dates of birth and texts
    planted = "seen: Quillfeather, DEMO-N-0001; No bone-marrow oedema.\n"
    assert len(leaked(secrets, planted)) == 3
    for export in demo.values():
        files = archive_text(export)
        assert "manifest.json" in files
        assert "README.txt" in files
        for name, text in files.items():
            leaks = leaked(secrets, name + "\n" + text)
            assert not leaks, f"{export.format}/{name} leaks {sorted(leaks)[:5]}"


def test_it_includes_exactly_the_patients_consenting_on_the_export_date(demo):
    consenting = {
        p.pk
        for p in Patient.objects.all()
        if consent_in_force(p, "research", TODAY) and p.courses.exists()
    }
    never = Patient.objects.exclude(consents__research_given=True)
    withdrawn = Patient.objects.filter(consents__research_withdrawn_on__isnull=False)
    assert never.count() == 4
    assert withdrawn.count() == 1
    for export in demo.values():
        mapped = set(
            PseudonymMapping.objects.filter(export=export).values_list("patient", flat=True)
        )
        assert mapped == consenting
        assert not mapped & set(never.values_list("pk", flat=True))
        assert not mapped & set(withdrawn.values_list("pk", flat=True))


def test_the_csv_tables_match_the_database(demo):
    export = demo["csv"]
    files = entries(export)
    day_zero = {
        m.patient_id: (m.pseudonym, m.first_course_started_on)
        for m in PseudonymMapping.objects.filter(export=export)
    }
    expected_labs = sorted(
        (
            day_zero[lab.patient_id][0],
            (lab.collected_on - day_zero[lab.patient_id][1]).days,
            lab.analyte,
            lab.value,
        )
        for lab in LabResult.objects.filter(patient_id__in=day_zero)
    )
    labs = csv_rows(files["labs.csv"], LABS)
    assert sorted((*row[:3], row[4]) for row in labs) == expected_labs
    expected_infusions = sorted(
        (
            day_zero[i.course.patient_id][0],
            (i.given_on - day_zero[i.course.patient_id][1]).days,
            i.weight_kg,
            i.dose_mg,
        )
        for i in Infusion.objects.filter(course__patient_id__in=day_zero).select_related("course")
    )
    infusions = csv_rows(files["infusions.csv"], INFUSIONS)
    assert sorted((r[0], r[3], r[5], r[7]) for r in infusions) == expected_infusions
    assert all(isinstance(r[5], Decimal) and isinstance(r[10], bool) for r in infusions)
    patients = csv_rows(files["patients.csv"], PATIENTS)
    assert {row[0] for row in patients} == {pseudonym for pseudonym, _ in day_zero.values()}


def test_parquet_reads_back_as_the_same_typed_rows_as_the_csv(demo):
    csv_files, parquet_files = entries(demo["csv"]), entries(demo["parquet"])
    for table in TABLES:
        from_csv = csv_rows(csv_files[f"{table.name}.csv"], table)
        parquet = pq.read_table(io.BytesIO(parquet_files[f"{table.name}.parquet"]))
        assert parquet.schema == table.arrow_schema()
        from_parquet = [tuple(row.values()) for row in parquet.to_pylist()]
        # Pseudonyms differ between exports: compare everything else, in order.
        assert [r[1:] for r in sorted(from_parquet, key=_sort_key)] == [
            r[1:] for r in sorted(from_csv, key=_sort_key)
        ], table.name
        assert len(from_parquet) == manifest(demo["parquet"])["tables"][table.name]["rows"]


def _sort_key(row: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(repr(value) for value in row[1:])


def test_the_manifest_counts_and_checksums_every_table(demo):
    for fmt in ("csv", "parquet"):
        export = demo[fmt]
        files = entries(export)
        described = manifest(export)
        assert described["guideline_version"] == "2026.12"
        assert described["parameters"]["sites"] == ["north", "south"]
        assert set(described["tables"]) == {table.name for table in TABLES}
        for name, table in described["tables"].items():
            assert hashlib.sha256(files[table["file"]]).hexdigest() == table["sha256"]
            assert table["rows"] == export.row_counts[name]
        assert described["small_cell_warnings"]  # 55 patients over 2 sites × 2 sexes × bands
        assert "data_dictionary.csv" in files
    assert export.row_counts["patients"] == 55
    assert export.row_counts["alerts"] > 0


def test_the_data_dictionary_describes_every_column(demo):
    dictionary = entries(demo["csv"])["data_dictionary.csv"].decode().splitlines()
    assert dictionary[0] == "table,column,meaning,type,unit,allowed_values,code_system"
    # One row per table (what a row is, what is never exported), one per column, and the last
    # on how text cells are written.
    assert len(dictionary) - 1 == sum(len(table.columns) + 1 for table in TABLES) + 1
    assert any(line.startswith("infusions,(table),") and "lot" in line for line in dictionary)
    assert dictionary[-1].startswith('(every CSV file),(text cells),"A text cell that begins')
    assert any("4537-7" in line for line in dictionary)


@pytest.mark.parametrize("export", ["fhir", "fhir/default"])
def test_every_fhir_resource_validates(demo, export):
    """Exact, and with the defaults (a Patient whose sex, age or site is suppressed)."""
    files = entries(demo[export])
    bulk = json.loads(files["manifest.json"])
    assert [item["type"] for item in bulk["output"]] == [f.resource_type for f in RESOURCE_FILES]
    for item in bulk["output"]:
        lines = files[item["url"]].decode().splitlines()
        assert len(lines) == item["count"]
        for line in lines:
            resource = json.loads(line)
            kind = resource["resourceType"]
            assert kind == item["type"]
            model = getattr(importlib.import_module(f"fhir.resources.R4B.{kind.lower()}"), kind)
            model.model_validate(resource)
    assert bulk["output"][0]["count"] == 55


def test_fhir_dates_are_shifted_so_every_day_zero_is_1_january_2000(demo):
    files = entries(demo["fhir"])
    starts = {
        json.loads(line)["authoredOn"]
        for line in files["MedicationRequest.ndjson"].decode().splitlines()
    }
    assert "2000-01-01" in starts
    assert all(start >= "2000-01-01" and start < "2004-01-01" for start in starts)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fhir"])
def test_the_readme_says_how_dates_are_represented(demo, fmt):
    readme = entries(demo[fmt])["README.txt"].decode()
    assert "Safe Harbor" in readme
    assert ("2000-01-01" in readme) == (fmt == "fhir")


def test_every_managed_lab_unit_has_its_ucum_code():
    assert {unit: unit in UCUM_UNITS for unit in LabUnit.values} == dict.fromkeys(
        LabUnit.values, True
    )


def test_every_analyte_has_a_fhir_code_and_the_model_s_loinc_code():
    assert set(LAB_CODES) == set(Analyte.values)
    for analyte, code in ANALYTE_LOINC.items():
        assert (LAB_CODES[analyte]["system"], LAB_CODES[analyte]["code"]) == (LOINC, code)
    allowed = next(column.allowed for column in LABS.columns if column.name == "loinc_code")
    assert all(code in allowed for code in ANALYTE_LOINC.values())


def test_methotrexate_s_bloods_are_exported_with_their_loinc_codes_and_ucum_units(demo):
    table = csv_rows(entries(demo["csv"])["labs.csv"], LABS)
    analyte, loinc, unit = (LABS.header.index(name) for name in ("analyte", "loinc_code", "unit"))
    exported = {(row[analyte], row[loinc], row[unit]) for row in table}
    assert {("neutrophils", "751-8", "×10⁹/L"), ("platelets", "777-3", "×10⁹/L"),
            ("alt", "1742-6", "U/L")} <= exported  # fmt: skip
    ndjson = entries(demo["fhir"])["Observation.ndjson"].decode()
    observations = [json.loads(line) for line in ndjson.splitlines()]
    [alt, *_] = [o for o in observations if o["code"]["coding"][0]["code"] == "1742-6"]
    assert alt["valueQuantity"] | {"value": None} == {
        "value": None,
        "unit": "U/L",
        "system": "http://unitsofmeasure.org",
        "code": "U/L",
    }
    [neutrophils, *_] = [o for o in observations if o["code"]["coding"][0]["code"] == "751-8"]
    assert neutrophils["valueQuantity"]["code"] == "10*9/L"
