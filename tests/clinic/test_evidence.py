"""Evidence in words: labels, dates as "04 Nov 2026", values with their units, rows as sentences."""

import io
import re

import pytest
from django.core.management import call_command

from clinic.evidence import evidence_lines
from monitoring.guideline import RULES
from monitoring.models import Alert

INFUSION = {"id": 17, "given_on": "2026-09-02", "weight_kg": "40", "dose_mg": "200",
            "mg_per_kg": "5"}  # fmt: skip
ANTIBODIES = {"id": 593, "collected_on": "2026-11-04", "analyte": "anti_ifx", "value": "48",
              "unit": "AU/mL", "antibodies_positive": True}  # fmt: skip


def lines(**evidence) -> dict:
    return dict(evidence_lines(evidence))


def test_it_reads_an_antibody_result_as_a_sentence():
    assert lines(result=ANTIBODIES) == {
        "Result": "Anti-infliximab antibodies, 04 Nov 2026: detected, titre 48 AU/mL"
    }
    negative = ANTIBODIES | {"antibodies_positive": False, "assay_name": "ELISA"}
    del negative["value"]
    assert lines(result=negative)["Result"] == (
        "Anti-infliximab antibodies, 04 Nov 2026: not detected; assay ELISA"
    )


def test_it_reads_an_infusion_with_dose_mg_per_kg_and_weight():
    assert lines(infusion=INFUSION) == {
        "Infusion": "Infusion of 02 Sep 2026: 200 mg (5.00 mg/kg) at 40 kg"
    }


def test_it_gives_markers_their_units_and_range_and_lists_rows():
    crp = {"id": 1, "collected_on": "2026-07-29", "analyte": "crp", "value": "1.3",
           "reference_high": "5"}  # fmt: skip
    esr = {"id": 2, "collected_on": "2026-07-29", "analyte": "esr", "value": "7"}
    assert lines(crp=[crp], last_esr=esr) == {
        "Last two CRP": ["CRP, 29 Jul 2026: 1.3 mg/L (upper limit 5)"],
        "Latest ESR": "ESR, 29 Jul 2026: 7 mm/h",
    }
    assert lines(last_crp=None) == {"Latest CRP": "none recorded"}


def test_it_reads_imaging_assessments_and_reactions():
    mri = {"id": 4, "performed_on": "2026-11-18", "modality": "wb_mri", "active_lesions": 0,
           "new_lesions": 1, "impression": "worse"}  # fmt: skip
    assessment = {"id": 5, "assessed_on": "2026-11-18", "disease_state": "active",
                  "pain_score": "6", "chaq": "0.75", "clinically_active_lesions": 1}  # fmt: skip
    assert lines(latest_mri=mri, latest_assessment=assessment, reaction={
        "id": 3, "severity": "severe", "onset": "acute"}) == {
        "Latest MRI": "Whole-body MRI, 18 Nov 2026: no active lesion, 1 new lesion, reported worse",
        "Latest assessment": "Assessment of 18 Nov 2026: judged active; pain 6/10, CHAQ 0.75; "
        "1 clinically active lesion",
        "Reaction": "Severe acute reaction",
    }  # fmt: skip


def test_it_says_booleans_days_and_amounts_in_words_and_units():
    assert lines(reaction_before=False, days_late=1, gap_days=259, expected_mg="203.5",
                 off_by_pct="47.4", target_ug_ml="5", duration_minutes=75,
                 stop_reason="patient_choice", missing=["trough", "antibody"]) == {
        "A reaction at an earlier infusion": "no",
        "Days late": "1 day",
        "Gap without an infusion": "259 days",
        "Expected dose": "203.5 mg",
        "Difference from the expected dose": "47.4 %",
        "Trough target": "5 µg/mL",
        "Infusion time": "75 min",
        "Why it stopped": "patient or family choice",
        "Missing results": "trough and antibody",
    }  # fmt: skip


def test_it_leaves_out_ids_the_due_date_and_alternatives_it_did_not_find():
    assert lines(due_on="2026-11-04", regimen_change_id=None, raised_markers=[], mri=[]) == {}
    assert lines(regimen_change_id=12) == {"Due date set by a regimen change": "yes"}


def test_it_still_shows_a_key_it_does_not_know_sensibly():
    assert lines(
        checked_on="2026-11-04", latest_weight_kg="41.5", flagged=True, extra_row={"id": 9,
        "given_on": "2026-09-02", "dose_mg": "100"}, some_note="needs_review",
    ) == {
        "Checked on": "04 Nov 2026",
        "Latest weight kg": "41.5 kg",
        "Flagged": "yes",
        "Extra row": "Infusion of 02 Sep 2026: 100 mg",
        "Some note": "needs review",
    }  # fmt: skip


RAW = [
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # an ISO date
    re.compile(r"\b(True|False|None)\b"),
    re.compile(r"\bid\b|_id\b"),
    re.compile(r"\b[a-z]+_[a-z_]+\b"),  # a code: anti_ifx, wb_mri, patient_choice
    re.compile(r"[{}\[\]]"),  # a dumped dict or list
]


@pytest.mark.django_db
def test_every_rules_evidence_in_the_demo_reads_without_raw_values():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("evaluate_courses", stdout=io.StringIO())
    seen = set()
    for alert in Alert.objects.all():
        seen.add(alert.rule)
        rendered = evidence_lines(alert.evidence)
        assert rendered, alert.rule
        for label, value in rendered:
            for text in [label, *(value if isinstance(value, list) else [value])]:
                for raw in RAW:
                    assert not raw.search(text), f"{alert.rule}: {label}: {text}"
    assert seen == set(RULES)
