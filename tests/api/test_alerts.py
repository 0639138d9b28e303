"""Alerts over the API: filtered lists, the course's schedule and alerts, and people's actions."""

from __future__ import annotations

import pytest

from monitoring.models import Alert
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

# What the engine raised for the record of each site (see tests/api/conftest.py), by due date
# (the most severe first on a day): its active course has no TB or hepatitis B screen on record.
RAISED = [
    ("screening_missing", "urgent", "2026-08-04"),
    ("markers_overdue", "info", "2026-08-04"),
    ("response_assessment_due", "warning", "2026-10-13"),
    ("maintenance_dose_overdue", "warning", "2026-11-10"),
    ("premedication_advised", "warning", "2026-11-10"),
]


def listed(client, **filters) -> list[tuple[str, str, str]]:
    response = client.get("/api/v1/alerts/", filters)
    assert response.status_code == 200, response.json()
    return [(a["rule"], a["site"], a["status"]) for a in response.json()["results"]]


def test_the_list_is_the_caller_s_sites_by_due_date(record_a, record_b, as_nurse, nurse_b):
    assert [(rule, site) for rule, site, _status in listed(as_nurse)] == [
        (rule, "north") for rule, _severity, _due in RAISED
    ]
    assert {site for _rule, site, _status in listed(token_client(nurse_b))} == {"south"}


def test_filters(record_a, record_b, as_nurse):
    Alert.objects.filter(pk=record_a.alert.pk).update(status="acknowledged")
    assert [r for r, _s, _st in listed(as_nurse, severity="info")] == ["markers_overdue"]
    assert listed(as_nurse, rule="maintenance_dose_overdue") == [
        ("maintenance_dose_overdue", "north", "acknowledged")
    ]
    assert [r for r, _s, _st in listed(as_nurse, status="open")] == [
        "screening_missing",
        "markers_overdue",
        "response_assessment_due",
        "premedication_advised",
    ]
    assert [r for r, _s, _st in listed(as_nurse, due_before="2026-10-13")] == [
        "screening_missing",
        "markers_overdue",
        "response_assessment_due",
    ]
    assert len(listed(as_nurse, due_after="2026-10-14")) == 2
    assert len(listed(as_nurse, due_after="2026-10-13", due_before="2026-10-13")) == 1
    assert len(listed(as_nurse, site="north")) == 5
    assert len(listed(as_nurse, course=record_a.course.pk)) == 5
    # Another site's code is refused like any value that is not a choice (test_edges.py).
    for bad in (
        {"severity": "panic"},
        {"due_before": "soon"},
        {"status": "closed"},
        {"site": "south"},
    ):
        refused = as_nurse.get("/api/v1/alerts/", bad)
        assert refused.status_code == 400
        assert set(refused.json()["errors"]) == set(bad)


def test_ordering(record_a, as_nurse):
    due = [a["due_on"] for a in as_nurse.get("/api/v1/alerts/?ordering=-due_on").json()["results"]]
    assert due == sorted(due, reverse=True)
    severities = as_nurse.get("/api/v1/alerts/?ordering=severity").json()["results"]
    assert [a["severity"] for a in severities] == [
        "info",
        "urgent",
        "warning",
        "warning",
        "warning",
    ]


def test_an_alert_explains_itself(record_a, as_nurse):
    alert = as_nurse.get(f"/api/v1/alerts/{record_a.alert.pk}/").json()
    assert alert["rule"] == "maintenance_dose_overdue"
    assert alert["registry_code"] == record_a.patient.registry_code
    assert (alert["patient"], alert["course"]) == (record_a.patient.pk, record_a.course.pk)
    assert alert["grade"]
    assert alert["evidence"]
    assert [e["kind"] for e in alert["events"]] == ["raised"]
    assert "given_name" not in alert  # a code, not a name, on the worklist


def test_acknowledged_then_resolved_by_the_data_not_by_hand(record_a, as_nurse, nurse_a, committed):
    """Nobody resolves an alert by hand: it resolves when the data shows its condition cleared."""
    url = f"/api/v1/alerts/{record_a.alert.pk}/"
    acknowledged = as_nurse.post(url + "acknowledge/", {"note": "Booked for Friday"}, format="json")
    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"
    by_hand = as_nurse.post(url + "resolve/", {}, format="json")
    assert by_hand.status_code in (404, 405)
    assert by_hand["Content-Type"] == "application/json"
    assert Alert.objects.get(pk=record_a.alert.pk).status == "acknowledged"

    with committed():
        given = as_nurse.post(
            "/api/v1/infusions/",
            {
                "course": record_a.course.pk,
                "given_on": "2026-11-24",
                "weight_kg": "40",
                "weight_measured_on": "2026-11-24",
                "dose_mg": "200",
            },
            format="json",
        )
    assert given.status_code == 201, given.json()
    resolved = as_nurse.get(url).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"]
    events = [(e["kind"], e["actor"], e["note"]) for e in resolved["events"]]
    assert events == [
        ("raised", None, ""),
        ("acknowledged", nurse_a.username, "Booked for Friday"),
        ("resolved", nurse_a.username, "condition cleared"),  # the nurse's infusion cleared it
    ]
    again = as_nurse.post(url + "acknowledge/", {}, format="json")
    assert again.status_code == 400
    assert again.json() == {
        "detail": "Invalid input: nothing was saved.",
        "errors": {"status": ["This alert is already resolved."]},
    }


def test_dismissing_needs_a_reason(record_a, as_clinician, clinician_a):
    url = f"/api/v1/alerts/{record_a.alert.pk}/dismiss/"
    for body, error in (
        ({}, "This field is required."),
        ({"reason": ""}, "This field may not be blank."),
        ({"reason": "   "}, "This field may not be blank."),
        ({"note": "Transferred"}, "This field is required."),
    ):
        refused = as_clinician.post(url, body, format="json")
        assert refused.status_code == 400, body
        assert refused.json()["errors"]["reason"] == [error]
    assert Alert.objects.get(pk=record_a.alert.pk).status == "open"
    dismissed = as_clinician.post(url, {"reason": " Transferred to Leeds "}, format="json")
    assert dismissed.status_code == 200
    alert = Alert.objects.get(pk=record_a.alert.pk)
    assert (alert.status, alert.resolution_reason) == ("dismissed", "Transferred to Leeds")
    assert alert.events.last().actor == clinician_a


def test_actions_on_another_site_s_alert_are_404_and_change_nothing(record_a, record_b, as_nurse):
    for action, body in (
        ("acknowledge", {}),
        ("dismiss", {"reason": "Not ours"}),
    ):
        response = as_nurse.post(f"/api/v1/alerts/{record_b.alert.pk}/{action}/", body)
        assert response.status_code == 404
    assert Alert.objects.get(pk=record_b.alert.pk).status == "open"
    assert Alert.objects.get(pk=record_b.alert.pk).events.count() == 1


def test_the_course_schedule(record_a, as_nurse):
    schedule = as_nurse.get(f"/api/v1/courses/{record_a.course.pk}/schedule/").json()
    assert schedule["as_of"] == "2026-11-24"
    assert (schedule["dose_mg_per_kg"], schedule["interval_weeks"]) == ("5.00", 8)
    assert [(d["number"], d["phase"], d["due_on"], d["given_on"]) for d in schedule["doses"]] == [
        (1, "induction", "2026-08-04", "2026-08-04"),
        (2, "induction", "2026-08-18", "2026-08-18"),
        (3, "induction", "2026-09-15", "2026-09-15"),
    ]
    assert schedule["next_dose"] == {
        "number": 4,
        "phase": "maintenance",
        "due_on": "2026-11-10",
        "given_on": None,
        "infusion": None,
        "days_late": 14,
    }


def test_the_course_s_alerts(record_a, record_b, as_nurse):
    alerts = as_nurse.get(f"/api/v1/courses/{record_a.course.pk}/alerts/").json()
    assert sorted(a["rule"] for a in alerts) == sorted(rule for rule, _s, _d in RAISED)
    assert {a["course"] for a in alerts} == {record_a.course.pk}
    stopped = as_nurse.get(f"/api/v1/courses/{record_a.stopped_course.pk}/alerts/")
    assert (stopped.status_code, stopped.json()) == (200, [])
    for nested in ("alerts", "schedule"):
        theirs = as_nurse.get(f"/api/v1/courses/{record_b.course.pk}/{nested}/")
        assert theirs.status_code == 404
