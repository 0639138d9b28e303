"""The clinical record over the API: create, read, correct (never delete), with the same services
as the UI: the same validation, the same history, the same re-evaluation of the course."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from monitoring.models import Alert
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    Patient,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from tests.api.conftest import START, Record, token_client
from tests.factories import LabResultFactory

pytestmark = pytest.mark.django_db

D = "2026-11-20"

# One resource per row: its URL, a valid new record, a correction of it.
RESOURCES: list[tuple[str, type[Any], Any, dict[str, Any]]] = [
    (
        "patients",
        Patient,
        lambda r: {
            "site": "north",
            "mrn": "NEW-1",
            "given_name": "Ola",
            "family_name": "Nowak",
            "date_of_birth": "2014-02-01",
            "sex": "male",
        },
        {"family_name": "Nowakowska"},
    ),
    (
        "courses",
        TreatmentCourse,
        lambda r: {"patient": r.new_patient.pk, "started_on": D},
        {"notes": "Started after MDT review"},
    ),
    (
        "regimen-changes",
        RegimenChange,
        lambda r: {
            "course": r.course.pk,
            "effective_on": D,
            "dose_mg_per_kg": "5",
            "interval_weeks": 6,
            "reason": "intensification",
        },
        {"note": "Flare at week 12"},
    ),
    (
        "infusions",
        Infusion,
        lambda r: {
            "course": r.course.pk,
            "given_on": D,
            "weight_kg": "40",
            "weight_measured_on": D,
            "dose_mg": "200",
        },
        {"lot_number": "AB1234"},
    ),
    (
        "lab-results",
        LabResult,
        lambda r: {"patient": r.patient.pk, "collected_on": D, "analyte": "crp", "value": "3.2"},
        {"value": "4.1"},
    ),
    (
        "imaging-studies",
        ImagingStudy,
        lambda r: {"patient": r.patient.pk, "performed_on": D, "modality": "wb_mri"},
        {"impression": "improved"},
    ),
    (
        "assessments",
        ClinicalAssessment,
        lambda r: {"patient": r.patient.pk, "assessed_on": D, "pain_score": "2"},
        {"pain_score": "1.5"},
    ),
    (
        "reactions",
        InfusionReaction,
        lambda r: {
            "infusion": r.infusion.pk,
            "onset": "acute",
            "severity": "mild",
            "symptoms": "Flushing at 90 minutes",
        },
        {"outcome": "ongoing"},
    ),
    (
        "relapses",
        Relapse,
        lambda r: {"course": r.stopped_course.pk, "noted_on": D, "evidence": "New tibial lesion"},
        {"evidence": "New tibial and clavicular lesions"},
    ),
    (
        "medications",
        Medication,
        lambda r: {
            "patient": r.patient.pk,
            "drug": "methotrexate",
            "dose": "15.000",
            "dose_unit": "mg/m2",
            "route": "subcutaneous",
            "frequency": "weekly",
            "started_on": D,
        },
        {"frequency": "every_2_weeks"},
    ),
]


@pytest.mark.parametrize(
    ("resource", "model", "new", "correction"), RESOURCES, ids=[r[0] for r in RESOURCES]
)
def test_create_read_correct_and_never_delete(
    resource, model, new, correction, record_a, as_clinician, clinician_a
):
    created = as_clinician.post(f"/api/v1/{resource}/", new(record_a), format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    url = f"/api/v1/{resource}/{pk}/"
    read = as_clinician.get(url)
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read["ETag"] == created["ETag"]

    corrected = as_clinician.patch(
        url, correction, format="json", headers={"If-Match": read["ETag"]}
    )
    assert corrected.status_code == 200, corrected.json()
    assert corrected["ETag"] != read["ETag"]
    for field, value in correction.items():
        shown = corrected.json()[field]
        if field in ("value", "pain_score"):  # decimals come back at the field's precision
            shown, value = Decimal(shown), Decimal(value)
        assert shown == value
    assert as_clinician.get(url)["ETag"] == corrected["ETag"]

    # The correction is in the record's history, with who made it (the token's user).
    history = list(model.objects.get(pk=pk).history.order_by("history_date"))
    assert [(h.history_type, h.history_user) for h in history] == [
        ("+", clinician_a),
        ("~", clinician_a),
    ]
    assert list(history[1].diff_against(history[0]).changed_fields) == list(correction)

    deleted = as_clinician.delete(url)
    assert deleted.status_code == 405
    assert model.objects.filter(pk=pk).exists()


def test_a_put_replaces_the_writable_fields(record_a, as_clinician, clinician_a):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    read = as_clinician.get(url)
    read_only = {"id", "mg_per_kg", "created_at", "updated_at"}
    body = {k: v for k, v in read.json().items() if k not in read_only}
    body.update(weight_kg="42.5", duration_minutes=None, lot_number="AB1234")
    put = as_clinician.put(url, body, format="json", headers={"If-Match": read["ETag"]})
    assert put.status_code == 200, put.json()
    infusion = Infusion.objects.get(pk=record_a.infusion.pk)
    assert (infusion.weight_kg, infusion.duration_minutes) == (Decimal("42.5"), None)
    assert infusion.lot_number == "AB1234"
    assert infusion.history.first().history_user == clinician_a
    assert put.json()["mg_per_kg"] == "4.71"


def test_a_nurse_s_put_may_replace_only_what_the_guideline_does_not_read(
    record_a, as_nurse, nurse_a
):
    """The weight and the duration feed the alerts: a clinician's to correct; a lot number not."""
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    read = as_nurse.get(url)
    read_only = {"id", "mg_per_kg", "created_at", "updated_at"}
    body = {k: v for k, v in read.json().items() if k not in read_only}
    refused = as_nurse.put(
        url,
        {**body, "weight_kg": "42.5", "duration_minutes": None, "lot_number": "AB1234"},
        format="json",
        headers={"If-Match": read["ETag"]},
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only a clinician of this site may correct infusion duration (minutes), "
        "weight (kg): the guideline's alerts read it."
    }
    assert as_nurse.get(url).json() == read.json()
    put = as_nurse.put(
        url, {**body, "lot_number": "AB1234"}, format="json", headers={"If-Match": read["ETag"]}
    )
    assert put.status_code == 200, put.json()
    infusion = Infusion.objects.get(pk=record_a.infusion.pk)
    assert (infusion.weight_kg, infusion.lot_number) == (Decimal("40"), "AB1234")
    assert infusion.history.first().history_user == nurse_a


def test_an_update_needs_the_etag_of_the_record_as_read(record_a, as_clinician):
    url = f"/api/v1/patients/{record_a.patient.pk}/"
    etag = as_clinician.get(url)["ETag"]
    change = {"family_name": "Changed"}

    missing = as_clinician.patch(url, change, format="json")
    assert missing.status_code == 428
    assert "If-Match" in missing.json()["detail"]

    # A colleague corrects the record in between: the first reader's ETag is now stale.
    colleague = as_clinician.patch(
        url, {"mrn": "MRN-A9"}, format="json", headers={"If-Match": etag}
    )
    assert colleague.status_code == 200
    for method in ("patch", "put"):
        stale = getattr(as_clinician, method)(
            url, change, format="json", headers={"If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.json() == {
            "detail": "The record changed since you read it: read it again, then apply your change."
        }
    assert Patient.objects.get(pk=record_a.patient.pk).family_name != "Changed"
    history = Patient.objects.get(pk=record_a.patient.pk).history
    assert [h.history_type for h in history.all()] == ["~", "+"]  # the colleague's change only

    fresh = as_clinician.patch(url, change, format="json", headers={"If-Match": colleague["ETag"]})
    assert fresh.status_code == 200
    assert fresh["ETag"] not in (etag, colleague["ETag"])


def test_the_precondition_is_checked_before_the_body(record_a, as_clinician):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    invalid = {"weight_kg": "500", "colour": "red"}
    assert as_clinician.patch(url, invalid, format="json").status_code == 428
    stale = as_clinician.put(url, invalid, format="json", headers={"If-Match": '"1-1"'})
    assert stale.status_code == 412


def test_an_invalid_update_changes_nothing_not_even_the_etag(record_a, as_clinician):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    etag = as_clinician.get(url)["ETag"]
    refused = as_clinician.patch(
        url, {"weight_kg": "500"}, format="json", headers={"If-Match": etag}
    )
    assert refused.status_code == 400
    assert as_clinician.get(url)["ETag"] == etag


# --- The services behind the writes ---------------------------------------------------------------


def overdue(record: Record) -> Alert:
    return Alert.objects.get(pk=record.alert.pk)


def test_posting_the_overdue_infusion_resolves_its_alert_once_committed(
    record_a, as_nurse, nurse_a, committed
):
    assert overdue(record_a).status == "open"
    with committed():
        given = as_nurse.post(
            "/api/v1/infusions/",
            {
                "course": record_a.course.pk,
                "given_on": "2026-11-24",
                "weight_kg": "41",
                "weight_measured_on": "2026-11-24",
                "dose_mg": "200",
            },
            format="json",
        )
        assert overdue(record_a).status == "open"  # not before the commit
    assert given.status_code == 201, given.json()
    alert = overdue(record_a)
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert alert.events.last().actor == nurse_a
    alerts = as_nurse.get(f"/api/v1/courses/{record_a.course.pk}/alerts/").json()
    assert {a["rule"]: a["status"] for a in alerts}["maintenance_dose_overdue"] == "resolved"
    schedule = as_nurse.get(f"/api/v1/courses/{record_a.course.pk}/schedule/").json()
    assert schedule["doses"][3]["given_on"] == "2026-11-24"
    assert schedule["next_dose"]["due_on"] == "2027-01-19"


def test_a_correction_re_evaluates_the_course(record_a, as_clinician, committed):
    """A longer interval moves the first maintenance dose after today: no longer overdue."""
    url = f"/api/v1/courses/{record_a.course.pk}/"
    etag = as_clinician.get(url)["ETag"]
    with committed():
        changed = as_clinician.patch(
            url, {"maintenance_interval_weeks": 12}, format="json", headers={"If-Match": etag}
        )
    assert changed.status_code == 200, changed.json()
    assert overdue(record_a).status == "resolved"


def test_the_other_site_s_record_is_untouched_by_an_evaluation(
    record_a, record_b, as_nurse, committed
):
    with committed():
        given = as_nurse.post(
            "/api/v1/infusions/",
            {
                "course": record_a.course.pk,
                "given_on": "2026-11-24",
                "weight_kg": "41",
                "weight_measured_on": "2026-11-24",
                "dose_mg": "200",
            },
            format="json",
        )
    assert given.status_code == 201, given.json()
    assert overdue(record_a).status == "resolved"  # the evaluation ran
    assert overdue(record_b).status == "open"


def model_errors(record: Any) -> dict[str, list[str]]:
    try:
        record.full_clean(validate_constraints=False)
    except ValidationError as error:
        return error.message_dict
    raise AssertionError("the model accepted it")


@pytest.mark.parametrize(
    ("resource", "body", "instance"),
    [
        (
            "infusions",
            {
                "given_on": "2026-08-01",
                "weight_kg": "40",
                "weight_measured_on": "2026-08-01",
                "dose_mg": "200",
            },
            lambda r: Infusion(
                course=r.course,
                given_on=dt.date(2026, 8, 1),
                weight_kg=Decimal(40),
                weight_measured_on=dt.date(2026, 8, 1),
                dose_mg=Decimal(200),
            ),
        ),
        (
            "infusions",
            {
                "given_on": "2026-11-20",
                "weight_kg": "20.00",
                "weight_measured_on": "2026-11-20",
                "dose_mg": "500.0",
            },
            lambda r: Infusion(
                course=r.course,
                given_on=dt.date(2026, 11, 20),
                weight_kg=Decimal("20.00"),
                weight_measured_on=dt.date(2026, 11, 20),
                dose_mg=Decimal("500.0"),
            ),
        ),
        (
            "regimen-changes",
            {"effective_on": D, "dose_mg_per_kg": "7.5", "interval_weeks": 8, "reason": "taper"},
            lambda r: RegimenChange(
                course=r.course,
                effective_on=dt.date(2026, 11, 20),
                dose_mg_per_kg=Decimal("7.5"),
                interval_weeks=8,
                reason="taper",
            ),
        ),
    ],
    # Above the labelled maximum but below the ceiling is the guideline's safeguard, not the
    # model's (test_actions.py): here the ceiling no site can raise (25 mg/kg).
    ids=["before-the-course", "above-the-ceiling", "taper-that-intensifies"],
)
def test_writes_refuse_with_the_model_s_own_messages(
    resource, body, instance, record_a, as_clinician
):
    record_a.course.refresh_from_db()  # as stored: 5.00 mg/kg
    before = Infusion.objects.count(), RegimenChange.objects.count()
    refused = as_clinician.post(
        f"/api/v1/{resource}/", {"course": record_a.course.pk, **body}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Invalid input: nothing was saved.",
        "errors": model_errors(instance(record_a)),
    }
    assert (Infusion.objects.count(), RegimenChange.objects.count()) == before


def test_a_reaction_review_is_an_action_that_records_the_reviewer(
    record_a, as_clinician, clinician_a, as_nurse
):
    url = f"/api/v1/reactions/{record_a.reaction.pk}/"
    for client in (as_nurse, as_clinician):
        patched = client.patch(
            url, {"reviewed_on": D}, format="json", headers={"If-Match": client.get(url)["ETag"]}
        )
        assert patched.status_code == 400
        assert patched.json()["errors"] == {
            "reviewed_on": [
                "A clinician records the review with POST /api/v1/reactions/{id}/review/."
            ]
        }
    assert InfusionReaction.objects.get(pk=record_a.reaction.pk).reviewed_on is None
    review = {"reviewed_on": D, "decision": "continue_unchanged"}
    by_nurse = as_nurse.post(url + "review/", review, format="json")
    assert by_nurse.status_code == 403
    assert InfusionReaction.objects.get(pk=record_a.reaction.pk).reviewed_on is None
    reviewed = as_clinician.post(url + "review/", review, format="json")
    assert reviewed.status_code == 200, reviewed.json()
    assert reviewed.json()["reviewed_by"] == clinician_a.username
    assert InfusionReaction.objects.get(pk=record_a.reaction.pk).reviewed_by == clinician_a


def test_a_new_patient_gets_the_next_registry_code(record_a, as_clinician):
    created = as_clinician.post(
        "/api/v1/patients/",
        {
            "site": "north",
            "mrn": "NEW-1",
            "given_name": "Ola",
            "family_name": "Nowak",
            "date_of_birth": "2014-02-01",
            "sex": "male",
        },
        format="json",
    )
    assert created.status_code == 201
    highest = max(Patient.objects.exclude(pk=created.json()["id"]).values_list("registry_code"))
    assert created.json()["registry_code"] == f"CRMO-{int(highest[0][5:]) + 1:06d}"


# --- Scoping -------------------------------------------------------------------------------------


def test_lists_show_only_the_caller_s_sites(record_a, record_b, as_nurse, nurse_b):
    codes = [p["registry_code"] for p in as_nurse.get("/api/v1/patients/").json()["results"]]
    assert codes == sorted([record_a.patient.registry_code, record_a.new_patient.registry_code])
    theirs = token_client(nurse_b).get("/api/v1/infusions/").json()["results"]
    assert {row["course"] for row in theirs} == {record_b.course.pk}
    # Another site's code is not a choice (a 400, test_edges.py), not an empty list.
    assert as_nurse.get("/api/v1/patients/", {"site": "south"}).status_code == 400


def test_a_filter_naming_another_site_s_record_is_refused_as_a_missing_one(
    record_a, record_b, as_nurse
):
    """No telling which ids exist at other sites: theirs and none alike are "not a choice"."""
    for url, field, theirs in (
        ("/api/v1/infusions/", "course", record_b.course.pk),
        ("/api/v1/lab-results/", "patient", record_b.patient.pk),
        ("/api/v1/reactions/", "infusion", record_b.infusion.pk),
        ("/api/v1/alerts/", "course", record_b.course.pk),
    ):
        answers = [as_nurse.get(url, {field: pk}) for pk in (theirs, 999_999_999)]
        assert [a.status_code for a in answers] == [400, 400]
        assert answers[0].json() == answers[1].json()
        assert answers[0].json()["errors"] == {
            field: ["Select a valid choice. That choice is not one of the available choices."]
        }
    mine = as_nurse.get("/api/v1/infusions/", {"course": record_a.course.pk})
    assert mine.json()["count"] == 3


def test_another_site_s_record_named_in_a_correction_is_refused(record_a, record_b, as_nurse):
    url = f"/api/v1/infusions/{record_a.infusion.pk}/"
    moved = as_nurse.patch(
        url,
        {"course": record_b.course.pk},
        format="json",
        headers={"If-Match": as_nurse.get(url)["ETag"]},
    )
    assert moved.status_code == 400
    assert moved.json()["errors"] == {
        "course": [f'Invalid pk "{record_b.course.pk}" - object does not exist.']
    }
    assert Infusion.objects.get(pk=record_a.infusion.pk).course == record_a.course


def test_a_patient_cannot_be_registered_at_another_site(record_a, as_clinician):
    refused = as_clinician.post(
        "/api/v1/patients/",
        {
            "site": "south",
            "mrn": "X1",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "2014-02-01",
            "sex": "male",
        },
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"site": ["Object with code=south does not exist."]}


# --- Filters, ordering, pagination ---------------------------------------------------------------


def test_filters_and_ordering(record_a, as_nurse):
    course = record_a.course.pk
    rows = as_nurse.get("/api/v1/infusions/", {"course": course, "ordering": "-given_on"}).json()
    assert [r["given_on"] for r in rows["results"]] == ["2026-09-15", "2026-08-18", "2026-08-04"]
    late = as_nurse.get("/api/v1/infusions/", {"given_on__gte": "2026-08-18"}).json()
    assert [r["given_on"] for r in late["results"]] == ["2026-08-18", "2026-09-15"]
    LabResultFactory(patient=record_a.patient, collected_on=START, analyte="esr", value=12)
    crp = as_nurse.get("/api/v1/lab-results/", {"analyte": "crp"}).json()
    assert [r["analyte"] for r in crp["results"]] == ["crp"]
    after = as_nurse.get("/api/v1/lab-results/", {"collected_after": "2026-08-05"}).json()
    assert after["count"] == 0
    bad = as_nurse.get("/api/v1/lab-results/", {"collected_after": "yesterday"})
    assert bad.status_code == 400
    assert bad.json() == {
        "detail": "Invalid filter: nothing was selected.",
        "errors": {"collected_after": ["Enter a valid date."]},
    }


def test_page_number_pagination(record_a, as_nurse):
    LabResult.objects.bulk_create(
        LabResult(
            patient=record_a.patient,
            collected_on=START + dt.timedelta(days=n),
            analyte="crp",
            value=Decimal(n),
            unit="mg/L",
        )
        for n in range(1, 55)
    )
    first = as_nurse.get("/api/v1/lab-results/").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (55, 50, None)
    assert first["next"].endswith("/api/v1/lab-results/?page=2")
    second = as_nurse.get("/api/v1/lab-results/", {"page": 2}).json()
    assert len(second["results"]) == 5
    assert second["results"][-1]["collected_on"] == str(START + dt.timedelta(days=54))
    assert as_nurse.get("/api/v1/lab-results/", {"page": 3}).status_code == 404
