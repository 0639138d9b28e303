"""The safety record in the research exports (issue 15): the infliximab product of each infusion
and course, co-medications, adverse events, screening results and vaccinations, as tables (CSV
and Parquet from the same rows) and as FHIR R4 — coded, de-identified, without free text."""

from __future__ import annotations

import json
import re
from typing import Any

from registry.models import (
    INFLIXIMAB_ATC,
    INFLIXIMAB_RXNORM,
    MEDICATION_ATC,
    AdverseEvent,
    Infusion,
    Medication,
    Patient,
    ScreeningResult,
    TreatmentCourse,
    Vaccination,
)
from registry.safety_codes import CODINGS, LIVE_VACCINES, VACCINE_CVX, special_interest
from research.dictionary import (
    ADVERSE_EVENTS,
    COURSES,
    INFUSIONS,
    MEDICATIONS,
    NO_SINGLE_LOINC,
    SCREENING_RESULTS,
    TABLES,
    VACCINATIONS,
    ColumnType,
    Table,
)
from research.fhir import ATC, CVX, LOINC, MEDDRA, RXNORM, SNOMED
from research.models import PseudonymMapping
from tests.research.support import csv_rows, entries

SAFETY_TABLES = (MEDICATIONS, ADVERSE_EVENTS, SCREENING_RESULTS, VACCINATIONS)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rows(export: Any, table: Table) -> list[dict[str, Any]]:
    return [
        dict(zip(table.header, row, strict=True))
        for row in csv_rows(entries(export)[f"{table.name}.csv"], table)
    ]


def _day_zero(export: Any) -> dict[int, tuple[str, Any]]:
    return {
        m.patient_id: (m.pseudonym, m.first_course_started_on)
        for m in PseudonymMapping.objects.filter(export=export)
    }


def _days(day: Any, zero: Any) -> int | None:
    return None if day is None else (day - zero).days


def _ndjson(export: Any, kind: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in entries(export)[f"{kind}.ndjson"].decode().splitlines()]


# --- Tables --------------------------------------------------------------------------------------


def test_the_new_tables_are_in_every_tabular_export_and_its_dictionary(demo):
    names = {table.name for table in TABLES}
    assert {t.name for t in SAFETY_TABLES} <= names
    for fmt in ("csv", "parquet"):
        files = entries(demo[fmt])
        assert {f"{t.name}.{fmt}" for t in SAFETY_TABLES} <= set(files)
        assert all(demo[fmt].row_counts[t.name] > 0 for t in SAFETY_TABLES)
    dictionary = entries(demo["csv"])["data_dictionary.csv"].decode()
    for table in (*SAFETY_TABLES, INFUSIONS, COURSES):
        for column in table.columns:
            assert f"{table.name},{column.name}," in dictionary
            assert column.meaning, (table.name, column.name)
    assert NO_SINGLE_LOINC in dictionary
    assert "never exported" in INFUSIONS.description
    assert "lot" in INFUSIONS.description


def test_medications_match_the_database_without_the_name_of_an_other_drug(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    expected = sorted(
        (
            zero[m.patient_id][0],
            m.drug,
            MEDICATION_ATC.get(m.drug),
            m.dose,
            m.dose_unit or None,
            m.route,
            m.frequency,
            _days(m.started_on, zero[m.patient_id][1]),
            _days(m.stopped_on, zero[m.patient_id][1]),
            m.stop_reason or None,
        )
        for m in Medication.objects.filter(patient_id__in=zero)
    )
    rows = _rows(export, MEDICATIONS)
    columns = ("patient_pseudonym", "drug", "atc_code", "dose", "dose_unit", "route", "frequency")
    got = sorted(
        (*(r[c] for c in columns), r["started_day"], r["stopped_day"], r["stop_reason"])
        for r in rows
    )
    assert got == expected
    other = [r for r in rows if r["drug"] == "other"]
    assert other, "the demo has an other drug"
    assert all(r["atc_code"] is None and r["drug_class"] == "other" for r in other)
    methotrexate = [r for r in rows if r["drug"] == "methotrexate"]
    assert methotrexate
    assert {r["atc_code"] for r in methotrexate} == {"L04AX03"}
    assert {r["drug_class"] for r in methotrexate} == {"dmard"}
    assert "drug_name" not in MEDICATIONS.header


def test_adverse_events_match_the_database_coded_and_without_the_specified_term(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    rows = _rows(export, ADVERSE_EVENTS)
    events = AdverseEvent.objects.filter(patient_id__in=zero).select_related("course")
    assert len(rows) == events.count() > 0
    by_key = {(r["patient_pseudonym"], r["onset_day"], r["term"]): r for r in rows}
    for event in events:
        pseudonym, day_zero = zero[event.patient_id]
        row = by_key[(pseudonym, _days(event.onset_on, day_zero), event.term)]
        coding = CODINGS[event.term]
        kinds = special_interest(event.term, serious=event.serious)
        assert row["ctcae_term"] == coding.ctcae_term
        assert row["meddra_code"] == (coding.meddra_llt or None)
        assert row["grade"] == event.grade
        assert row["serious"] is event.serious
        assert row["seriousness_hospitalisation"] is event.seriousness_hospitalisation
        assert row["special_interest"] is bool(kinds)
        assert row["special_interest_kinds"] == (";".join(kinds) or None)
        assert row["resolved_day"] == _days(event.resolved_on, day_zero)
        assert row["reviewed"] is (event.reviewed_on is not None)
        assert row["review_decision"] == (event.review_decision or None)
        assert (row["course_number"] is None) == (event.course is None)
    assert any(r["meddra_code"] for r in rows)  # a listed CTCAE term: its MedDRA code
    assert any(r["serious"] and not r["reviewed"] for r in rows)
    assert any(r["special_interest"] for r in rows)
    assert "specified_term" not in ADVERSE_EVENTS.header
    assert not {"reviewed_by", "reviewed_day"} & set(ADVERSE_EVENTS.header)


def test_a_course_s_number_on_an_adverse_event_is_that_course_s(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    courses = {
        (r["patient_pseudonym"], r["course_number"]): r["started_day"]
        for r in _rows(export, COURSES)
    }
    for event in AdverseEvent.objects.filter(patient_id__in=zero, course__isnull=False):
        pseudonym, day_zero = zero[event.patient_id]
        assert event.course is not None
        [row] = [
            r
            for r in _rows(export, ADVERSE_EVENTS)
            if r["patient_pseudonym"] == pseudonym
            and r["onset_day"] == _days(event.onset_on, day_zero)
        ]
        started = courses[(pseudonym, row["course_number"])]
        assert started == _days(event.course.started_on, day_zero)


def test_screening_results_carry_only_the_loinc_code_the_registry_is_sure_of(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    rows = _rows(export, SCREENING_RESULTS)
    expected = sorted(
        (
            zero[s.patient_id][0],
            _days(s.tested_on, zero[s.patient_id][1]),
            s.test,
            s.result,
            s.reviewed_on is not None,
        )
        for s in ScreeningResult.objects.filter(patient_id__in=zero)
    )
    assert (
        sorted(
            (r["patient_pseudonym"], r["tested_day"], r["test"], r["result"], r["reviewed"])
            for r in rows
        )
        == expected
    )
    assert {r["loinc_code"] for r in rows if r["test"] == "hbv_hbsag"} == {"5196-1"}
    assert {r["loinc_code"] for r in rows if r["test"] != "hbv_hbsag"} == {None}
    assert any(r["reviewed"] for r in rows)


def test_vaccinations_say_whether_the_vaccine_is_live(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    rows = _rows(export, VACCINATIONS)
    expected = sorted(
        (
            zero[v.patient_id][0],
            _days(v.given_on, zero[v.patient_id][1]),
            v.vaccine,
            v.vaccine in LIVE_VACCINES,
        )
        for v in Vaccination.objects.filter(patient_id__in=zero)
    )
    assert sorted(tuple(r.values()) for r in rows) == expected
    assert {r["live"] for r in rows} == {True, False}


def test_infusions_and_courses_carry_their_product_as_the_list_codes_it(demo):
    export = demo["csv"]
    zero = _day_zero(export)
    infusions = _rows(export, INFUSIONS)
    expected = sorted(
        (
            zero[i.course.patient_id][0],
            _days(i.given_on, zero[i.course.patient_id][1]),
            i.product.code if i.product else None,
            i.product.ema_product_number if i.product else None,
        )
        for i in Infusion.objects.filter(course__patient_id__in=zero).select_related(
            "course", "product"
        )
    )
    assert (
        sorted(
            (r["patient_pseudonym"], r["given_day"], r["product_code"], r["product_ema_number"])
            for r in infusions
        )
        == expected
    )
    given = [r for r in infusions if r["product_code"]]
    assert given
    assert {r["product_atc_code"] for r in given} == {INFLIXIMAB_ATC}
    assert {r["product_biosimilar"] for r in given} == {True, False}
    assert all(r["product_rxnorm_cui"] is None for r in given)  # none verified in the list
    planned = {
        (zero[c.patient_id][0], c.product.code if c.product else None)
        for c in TreatmentCourse.objects.filter(patient_id__in=zero).select_related("product")
    }
    courses = _rows(export, COURSES)
    assert {(r["patient_pseudonym"], r["product_code"]) for r in courses} == planned
    assert {"lot_number", "product_name", "product_manufacturer"}.isdisjoint(INFUSIONS.header)


# --- De-identification ---------------------------------------------------------------------------


def test_the_new_tables_carry_no_identifier_and_no_date_only_rounded_day_offsets(demo):
    """Each row is keyed by the export's pseudonym; every date is an integer `_day` column,
    rounded to the export's precision (weeks by default); no cell holds a calendar date, a
    patient's name, registry code or MRN (and no column holds a patient's id)."""
    identifying = Patient.objects.values_list("given_name", "family_name", "mrn", "registry_code")
    names = {text.lower() for texts in identifying for text in texts}
    for key, step in (("csv", 1), ("csv/default", 7)):
        export = demo[key]
        pseudonyms = set(
            PseudonymMapping.objects.filter(export=export).values_list("pseudonym", flat=True)
        )
        for table in SAFETY_TABLES:
            assert table.header[0] == "patient_pseudonym"
            assert not {"patient_id", "patient", "registry_code", "date_of_birth"} & set(
                table.header
            )
            days = [c.name for c in table.columns if c.name.endswith("_day")]
            assert days
            assert all(c.type is ColumnType.INTEGER for c in table.columns if c.name in days)
            text = entries(export)[f"{table.name}.csv"].decode()
            assert not ISO_DATE.search(text), table.name
            assert not names & set(re.findall(r"[\w-]+", text.lower())), table.name
            for row in _rows(export, table):
                assert row["patient_pseudonym"] in pseudonyms
                assert all(row[day] is None or row[day] % step == 0 for day in days)


# --- FHIR ----------------------------------------------------------------------------------------


def test_fhir_names_each_product_used_once_as_a_medication_with_its_codes(demo):
    export = demo["fhir"]
    medications = {m["id"]: m for m in _ndjson(export, "Medication")}
    assert medications
    for medication in medications.values():
        coding = medication["code"]["coding"]
        assert {"system": ATC, "code": INFLIXIMAB_ATC} in coding
        ingredient = medication["ingredient"][0]["itemCodeableConcept"]["coding"]
        assert {"system": RXNORM, "code": INFLIXIMAB_RXNORM} in ingredient
        assert medication["identifier"][0]["value"].startswith("EMEA/H/C/")
        assert "text" not in medication["code"]  # no brand name typed into the list
    referenced = {
        resource["medicationReference"]["reference"].removeprefix("Medication/")
        for kind in ("MedicationAdministration", "MedicationRequest")
        for resource in _ndjson(export, kind)
        if "medicationReference" in resource
    }
    assert referenced == set(medications)
    codes = {row["product_code"] for row in _rows(demo["csv"], INFUSIONS) if row["product_code"]}
    assert {f"product-{code}" for code in codes} <= set(medications)


def test_fhir_co_medications_are_statements_with_atc_route_and_timing(demo):
    statements = _ndjson(demo["fhir"], "MedicationStatement")
    assert len(statements) == demo["csv"].row_counts["medications"]
    methotrexate = [
        s
        for s in statements
        if {"system": ATC, "code": "L04AX03"} in s["medicationCodeableConcept"]["coding"]
    ]
    assert methotrexate
    [dosage] = methotrexate[0]["dosage"]
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "wk"}
    assert dosage["route"]["coding"][0]["system"] == SNOMED
    assert {s["status"] for s in statements} >= {"active"}
    assert all(s["effectivePeriod"]["start"] >= "1990" for s in statements)


def test_fhir_adverse_events_carry_their_seriousness_grade_and_criteria(demo):
    events = [e for e in _ndjson(demo["fhir"], "AdverseEvent") if e["id"].startswith("adverse")]
    assert len(events) == demo["csv"].row_counts["adverse_events"]
    seriousness = {e["seriousness"]["coding"][0]["code"] for e in events}
    assert seriousness == {"serious", "non-serious"}
    serious = [e for e in events if e["seriousness"]["coding"][0]["code"] == "serious"]
    criteria = [x for e in serious for x in e["extension"] if x["url"].endswith("-criterion")]
    assert criteria
    assert all(any(x["url"].endswith("/ctcae-grade") for x in e["extension"]) for e in events)
    assert any(c["system"] == MEDDRA for e in events for c in e["event"]["coding"])
    reactions = [e for e in _ndjson(demo["fhir"], "AdverseEvent") if e["id"].startswith("reaction")]
    assert reactions  # infusion reactions stay their own resources


def test_fhir_screening_observations_and_immunizations(demo):
    observations = [o for o in _ndjson(demo["fhir"], "Observation") if o["id"].startswith("scr")]
    assert len(observations) == demo["csv"].row_counts["screening_results"]
    xray = [o for o in observations if o["code"]["coding"][-1]["code"] == "tb_chest_xray"]
    assert xray
    assert all(o["category"][0]["coding"][0]["code"] == "imaging" for o in xray)
    hbsag = [o for o in observations if o["code"]["coding"][-1]["code"] == "hbv_hbsag"]
    assert hbsag
    assert all(o["code"]["coding"][0] == {"system": LOINC, "code": "5196-1"} for o in hbsag)
    interpretations = {o["interpretation"][0]["coding"][0]["code"] for o in observations}
    assert interpretations <= {"POS", "NEG", "IND"}
    assert "POS" in interpretations
    immunizations = _ndjson(demo["fhir"], "Immunization")
    assert len(immunizations) == demo["csv"].row_counts["vaccinations"]
    for immunization in immunizations:
        coding = immunization["vaccineCode"]["coding"]
        vaccine = coding[0]["code"]
        cvx = [c["code"] for c in coding if c["system"] == CVX]
        assert cvx == ([VACCINE_CVX[vaccine]] if vaccine in VACCINE_CVX else [])
    assert any(c["system"] == CVX for i in immunizations for c in i["vaccineCode"]["coding"])
