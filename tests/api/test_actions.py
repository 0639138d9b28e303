"""The API door of every clinical action and safeguard: each refusal, and that nothing was stored.

The services behind these doors are tested in tests/registry; here the same rules are seen as a
script sees them: the status, the message in the API's error format, the rows as they stay.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from celery import current_app
from django.db import connection
from rest_framework.test import APIClient

from api.views import etag_of
from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert, AlertEvent
from registry.models import (
    Infusion,
    InfusionReaction,
    Patient,
    RegimenChange,
    Relapse,
    Role,
    TreatmentCourse,
)
from registry.signals import reevaluation_requested
from tests.api.conftest import Record, api_token, token_client
from tests.conftest import TODAY, _member
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
    RelapseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = "2026-11-20"  # after the active course's last infusion (15 Sep 2026), before TODAY
REFUSED = "Invalid input: nothing was saved."
# A refusal of the whole record: under the key DRF's own refusals use (test_validation.py), not
# Django's "__all__".
NON_FIELD = "non_field_errors"


def infusion_body(record: Record, **fields: Any) -> dict[str, Any]:
    """A valid infusion of the record's active course: 5 mg/kg at 40 kg, weighed that day."""
    return {
        "course": record.course.pk,
        "given_on": D,
        "weight_kg": "40",
        "weight_measured_on": D,
        "dose_mg": "200",
        **fields,
    }


def patch(client: APIClient, url: str, changes: dict[str, Any]) -> Any:
    """A correction of the record as the client reads it now (its current ETag)."""
    return client.patch(url, changes, format="json", headers={"If-Match": client.get(url)["ETag"]})


def severe_reaction(infusion: Infusion) -> InfusionReaction:
    """A severe reaction, not reviewed, and the urgent alert the engine raises for it."""
    reaction = ReactionFactory(infusion=infusion, severity="severe", symptoms="Anaphylaxis")
    evaluate_courses([infusion.course_id], TODAY)
    return reaction


def review_alert(reaction: InfusionReaction) -> Alert:
    return Alert.objects.get(rule="severe_reaction_review", key=f"reaction-{reaction.pk}")


@pytest.fixture
def as_data_manager(data_manager_a) -> APIClient:
    return token_client(data_manager_a)


# --- Stopping a course ---------------------------------------------------------------------------


def stop_url(course: TreatmentCourse) -> str:
    return f"/api/v1/courses/{course.pk}/stop/"


def test_a_clinician_stops_an_active_course(record_a, as_clinician, clinician_a):
    stopped = as_clinician.post(
        stop_url(record_a.course),
        {"stopped_on": D, "reason": "remission", "note": "MDT decision"},
        format="json",
    )
    assert stopped.status_code == 200, stopped.json()
    assert (stopped.json()["stopped_on"], stopped.json()["stop_reason"]) == (D, "remission")
    course = TreatmentCourse.objects.get(pk=record_a.course.pk)
    assert (course.stopped_on, course.stop_reason) == (dt.date(2026, 11, 20), "remission")
    assert "Stopped on 20 Nov 2026: MDT decision" in course.notes
    assert (
        stopped["ETag"]
        == etag_of(course)
        == as_clinician.get(f"/api/v1/courses/{course.pk}/")["ETag"]
    )
    assert course.history.first().history_user == clinician_a


def test_a_data_manager_may_stop_a_course_too(record_a, as_data_manager):
    stopped = as_data_manager.post(
        stop_url(record_a.course), {"stopped_on": D, "reason": "patient_choice"}, format="json"
    )
    assert stopped.status_code == 200, stopped.json()
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stop_reason == "patient_choice"


def test_a_course_stops_once(record_a, as_clinician):
    url = stop_url(record_a.course)
    first = as_clinician.post(url, {"stopped_on": D, "reason": "remission"}, format="json")
    assert first.status_code == 200, first.json()
    history = record_a.course.history.count()
    again = as_clinician.post(url, {"stopped_on": "2026-11-23", "reason": "other"}, format="json")
    assert again.status_code == 400
    assert again.json() == {
        "detail": REFUSED,
        "errors": {"stopped_on": ["This course already stopped on 20 Nov 2026."]},
    }
    course = TreatmentCourse.objects.get(pk=record_a.course.pk)
    assert (course.stopped_on, course.stop_reason) == (dt.date(2026, 11, 20), "remission")
    assert course.history.count() == history


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"stopped_on": "2026-09-01", "reason": "remission"},
            {
                "stopped_on": [
                    "The last infusion was given on 15 Sep 2026; the course cannot stop before it."
                ]
            },
        ),
        (
            {"stopped_on": "2026-12-01", "reason": "remission"},
            {"stopped_on": ["01 Dec 2026 is in the future; record what has happened."]},
        ),
        ({"stopped_on": D, "reason": "bored"}, {"reason": ['"bored" is not a valid choice.']}),
        ({"reason": "remission"}, {"stopped_on": ["This field is required."]}),
    ],
    ids=["before-the-last-infusion", "in-the-future", "no-such-reason", "no-date"],
)
def test_a_stop_the_record_cannot_hold_is_refused(body, errors, record_a, as_clinician):
    before = as_clinician.get(f"/api/v1/courses/{record_a.course.pk}/").json()
    refused = as_clinician.post(stop_url(record_a.course), body, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": REFUSED, "errors": errors}
    assert as_clinician.get(f"/api/v1/courses/{record_a.course.pk}/").json() == before
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stopped_on is None


def test_a_stop_is_not_a_correction(record_a, as_clinician):
    url = f"/api/v1/courses/{record_a.course.pk}/"
    before = as_clinician.get(url).json()
    for changes in ({"stopped_on": D}, {"stopped_on": D, "stop_reason": "remission"}):
        refused = patch(as_clinician, url, changes)
        assert refused.status_code == 400
        assert refused.json()["errors"]["stopped_on"] == [
            "Stop a course with POST /api/v1/courses/{id}/stop/."
        ]
    body = {k: v for k, v in before.items() if k not in ("id", "drug", "created_at", "updated_at")}
    put = as_clinician.put(
        url,
        {**body, "stopped_on": D},
        format="json",
        headers={"If-Match": as_clinician.get(url)["ETag"]},
    )
    assert put.status_code == 400
    assert "POST /api/v1/courses/{id}/stop/" in put.json()["errors"]["stopped_on"][0]
    assert as_clinician.get(url).json() == before


def test_a_nurse_does_not_stop_a_course(record_a, as_nurse):
    refused = as_nurse.post(
        stop_url(record_a.course), {"stopped_on": D, "reason": "remission"}, format="json"
    )
    assert refused.status_code == 403
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stopped_on is None


def test_another_site_s_course_is_not_found(record_a, record_b, as_clinician):
    refused = as_clinician.post(
        stop_url(record_b.course), {"stopped_on": D, "reason": "remission"}, format="json"
    )
    assert refused.status_code == 404
    assert TreatmentCourse.objects.get(pk=record_b.course.pk).stopped_on is None


# --- Reviewing a reaction ------------------------------------------------------------------------


def review_url(reaction: InfusionReaction) -> str:
    return f"/api/v1/reactions/{reaction.pk}/review/"


REVIEW = {"reviewed_on": D, "decision": "continue_premedicated", "note": "Premedicate next time"}


def test_a_clinician_reviews_a_reaction(record_a, as_clinician, clinician_a):
    reviewed = as_clinician.post(review_url(record_a.reaction), REVIEW, format="json")
    assert reviewed.status_code == 200, reviewed.json()
    shown = reviewed.json()
    assert (shown["reviewed_on"], shown["reviewed_by"]) == (D, clinician_a.username)
    assert (shown["review_decision"], shown["review_note"]) == (
        "continue_premedicated",
        "Premedicate next time",
    )
    reaction = InfusionReaction.objects.get(pk=record_a.reaction.pk)
    assert reaction.reviewed_by == clinician_a
    assert reviewed["ETag"] == etag_of(reaction)
    # Continuing leaves the course as it was.
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stopped_on is None


@pytest.mark.parametrize("role", ["nurse", "data_manager"])
def test_only_a_clinician_reviews_a_reaction(role, record_a, as_nurse, as_data_manager):
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    refused = client.post(review_url(record_a.reaction), REVIEW, format="json")
    assert refused.status_code == 403
    reaction = InfusionReaction.objects.get(pk=record_a.reaction.pk)
    assert (reaction.reviewed_on, reaction.reviewed_by, reaction.review_decision) == (
        None,
        None,
        "",
    )
    assert reaction.history.count() == 1


def test_a_reaction_is_reviewed_once(record_a, as_clinician, clinician_a):
    first = as_clinician.post(review_url(record_a.reaction), REVIEW, format="json")
    assert first.status_code == 200, first.json()
    again = as_clinician.post(
        review_url(record_a.reaction),
        {"reviewed_on": "2026-11-23", "decision": "stop"},
        format="json",
    )
    assert again.status_code == 400
    assert again.json() == {
        "detail": REFUSED,
        "errors": {"reviewed_on": [f"This reaction was reviewed on 20 Nov 2026 by {clinician_a}."]},
    }
    reaction = InfusionReaction.objects.get(pk=record_a.reaction.pk)
    assert (reaction.reviewed_on, reaction.review_decision) == (
        dt.date(2026, 11, 20),
        "continue_premedicated",
    )
    assert TreatmentCourse.objects.get(pk=record_a.course.pk).stopped_on is None


def test_a_review_that_decides_to_stop_stops_the_course(record_a, as_clinician, clinician_a):
    reviewed = as_clinician.post(
        review_url(record_a.reaction),
        {"reviewed_on": D, "decision": "stop", "note": "Second reaction"},
        format="json",
    )
    assert reviewed.status_code == 200, reviewed.json()
    assert reviewed.json()["review_decision"] == "stop"
    course = TreatmentCourse.objects.get(pk=record_a.course.pk)
    assert (course.stopped_on, course.stop_reason) == (dt.date(2026, 11, 20), "adverse_event")
    assert "infusion of 04 Aug 2026" in course.notes
    assert course.history.first().history_user == clinician_a


def test_a_review_before_its_infusion_is_refused(record_a, as_clinician):
    refused = as_clinician.post(
        review_url(record_a.reaction),
        {"reviewed_on": "2026-08-01", "decision": "continue_unchanged"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"reviewed_on": ["The review is before the infusion."]}
    assert InfusionReaction.objects.get(pk=record_a.reaction.pk).reviewed_on is None


@pytest.mark.parametrize(
    "changes",
    [
        {"reviewed_on": D},
        {"review_decision": "continue_unchanged"},
        {"review_note": "Fine"},
        {"reviewed_by": "carl"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_a_review_is_not_a_correction(changes, record_a, as_clinician):
    url = f"/api/v1/reactions/{record_a.reaction.pk}/"
    before = as_clinician.get(url).json()
    refused = patch(as_clinician, url, changes)
    assert refused.status_code == 400
    [field] = changes
    assert refused.json()["errors"] == {
        field: ["A clinician records the review with POST /api/v1/reactions/{id}/review/."]
    }
    assert as_clinician.get(url).json() == before


# --- The severe reaction hold --------------------------------------------------------------------


@pytest.fixture(params=["this-course", "an-earlier-course"])
def held(request, record_a) -> InfusionReaction:
    """A severe reaction not reviewed: after the active course's last infusion (15 Sep 2026), or
    after an infusion of the earlier, stopped course (06 Jan 2025): exposure spans courses."""
    if request.param == "this-course":
        return severe_reaction(record_a.infusion)
    earlier = InfusionFactory(course=record_a.stopped_course, given_on=dt.date(2025, 1, 6))
    return severe_reaction(earlier)


def given_on_of(reaction: InfusionReaction) -> str:
    return f"{reaction.infusion.given_on:%d %b %Y}"


def test_an_unreviewed_severe_reaction_holds_every_infusion(held, record_a, as_nurse):
    before = Infusion.objects.count()
    refused = as_nurse.post("/api/v1/infusions/", infusion_body(record_a), format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": REFUSED,
        "errors": {
            NON_FIELD: [
                f"The severe reaction to the infusion of {given_on_of(held)} has not been "
                "reviewed by a clinician: no further infusion until it is (GUIDELINE: severe "
                "reaction hold)."
            ]
        },
    }
    assert Infusion.objects.count() == before
    # A clinician's hand does not lift it either: only the review does.
    by_clinician = token_client(_member("cara", record_a.site, Role.CLINICIAN)).post(
        "/api/v1/infusions/", infusion_body(record_a), format="json"
    )
    assert by_clinician.status_code == 400
    assert Infusion.objects.count() == before


def test_a_clinician_s_review_lifts_the_hold(held, record_a, as_nurse, as_clinician):
    reviewed = as_clinician.post(
        review_url(held), {"reviewed_on": D, "decision": "continue_premedicated"}, format="json"
    )
    assert reviewed.status_code == 200, reviewed.json()
    given = as_nurse.post(
        "/api/v1/infusions/",
        infusion_body(record_a, premedication_antihistamine=True),
        format="json",
    )
    assert given.status_code == 201, given.json()
    assert Infusion.objects.filter(course=record_a.course, given_on=D).exists()


def test_a_review_that_stops_infliximab_holds_for_good(record_a, as_nurse, as_clinician):
    earlier = InfusionFactory(course=record_a.stopped_course, given_on=dt.date(2025, 1, 6))
    reaction = severe_reaction(earlier)
    reviewed = as_clinician.post(
        review_url(reaction), {"reviewed_on": D, "decision": "stop"}, format="json"
    )
    assert reviewed.status_code == 200, reviewed.json()
    before = Infusion.objects.count()
    refused = as_nurse.post("/api/v1/infusions/", infusion_body(record_a), format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        NON_FIELD: [
            "After the severe reaction to the infusion of 06 Jan 2025, a clinician decided to "
            "stop infliximab on 20 Nov 2026: no further infusion."
        ]
    }
    assert Infusion.objects.count() == before


# --- Doses ---------------------------------------------------------------------------------------


def intensify(client: APIClient, record: Record, mg_per_kg: str, effective_on: str) -> Any:
    return client.post(
        "/api/v1/regimen-changes/",
        {
            "course": record.course.pk,
            "effective_on": effective_on,
            "dose_mg_per_kg": mg_per_kg,
            "interval_weeks": 8,
            "reason": "intensification",
        },
        format="json",
    )


@pytest.mark.parametrize("intensified", [False, True], ids=["no-regimen", "intensified"])
def test_an_implausible_dose_is_refused_whatever_the_regimen(
    intensified, record_a, as_nurse, as_clinician
):
    if intensified:
        assert intensify(as_clinician, record_a, "20", "2026-11-01").status_code == 201
    before = Infusion.objects.count()
    refused = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, dose_mg="2000"), format="json"
    )  # 50 mg/kg
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["dose_mg"]
    assert "50.00 mg/kg" in refused.json()["errors"]["dose_mg"][0]
    assert Infusion.objects.count() == before


def test_a_dose_above_the_cap_needs_an_intensification(record_a, as_nurse, as_clinician):
    before = Infusion.objects.count()
    for client in (as_nurse, as_clinician):  # the role does not lift the cap
        refused = client.post(
            "/api/v1/infusions/", infusion_body(record_a, dose_mg="440"), format="json"
        )  # 11 mg/kg
        assert refused.status_code == 400
        assert refused.json()["errors"] == {
            "dose_mg": [
                "440 mg for 40 kg is 11.00 mg/kg, above the 10 mg/kg cap, and no intensification "
                "is in force. A dose above the cap needs a clinician's intensification (a "
                "regimen change) that prescribes it."
            ]
        }
    assert Infusion.objects.count() == before


@pytest.mark.parametrize(
    ("prescribed", "dose_mg", "accepted"),
    [
        ("11", "440", True),  # 11 mg/kg as prescribed
        ("11", "480", True),  # 12 mg/kg: within 10 % of 11 (12.1)
        ("11", "500", False),  # 12.5 mg/kg: beyond it
        ("12", "520", True),  # 13 mg/kg: within 10 % of 12 (13.2)
        ("12", "540", False),  # 13.5 mg/kg: beyond it
    ],
)
def test_a_clinician_s_intensification_allows_its_dose(
    prescribed, dose_mg, accepted, record_a, as_nurse, as_clinician
):
    assert intensify(as_clinician, record_a, prescribed, "2026-11-01").status_code == 201
    before = Infusion.objects.count()
    given = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, dose_mg=dose_mg), format="json"
    )
    if accepted:
        assert given.status_code == 201, given.json()
        assert Infusion.objects.get(pk=given.json()["id"]).dose_mg == Decimal(dose_mg)
    else:
        assert given.status_code == 400
        [message] = given.json()["errors"]["dose_mg"]
        assert f"the intensification of 01 Nov 2026 prescribes {prescribed} mg/kg" in message
        assert Infusion.objects.count() == before


def test_an_intensification_counts_from_its_date(record_a, as_nurse, as_clinician):
    assert intensify(as_clinician, record_a, "11", "2026-11-22").status_code == 201
    before = Infusion.objects.count()
    refused = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, dose_mg="440"), format="json"
    )  # given on 20 Nov, before it
    assert refused.status_code == 400
    assert "no intensification is in force" in refused.json()["errors"]["dose_mg"][0]
    assert Infusion.objects.count() == before


@pytest.mark.parametrize("role", ["nurse", "data_manager"])
def test_only_a_clinician_prescribes_an_intensification(role, record_a, as_nurse, as_data_manager):
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    refused = intensify(client, record_a, "11", "2026-11-01")
    assert refused.status_code == 403
    assert not RegimenChange.objects.filter(course=record_a.course).exists()
    still = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, dose_mg="440"), format="json"
    )
    assert still.status_code == 400


def test_a_data_manager_records_a_taper(record_a, as_data_manager):
    taper = as_data_manager.post(
        "/api/v1/regimen-changes/",
        {
            "course": record_a.course.pk,
            "effective_on": "2026-11-01",
            "dose_mg_per_kg": "5",
            "interval_weeks": 10,
            "reason": "taper",
        },
        format="json",
    )
    assert taper.status_code == 201, taper.json()


# --- Weights -------------------------------------------------------------------------------------


@pytest.fixture
def weighed(record_a, as_nurse) -> TreatmentCourse:
    """A new course whose first infusion was at 27.3 kg on 03 Nov 2026."""
    course = CourseFactory(patient=record_a.new_patient, started_on=dt.date(2026, 11, 3))
    first = as_nurse.post(
        "/api/v1/infusions/",
        {
            "course": course.pk,
            "given_on": "2026-11-03",
            "weight_kg": "27.3",
            "weight_measured_on": "2026-11-03",
            "dose_mg": "136.5",
        },
        format="json",
    )
    assert first.status_code == 201, first.json()
    return course


def test_a_weight_far_from_the_last_one_must_be_confirmed(weighed, as_nurse):
    body = {
        "course": weighed.pk,
        "given_on": "2026-11-17",
        "weight_kg": "2.73",  # a slipped decimal point
        "weight_measured_on": "2026-11-17",
        "dose_mg": "13.6",
    }
    refused = as_nurse.post("/api/v1/infusions/", body, format="json")
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert list(errors) == ["weight_kg"]
    assert "2.73 kg" in errors["weight_kg"][0]
    assert "27.3 kg measured on 03 Nov 2026" in errors["weight_kg"][0]
    assert weighed.infusions.count() == 1

    confirmed = as_nurse.post(
        "/api/v1/infusions/", {**body, "weight_confirmed": True}, format="json"
    )
    assert confirmed.status_code == 201, confirmed.json()
    assert confirmed.json()["weight_confirmed"] is True
    stored = Infusion.objects.get(pk=confirmed.json()["id"])
    assert (stored.weight_kg, stored.weight_confirmed) == (Decimal("2.73"), True)


def test_a_weight_close_to_the_last_one_needs_no_confirmation(weighed, as_nurse):
    given = as_nurse.post(
        "/api/v1/infusions/",
        {
            "course": weighed.pk,
            "given_on": "2026-11-17",
            "weight_kg": "28.1",
            "weight_measured_on": "2026-11-17",
            "dose_mg": "140",
        },
        format="json",
    )
    assert given.status_code == 201, given.json()
    assert given.json()["weight_confirmed"] is False


def test_an_infusion_says_when_its_weight_was_measured(record_a, as_nurse):
    before = Infusion.objects.count()
    body = infusion_body(record_a)
    del body["weight_measured_on"]
    refused = as_nurse.post("/api/v1/infusions/", body, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"weight_measured_on": ["This field is required."]}
    later = as_nurse.post(
        "/api/v1/infusions/",
        infusion_body(record_a, weight_measured_on="2026-11-21"),
        format="json",
    )
    assert later.status_code == 400
    assert later.json()["errors"] == {
        "weight_measured_on": ["The weight must be measured before the infusion."]
    }
    assert Infusion.objects.count() == before


# --- Retreatment ---------------------------------------------------------------------------------


@pytest.fixture
def relapse(record_a) -> Relapse:
    """A relapse noted on 01 Jun 2026 after a course that stopped on 01 Feb 2026, none since."""
    patient = record_a.new_patient
    stopped = CourseFactory(
        patient=patient,
        started_on=dt.date(2025, 1, 6),
        stopped_on=dt.date(2026, 2, 1),
        stop_reason="remission",
    )
    return RelapseFactory(course=stopped, patient=patient, noted_on=dt.date(2026, 6, 1))


def retreat_url(relapse: Relapse) -> str:
    return f"/api/v1/relapses/{relapse.pk}/retreat/"


def test_a_retreatment_starts_the_course_and_links_it(relapse, as_clinician, clinician_a):
    started = as_clinician.post(retreat_url(relapse), {"started_on": "2026-11-02"}, format="json")
    assert started.status_code == 201, started.json()
    course = TreatmentCourse.objects.get(pk=started.json()["id"])
    assert (course.patient, course.started_on, course.stopped_on) == (
        relapse.patient,
        dt.date(2026, 11, 2),
        None,
    )
    assert (course.planned_dose_mg_per_kg, course.induction_weeks) == (Decimal("5"), [0, 2, 6])
    assert course.notes == "Retreatment after the relapse noted on 01 Jun 2026."
    assert started["ETag"] == etag_of(course)
    relapse.refresh_from_db()
    assert relapse.retreatment_course == course
    assert relapse.history.first().history_user == clinician_a
    assert course.history.first().history_user == clinician_a
    shown = as_clinician.get(f"/api/v1/relapses/{relapse.pk}/").json()
    assert shown["retreatment_course"] == course.pk


def test_a_data_manager_may_start_a_retreatment(relapse, as_data_manager):
    started = as_data_manager.post(
        retreat_url(relapse),
        {"started_on": "2026-11-02", "planned_dose_mg_per_kg": "7.5", "induction_weeks": [0, 2]},
        format="json",
    )
    assert started.status_code == 201, started.json()
    course = TreatmentCourse.objects.get(pk=started.json()["id"])
    assert (course.planned_dose_mg_per_kg, course.induction_weeks) == (Decimal("7.5"), [0, 2])


def courses_and_links(relapse: Relapse) -> tuple[int, int | None]:
    return (
        TreatmentCourse.objects.filter(patient=relapse.patient).count(),
        Relapse.objects.get(pk=relapse.pk).retreatment_course_id,
    )


@pytest.mark.parametrize(
    ("started_on", "errors"),
    [
        # The course alone is valid (after the previous one stopped); the link is not: both or
        # neither, so no course is left behind.
        (
            "2026-04-01",
            {"retreatment_course": ["The retreatment course starts before the relapse was noted."]},
        ),
        (
            "2026-01-15",
            {
                "started_on": [
                    "The previous course stopped on 01 Feb 2026; a new course cannot start "
                    "before that."
                ]
            },
        ),
        ("2026-12-01", {"started_on": ["01 Dec 2026 is in the future; record what has happened."]}),
    ],
    ids=["before-the-relapse", "before-the-previous-stop", "in-the-future"],
)
def test_a_retreatment_that_fails_leaves_nothing_behind(started_on, errors, relapse, as_clinician):
    before = courses_and_links(relapse)
    refused = as_clinician.post(retreat_url(relapse), {"started_on": started_on}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": REFUSED, "errors": errors}
    assert courses_and_links(relapse) == before == (1, None)
    assert not TreatmentCourse.objects.filter(started_on=started_on).exists()


def test_a_relapse_is_retreated_once(relapse, as_clinician):
    first = as_clinician.post(retreat_url(relapse), {"started_on": "2026-11-02"}, format="json")
    assert first.status_code == 201, first.json()
    before = courses_and_links(relapse)
    again = as_clinician.post(retreat_url(relapse), {"started_on": "2026-11-03"}, format="json")
    assert again.status_code == 400
    assert again.json()["errors"] == {
        "retreatment_course": [
            "This relapse is already being retreated (the course from 02 Nov 2026)."
        ]
    }
    assert courses_and_links(relapse) == before


def test_a_nurse_does_not_start_a_retreatment(relapse, as_nurse):
    refused = as_nurse.post(retreat_url(relapse), {"started_on": "2026-11-02"}, format="json")
    assert refused.status_code == 403
    assert courses_and_links(relapse) == (1, None)


def test_the_retreatment_link_is_not_a_correction(relapse, record_a, as_clinician):
    url = f"/api/v1/relapses/{relapse.pk}/"
    refused = patch(as_clinician, url, {"retreatment_course": record_a.course.pk})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "retreatment_course": ["Start a retreatment with POST /api/v1/relapses/{id}/retreat/."]
    }
    assert courses_and_links(relapse) == (1, None)


# --- Corrections of what the guideline reads: a clinician's ---------------------------------------


@dataclass(frozen=True)
class Correction:
    resource: str
    row: Callable[[Record], Any]
    changes: dict[str, Any]


ENGINE_CORRECTIONS = {
    "infusion-dose": Correction("infusions", lambda r: r.infusion, {"dose_mg": "210.0"}),
    "infusion-weight": Correction("infusions", lambda r: r.infusion, {"weight_kg": "41.00"}),
    "infusion-premedication": Correction(
        "infusions", lambda r: r.infusion, {"premedication_antihistamine": True}
    ),
    "reaction-severity": Correction("reactions", lambda r: r.reaction, {"severity": "moderate"}),
    "lab-value": Correction("lab-results", lambda r: r.lab_result, {"value": "40.000"}),
    "course-dose": Correction("courses", lambda r: r.course, {"planned_dose_mg_per_kg": "7.50"}),
    "course-stop-reason": Correction(
        "courses", lambda r: r.stopped_course, {"stop_reason": "inefficacy"}
    ),
    "regimen-interval": Correction(
        "regimen-changes", lambda r: r.regimen_change, {"interval_weeks": 12}
    ),
    "imaging-lesions": Correction("imaging-studies", lambda r: r.imaging_study, {"new_lesions": 2}),
    "assessment-pain": Correction("assessments", lambda r: r.assessment, {"pain_score": "0.0"}),
    "relapse-date": Correction("relapses", lambda r: r.relapse, {"noted_on": "2026-07-21"}),
}
NURSE_MAY_CHANGE = {"infusions", "reactions", "lab-results"}


def detail_url(correction: Correction, record: Record) -> str:
    return f"/api/v1/{correction.resource}/{correction.row(record).pk}/"


@pytest.mark.parametrize("role", ["nurse", "data_manager"])
@pytest.mark.parametrize("name", list(ENGINE_CORRECTIONS))
def test_only_a_clinician_corrects_what_the_guideline_reads(
    name, role, record_a, as_nurse, as_data_manager, as_clinician
):
    correction = ENGINE_CORRECTIONS[name]
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    url = detail_url(correction, record_a)
    before = as_clinician.get(url).json()
    refused = patch(client, url, correction.changes)
    assert refused.status_code == 403
    if role == "data_manager" or correction.resource in NURSE_MAY_CHANGE:
        # Allowed to correct the record, not this field: the service names it.
        assert refused.json()["detail"].startswith("Only a clinician of this site may correct")
    assert as_clinician.get(url).json() == before

    corrected = patch(as_clinician, url, correction.changes)
    assert corrected.status_code == 200, corrected.json()
    assert {k: corrected.json()[k] for k in correction.changes} == correction.changes


@pytest.mark.parametrize(
    ("role", "resource", "row", "changes"),
    [
        ("nurse", "infusions", lambda r: r.infusion, {"lot_number": "AB1234", "notes": "Slow"}),
        ("nurse", "reactions", lambda r: r.reaction, {"symptoms": "Itch", "outcome": "ongoing"}),
        ("nurse", "lab-results", lambda r: r.lab_result, {"assay_name": "hsCRP"}),
        ("data_manager", "courses", lambda r: r.course, {"notes": "Referred by Dr Ng"}),
        ("data_manager", "patients", lambda r: r.patient, {"family_name": "Nowakowska"}),
        ("data_manager", "imaging-studies", lambda r: r.imaging_study, {"report_text": "Typed"}),
        ("data_manager", "assessments", lambda r: r.assessment, {"notes": "By phone"}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_what_the_guideline_does_not_read_staff_may_correct(
    role, resource, row, changes, record_a, as_nurse, as_data_manager
):
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    url = f"/api/v1/{resource}/{row(record_a).pk}/"
    corrected = patch(client, url, changes)
    assert corrected.status_code == 200, corrected.json()
    assert {k: corrected.json()[k] for k in changes} == changes
    assert {k: client.get(url).json()[k] for k in changes} == changes


def test_a_nurse_cannot_clear_a_severe_reaction_s_alert_by_editing_it(
    record_a, as_nurse, as_clinician, clinician_a, committed
):
    """The red-team bypass: downgrading the severity would resolve the urgent review alert."""
    reaction = severe_reaction(record_a.infusion)
    alert = review_alert(reaction)
    assert (alert.status, alert.severity) == ("open", "urgent")
    url = f"/api/v1/reactions/{reaction.pk}/"
    with committed():
        refused = patch(as_nurse, url, {"severity": "mild"})
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only a clinician of this site may correct severity: the guideline's alerts "
        "read it."
    }
    assert InfusionReaction.objects.get(pk=reaction.pk).severity == "severe"
    assert review_alert(reaction).status == "open"

    with committed():
        corrected = patch(as_clinician, url, {"severity": "mild"})
    assert corrected.status_code == 200, corrected.json()
    assert InfusionReaction.objects.get(pk=reaction.pk).severity == "mild"
    alert = review_alert(reaction)
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    last = alert.events.order_by("at", "pk").last()
    assert (last.kind, last.actor) == ("resolved", clinician_a)


def test_a_nurse_may_not_correct_a_dose(record_a, as_nurse):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    refused = patch(as_nurse, url, {"dose_mg": "400"})
    assert refused.status_code == 403
    infusion = Infusion.objects.get(pk=record_a.infusion.pk)
    assert infusion.dose_mg == Decimal("200")
    assert infusion.history.count() == 1


def test_a_corrected_dose_passes_the_same_safeguards(record_a, as_clinician):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    refused = patch(as_clinician, url, {"dose_mg": "440"})  # 11 mg/kg, no intensification
    assert refused.status_code == 400
    assert "no intensification is in force" in refused.json()["errors"]["dose_mg"][0]
    assert Infusion.objects.get(pk=record_a.infusion.pk).dose_mg == Decimal("200")


# --- Roles are per site --------------------------------------------------------------------------


@pytest.fixture
def mixed(site_a, site_b) -> APIClient:
    """Someone who nurses at north (site A) and is a clinician at south (site B)."""
    user = UserFactory(username="mia")
    MembershipFactory(user=user, site=site_a, role=Role.NURSE)
    MembershipFactory(user=user, site=site_b, role=Role.CLINICIAN)
    return token_client(user)


@dataclass
class AtSite:
    record: Record
    reaction: InfusionReaction  # severe, not reviewed
    alert: Alert  # its urgent review alert


@pytest.fixture
def sites(record_a, record_b) -> dict[str, AtSite]:
    made = {}
    for name, record in (("north", record_a), ("south", record_b)):
        reaction = severe_reaction(record.infusion)
        made[name] = AtSite(record=record, reaction=reaction, alert=review_alert(reaction))
    return made


def _register(client: APIClient, at: AtSite) -> Any:
    body = {
        "site": at.record.site.code,
        "mrn": "NEW-1",
        "given_name": "Ola",
        "family_name": "Nowak",
        "date_of_birth": "2014-02-01",
        "sex": "male",
    }
    return client.post("/api/v1/patients/", body, format="json")


# A clinician-only action (for a nurse), what it changes, and its success status.
CLINICIAN_ACTIONS: dict[
    str, tuple[Callable[[APIClient, AtSite], Any], Callable[[AtSite], Any], int]
] = {
    "register-a-patient": (
        _register,
        lambda at: Patient.objects.filter(site=at.record.site).count(),
        201,
    ),
    "correct-a-patient": (
        lambda c, at: patch(c, f"/api/v1/patients/{at.record.patient.pk}/", {"family_name": "X"}),
        lambda at: Patient.objects.get(pk=at.record.patient.pk).family_name,
        200,
    ),
    "stop-a-course": (
        lambda c, at: c.post(
            stop_url(at.record.course), {"stopped_on": D, "reason": "remission"}, format="json"
        ),
        lambda at: TreatmentCourse.objects.get(pk=at.record.course.pk).stopped_on,
        200,
    ),
    "review-a-reaction": (
        lambda c, at: c.post(review_url(at.reaction), REVIEW, format="json"),
        lambda at: InfusionReaction.objects.get(pk=at.reaction.pk).reviewed_on,
        200,
    ),
    "prescribe-an-intensification": (
        lambda c, at: intensify(c, at.record, "7.5", "2026-11-01"),
        lambda at: RegimenChange.objects.filter(course=at.record.course).count(),
        201,
    ),
    "correct-an-infusion-dose": (
        lambda c, at: patch(c, f"/api/v1/infusions/{at.record.infusion.pk}/", {"dose_mg": "210"}),
        lambda at: Infusion.objects.get(pk=at.record.infusion.pk).dose_mg,
        200,
    ),
    "dismiss-an-urgent-alert": (
        lambda c, at: c.post(
            f"/api/v1/alerts/{at.alert.pk}/dismiss/", {"reason": "Reviewed by phone"}, format="json"
        ),
        lambda at: (Alert.objects.get(pk=at.alert.pk).status, AlertEvent.objects.count()),
        200,
    ),
}


@pytest.mark.parametrize(("site", "allowed"), [("north", False), ("south", True)])
@pytest.mark.parametrize("action", list(CLINICIAN_ACTIONS))
def test_a_role_holds_at_its_own_site_only(action, site, allowed, mixed, sites):
    act, state, success = CLINICIAN_ACTIONS[action]
    at = sites[site]
    before = state(at)
    response = act(mixed, at)
    if allowed:
        assert response.status_code == success, response.json()
        assert state(at) != before
    else:
        assert response.status_code == 403, response.json()
        assert set(response.json()) == {"detail"}
        assert state(at) == before


def test_a_nurse_at_north_still_nurses_at_north(mixed, sites):
    """What a nurse may do at north, the same person may (the refusals above are not blanket)."""
    at = sites["north"]
    corrected = patch(mixed, f"/api/v1/infusions/{at.record.infusion.pk}/", {"lot_number": "L1"})
    assert corrected.status_code == 200, corrected.json()
    acknowledged = mixed.post(f"/api/v1/alerts/{at.alert.pk}/acknowledge/", {}, format="json")
    assert acknowledged.status_code == 200, acknowledged.json()


# --- Alerts --------------------------------------------------------------------------------------


@pytest.fixture
def urgent(record_a) -> Alert:
    return review_alert(severe_reaction(record_a.infusion))


def alert_state(alert: Alert) -> tuple[str, int]:
    return Alert.objects.get(pk=alert.pk).status, AlertEvent.objects.filter(alert=alert).count()


@pytest.mark.parametrize("role", ["nurse", "data_manager"])
def test_only_a_clinician_dismisses_an_urgent_alert(
    role, urgent, as_nurse, as_data_manager, as_clinician, clinician_a
):
    client = {"nurse": as_nurse, "data_manager": as_data_manager}[role]
    url = f"/api/v1/alerts/{urgent.pk}/"
    before = alert_state(urgent)
    refused = client.post(url + "dismiss/", {"reason": "Seen"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only a clinician of this site may dismiss an urgent alert; acknowledge it "
        "instead."
    }
    assert alert_state(urgent) == before

    acknowledged = client.post(url + "acknowledge/", {"note": "Paged Dr Ng"}, format="json")
    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"

    dismissed = as_clinician.post(url + "dismiss/", {"reason": "Reviewed by phone"}, format="json")
    assert dismissed.status_code == 200, dismissed.json()
    alert = Alert.objects.get(pk=urgent.pk)
    assert (alert.status, alert.resolution_reason) == ("dismissed", "Reviewed by phone")
    assert alert.events.order_by("at", "pk").last().actor == clinician_a


def test_a_nurse_dismisses_an_alert_that_is_not_urgent(record_a, as_nurse):
    assert record_a.alert.severity == "warning"
    dismissed = as_nurse.post(
        f"/api/v1/alerts/{record_a.alert.pk}/dismiss/", {"reason": "Given elsewhere"}, format="json"
    )
    assert dismissed.status_code == 200, dismissed.json()
    assert dismissed.json()["status"] == "dismissed"


@pytest.mark.parametrize("method", ["post", "get", "patch"])
def test_an_alert_is_not_resolved_by_hand(method, urgent, as_clinician):
    before = alert_state(urgent)
    response = as_clinician.generic(
        method.upper(),
        f"/api/v1/alerts/{urgent.pk}/resolve/",
        json.dumps({"note": "Done"}),
        content_type="application/json",
    )
    assert response.status_code in (404, 405)
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert alert_state(urgent) == before


def test_a_clinician_s_acknowledgement_closes_a_past_fact(
    record_a, as_nurse, as_clinician, clinician_a, committed
):
    """Stopped before 12 months: a past fact; a nurse's acknowledgement keeps it on the list, a
    clinician's closes it (it is never raised again)."""
    with committed():
        stopped = as_clinician.post(
            stop_url(record_a.course), {"stopped_on": D, "reason": "patient_choice"}, format="json"
        )
    assert stopped.status_code == 200, stopped.json()
    alert = Alert.objects.get(course=record_a.course, rule="early_discontinuation")
    url = f"/api/v1/alerts/{alert.pk}/acknowledge/"
    by_nurse = as_nurse.post(url, {"note": "Family moving away"}, format="json")
    assert (by_nurse.status_code, by_nurse.json()["status"]) == (200, "acknowledged")
    by_clinician = as_clinician.post(url, {}, format="json")
    assert by_clinician.status_code == 200, by_clinician.json()
    assert by_clinician.json()["status"] == "resolved"
    assert by_clinician.json()["resolution_reason"] == "a past fact, acknowledged by a clinician"
    assert by_clinician.json()["events"][-1]["actor"] == clinician_a.username
    with committed():  # a later re-evaluation does not raise it again
        noted = patch(as_clinician, f"/api/v1/courses/{record_a.course.pk}/", {"notes": "x"})
    assert noted.status_code == 200, noted.json()
    assert Alert.objects.get(pk=alert.pk).status == "resolved"
    assert Alert.objects.filter(course=record_a.course, rule="early_discontinuation").count() == 1


# --- One action, one re-evaluation ---------------------------------------------------------------


@pytest.fixture
def requests_sent() -> Iterator[list[dict[str, Any]]]:
    """The re-evaluation requests sent (on commit): their patient ids and actor."""
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, *, patient_ids: list[int], actor_id: int | None, **kwargs: Any):
        sent.append({"patient_ids": patient_ids, "actor_id": actor_id})

    reevaluation_requested.connect(receiver, weak=False, dispatch_uid="tests.api.requests_sent")
    try:
        yield sent
    finally:
        reevaluation_requested.disconnect(dispatch_uid="tests.api.requests_sent")


def test_an_infusion_asks_for_one_re_evaluation(
    record_a, as_nurse, nurse_a, committed, requests_sent
):
    with committed():
        given = as_nurse.post("/api/v1/infusions/", infusion_body(record_a), format="json")
        assert requests_sent == []  # not before the commit
    assert given.status_code == 201, given.json()
    assert requests_sent == [{"patient_ids": [record_a.patient.pk], "actor_id": nurse_a.pk}]


def test_a_retreatment_of_two_rows_asks_once(
    relapse, as_clinician, clinician_a, committed, requests_sent
):
    with committed():
        started = as_clinician.post(
            retreat_url(relapse), {"started_on": "2026-11-02"}, format="json"
        )
    assert started.status_code == 201, started.json()
    assert requests_sent == [{"patient_ids": [relapse.patient_id], "actor_id": clinician_a.pk}]


def test_a_review_that_stops_the_course_asks_once(
    record_a, as_clinician, clinician_a, committed, requests_sent
):
    with committed():
        reviewed = as_clinician.post(
            review_url(record_a.reaction), {"reviewed_on": D, "decision": "stop"}, format="json"
        )
    assert reviewed.status_code == 200, reviewed.json()
    assert requests_sent == [{"patient_ids": [record_a.patient.pk], "actor_id": clinician_a.pk}]


def test_a_correction_asks_once(record_a, as_nurse, nurse_a, committed, requests_sent):
    with committed():
        corrected = patch(as_nurse, f"/api/v1/infusions/{record_a.infusion.pk}/", {"notes": "ok"})
    assert corrected.status_code == 200, corrected.json()
    assert requests_sent == [{"patient_ids": [record_a.patient.pk], "actor_id": nurse_a.pk}]


def test_a_refused_action_asks_for_nothing(
    relapse, record_a, as_clinician, as_nurse, committed, requests_sent
):
    with committed():
        refused = as_clinician.post(
            retreat_url(relapse), {"started_on": "2026-04-01"}, format="json"
        )
        forbidden = patch(as_nurse, f"/api/v1/infusions/{record_a.infusion.pk}/", {"dose_mg": "1"})
        capped = as_nurse.post(
            "/api/v1/infusions/", infusion_body(record_a, dose_mg="440"), format="json"
        )
    assert [refused.status_code, forbidden.status_code, capped.status_code] == [400, 403, 400]
    assert requests_sent == []


# --- Two corrections at once ----------------------------------------------------------------------


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """The re-evaluation after each commit runs in the server's thread, not through Redis."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        yield
    finally:
        current_app.conf.task_always_eager = eager


def send_patch(url: str, token: str, etag: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 - the live server's http:// URL
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "If-Match": etag,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_tasks")
def test_of_two_updates_with_the_same_etag_one_wins_and_one_is_refused(
    live_server, site_a, clinician_a
):
    """Two clinicians correct the same patient at once, each with the ETag they read: the row lock
    makes the second wait for the first's commit, see the new ETag, and get 412. Without it both
    would pass the check and the second would silently overwrite the first."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (select_for_update)")
    colleague = _member("cleo", site_a, Role.CLINICIAN)
    tokens = {who: api_token(user) for who, user in (("carl", clinician_a), ("cleo", colleague))}
    patient = PatientFactory(site=site_a, family_name="Original")
    url = f"{live_server.url}/api/v1/patients/{patient.pk}/"
    for round_ in range(10):
        patient.refresh_from_db()
        etag = etag_of(patient)
        history = patient.history.count()
        barrier = threading.Barrier(2)
        outcomes: dict[str, int] = {}

        def correct(
            who: str,
            round_: int = round_,
            etag: str = etag,
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, int] = outcomes,
        ) -> None:
            barrier.wait()
            outcomes[who] = send_patch(
                url, tokens[who], etag, {"family_name": f"{who.title()} {round_}"}
            )

        threads = [threading.Thread(target=correct, args=(who,)) for who in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == [200, 412], f"round {round_}: {outcomes}"
        [winner] = [who for who, status in outcomes.items() if status == 200]
        patient.refresh_from_db()
        assert patient.family_name == f"{winner.title()} {round_}", f"round {round_}"
        assert patient.history.count() == history + 1, f"round {round_}"
