"""The API door of consent: recording (the document as code@version), its refusals at their field
in the API's error format with nothing stored, the withdrawal action and its refusals, and the
correction only a data manager may make."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.views import etag_of
from registry.models import Consent
from tests.api.conftest import Record, token_client
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

CONSENTS = "/api/v1/consents/"
REFUSED = "Invalid input: nothing was saved."
D = "2026-11-20"


@pytest.fixture
def as_data_manager(data_manager_a) -> APIClient:
    return token_client(data_manager_a)


def body(record: Record, **fields: Any) -> dict[str, Any]:
    return {
        "patient": record.patient.pk,
        "document": "parent-guardian-consent@1",
        "consented_by": "parent_guardian",
        "assent": "given",
        "care_data_given": True,
        "research_given": True,
        "given_on": D,
        **fields,
    }


def test_a_clinician_records_a_parents_consent(record_a, as_clinician, clinician_a):
    created = as_clinician.post(CONSENTS, body(record_a), format="json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert shown["document"] == "parent-guardian-consent@1"
    assert (shown["research_given"], shown["contact_given"]) == (True, False)
    assert shown["research_withdrawn_on"] is None
    consent = Consent.objects.get(pk=shown["id"])
    assert consent.history.get().history_user == clinician_a
    assert created["ETag"] == etag_of(consent)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"document": "parent-consent@9"},
            {
                "document": [
                    "“parent-consent@9” is not one of the registry's consent documents "
                    "(legacy-research-consent@0, parent-guardian-consent@1, "
                    "young-person-consent@1)."
                ]
            },
        ),
        (
            {"care_data_given": False, "research_given": False},
            {"research_given": ["Tick at least one scope the consent gives."]},
        ),
        (
            {"consented_by": "patient", "assent": "not_applicable"},
            {"consented_by": ["Parent/guardian consent v1 is signed by a parent or guardian."]},
        ),
        (
            {"given_on": "2026-11-25"},
            {"given_on": ["25 Nov 2026 is in the future; record what has happened."]},
        ),
    ],
)
def test_bad_consent_is_refused_at_its_field(record_a, as_clinician, fields, errors):
    refused = as_clinician.post(CONSENTS, body(record_a, **fields), format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": REFUSED, "errors": errors}
    assert Consent.objects.count() == 1  # the record's own


def test_assent_for_an_adult_is_refused(record_a, as_clinician):
    adult = PatientFactory(site=record_a.site, date_of_birth="2000-01-01")
    refused = as_clinician.post(CONSENTS, body(record_a, patient=adult.pk), format="json")
    assert refused.status_code == 400
    [message] = refused.json()["errors"]["assent"]
    assert message.startswith("The patient was 26 on 20 Nov 2026, an adult")
    assert not adult.consents.exists()


def test_a_withdrawal_sent_with_the_consent_names_the_action(record_a, as_clinician):
    refused = as_clinician.post(CONSENTS, body(record_a, research_withdrawn_on=D), format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "research_withdrawn_on": ["Record a withdrawal with POST /api/v1/consents/{id}/withdraw/."]
    }


def withdraw_url(consent: Consent) -> str:
    return f"{CONSENTS}{consent.pk}/withdraw/"


def test_a_clinician_withdraws_research_and_the_rest_stays(record_a, as_clinician):
    consent = record_a.consent
    done = as_clinician.post(
        withdraw_url(consent), {"withdrawn_on": D, "scopes": ["research"]}, format="json"
    )
    assert done.status_code == 200, done.json()
    assert done.json()["research_withdrawn_on"] == D
    assert done.json()["care_data_withdrawn_on"] is None
    assert done["ETag"] == etag_of(Consent.objects.get(pk=consent.pk))


@pytest.mark.parametrize(
    ("sent", "errors"),
    [
        (
            {"withdrawn_on": D, "scopes": []},
            {"scopes": ["Tick the scopes the withdrawal withdraws."]},
        ),
        (
            {"withdrawn_on": "2020-01-01", "scopes": ["research"]},
            {"withdrawn_on": ["Withdrawal is before consent was given (06 May 2026)."]},
        ),
        (
            {"withdrawn_on": D, "scopes": ["spam"]},
            {"scopes": {"0": ['"spam" is not a valid choice.']}},
        ),
    ],
)
def test_bad_withdrawals_are_refused(record_a, as_clinician, sent, errors):
    refused = as_clinician.post(withdraw_url(record_a.consent), sent, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["errors"] == errors
    assert Consent.objects.get(pk=record_a.consent.pk).research_withdrawn_on is None


def test_a_scope_never_given_cannot_be_withdrawn(record_a, as_clinician):
    consent = record_a.consent
    consent.contact_given = False
    consent.save()
    refused = as_clinician.post(
        withdraw_url(consent), {"withdrawn_on": D, "scopes": ["contact"]}, format="json"
    )
    assert refused.json()["errors"] == {
        "scopes": ["Contact for future studies was never given, so it cannot be withdrawn."]
    }


def test_a_nurse_may_neither_record_nor_withdraw(record_a, as_nurse):
    assert as_nurse.post(CONSENTS, body(record_a), format="json").status_code == 403
    assert (
        as_nurse.post(
            withdraw_url(record_a.consent),
            {"withdrawn_on": D, "scopes": ["research"]},
            format="json",
        ).status_code
        == 403
    )


def test_only_a_data_manager_corrects_a_consent(record_a, as_clinician, as_data_manager):
    consent = record_a.consent
    url = f"{CONSENTS}{consent.pk}/"
    refused = as_clinician.patch(
        url, {"contact_given": False}, format="json", headers={"If-Match": etag_of(consent)}
    )
    assert refused.status_code == 403
    corrected = as_data_manager.patch(
        url, {"contact_given": False}, format="json", headers={"If-Match": etag_of(consent)}
    )
    assert corrected.status_code == 200, corrected.json()
    assert Consent.objects.get(pk=consent.pk).contact_given is False


def test_another_sites_consents_are_not_there(record_b, as_clinician):
    assert as_clinician.get(f"{CONSENTS}{record_b.consent.pk}/").status_code == 404
    listed = as_clinician.get(CONSENTS).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert record_b.consent.pk not in {row["id"] for row in rows}
