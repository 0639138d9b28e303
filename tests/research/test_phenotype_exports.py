"""The CRMO phenotype in the research exports (issue 16): the phenotype, comorbidities and lesion
sites tables (each site referencing its imaging or assessments row by number), a rare site or
comorbidity generalised to "other" when small cells are suppressed, and FHIR's CRMO Condition with
a bodySite per site active now."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import LesionSite
from research.dictionary import (
    ASSESSMENTS,
    COMORBIDITIES,
    IMAGING,
    LESION_SITES,
    PHENOTYPE,
    TABLES,
    Table,
)
from research.exporters import ExportScope, table_rows
from research.fhir import DAY_ZERO, ICD10, SNOMED
from research.models import PseudonymMapping
from tests.conftest import TODAY
from tests.factories import CourseFactory, PatientFactory
from tests.research.support import EXACT, build, csv_rows, entries, manifest

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
STARTED = TODAY - 300 * DAY
DIAGNOSED = STARTED - 90 * DAY
FIRST_SYMPTOMS = DIAGNOSED - 200 * DAY
NEW_TABLES = (PHENOTYPE, COMORBIDITIES, LESION_SITES)


def site(bone: str, laterality: str = "left", level: str = "", **flags: bool) -> LesionSite:
    if bone in ("vertebra", "sternum"):
        laterality = "midline"
    return LesionSite(bone=bone, laterality=laterality, vertebral_level=level, **flags)


def _patient(site_a, by, *, sites: list[LesionSite] | None = None, comorbidity: str = ""):
    """A consenting patient on a course with a phenotype, two MRIs (the later one's sites given)
    and an assessment with a clinically active site."""
    patient = PatientFactory(
        site=site_a, research_consent_given_on=TODAY - 400 * DAY, diagnosed_on=DIAGNOSED
    )
    CourseFactory(patient=patient, started_on=STARTED)
    services.phenotype_record(
        patient=patient,
        values={
            "first_symptoms_on": FIRST_SYMPTOMS,
            "bristol_clinical": True,
            "bristol_radiological": True,
            "bristol_multifocal": True,
            "bristol_crp_below_30": True,
            "family_history": "yes",
            "family_psoriasis": True,
        },
        by=by,
    )
    if comorbidity:
        services.comorbidity_record(
            patient=patient, condition=comorbidity, onset_on=DIAGNOSED + 10 * DAY, by=by
        )
    services.imaging_study_record(
        patient=patient,
        performed_on=STARTED - 20 * DAY,
        modality="wb_mri",
        lesion_sites=[site("femur", "right", active=True)],
        by=by,
    )
    services.imaging_study_record(
        patient=patient,
        performed_on=STARTED + 100 * DAY,
        modality="wb_mri",
        lesion_sites=sites
        if sites is not None
        else [
            site("vertebra", level="T7", active=True, vertebral_fracture=True),
            site("tibia", active=True, new=True),
            site("femur", "right", resolved=True),
        ],
        by=by,
    )
    services.assessment_record(
        patient=patient,
        assessed_on=STARTED + 101 * DAY,
        pain_score=3,
        lesion_sites=[site("clavicle", "right")],
        by=by,
    )
    return patient


def _rows(export: Any, table: Table) -> list[dict[str, Any]]:
    return [
        dict(zip(table.header, row, strict=True))
        for row in csv_rows(entries(export)[f"{table.name}.csv"], table)
    ]


def _ndjson(export: Any, kind: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in entries(export)[f"{kind}.ndjson"].decode().splitlines()]


def test_the_tables_and_their_dictionary(site_a, clinician_a):
    patient = _patient(site_a, clinician_a, comorbidity="psoriasis")
    export = build("csv", **EXACT)
    pseudonym = PseudonymMapping.objects.get(export=export, patient=patient).pseudonym
    assert {t.name for t in NEW_TABLES} <= {t.name for t in TABLES}
    dictionary = entries(export)["data_dictionary.csv"].decode()
    for table in (*NEW_TABLES, IMAGING, ASSESSMENTS):
        for column in table.columns:
            assert f"{table.name},{column.name}," in dictionary

    [phenotype] = _rows(export, PHENOTYPE)
    assert phenotype["patient_pseudonym"] == pseudonym
    assert phenotype["first_symptoms_day"] == (FIRST_SYMPTOMS - STARTED).days < 0
    assert phenotype["bristol_met"] is True  # multifocal with a low CRP: no biopsy needed
    assert phenotype["bristol_biopsy"] is None
    assert phenotype["jansson_score"] is None  # no item recorded
    assert (phenotype["family_history"], phenotype["family_psoriasis"]) == ("yes", True)
    assert phenotype["family_ibd"] is False

    assert _rows(export, COMORBIDITIES) == [
        {"patient_pseudonym": pseudonym, "condition": "psoriasis", "onset_day": -80}
    ]

    imaging = {r["imaging_number"]: r for r in _rows(export, IMAGING)}
    assert [imaging[n]["lesion_counts_from"] for n in (1, 2)] == ["sites", "sites"]
    assert (imaging[2]["active_lesions"], imaging[2]["new_lesions"]) == (2, 1)
    [assessment] = _rows(export, ASSESSMENTS)
    assert (assessment["assessment_number"], assessment["lesion_counts_from"]) == (1, "sites")
    sites = _rows(export, LESION_SITES)
    by_site = {
        (r["owner"], r["imaging_number"], r["assessment_number"], r["site"]): r for r in sites
    }
    assert set(by_site) == {
        ("imaging", 1, None, "femur"),
        ("imaging", 2, None, "vertebra"),
        ("imaging", 2, None, "tibia"),
        ("imaging", 2, None, "femur"),
        ("assessment", None, 1, "clavicle"),
    }
    vertebra = by_site[("imaging", 2, None, "vertebra")]
    assert (vertebra["vertebral_level"], vertebra["vertebral_fracture"]) == ("T7", True)
    assert vertebra["snomed_code"] == "35769007"  # a thoracic vertebra, by its level
    assert vertebra["recorded_day"] == imaging[2]["performed_day"] == 100
    tibia = by_site[("imaging", 2, None, "tibia")]
    assert (tibia["snomed_code"], tibia["active"], tibia["new"]) == ("12611008", True, True)
    assert by_site[("imaging", 2, None, "femur")]["resolved"] is True
    assert by_site[("assessment", None, 1, "clavicle")]["recorded_day"] == 101


def test_counts_recorded_without_sites_say_so_and_have_no_site_rows(site_a, clinician_a):
    patient = PatientFactory(site=site_a, research_consent_given_on=TODAY - 400 * DAY)
    CourseFactory(patient=patient, started_on=STARTED)
    services.imaging_study_record(
        patient=patient, performed_on=STARTED, modality="mri", active_lesions=3, by=clinician_a
    )
    export = build("csv", **EXACT)
    [study] = _rows(export, IMAGING)
    assert (study["active_lesions"], study["lesion_counts_from"]) == (3, "recorded")
    assert _rows(export, LESION_SITES) == []
    [condition] = _ndjson(build("fhir", **EXACT), "Condition")
    assert "bodySite" not in condition  # recorded without sites: where is unknown


def test_a_date_range_keeps_sites_by_their_study_and_numbers_them_as_without_it(
    site_a, clinician_a
):
    _patient(site_a, clinician_a)
    export = build("csv", **EXACT, date_from=STARTED)
    sites = _rows(export, LESION_SITES)
    assert {r["imaging_number"] for r in sites if r["owner"] == "imaging"} == {2}
    assert [r["imaging_number"] for r in _rows(export, IMAGING)] == [2]
    assert len(_rows(export, PHENOTYPE)) == 1  # undated: kept


def _cohort(site_a, by) -> None:
    """Five patients with a vertebra T7 and a tibia, one of them also with a mandible and a T3;
    five with psoriasis, one with SAPHO."""
    for n in range(5):
        sites = [site("vertebra", level="T7", active=True), site("tibia", active=True)]
        if n == 0:
            sites += [site("mandible", "midline", active=True), site("vertebra", level="T3")]
        _patient(site_a, by, sites=sites, comorbidity="psoriasis")
    patient = _patient(site_a, by, sites=[site("tibia", active=True)], comorbidity="sapho")
    assert patient.pk


def test_a_rare_site_or_comorbidity_is_other_when_small_cells_are_suppressed(site_a, clinician_a):
    _cohort(site_a, clinician_a)
    export = build("csv", date_precision="day", age_precision="years")  # suppressed: the default
    sites = _rows(export, LESION_SITES)
    assert "mandible" not in {r["site"] for r in sites}
    assert "clavicle" in {r["site"] for r in sites}  # six patients
    other = [r for r in sites if r["site"] == "other"]
    assert len(other) == 1  # the mandible (femurs, on six patients, are not rare)
    assert "femur" in {r["site"] for r in sites}
    assert {r["vertebral_level"] for r in sites if r["site"] == "vertebra"} == {"T7", None}
    assert {r["condition"] for r in _rows(export, COMORBIDITIES)} == {"psoriasis", "other"}
    rare = manifest(export)["disclosure_control"]["rare_values"]
    assert rare == {
        "generalised_values": {
            "lesion_sites.site": 1,
            "lesion_sites.vertebral_level": 1,
            "comorbidities.condition": 1,
        }
    }
    # FHIR's bodySite comes from the same rows.
    bodies = [
        coding["code"]
        for condition in _ndjson(build("fhir"), "Condition")
        for body in condition.get("bodySite", [])
        for coding in body["coding"]
    ]
    assert "mandible" not in bodies


def test_rare_values_are_kept_and_reported_when_small_cells_are_not_suppressed(site_a, clinician_a):
    _cohort(site_a, clinician_a)
    export = build("csv", **EXACT)
    assert "mandible" in {r["site"] for r in _rows(export, LESION_SITES)}
    assert "sapho" in {r["condition"] for r in _rows(export, COMORBIDITIES)}
    rare = manifest(export)["disclosure_control"]["rare_values"]
    assert rare["generalised_values"] == dict.fromkeys(rare["generalised_values"], 0)
    assert rare["rare_values_kept"] == [
        {"column": "lesion_sites.site", "value": "mandible", "patients": 1},
        {"column": "lesion_sites.vertebral_level", "value": "T3", "patients": 1},
        {"column": "comorbidities.condition", "value": "sapho", "patients": 1},
    ]


def test_the_fhir_condition_has_the_onset_codes_and_the_sites_active_now(site_a, clinician_a):
    patient = _patient(site_a, clinician_a, comorbidity="ppp")
    export = build("fhir", **EXACT)
    pseudonym = PseudonymMapping.objects.get(export=export, patient=patient).pseudonym
    conditions = _ndjson(export, "Condition")
    model = importlib.import_module("fhir.resources.R4B.condition").Condition
    for resource in conditions:
        model.model_validate(resource)
    crmo = next(c for c in conditions if c["id"] == f"crmo-{pseudonym}")
    codes = {(c["system"], c["code"]) for c in crmo["code"]["coding"]}
    assert (ICD10, "M86.3") in codes
    assert crmo["onsetDateTime"] == (DAY_ZERO + (FIRST_SYMPTOMS - STARTED)).isoformat()
    assert crmo["subject"] == {"reference": f"Patient/{pseudonym}"}
    # The latest MRI's active sites (not its resolved femur, nor the earlier MRI's) and the
    # latest assessment's site.
    assert sorted(body["text"] for body in crmo["bodySite"]) == [
        "Left tibia",
        "Right clavicle",
        "Vertebra T7",
    ]
    tibia = next(b for b in crmo["bodySite"] if b["text"] == "Left tibia")
    assert {"system": SNOMED, "code": "12611008", "display": "Bone structure of tibia"} in tibia[
        "coding"
    ]
    [comorbidity] = [c for c in conditions if c["id"].startswith("comorbidity-")]
    assert comorbidity["code"]["coding"][0]["code"] == "ppp"
    assert comorbidity["onsetDateTime"] == (DAY_ZERO + (DIAGNOSED + 10 * DAY - STARTED)).isoformat()


def _queries(table: Table) -> tuple[int, int]:
    scope = ExportScope(build("csv", **EXACT))
    with CaptureQueriesContext(connection) as queries:
        rows = list(table_rows(table, scope))
    return len(queries.captured_queries), len(rows)


@pytest.mark.parametrize("table", [*NEW_TABLES, IMAGING, ASSESSMENTS], ids=lambda t: t.name)
def test_a_table_is_read_in_the_same_queries_for_one_patient_and_for_five(
    table, site_a, clinician_a, django_assert_max_num_queries
):
    _patient(site_a, clinician_a, comorbidity="psoriasis")
    one, one_rows = _queries(table)
    for _ in range(4):
        _patient(site_a, clinician_a, comorbidity="psoriasis")
    export = build("csv", **EXACT)
    with django_assert_max_num_queries(one):
        five_rows = len(list(table_rows(table, ExportScope(export))))
    assert five_rows == 5 * one_rows > 0
