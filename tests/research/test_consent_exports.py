"""The consent table of the demo's exports (CSV, Parquet, the dictionary) and FHIR Consent: every
exported patient's consent records as of the export's consent date, in day offsets, and the
manifest and README say which consent scope gated the export."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from registry.models import Consent
from research.dictionary import CONSENTS
from research.fhir import CONSENT_CATEGORY
from research.models import PseudonymMapping
from tests.research.support import csv_rows, entries, manifest, readable

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(demo_exports, db):
    return demo_exports


def test_the_consent_table_matches_the_database(demo):
    export = demo["csv"]
    mapping = {
        m.pseudonym: (m.patient_id, m.first_course_started_on)
        for m in PseudonymMapping.objects.filter(export=export)
    }
    rows = csv_rows(entries(export)["consents.csv"], CONSENTS)
    expected = set()
    for pseudonym, (patient_id, day_zero) in mapping.items():
        for c in Consent.objects.filter(patient_id=patient_id).select_related("document"):

            def day(value, day_zero=day_zero):
                return None if value is None else (value - day_zero).days

            expected.add(
                (
                    pseudonym,
                    c.document.code,
                    c.document.version,
                    c.consented_by,
                    c.assent,
                    day(c.given_on),
                    c.care_data_given,
                    day(c.care_data_withdrawn_on),
                    c.research_given,
                    day(c.research_withdrawn_on),
                    c.contact_given,
                    day(c.contact_withdrawn_on),
                )
            )
    assert set(rows) == expected
    assert len(rows) == export.row_counts["consents"] >= len(mapping)
    # Every exported patient has a row giving research exports, not withdrawn (the gate).
    in_force = {row[0] for row in rows if row[8] is True and row[9] is None}
    assert in_force == set(mapping)
    # The patient re-consented at majority: a parent's consent and their own.
    by_patient: dict[str, list[str]] = {}
    for row in rows:
        by_patient.setdefault(row[0], []).append(row[3])
    assert ["parent_guardian", "patient"] in by_patient.values()


def test_the_parquet_consent_table_reads_back_as_the_csv(demo):
    table = pq.read_table(io.BytesIO(entries(demo["parquet"])["consents.parquet"]))
    assert table.column_names == CONSENTS.header
    # Each export has its own pseudonyms: the rows compare without them.
    parquet = sorted(tuple(row.values())[1:] for row in table.to_pylist())
    csv = sorted(row[1:] for row in csv_rows(entries(demo["csv"])["consents.csv"], CONSENTS))
    assert parquet == csv


def test_the_dictionary_describes_the_consent_table(demo):
    dictionary = readable("data_dictionary.csv", entries(demo["csv"])["data_dictionary.csv"])
    lines = [line for line in dictionary.splitlines() if line.startswith("consents,")]
    columns = [line.split(",")[1] for line in lines]
    assert columns == ["(table)", *CONSENTS.header]  # the table's own row, then its columns
    assert any("patient | parent_guardian | not_recorded" in line for line in lines)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_manifest_and_readme_name_the_gating_scope(demo, fmt):
    assert manifest(demo[fmt])["parameters"]["consent_scope"] == "research"
    readme = entries(demo[fmt])["README.txt"].decode()
    assert 'the consent scope "research exports"\n(research) in force' in readme


def test_fhir_consents_say_status_scope_category_and_a_provision_per_scope(demo):
    files = entries(demo["fhir"])
    bulk = json.loads(files["manifest.json"])
    assert bulk["extension"]["consentScope"] == "research"
    consents = [json.loads(line) for line in files["Consent.ndjson"].decode().splitlines()]
    assert len(consents) == demo["fhir"].row_counts["Consent"] > 0
    for resource in consents:
        assert resource["category"] == [CONSENT_CATEGORY]
        assert resource["category"][0]["coding"][0]["code"] == "59284-0"
        assert resource["patient"]["reference"].startswith("Patient/")
        assert resource["provision"]["type"] == "deny"
        for provision in resource["provision"]["provision"]:
            assert provision["type"] == "permit"
            assert provision["purpose"][0]["code"] in {"care_data", "research", "contact"}
    research = [r for r in consents if r["scope"]["coding"][0]["code"] == "research"]
    assert research
    assert all(r["status"] in {"active", "inactive"} for r in research)
    assert any(r["status"] == "active" for r in research)
    privacy = [r for r in consents if r["scope"]["coding"][0]["code"] == "patient-privacy"]
    # A patient's own consent to care data only would be privacy; the demo's all give research.
    assert all(
        "research" not in {p["purpose"][0]["code"] for p in r["provision"]["provision"]}
        for r in privacy
    )
