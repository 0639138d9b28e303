"""The API door of the CRMO phenotype and comorbidities: recorded and corrected through the
services (met and the score derived, never sent), each refusal at its field with nothing stored,
one phenotype per patient, scoped to the caller's sites, and only the roles that may."""

from __future__ import annotations

from typing import Any

import pytest

from api.views import etag_of
from registry.models import Comorbidity, Phenotype
from tests.api.conftest import Record
from tests.factories import ComorbidityFactory

pytestmark = pytest.mark.django_db

PHENOTYPES = "/api/v1/phenotypes/"
COMORBIDITIES = "/api/v1/comorbidities/"
REFUSED = "Invalid input: nothing was saved."


def body(record: Record, **fields: Any) -> dict[str, Any]:
    """A phenotype of the record's new patient (its patient has one: tests.api.conftest)."""
    return {
        "patient": record.new_patient.pk,
        "first_symptoms_on": "2022-09-01",
        "bristol_clinical": True,
        "bristol_radiological": True,
        "bristol_multifocal": True,
        "bristol_crp_below_30": True,
        "family_history": "yes",
        "family_psoriasis": True,
        **fields,
    }


def test_a_clinician_records_the_phenotype_and_met_is_derived(record_a, as_clinician, clinician_a):
    created = as_clinician.post(PHENOTYPES, body(record_a), format="json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert shown["bristol_met"] is True  # multifocal with CRP below 30, no biopsy needed
    assert shown["bristol_biopsy"] is None
    assert shown["jansson_score"] is None  # its items are not recorded
    phenotype = Phenotype.objects.get(pk=shown["id"], patient=record_a.new_patient)
    assert phenotype.history.get().history_user == clinician_a
    assert created["ETag"] == etag_of(phenotype)


def test_the_score_is_derived_never_sent(record_a, as_clinician):
    refused = as_clinician.post(PHENOTYPES, body(record_a, jansson_score=63), format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"jansson_score": ["Unknown or read-only field."]}
    assert not Phenotype.objects.filter(patient=record_a.new_patient).exists()


@pytest.mark.parametrize(
    ("fields", "field", "starts"),
    [
        (None, None, None),  # after the diagnosis (the patient's own date, below)
        ({"first_symptoms_on": "2099-01-01"}, "first_symptoms_on", "01 Jan 2099 is in the future"),
        ({"first_symptoms_on": "1990-01-01"}, "first_symptoms_on", "01 Jan 1990 is before"),
        ({"family_history": "no"}, "family_history", "Conditions in the family are recorded"),
        (
            {"family_history": "yes", "family_psoriasis": False},
            "family_history",
            "Name at least one condition",
        ),
        ({"family_history": "maybe"}, "family_history", '"maybe" is not a valid choice.'),
    ],
)
def test_bad_phenotypes_are_refused_at_their_field(record_a, as_clinician, fields, field, starts):
    diagnosed = record_a.new_patient.diagnosed_on
    if fields is None:
        fields = {"first_symptoms_on": f"{diagnosed.year + 1}-01-01"}
        field, starts = "first_symptoms_on", f"01 Jan {diagnosed.year + 1} is after the diagnosis"
    refused = as_clinician.post(PHENOTYPES, body(record_a, **fields), format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["detail"] == REFUSED
    messages = refused.json()["errors"][field]
    assert any(message.startswith(starts) for message in messages), messages
    assert not Phenotype.objects.filter(patient=record_a.new_patient).exists()


def test_one_phenotype_per_patient_a_second_names_the_correction(record_a, as_clinician):
    stored = record_a.phenotype
    refused = as_clinician.post(
        PHENOTYPES, body(record_a, patient=record_a.patient.pk), format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "patient": [
            "This patient's phenotype is already recorded: correct it with "
            f"PATCH /api/v1/phenotypes/{stored.pk}/."
        ]
    }
    assert Phenotype.objects.filter(patient=record_a.patient).count() == 1


def test_a_correction_keeps_its_patient_and_derives_again(record_a, record_b, as_clinician):
    stored = record_a.phenotype
    stored.bristol_clinical = True
    stored.save()
    url = f"{PHENOTYPES}{stored.pk}/"
    moved = as_clinician.patch(
        url, {"patient": record_a.patient.pk, "bristol_radiological": False},
        format="json", headers={"If-Match": etag_of(stored)},
    )  # fmt: skip
    assert moved.status_code == 200, moved.json()
    assert moved.json()["bristol_met"] is False  # no typical radiology: not met, whatever else
    stored.refresh_from_db()
    other = record_b.patient.pk  # another site's patient: not one the caller can name
    refused = as_clinician.patch(
        url, {"patient": other}, format="json", headers={"If-Match": etag_of(stored)}
    )
    assert refused.status_code == 400
    assert "patient" in refused.json()["errors"]


def test_a_nurse_reads_but_may_not_record_a_phenotype(record_a, as_nurse):
    assert as_nurse.post(PHENOTYPES, body(record_a), format="json").status_code == 403
    assert as_nurse.get(PHENOTYPES).status_code == 200


def test_another_sites_phenotype_and_comorbidities_are_not_there(record_b, as_clinician):
    phenotype, comorbidity = record_b.phenotype, record_b.comorbidity
    assert as_clinician.get(f"{PHENOTYPES}{phenotype.pk}/").status_code == 404
    assert as_clinician.get(f"{COMORBIDITIES}{comorbidity.pk}/").status_code == 404
    for url in (PHENOTYPES, COMORBIDITIES):
        listed = as_clinician.get(url).json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert record_b.patient.pk not in {row["patient"] for row in rows}


def test_a_clinician_records_and_corrects_a_comorbidity(record_a, as_clinician):
    sent = {"patient": record_a.new_patient.pk, "condition": "ppp", "onset_on": "2025-03-01"}
    created = as_clinician.post(COMORBIDITIES, sent, format="json")
    assert created.status_code == 201, created.json()
    comorbidity = Comorbidity.objects.get(pk=created.json()["id"])
    corrected = as_clinician.patch(
        f"{COMORBIDITIES}{comorbidity.pk}/",
        {"onset_on": "2025-04-01"},
        format="json",
        headers={"If-Match": etag_of(comorbidity)},
    )
    assert corrected.status_code == 200, corrected.json()
    assert str(Comorbidity.objects.get(pk=comorbidity.pk).onset_on) == "2025-04-01"


@pytest.mark.parametrize(
    ("fields", "field", "starts"),
    [
        ({"condition": "gout"}, "condition", '"gout" is not a valid choice.'),
        ({"onset_on": "1990-01-01"}, "onset_on", "01 Jan 1990 is before"),
        ({"onset_on": "2099-01-01"}, "onset_on", "01 Jan 2099 is in the future"),
    ],
)
def test_bad_comorbidities_are_refused(record_a, as_clinician, fields, field, starts):
    sent = {"patient": record_a.new_patient.pk, "condition": "ppp", "onset_on": "2025-03-01"}
    refused = as_clinician.post(COMORBIDITIES, sent | fields, format="json")
    assert refused.status_code == 400, refused.json()
    messages = refused.json()["errors"][field]
    assert any(message.startswith(starts) for message in messages), messages
    assert not Comorbidity.objects.filter(patient=record_a.new_patient).exists()


def test_a_condition_twice_is_refused_with_the_correction_named(record_a, as_clinician):
    ComorbidityFactory(patient=record_a.new_patient, condition="ppp")
    sent = {"patient": record_a.new_patient.pk, "condition": "ppp", "onset_on": "2025-03-01"}
    refused = as_clinician.post(COMORBIDITIES, sent, format="json")
    assert refused.status_code == 400, refused.json()
    assert "already recorded for this patient" in str(refused.json()["errors"])
    assert Comorbidity.objects.filter(patient=record_a.new_patient).count() == 1
