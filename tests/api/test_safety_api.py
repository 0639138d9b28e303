"""The API door of the safety record: adverse events, screening results and vaccinations, their
refusals in the API's error format with nothing stored, and the clinicians' reviews."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.views import etag_of
from registry.models import AdverseEvent, ScreeningResult, TreatmentCourse, Vaccination
from tests.api.conftest import Record, token_client

pytestmark = pytest.mark.django_db

D = "2026-11-20"
REFUSED = "Invalid input: nothing was saved."
EVENTS, SCREENING, VACCINATIONS = (
    "/api/v1/adverse-events/",
    "/api/v1/screening-results/",
    "/api/v1/vaccinations/",
)


@pytest.fixture
def as_data_manager(data_manager_a) -> APIClient:
    return token_client(data_manager_a)


def event_body(record: Record, **fields: Any) -> dict[str, Any]:
    """A serious lung infection in hospital, still recovering."""
    return {
        "patient": record.patient.pk,
        "course": record.course.pk,
        "onset_on": "2026-11-02",
        "term": "lung_infection",
        "grade": 3,
        "serious": True,
        "seriousness_hospitalisation": True,
        "relation_to_infliximab": "possibly_related",
        "action_taken": "infusion_delayed",
        "outcome": "recovering",
        **fields,
    }


def test_a_clinician_records_a_serious_event_and_sees_its_coding(record_a, as_clinician):
    created = as_clinician.post(EVENTS, event_body(record_a), format="json")

    assert created.status_code == 201, created.json()
    shown = created.json()
    assert (shown["ctcae_term"], shown["code"]) == ("Lung infection", "10061229")
    assert shown["special_interest"] == ["serious_infection"]
    assert (shown["reviewed_on"], shown["reviewed_by"], shown["review_decision"]) == (
        None,
        None,
        "",
    )
    assert created["ETag"] == etag_of(AdverseEvent.objects.get(pk=shown["id"]))


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"grade": 7},
            {
                "grade": [
                    "The grade runs from 1 (mild) to 5 (death related to the event), as CTCAE "
                    "v5.0 grades; 7 is outside that."
                ]
            },
        ),
        (
            {"seriousness_hospitalisation": False},
            {
                "serious": [
                    "A serious event meets at least one seriousness criterion (ICH E2A): tick "
                    "each one it meets, or record it as not serious."
                ]
            },
        ),
        (
            {"outcome": "recovered"},
            {"resolved_on": ["Give when: the outcome says the event ended."]},
        ),
        (
            {"term": "infusion_related_reaction"},
            {
                "term": [
                    "An infusion reaction is recorded as a reaction to its infusion (Reaction), "
                    "which has its own review and holds further infusions when severe."
                ]
            },
        ),
    ],
)
def test_bad_adverse_events_are_refused_at_their_field(record_a, as_clinician, fields, errors):
    refused = as_clinician.post(EVENTS, event_body(record_a, **fields), format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": REFUSED, "errors": errors}
    assert AdverseEvent.objects.count() == 1  # the record's own


def test_a_review_sent_with_the_event_names_the_action(record_a, as_clinician):
    refused = as_clinician.post(
        EVENTS, event_body(record_a, review_decision="continue"), format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "review_decision": [
            "A clinician records the review with POST /api/v1/adverse-events/{id}/review/."
        ]
    }


def test_a_nurse_may_not_record_an_adverse_event(record_a, as_nurse):
    assert as_nurse.post(EVENTS, event_body(record_a), format="json").status_code == 403


def review_url(event: AdverseEvent) -> str:
    return f"{EVENTS}{event.pk}/review/"


def test_a_clinician_reviews_an_event_once(record_a, as_clinician, clinician_a):
    event = record_a.adverse_event
    reviewed = as_clinician.post(
        review_url(event), {"reviewed_on": D, "decision": "hold"}, format="json"
    )
    assert reviewed.status_code == 200, reviewed.json()
    assert (reviewed.json()["reviewed_by"], reviewed.json()["review_decision"]) == (
        clinician_a.username,
        "hold",
    )
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stopped_on is None  # only a stop

    again = as_clinician.post(
        review_url(event), {"reviewed_on": D, "decision": "stop"}, format="json"
    )
    assert again.status_code == 400
    assert again.json()["errors"] == {
        "reviewed_on": [f"This event was reviewed on 20 Nov 2026 by {clinician_a}."]
    }


@pytest.mark.parametrize("role", ["nurse", "data_manager"])
def test_only_a_clinician_reviews_an_event(record_a, as_nurse, as_data_manager, role):
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    refused = client.post(
        review_url(record_a.adverse_event), {"reviewed_on": D, "decision": "stop"}, format="json"
    )
    assert refused.status_code == 403
    assert AdverseEvent.objects.get(pk=record_a.adverse_event.pk).reviewed_on is None


def test_a_correction_goes_through_the_correction_service(record_a, as_data_manager):
    event = record_a.adverse_event
    url = f"{EVENTS}{event.pk}/"
    corrected = as_data_manager.patch(
        url, {"grade": 2}, format="json", headers={"If-Match": etag_of(event)}
    )
    assert corrected.status_code == 200, corrected.json()
    again = AdverseEvent.objects.get(pk=event.pk)
    refused = as_data_manager.patch(
        url,
        {"serious": True, "seriousness_hospitalisation": True},
        format="json",
        headers={"If-Match": etag_of(again)},
    )
    assert refused.status_code == 403
    assert "Only a clinician of this site may correct" in refused.json()["detail"]


# --- Screening and vaccinations ------------------------------------------------------------------


def test_a_screening_result_in_the_future_is_refused(record_a, as_clinician):
    body = {"patient": record_a.patient.pk, "test": "tb_igra", "tested_on": "2026-11-25",
            "result": "negative"}  # fmt: skip
    refused = as_clinician.post(SCREENING, body, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "tested_on": ["25 Nov 2026 is in the future; record what has happened."]
    }
    assert ScreeningResult.objects.count() == 1


def test_a_positive_screen_is_reviewed_by_a_clinician_a_negative_one_is_not(
    record_a, as_clinician, as_data_manager, clinician_a
):
    positive = record_a.screening_result
    url = f"{SCREENING}{positive.pk}/review/"
    assert as_data_manager.post(url, {"reviewed_on": D}, format="json").status_code == 403
    reviewed = as_clinician.post(url, {"reviewed_on": D}, format="json")
    assert reviewed.status_code == 200, reviewed.json()
    assert (reviewed.json()["reviewed_by"], reviewed.json()["needs_specialist"]) == (
        clinician_a.username,
        True,
    )

    negative = as_clinician.post(
        SCREENING,
        {"patient": record_a.patient.pk, "test": "hbv_hbsag", "tested_on": D,
         "result": "negative"},
        format="json",
    )  # fmt: skip
    refused = as_clinician.post(
        f"{SCREENING}{negative.json()['id']}/review/", {"reviewed_on": D}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "reviewed_on": ["A specialist review is not recorded for a negative result."]
    }


def test_a_vaccine_date_before_birth_is_refused_and_a_live_one_says_so(record_a, as_clinician):
    body = {"patient": record_a.patient.pk, "vaccine": "varicella", "given_on": "2012-03-13"}
    refused = as_clinician.post(VACCINATIONS, body, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "given_on": ["13 Mar 2012 is before the patient's date of birth."]
    }
    given = as_clinician.post(VACCINATIONS, {**body, "given_on": D}, format="json")
    assert given.status_code == 201, given.json()
    assert given.json()["live"] is True
    assert Vaccination.objects.filter(vaccine="varicella").count() == 1


def vaccination_review_url(vaccination: Vaccination) -> str:
    return f"{VACCINATIONS}{vaccination.pk}/review/"


def test_a_clinician_reviews_a_live_vaccination_once(record_a, as_clinician, clinician_a):
    vaccination = record_a.vaccination  # MMR, before the course
    body = {"reviewed_on": D, "decision": "infusion_deferred", "note": "  after the 90 days "}
    reviewed = as_clinician.post(vaccination_review_url(vaccination), body, format="json")
    assert reviewed.status_code == 200, reviewed.json()
    shown = reviewed.json()
    assert (shown["reviewed_on"], shown["reviewed_by"], shown["review_decision"]) == (
        D,
        clinician_a.username,
        "infusion_deferred",
    )
    assert shown["review_note"] == "after the 90 days"
    again = as_clinician.post(vaccination_review_url(vaccination), body, format="json")
    assert again.status_code == 400
    assert again.json()["errors"] == {
        "reviewed_on": [f"This vaccination was reviewed on 20 Nov 2026 by {clinician_a}."]
    }


def test_a_vaccine_that_is_not_live_is_not_reviewed(record_a, as_clinician):
    body = {"patient": record_a.patient.pk, "vaccine": "hepatitis_a", "given_on": D}
    given = as_clinician.post(VACCINATIONS, body, format="json").json()
    refused = as_clinician.post(
        f"{VACCINATIONS}{given['id']}/review/",
        {"reviewed_on": D, "decision": "risk_accepted"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": REFUSED,
        "errors": {
            "vaccine": [
                "Hepatitis A is not a live vaccine: only a live vaccine is reviewed (an "
                "inactivated one is no concern on infliximab)."
            ]
        },
    }
    assert Vaccination.objects.get(pk=given["id"]).reviewed_on is None


def test_a_vaccination_review_needs_its_decision_and_a_clinician(
    record_a, as_clinician, as_nurse, as_data_manager
):
    url = vaccination_review_url(record_a.vaccination)
    missing = as_clinician.post(url, {"reviewed_on": D}, format="json")
    assert missing.status_code == 400
    assert list(missing.json()["errors"]) == ["decision"]
    before = as_clinician.post(
        url, {"reviewed_on": "2026-01-01", "decision": "risk_accepted"}, format="json"
    )
    assert before.status_code == 400
    assert before.json()["errors"] == {
        "reviewed_on": ["The review is before the vaccine was given."]
    }
    for client in (as_nurse, as_data_manager):
        refused = client.post(url, {"reviewed_on": D, "decision": "risk_accepted"}, format="json")
        assert refused.status_code == 403
    assert Vaccination.objects.get(pk=record_a.vaccination.pk).reviewed_on is None


def test_a_review_sent_with_the_vaccination_names_the_action(record_a, as_clinician):
    body = {"patient": record_a.patient.pk, "vaccine": "bcg", "given_on": D,
            "review_decision": "risk_accepted"}  # fmt: skip
    refused = as_clinician.post(VACCINATIONS, body, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "review_decision": [
            "A clinician records the review of a live vaccine with POST "
            "/api/v1/vaccinations/{id}/review/."
        ]
    }
