"""People acting on alerts (services and admin), the evaluate_courses command, and the demo."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from monitoring import services
from monitoring.evaluation import evaluate_courses
from monitoring.guideline import RULES
from monitoring.models import Alert, SiteGuideline
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, PatientFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def overdue_alert(site) -> Alert:
    start = TODAY - 112 * DAY
    course = CourseFactory(patient=PatientFactory(site=site), started_on=start)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


def test_each_action_writes_who_and_when(site_a, clinician_a, nurse_a):
    alert = overdue_alert(site_a)
    services.alert_acknowledge(alert=alert, by=nurse_a, note="Booked for Friday")
    services.alert_resolve(alert=alert, by=clinician_a, note="Given at the satellite clinic")
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "Given at the satellite clinic")
    events = [(e.kind, e.from_status, e.to_status, e.actor) for e in alert.events.all()]
    assert events == [
        ("raised", "", "open", None),
        ("acknowledged", "open", "acknowledged", nurse_a),
        ("resolved", "acknowledged", "resolved", clinician_a),
    ]


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
    call_command("evaluate_courses", "--as-of", TODAY.isoformat(), "--site", "north", stdout=out)
    assert "Evaluated 1 courses at north as of 2026-11-24" in out.getvalue()
    assert "maintenance_dose_overdue" in out.getvalue()
    with pytest.raises(CommandError, match="no site with code 'nowhere'"):
        call_command("evaluate_courses", "--site", "nowhere", stdout=out)
    with pytest.raises(CommandError, match="is not a date"):
        call_command("evaluate_courses", "--as-of", "24/11/2026", stdout=out)


def test_the_demo_registry_raises_every_alert_type_with_its_explanation():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("evaluate_courses", stdout=io.StringIO())
    raised = set(Alert.objects.values_list("rule", flat=True))
    assert raised == set(RULES)
    for alert in Alert.objects.all():
        info = RULES[alert.rule][0]
        assert info.quote in alert.explanation
        assert f"grade {info.grade}" in alert.explanation
        assert alert.evidence
