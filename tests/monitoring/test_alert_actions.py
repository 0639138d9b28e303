"""People acting on alerts (services and admin), the evaluate_courses command, and the demo."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from monitoring import services
from monitoring.evaluation import evaluate_courses, evaluate_patient
from monitoring.models import Alert, SiteGuideline
from registry import services as registry_services
from tests.conftest import TODAY, _member
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def overdue_alert(site) -> Alert:
    start = TODAY - 112 * DAY
    course = CourseFactory(patient=PatientFactory(site=site), started_on=start)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


def test_each_action_writes_who_and_when(site_a, nurse_a):
    alert = overdue_alert(site_a)
    services.alert_acknowledge(alert=alert, by=nurse_a, note="Booked for Friday")
    # No manual resolve: the dose given clears it, and the event names who recorded the dose.
    course = alert.course
    registry_services.infusion_record(
        course=course,
        given_on=TODAY,
        weight_kg=Decimal("40"),
        weight_measured_on=TODAY,
        dose_mg=Decimal("200"),
        by=nurse_a,
    )
    evaluate_patient(course.patient_id, actor_id=nurse_a.pk)
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    events = [(e.kind, e.from_status, e.to_status, e.actor) for e in alert.events.all()]
    assert events == [
        ("raised", "", "open", None),
        ("acknowledged", "open", "acknowledged", nurse_a),
        ("resolved", "acknowledged", "resolved", nurse_a),
    ]
    assert not hasattr(services, "alert_resolve")  # nobody resolves an engine-checked alert


def urgent_alert(site) -> Alert:
    """A severe reaction awaiting review: urgent while on treatment."""
    course = CourseFactory(patient=PatientFactory(site=site), started_on=TODAY - 20 * DAY)
    infusion = InfusionFactory(course=course, given_on=course.started_on)
    ReactionFactory(infusion=infusion, severity="severe")
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="severe_reaction_review")


def test_only_a_clinician_of_the_site_dismisses_an_urgent_alert(site_a, site_b, nurse_a):
    alert = urgent_alert(site_a)
    assert alert.severity == "urgent"
    clinician_elsewhere = _member("sol", site_b, "clinician")
    for person in (nurse_a, clinician_elsewhere):
        with pytest.raises(PermissionDenied):
            services.alert_dismiss(alert=alert, by=person, reason="Seen")
    alert.refresh_from_db()
    assert alert.status == "open"
    services.alert_acknowledge(alert=alert, by=nurse_a)  # staff may acknowledge
    clinician = _member("cara", site_a, "clinician")
    services.alert_dismiss(alert=alert, by=clinician, reason="Reviewed by phone; see letter")
    alert.refresh_from_db()
    assert alert.status == "dismissed"
    assert alert.events.last().actor == clinician


def test_a_nurse_may_dismiss_an_alert_that_is_not_urgent_with_a_reason(site_a, nurse_a):
    alert = overdue_alert(site_a)
    assert alert.severity != "urgent"
    services.alert_dismiss(alert=alert, by=nurse_a, reason="Dose given at another hospital")
    alert.refresh_from_db()
    assert alert.status == "dismissed"


def test_roles_are_per_site_for_alert_actions(site_a, site_b):
    # A nurse at north who is a clinician at south is a nurse for north's alerts.
    both = _member("nico", site_a, "nurse")
    MembershipFactory(user=both, site=site_b, role="clinician")
    north, south = urgent_alert(site_a), urgent_alert(site_b)
    with pytest.raises(PermissionDenied):
        services.alert_dismiss(alert=north, by=both, reason="Seen")
    services.alert_dismiss(alert=south, by=both, reason="Reviewed")
    assert (Alert.objects.get(pk=north.pk).status, Alert.objects.get(pk=south.pk).status) == (
        "open",
        "dismissed",
    )


def early_stop_alert(site) -> Alert:
    start = TODAY - 200 * DAY
    course = CourseFactory(
        patient=PatientFactory(site=site),
        started_on=start,
        stopped_on=TODAY - 10 * DAY,
        stop_reason="patient_choice",
    )
    InfusionFactory(course=course, given_on=start)
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="early_discontinuation")


def test_a_clinicians_acknowledgement_closes_a_past_fact_for_good(site_a, clinician_a, nurse_a):
    by_nurse = early_stop_alert(site_a)
    services.alert_acknowledge(alert=by_nurse, by=nurse_a)
    by_nurse.refresh_from_db()
    assert by_nurse.status == "acknowledged"  # a nurse has seen it; a clinician closes it

    alert = early_stop_alert(site_a)
    services.alert_acknowledge(alert=alert, by=clinician_a, note="Family's decision")
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == (
        "resolved",
        "a past fact, acknowledged by a clinician: Family's decision",
    )
    evaluate_courses([alert.course_id], TODAY)  # the engine still finds the early stop…
    live = Alert.objects.filter(course=alert.course, rule="early_discontinuation")
    assert list(live.values_list("status", flat=True)) == ["resolved"]  # …and leaves it closed


def test_dismissing_needs_a_reason(site_a, clinician_a):
    alert = overdue_alert(site_a)
    with pytest.raises(ValidationError, match="Say why this alert does not apply"):
        services.alert_dismiss(alert=alert, by=clinician_a, reason="  ")
    services.alert_dismiss(alert=alert, by=clinician_a, reason="Transferred to another centre")
    assert alert.events.last().note == "Transferred to another centre"


def test_a_closed_alert_cannot_be_acted_on_again(site_a, clinician_a):
    alert = overdue_alert(site_a)
    services.alert_dismiss(alert=alert, by=clinician_a, reason="Not applicable")
    with pytest.raises(ValidationError, match="already dismissed"):
        services.alert_acknowledge(alert=alert, by=clinician_a)


def test_events_are_append_only(site_a):
    event = overdue_alert(site_a).events.get()
    event.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_the_admin_shows_alerts_of_the_users_sites_with_their_history(
    client, site_a, site_b, nurse_a
):
    mine, theirs = overdue_alert(site_a), overdue_alert(site_b)
    client.force_login(nurse_a)
    listing = client.get(reverse("admin:monitoring_alert_changelist"))
    assert listing.status_code == 200
    assert mine.course.patient.registry_code in listing.text
    assert theirs.course.patient.registry_code not in listing.text
    page = client.get(reverse("admin:monitoring_alert_change", args=[mine.pk]))
    assert "Guideline (grade A, source document)" in page.text
    assert "Raised" in page.text
    other = client.get(reverse("admin:monitoring_alert_change", args=[theirs.pk]))
    assert other.status_code == 302  # "doesn't exist" for another site's alert


def test_the_admin_acknowledges_through_the_service(client, site_a, nurse_a):
    alert = overdue_alert(site_a)
    client.force_login(nurse_a)
    client.post(
        reverse("admin:monitoring_alert_changelist"),
        {"action": "acknowledge", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.events.last().actor == nurse_a


def test_a_site_guideline_refuses_unknown_or_out_of_range_parameters(site_a):
    for overrides, message in [
        ({"grace": 3}, "grace is not a guideline parameter"),
        ({"trough_min_ug_ml": "9"}, "trough_min_ug_ml must be between 3 and 7 µg/mL"),
        ({"dose_grace_days": 2.5}, "not a valid int"),
    ]:
        with pytest.raises(ValidationError, match=message):
            SiteGuideline(site=site_a, overrides=overrides).full_clean()
    SiteGuideline(site=site_a, overrides={"trough_min_ug_ml": "3"}).full_clean()


def test_the_command_prints_a_summary(site_a):
    overdue_alert(site_a)
    out = io.StringIO()
    # overdue_alert evaluated the course: nothing it depends on has changed since.
    call_command("evaluate_courses", "--as-of", TODAY.isoformat(), "--site", "north", stdout=out)
    assert "Evaluated 0 courses at north as of 2026-11-24" in out.getvalue()
    assert "1 left alone, nothing they depend on changed" in out.getvalue()
    out = io.StringIO()
    call_command(
        "evaluate_courses", "--as-of", TODAY.isoformat(), "--site", "north", "--full", stdout=out
    )
    assert "Evaluated 1 courses at north as of 2026-11-24" in out.getvalue()
    assert "left alone" not in out.getvalue()
    assert "maintenance_dose_overdue" in out.getvalue()
    with pytest.raises(CommandError, match="no site with code 'nowhere'"):
        call_command("evaluate_courses", "--site", "nowhere", stdout=out)
    with pytest.raises(CommandError, match="is not a date"):
        call_command("evaluate_courses", "--as-of", "24/11/2026", stdout=out)
