"""The worklist's alerts: who they are about, when, who acknowledged them, what this person may do,
the counts after an action, and the acknowledged notes it hides."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import services
from monitoring.models import Alert
from registry.models import Role
from tests.clinic.support import DAY, make_alert, overdue_course, table_rows
from tests.conftest import TODAY
from tests.factories import CourseFactory, MembershipFactory, PatientFactory

pytestmark = pytest.mark.django_db

WORKLIST = reverse("clinic:worklist")
HTMX = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{WORKLIST}"}


def action_url(alert: Alert, action: str) -> str:
    return reverse("clinic:alert_action", args=[alert.pk, action])


def rows_by_title(html: str) -> dict[str, list[str]]:
    return {row[1]: row for row in table_rows(html) if len(row) == 5 and row[0] != "Patient"}


def test_it_names_the_patient_beside_the_registry_code(client, nurse_a, course_a):
    client.force_login(nurse_a)
    row = rows_by_title(client.get(WORKLIST).text)["Maintenance dose overdue"]
    assert row[0] == f"{course_a.patient.registry_code} Okafor, Zara north"


def test_its_when_column_means_what_each_rules_date_means(client, nurse_a, course_a):
    made = {
        "Markers": make_alert(course_a, rule="markers_overdue", due_on=TODAY - 20 * DAY),
        "Taper": make_alert(course_a, rule="taper_readiness", due_on=TODAY - 58 * DAY),
        "Early": make_alert(course_a, rule="dose_given_early", due_on=TODAY - 3 * DAY),
        "Relapse": make_alert(course_a, rule="relapse_after_stopping", due_on=TODAY - 6 * DAY),
        "Premedicate": make_alert(course_a, rule="premedication_advised", due_on=TODAY + 5 * DAY),
    }
    for title, alert in made.items():
        Alert.objects.filter(pk=alert.pk).update(title=title, severity="warning")
    client.force_login(nurse_a)

    rows = rows_by_title(client.get(WORKLIST).text)

    assert {title: rows[title][2] for title in [*made, "Maintenance dose overdue"]} == {
        "Markers": "due since 04 Nov 2026 20 d ago",
        "Taper": "eligible since 27 Sep 2026",  # no "58 d" that reads like lateness
        "Early": "given 21 Nov 2026",
        "Relapse": "first sign 18 Nov 2026 6 d ago",
        "Premedicate": "next dose in 5 d 29 Nov 2026",
        "Maintenance dose overdue": "14 d overdue due 10 Nov 2026",
    }
    page = client.get(WORKLIST).text
    assert 'aria-describedby="when-legend">When</th>' in page
    assert '<p class="muted legend" id="when-legend">When: for a dose, how many days' in page


def test_it_says_who_acknowledged_an_alert_and_when(client, nurse_a, clinician_a, course_a):
    alert = Alert.objects.get(course=course_a, rule="maintenance_dose_overdue")
    nurse_a.first_name, nurse_a.last_name = "Nina", "Osei"
    nurse_a.save()
    services.alert_acknowledge(alert=alert, by=nurse_a)
    client.force_login(clinician_a)

    row = rows_by_title(client.get(WORKLIST).text)["Maintenance dose overdue"]

    assert re.fullmatch(r"Acknowledged by Nina Osei, 24 Nov 2026 1\d:\d\d", row[3]), row[3]


@pytest.fixture
def quiet_course(site_a):
    """A course with no alert of its own: the tests' alerts are all there is."""
    return CourseFactory(patient=PatientFactory(site=site_a, family_name="Quiet"))


def test_an_action_through_htmx_swaps_the_counts_out_of_band(client, nurse_a, quiet_course):
    first, second = (make_alert(quiet_course, severity="warning") for _ in range(2))
    client.force_login(nurse_a)
    page = client.get(WORKLIST).text
    assert '<span class="count">2</span></h2>' in page

    acknowledged = client.post(action_url(first, "acknowledge"), headers=HTMX).text

    assert acknowledged.startswith(f'<tr id="alert-{first.pk}" class="alert-row warning ')
    assert (
        '<h2 id="section-warning" class="severity warning" hx-swap-oob="true">Warning '
        '<span class="count">2</span> '
        '<span class="count-detail">1 open · 1 acknowledged</span></h2>'
    ) in acknowledged
    assert '<p id="worklist-counts" class="worklist-counts" role="status" hx-swap-oob="true">' in (
        acknowledged
    )
    dismissed = client.post(action_url(second, "dismiss"), {"reason": "Given elsewhere"},
                            headers=HTMX).text  # fmt: skip
    assert (
        '<h2 id="section-warning" class="severity warning" hx-swap-oob="true">Warning '
        '<span class="count">1</span> <span class="count-detail">0 open · 1 acknowledged</span>'
    ) in dismissed
    assert "<strong>1 alert</strong>:" in dismissed


def test_the_counts_after_an_action_are_those_of_the_filtered_page(client, nurse_a, quiet_course):
    make_alert(quiet_course, severity="urgent", rule="antibodies_detected")
    alert = make_alert(quiet_course, severity="warning")
    client.force_login(nurse_a)
    filtered = HTMX | {"HX-Current-URL": f"http://testserver{WORKLIST}?severity=warning"}

    swapped = client.post(action_url(alert, "acknowledge"), headers=filtered).text

    counts = re.search(r'<p id="worklist-counts".*?</p>', swapped, re.S)
    assert counts
    assert "1 warning" in counts.group()
    assert "urgent" not in counts.group()
    assert 'name="next" value="/?severity=warning"' in swapped  # without JS: back to that page


def test_a_nurse_acknowledges_an_urgent_alert_but_is_not_offered_to_dismiss_it(
    client, nurse_a, course_a
):
    urgent = make_alert(course_a, severity="urgent", rule="antibodies_detected", title="Abs")
    client.force_login(nurse_a)

    actions = rows_by_title(client.get(WORKLIST).text)["Abs"][4]

    assert actions.startswith("Acknowledge")
    assert "Dismiss" not in actions
    assert "Only a clinician of this site may dismiss an urgent alert." in actions
    # The service still refuses it, whatever the page offered.
    refused = client.post(action_url(urgent, "dismiss"), {"reason": "x"}, headers=HTMX)
    assert refused.status_code == 400
    assert "Only a clinician of this site may dismiss an urgent alert" in refused.text
    urgent.refresh_from_db()
    assert urgent.status == "open"


def test_each_site_offers_the_actions_of_the_persons_role_there(client, nurse_a, course_a, site_b):
    MembershipFactory(user=nurse_a, site=site_b, role=Role.CLINICIAN)
    course_b = CourseFactory(patient=PatientFactory(site=site_b))
    make_alert(course_a, severity="urgent", rule="antibodies_detected", title="At north")
    make_alert(course_b, severity="urgent", rule="antibodies_detected", title="At south")
    client.force_login(nurse_a)

    rows = rows_by_title(client.get(WORKLIST).text)

    assert "Dismiss" not in rows["At north"][4]  # a nurse at north
    assert "Dismiss…" in rows["At south"][4]  # a clinician at south


def test_a_clinician_is_told_that_acknowledging_a_past_fact_closes_it(
    client, clinician_a, nurse_a, course_a
):
    make_alert(course_a, rule="early_discontinuation", severity="info", title="Stopped early")
    client.force_login(clinician_a)
    assert "Acknowledge and close" in rows_by_title(client.get(WORKLIST).text)["Stopped early"][4]
    client.force_login(nurse_a)
    assert rows_by_title(client.get(WORKLIST).text)["Stopped early"][4].startswith("Acknowledge ")


def test_acknowledged_notes_are_hidden_unless_asked_for(client, nurse_a, quiet_course):
    make_alert(quiet_course, severity="info", status="acknowledged", title="Seen note")
    make_alert(quiet_course, severity="warning", status="acknowledged", title="Seen warning")
    make_alert(quiet_course, severity="info", title="New note")
    client.force_login(nurse_a)

    default = client.get(WORKLIST).text
    shown = client.get(WORKLIST, {"show_acknowledged_notes": "on"}).text
    by_status = client.get(WORKLIST, {"status": "acknowledged"}).text

    assert set(rows_by_title(default)) == {"Seen warning", "New note"}
    assert "1 acknowledged note hidden" in default
    assert '<a href="?show_acknowledged_notes=on">show</a>' in default
    assert 'name="show_acknowledged_notes"' in default
    assert "Seen note" in rows_by_title(shown)
    assert "hidden" not in re.search(r'<p id="worklist-counts".*?</p>', shown, re.S).group()
    assert set(rows_by_title(by_status)) == {"Seen note", "Seen warning"}


def test_acknowledging_a_note_counts_it_as_hidden_from_then_on(client, nurse_a, quiet_course):
    note = make_alert(quiet_course, severity="info", title="Note")
    client.force_login(nurse_a)

    swapped = client.post(action_url(note, "acknowledge"), headers=HTMX).text

    assert 'Acknowledged</span> <span class="by">by nina' in swapped  # still shown, in place
    assert '<span class="count">0</span>' in swapped  # the info section's count
    assert "1 acknowledged note hidden" in swapped


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_worklist_reads_a_constant_number_of_queries(client, nurse_a, clinician_a, site_a):
    course = overdue_course(site_a)
    client.force_login(nurse_a)
    few = queries_of(client, WORKLIST)
    for _ in range(8):
        alert = make_alert(overdue_course(site_a), severity="warning")
        services.alert_acknowledge(alert=alert, by=clinician_a)
    make_alert(course, severity="urgent")
    assert queries_of(client, WORKLIST) == few


def test_the_when_column_follows_the_day_it_is_read(client, nurse_a, course_a):
    with time_machine.travel(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)):
        client.force_login(nurse_a)  # a session of the day before has expired
        row = rows_by_title(client.get(WORKLIST).text)["Maintenance dose overdue"]
    assert row[2] == "15 d overdue due 10 Nov 2026"
