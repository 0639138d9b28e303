"""The clinic's pages through the Django test client: sign in, worklist and alert actions, patients,
the patient page, who may open what, and the guideline page. Data entry is in test_forms.py."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from monitoring.guideline import RULES
from monitoring.guideline.parameters import parameter_info
from monitoring.models import Alert, AlertEvent, SiteGuideline
from registry import services
from registry.models import Role
from tests.clinic.support import (
    DAY,
    START,
    make_alert,
    messages_of,
    ms,
    table_rows,
    timeline_data,
)
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    RelapseFactory,
)

pytestmark = pytest.mark.django_db

WORKLIST = reverse("clinic:worklist")
HOME = reverse("clinic:home")
LOGIN = reverse("login")


def action_url(alert: Alert, action: str) -> str:
    return reverse("clinic:alert_action", args=[alert.pk, action])


def overdue_alert_of(course) -> Alert:
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


# --- Signing in and out --------------------------------------------------------------------------


def test_it_signs_in_with_a_real_password_and_shows_the_users_site_and_role(client, nurse_a):
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert 'name="password" type="password"' in page.text

    signed_in = client.post(LOGIN, {"username": "nina", "password": "password"}, follow=True)

    # A nurse's day starts at the infusion list (tests/clinic/test_infusion_list.py).
    assert signed_in.redirect_chain == [(HOME, 302), (reverse("clinic:infusion_list"), 302)]
    assert re.search(r'class="user"[^>]*>nina<', signed_in.text)
    assert '<span class="roles">Nurse / infusion staff · north</span>' in signed_in.text


def test_it_refuses_a_wrong_password(client, nurse_a):
    page = client.post(LOGIN, {"username": "nina", "password": "guess"})
    assert page.status_code == 200
    assert "Please enter a correct username and password" in page.text
    assert client.get(WORKLIST).status_code == 302


def test_it_shows_every_site_and_role_of_the_user(client, clinician_a, site_b):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.DATA_MANAGER)
    client.force_login(clinician_a)
    page = client.get(WORKLIST)
    assert '<span class="roles">Clinician · north; Data manager · south</span>' in page.text


def test_it_shows_a_superuser_as_such(client, superuser, site_a):
    client.force_login(superuser)
    assert "Superuser · all sites" in client.get(WORKLIST).text


def test_it_returns_to_the_page_asked_for_after_signing_in(client, nurse_a):
    patients = reverse("clinic:patients")
    asked = client.get(patients)
    assert asked["Location"] == f"{LOGIN}?next={patients}"
    credentials = {"username": "nina", "password": "password", "next": patients}
    signed_in = client.post(f"{LOGIN}?next={patients}", credentials)
    assert signed_in["Location"] == patients


def test_it_signs_out(client, nurse_a):
    client.force_login(nurse_a)
    signed_out = client.post(reverse("logout"))
    assert signed_out.status_code == 302
    assert signed_out["Location"] == LOGIN
    assert client.get(WORKLIST)["Location"] == f"{LOGIN}?next={WORKLIST}"


def test_it_sends_a_signed_in_person_from_the_login_page_to_their_home(client, nurse_a):
    client.force_login(nurse_a)
    assert client.get(LOGIN)["Location"] == HOME


# --- Worklist ------------------------------------------------------------------------------------


def test_it_lists_open_and_acknowledged_alerts_of_the_users_sites_only(
    client, nurse_a, course_a, course_b
):
    make_alert(course_a, title="Seen already", status="acknowledged", severity="warning")
    make_alert(course_a, title="Dealt with", status="resolved")
    make_alert(course_a, title="Not applicable", status="dismissed")
    client.force_login(nurse_a)

    page = client.get(WORKLIST)

    assert page.status_code == 200
    shown = {alert.pk for alert in page.context["page"]}
    mine = Alert.objects.filter(course=course_a, status__in=["open", "acknowledged"])
    assert shown == set(mine.values_list("pk", flat=True))
    assert "Maintenance dose overdue" in page.text
    assert "Seen already" in page.text
    assert "Dealt with" not in page.text
    assert "Not applicable" not in page.text
    assert course_a.patient.registry_code in page.text
    assert course_b.patient.registry_code not in page.text


def test_it_groups_alerts_urgent_then_warning_then_info_each_by_due_date(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a))
    alerts = [
        make_alert(course, severity="info", due_on=TODAY - 30 * DAY, title="Info early"),
        make_alert(course, severity="urgent", due_on=TODAY - 2 * DAY, title="Urgent late"),
        make_alert(course, severity="warning", due_on=TODAY - 9 * DAY, title="Warning"),
        make_alert(course, severity="urgent", due_on=TODAY - 20 * DAY, title="Urgent early"),
        make_alert(course, severity="info", due_on=TODAY + 5 * DAY, title="Info later"),
    ]
    client.force_login(nurse_a)

    page = client.get(WORKLIST).text

    order = ["Urgent early", "Urgent late", "Warning", "Info early", "Info later"]
    positions = [page.index(f"<td>{title}</td>") for title in order]
    assert positions == sorted(positions)
    headings = [page.index(f'<h2 id="section-{s}" class="severity {s}">') for s in
                ("urgent", "warning", "info")]  # fmt: skip
    assert headings == sorted(headings)
    assert (
        '<h2 id="section-urgent" class="severity urgent">Urgent <span class="count">2</span></h2>'
    ) in page
    assert len(alerts) == page.count('class="alert-row ')


def test_it_shows_how_many_days_a_dose_is_overdue_or_until_it_is_due(client, nurse_a, course_a):
    upcoming = make_alert(
        course_a, rule="maintenance_dose_overdue", due_on=TODAY + 5 * DAY, title="Not due yet"
    )
    client.force_login(nurse_a)

    page = client.get(WORKLIST).text

    rows = {row[1]: row for row in table_rows(page) if len(row) == 5}
    assert rows["Maintenance dose overdue"][2] == "14 d overdue due 10 Nov 2026"
    assert rows[upcoming.title][2] == "due in 5 d 29 Nov 2026"


def test_it_filters_by_site_among_the_users_sites(client, clinician_a, site_b, course_a, course_b):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.CLINICIAN)
    client.force_login(clinician_a)

    both = client.get(WORKLIST)
    south = client.get(WORKLIST, {"site": "south"})

    assert {a.course_id for a in both.context["page"]} == {course_a.pk, course_b.pk}
    assert {a.course_id for a in south.context["page"]} == {course_b.pk}


def test_it_ignores_a_site_filter_for_a_site_that_is_not_the_users(
    client, nurse_a, course_a, course_b
):
    client.force_login(nurse_a)
    page = client.get(WORKLIST, {"site": "south"})
    assert page.status_code == 200
    assert '<option value="south"' not in page.text
    assert {a.course_id for a in page.context["page"]} == {course_a.pk}


def test_it_keeps_the_status_filter_when_the_site_filter_is_not_one_of_the_users(
    client, nurse_a, course_a
):
    make_alert(course_a, status="resolved", title="Old news")
    client.force_login(nurse_a)
    page = client.get(WORKLIST, {"site": "south", "status": "resolved"})
    assert [alert.title for alert in page.context["page"]] == ["Old news"]


def test_it_filters_by_rule_severity_and_status(client, nurse_a, course_a):
    make_alert(course_a, severity="urgent", rule="antibodies_detected", title="Antibodies")
    make_alert(course_a, status="resolved", title="Old news")
    client.force_login(nurse_a)

    def shown(**query: str) -> set[str]:
        return {alert.title for alert in client.get(WORKLIST, query).context["page"]}

    assert shown(rule="maintenance_dose_overdue") == {"Maintenance dose overdue"}
    # course_a has no TB or hepatitis B screen on record: the engine raised that too.
    assert shown(severity="urgent") == {"Antibodies", "TB or hepatitis B screening not recorded"}
    assert shown(status="resolved") == {"Old news"}
    assert "Old news" not in shown()
    assert shown(rule="maintenance_dose_overdue", severity="info") == set()
    acknowledged = overdue_alert_of(course_a)
    Alert.objects.filter(pk=acknowledged.pk).update(status="acknowledged")
    assert shown(status="acknowledged") == {"Maintenance dose overdue"}
    assert "Maintenance dose overdue" not in shown(status="open")


def test_it_says_when_nothing_needs_action(client, nurse_a):
    client.force_login(nurse_a)
    assert "Nothing needs action." in client.get(WORKLIST).text


# --- Alert actions --------------------------------------------------------------------------------


def test_it_acknowledges_an_alert_and_goes_back_to_the_filtered_worklist(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    back = f"{WORKLIST}?severity=urgent"

    done = client.post(action_url(alert, "acknowledge"), {"next": back}, follow=True)

    assert done.redirect_chain == [(back, 302)]
    assert messages_of(done) == ["Maintenance dose overdue: acknowledged."]
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    event = alert.events.last()
    assert (event.kind, event.from_status, event.to_status, event.actor) == (
        "acknowledged", "open", "acknowledged", nurse_a,
    )  # fmt: skip


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "http:/x"])
def test_it_goes_back_only_to_a_page_of_this_site(client, nurse_a, course_a, elsewhere):
    client.force_login(nurse_a)
    done = client.post(action_url(overdue_alert_of(course_a), "acknowledge"), {"next": elsewhere})
    assert done["Location"] == WORKLIST


def test_it_has_no_resolve_action(client, clinician_a, course_a):
    # Nobody resolves by hand what the engine checks: it resolves when the data shows it cleared.
    alert = overdue_alert_of(course_a)
    client.force_login(clinician_a)

    assert client.post(action_url(alert, "resolve")).status_code == 404
    htmx = client.post(action_url(alert, "resolve"), headers={"HX-Request": "true"})

    assert htmx.status_code == 404
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_at) == ("open", None)
    assert list(alert.events.values_list("kind", flat=True)) == ["raised"]
    row = client.get(WORKLIST).text
    assert "Resolve</button>" not in row
    assert "/resolve/" not in row


@pytest.mark.parametrize("rule", ["early_discontinuation", "dose_given_early"])
def test_a_clinicians_acknowledgement_closes_a_past_fact(client, clinician_a, course_a, rule):
    alert = make_alert(course_a, rule=rule, severity="warning")
    client.force_login(clinician_a)

    row = client.post(action_url(alert, "acknowledge"), headers={"HX-Request": "true"})

    assert row.status_code == 200
    assert '<span class="status resolved">Resolved</span> <span class="by">by carl' in row.text
    assert ": a past fact, acknowledged by a clinician</span>" in row.text
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == (
        "resolved", "a past fact, acknowledged by a clinician",
    )  # fmt: skip
    assert alert.resolved_at is not None
    event = alert.events.last()
    assert (event.kind, event.to_status, event.actor) == ("acknowledged", "resolved", clinician_a)


def test_a_nurses_acknowledgement_of_a_past_fact_only_acknowledges_it(client, nurse_a, course_a):
    alert = make_alert(course_a, rule="early_discontinuation", severity="warning")
    client.force_login(nurse_a)

    client.post(action_url(alert, "acknowledge"))

    alert.refresh_from_db()
    assert (alert.status, alert.resolved_at) == ("acknowledged", None)


def test_it_dismisses_an_alert_with_its_reason(client, clinician_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(clinician_a)

    client.post(action_url(alert, "dismiss"), {"reason": "Given at the satellite clinic"})

    alert.refresh_from_db()
    assert alert.status == "dismissed"
    event = alert.events.last()
    assert (event.kind, event.note, event.actor) == (
        "dismissed", "Given at the satellite clinic", clinician_a,
    )  # fmt: skip


def test_it_refuses_to_dismiss_without_a_reason(client, clinician_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(clinician_a)

    refused = client.post(action_url(alert, "dismiss"), {"reason": "  "}, follow=True)

    assert refused.redirect_chain == [(WORKLIST, 302)]
    assert messages_of(refused) == ["Say why this alert does not apply."]
    assert '<li class="message error">Say why this alert does not apply.</li>' in refused.text
    alert.refresh_from_db()
    assert alert.status == "open"
    assert list(alert.events.values_list("kind", flat=True)) == ["raised"]


@pytest.mark.parametrize(
    ("action", "data", "status", "shown"),
    [
        ("acknowledge", {}, "acknowledged", "Acknowledged"),
        ("dismiss", {"reason": "Transferred"}, "dismissed", "Dismissed"),
    ],
)
def test_it_acts_on_an_alert_through_htmx_and_returns_its_row(
    client, nurse_a, course_a, action, data, status, shown
):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)

    row = client.post(action_url(alert, action), data, headers={"HX-Request": "true"})

    assert row.status_code == 200
    assert row.templates[0].name == "clinic/_alert_row_swap.html"
    assert row.text.startswith(f'<tr id="alert-{alert.pk}" class="alert-row warning {status}">')
    assert "<html" not in row.text
    assert shown in row.text
    alert.refresh_from_db()
    assert alert.status == status
    assert alert.events.last().actor == nurse_a


def test_it_keeps_the_buttons_of_an_acknowledged_alert_but_acknowledge(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    row = client.post(action_url(alert, "acknowledge"), headers={"HX-Request": "true"}).text
    assert "Acknowledge</button>" not in row
    assert "Dismiss</button>" in row
    assert "Resolve</button>" not in row


def test_it_refuses_an_htmx_dismissal_without_a_reason_with_400_and_the_message(
    client, nurse_a, course_a
):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)

    row = client.post(action_url(alert, "dismiss"), {"reason": ""}, headers={"HX-Request": "true"})

    assert row.status_code == 400
    assert '<p class="field-error" role="alert">Say why this alert does not apply.</p>' in row.text
    assert f'id="alert-{alert.pk}"' in row.text
    alert.refresh_from_db()
    assert alert.status == "open"
    assert alert.events.count() == 1


def test_it_refuses_to_act_on_an_alert_that_is_already_closed(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    client.post(action_url(alert, "dismiss"), {"reason": "Given elsewhere"})

    row = client.post(action_url(alert, "acknowledge"), headers={"HX-Request": "true"})
    plain = client.post(action_url(alert, "dismiss"), {"reason": "Late"}, follow=True)

    assert row.status_code == 400
    assert "This alert is already dismissed." in row.text
    assert messages_of(plain)[-1] == "This alert is already dismissed."
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("dismissed", "Given elsewhere")
    assert alert.events.count() == 2


def test_it_knows_no_other_action_and_no_get(client, nurse_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(nurse_a)
    assert client.post(action_url(alert, "delete")).status_code == 404
    assert client.post(action_url(alert, "resolve")).status_code == 404
    assert client.get(action_url(alert, "acknowledge")).status_code == 405
    alert.refresh_from_db()
    assert alert.status == "open"


def test_it_hides_another_sites_alert(client, nurse_a, course_b):
    alert = overdue_alert_of(course_b)
    client.force_login(nurse_a)
    for action in ("acknowledge", "dismiss"):
        assert client.post(action_url(alert, action), {"reason": "x"}).status_code == 404
        htmx = client.post(
            action_url(alert, action), {"reason": "x"}, headers={"HX-Request": "true"}
        )
        assert htmx.status_code == 404
    alert.refresh_from_db()
    assert alert.status == "open"
    assert not AlertEvent.objects.filter(alert=alert, actor__isnull=False).exists()


def test_it_refuses_a_researcher_any_alert_action(client, researcher_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(researcher_a)
    assert client.post(action_url(alert, "acknowledge")).status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


# --- Patients -------------------------------------------------------------------------------------


@pytest.fixture
def patients_to_find(site_a, site_b, course_a, course_b):
    PatientFactory(site=site_a, registry_code="CRMO-000042", family_name="Smith", mrn="A-1")
    PatientFactory(site=site_b, registry_code="CRMO-000043", family_name="Smithers", mrn="B-1")


def found(client, query: str) -> list[str]:
    page = client.get(reverse("clinic:patients"), {"q": query})
    assert page.status_code == 200
    return [patient.registry_code for patient, _overview in page.context["rows"]]


def test_it_lists_only_the_patients_of_the_users_sites(client, nurse_a, course_a, patients_to_find):
    client.force_login(nurse_a)
    assert found(client, "") == sorted([course_a.patient.registry_code, "CRMO-000042"])


def test_it_searches_patients_by_registry_code_mrn_and_name(
    client, nurse_a, course_a, patients_to_find
):
    client.force_login(nurse_a)
    code = course_a.patient.registry_code
    assert found(client, "000042") == ["CRMO-000042"]
    assert found(client, "crmo-000042") == ["CRMO-000042"]
    assert found(client, "mrn-77") == [code]
    assert found(client, "MRN") == []  # an MRN matches whole, not in part
    assert found(client, "okafor") == [code]  # not site B's Okafor
    assert found(client, "Zara") == [code]
    assert found(client, "smith") == ["CRMO-000042"]  # not site B's Smithers


def test_it_finds_nothing_of_another_site(client, nurse_a, course_b, patients_to_find):
    client.force_login(nurse_a)
    assert found(client, "CRMO-000043") == []
    assert found(client, course_b.patient.mrn) == []
    page = client.get(reverse("clinic:patients"), {"q": "Smithers"})
    assert "No patient matches “Smithers”." in page.text


def test_it_shows_each_patients_course_and_next_dose(client, nurse_a, course_a, patients_to_find):
    client.force_login(nurse_a)
    rows = {row[0]: row for row in table_rows(client.get(reverse("clinic:patients")).text)}
    assert rows[course_a.patient.registry_code][1:] == [
        "Okafor, Zara", "MRN-77", "north", "On treatment · 5 mg/kg q8w", "10 Nov 2026 14 d overdue",
    ]  # fmt: skip
    assert rows["CRMO-000042"][4:] == ["Not on treatment", "—"]


def test_it_shows_a_dose_not_yet_due_and_a_stopped_course(client, nurse_a, site_a):
    on_time = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 14 * DAY)
    InfusionFactory(course=on_time, given_on=on_time.started_on)
    stopped = CourseFactory(patient=PatientFactory(site=site_a), started_on=dt.date(2025, 1, 6),
                            stopped_on=dt.date(2025, 2, 1), stop_reason="remission")  # fmt: skip
    client.force_login(nurse_a)
    rows = {row[0]: row for row in table_rows(client.get(reverse("clinic:patients")).text)}
    assert rows[on_time.patient.registry_code][4:] == [
        "On treatment · 5 mg/kg q8w", "24 Nov 2026 in 0 d",
    ]  # fmt: skip
    assert rows[stopped.patient.registry_code][4:] == ["Not on treatment", "—"]


# --- Patient page ---------------------------------------------------------------------------------


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def test_it_shows_the_patients_identity(client, nurse_a, course_a):
    client.force_login(nurse_a)
    page = client.get(patient_url(course_a.patient))
    assert page.status_code == 200
    assert f'<h1>{course_a.patient.registry_code} <span class="muted">· North Children' in page.text
    assert (
        "<strong>Okafor, Zara</strong> · MRN MRN-77 · born 14 Mar 2012 (14 y) · Female"
        " · CRMO diagnosed 10 Jan 2023"
    ) in page.text


def test_it_shows_the_course_schedule_with_late_doses_and_the_next_due(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    for offset in (0, 14, 52):  # the week-6 dose, due on day 42, given 10 days late
        InfusionFactory(course=course, given_on=START + offset * DAY)
    client.force_login(nurse_a)

    page = client.get(patient_url(course.patient)).text

    schedule = [row for row in table_rows(page) if len(row) == 6 and row[0].isdigit()]
    assert schedule == [
        ["1", "induction", "04 Aug 2026", "04 Aug 2026", "5.00", "on time"],
        ["2", "induction", "18 Aug 2026", "18 Aug 2026", "5.00", "on time"],
        ["3", "induction", "15 Sep 2026", "25 Sep 2026", "5.00", "10 d late"],
    ]
    assert '<tr class="late"><td>3</td>' in page
    assert "Regimen in force: <strong>5 mg/kg every 8 weeks</strong>" in page
    assert (
        "Next dose: <strong>dose 4 (maintenance) due 20 Nov 2026</strong> — "
        '<strong class="late">4 days overdue</strong>'
    ) in page


def test_it_shows_the_regimen_changes_and_a_dose_due_later(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    for offset in (0, 14, 42, 98):
        InfusionFactory(course=course, given_on=START + offset * DAY)
    RegimenChangeFactory(course=course, effective_on=START + 100 * DAY, interval_weeks=10)
    client.force_login(nurse_a)

    page = client.get(patient_url(course.patient)).text

    assert (
        "Regimen in force: <strong>5 mg/kg every 10 weeks</strong> · changes: "
        "Taper from 12 Nov 2026: 5.00 mg/kg every 10 weeks"
    ) in page
    assert "dose 5 (maintenance) due 19 Jan 2027</strong> — in 56 days" in page  # day 98 + 70


def test_it_shows_the_open_alerts_with_explanation_evidence_and_source(client, nurse_a, course_a):
    closed = make_alert(course_a, status="resolved", title="Closed long ago")
    client.force_login(nurse_a)

    page = client.get(patient_url(course_a.patient))

    alert = overdue_alert_of(course_a)
    assert alert in page.context["alerts"]
    assert closed not in page.context["alerts"]
    text = page.text
    assert f'<article class="alert-detail warning open" id="alert-detail-{alert.pk}">' in text
    assert '<strong>Maintenance dose overdue</strong> · <strong class="late">14 d overdue' in text
    assert escape(alert.explanation).replace("\n", "<br>") in text
    assert "Guideline (grade A, source document)" in text
    assert f"<dt>Late from</dt><dd>{TODAY - 6 * DAY:%d %b %Y}</dd>" in text
    assert "Rule <code>maintenance_dose_overdue</code> · grade A · source document" in text
    # A closed alert is not among the open ones: it is in the alert history below them.
    assert text.index("Closed long ago") > text.index('<section id="alert-history"')


def test_it_gives_the_timeline_its_data(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    first = InfusionFactory(course=course, given_on=START)
    InfusionFactory(course=course, given_on=START + 14 * DAY, weight_kg=Decimal("50"))
    patient = course.patient
    ReactionFactory(infusion=first, severity="moderate")
    LabResultFactory(patient=patient, collected_on=START, value=Decimal("12.5"),
                     reference_high=Decimal("8"))  # fmt: skip
    LabResultFactory(patient=patient, collected_on=START, analyte="esr", value=Decimal("31"),
                     unit="mm/h")  # fmt: skip
    ImagingStudyFactory(patient=patient, performed_on=START - 3 * DAY, active_lesions=4)
    ImagingStudyFactory(patient=patient, performed_on=START, modality="xray", active_lesions=1)
    AssessmentFactory(patient=patient, assessed_on=START + 70 * DAY, disease_state="inactive")
    RegimenChangeFactory(course=course, effective_on=START + 20 * DAY, interval_weeks=10)
    client.force_login(nurse_a)

    data = timeline_data(client.get(patient_url(patient)).text)

    day0 = ms(START)
    assert data["infusions"] == [
        {"x": day0, "y": 5.0, "dose_mg": 200.0},
        {"x": ms(START + 14 * DAY), "y": 4.0, "dose_mg": 200.0},
    ]
    assert data["crp"] == [{"x": day0, "y": 12.5}]
    assert data["esr"] == [{"x": day0, "y": 31.0}]
    assert (data["crp_uln"], data["esr_uln"]) == (8.0, 20.0)  # the lab's limit, the default
    assert data["mri"] == [  # not the X-ray
        {"x": ms(START - 3 * DAY), "y": 4, "new": 0, "modality": "Whole-body MRI"}
    ]
    assert data["assessments"] == [{"x": ms(START + 70 * DAY), "y": 2.0, "state": "inactive"}]
    assert data["reactions"] == [
        {"x": day0, "severity": "moderate", "onset": "acute (within 24 h)"}
    ]
    assert data["events"] == [
        {"x": day0, "label": "Course start 04 Aug 2026"},
        {"x": ms(START + 20 * DAY), "label": "Taper: 5.00 mg/kg q10w"},
    ]


def test_it_shows_who_changed_the_record(client, nurse_a, clinician_a, course_a):
    patient = course_a.patient
    lab = services.lab_result_record(
        patient=patient, collected_on=TODAY, analyte="crp", value=Decimal("4"), by=nurse_a
    )
    services.lab_result_correct(result=lab, changes={"value": Decimal("40")}, by=clinician_a)
    client.force_login(nurse_a)

    history = client.get(patient_url(patient)).context["history"]

    lab_changes = [(c.who, c.kind, c.fields) for c in history if c.what.startswith("CRP result")]
    assert lab_changes == [("carl", "changed", ["value"]), ("nina", "created", [])]
    assert ("registry", f"Patient {patient.registry_code} registered") in [
        (c.who, c.what) for c in history
    ]
    page = client.get(patient_url(patient)).text
    assert "<td>carl</td><td>CRP result of 24 Nov 2026 corrected: value 4 → 40</td>" in page


def test_it_shows_a_patient_without_a_course(client, clinician_a, site_a):
    patient = PatientFactory(site=site_a)
    client.force_login(clinician_a)
    page = client.get(patient_url(patient)).text
    assert "No infliximab course recorded." in page
    assert "No open alerts." in page
    assert reverse("clinic:start_course", args=[patient.pk]) in page


def test_it_offers_only_what_the_role_records(client, nurse_a, clinician_a, course_a):
    patient = course_a.patient
    nurse_urls = [
        reverse("clinic:record_infusion", args=[course_a.pk]),
        reverse("clinic:record_reaction", args=[course_a.pk]),
        reverse("clinic:record_lab", args=[patient.pk]),
    ]
    clinician_urls = [
        reverse("clinic:change_regimen", args=[course_a.pk]),
        reverse("clinic:stop_course", args=[course_a.pk]),
        reverse("clinic:record_imaging", args=[patient.pk]),
        reverse("clinic:record_assessment", args=[patient.pk]),
    ]
    client.force_login(nurse_a)
    page = client.get(patient_url(patient)).text
    assert all(url in page for url in nurse_urls)
    assert not any(url in page for url in clinician_urls)
    client.force_login(clinician_a)
    page = client.get(patient_url(patient)).text
    assert all(url in page for url in nurse_urls + clinician_urls)


def test_it_points_to_a_severe_reaction_awaiting_review(client, clinician_a, course_a):
    reaction = ReactionFactory(infusion=course_a.infusions.last(), severity="severe")
    client.force_login(clinician_a)
    page = client.get(patient_url(course_a.patient)).text
    assert "Severe reaction after the infusion of 15 Sep 2026 awaits a clinician" in page
    assert reverse("clinic:review_reaction", args=[reaction.pk]) in page


def test_it_lists_a_relapse_and_offers_it_after_a_stopped_course(client, clinician_a, site_a):
    relapse = RelapseFactory(course__patient=PatientFactory(site=site_a))
    client.force_login(clinician_a)
    page = client.get(patient_url(relapse.patient)).text
    assert reverse("clinic:record_relapse", args=[relapse.course.pk]) in page
    assert 'Course from 06 Jan 2025 to 01 Feb 2026 <span class="muted">(remission)</span>' in page
    assert (
        "Relapse noted 01 Jun 2026 after the course from 06 Jan 2025: "
        "New tibial lesion on whole-body MRI"
    ) in page


def test_it_hides_another_sites_patient(client, nurse_a, course_b):
    client.force_login(nurse_a)
    assert client.get(patient_url(course_b.patient)).status_code == 404


def test_it_refuses_the_patient_page_to_a_researcher(client, researcher_a, course_a):
    client.force_login(researcher_a)
    assert client.get(patient_url(course_a.patient)).status_code == 403


def test_it_sends_an_anonymous_visitor_of_a_patient_to_sign_in(client, course_a):
    url = patient_url(course_a.patient)
    assert client.get(url)["Location"] == f"{LOGIN}?next={url}"


# --- Who may open what ----------------------------------------------------------------------------


def every_url(course, reaction) -> list[str]:
    patient = course.patient
    return [
        WORKLIST,
        reverse("clinic:infusion_list"),
        reverse("clinic:patients"),
        reverse("clinic:guideline"),
        reverse("clinic:patient", args=[patient.pk]),
        *patient_scoped_urls(course, reaction),
    ]


def patient_scoped_urls(course, reaction) -> list[str]:
    patient = course.patient
    return [
        reverse("clinic:patient", args=[patient.pk]),
        reverse("clinic:start_course", args=[patient.pk]),
        reverse("clinic:record_lab", args=[patient.pk]),
        reverse("clinic:record_imaging", args=[patient.pk]),
        reverse("clinic:record_assessment", args=[patient.pk]),
        reverse("clinic:record_infusion", args=[course.pk]),
        reverse("clinic:record_reaction", args=[course.pk]),
        reverse("clinic:change_regimen", args=[course.pk]),
        reverse("clinic:stop_course", args=[course.pk]),
        reverse("clinic:record_relapse", args=[course.pk]),
        reverse("clinic:review_reaction", args=[reaction.pk]),
    ]


def test_it_sends_anonymous_visitors_of_every_page_to_sign_in(client, course_a):
    reaction = ReactionFactory(infusion=course_a.infusions.last())
    alert = overdue_alert_of(course_a)
    for url in every_url(course_a, reaction):
        assert client.get(url)["Location"] == f"{LOGIN}?next={url}", url
    for action in ("acknowledge", "dismiss"):
        assert client.post(action_url(alert, action))["Location"].startswith(f"{LOGIN}?next=")


def test_it_refuses_a_researcher_every_page_and_every_post(client, researcher_a, course_a):
    reaction = ReactionFactory(infusion=course_a.infusions.last())
    client.force_login(researcher_a)
    for url in every_url(course_a, reaction):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {}).status_code == 403, url
    # A researcher's home is the research exports page.
    assert client.get(HOME).url == reverse("clinic:research:exports")


def test_it_hides_every_patient_and_course_page_of_another_site(client, clinician_a, course_b):
    reaction = ReactionFactory(infusion=course_b.infusions.last(), severity="severe")
    client.force_login(clinician_a)
    for url in patient_scoped_urls(course_b, reaction):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"stopped_on": "2026-11-24", "reason": "remission",
                                 "reviewed_on": "2026-11-24"}).status_code == 404, url  # fmt: skip
    course_b.refresh_from_db()
    reaction.refresh_from_db()
    assert (course_b.stopped_on, reaction.reviewed_on) == (None, None)


NURSE_FORBIDDEN = ["start_course", "record_imaging", "record_assessment"]
NURSE_FORBIDDEN_ON_COURSE = ["change_regimen", "stop_course", "record_relapse"]


def test_it_lets_a_nurse_open_the_forms_of_what_she_records(client, nurse_a, course_a):
    client.force_login(nurse_a)
    for name, owner in [
        ("record_infusion", course_a),
        ("record_reaction", course_a),
        ("record_lab", course_a.patient),
    ]:
        assert client.get(reverse(f"clinic:{name}", args=[owner.pk])).status_code == 200, name


def test_it_refuses_a_nurse_what_only_clinicians_and_data_managers_record(
    client, nurse_a, course_a
):
    client.force_login(nurse_a)
    urls = [reverse(f"clinic:{name}", args=[course_a.patient.pk]) for name in NURSE_FORBIDDEN]
    urls += [reverse(f"clinic:{name}", args=[course_a.pk]) for name in NURSE_FORBIDDEN_ON_COURSE]
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(
            url, {"stopped_on": "2026-11-24", "reason": "remission"}
        ).status_code == (403), url
    course_a.refresh_from_db()
    assert course_a.stopped_on is None


def test_it_lets_a_data_manager_open_every_form(client, data_manager_a, course_a):
    client.force_login(data_manager_a)
    patient = course_a.patient
    for name in ["record_lab", "record_imaging", "record_assessment", "start_course"]:
        assert client.get(reverse(f"clinic:{name}", args=[patient.pk])).status_code == 200, name
    for name in ["record_infusion", "record_reaction", "change_regimen", "stop_course",
                 "record_relapse"]:  # fmt: skip
        assert client.get(reverse(f"clinic:{name}", args=[course_a.pk])).status_code == 200, name


# --- Guideline ------------------------------------------------------------------------------------


GUIDELINE = reverse("clinic:guideline")


def test_it_lists_every_rule_with_its_grade_source_and_what_clears_it(client, nurse_a):
    client.force_login(nurse_a)
    page = client.get(GUIDELINE).text
    assert len(RULES) == 23
    assert "Version 2026.12" in page
    rows = {row[0]: row for row in table_rows(page) if len(row) == 8}
    for rule_id, (info, _check) in RULES.items():
        row = rows[f"{info.title} {rule_id}"]
        assert row[1:] == [
            info.raises,
            info.severity,
            info.grade,
            info.key,
            info.clears,
            f"“{info.quote}”",
            info.source,
        ], rule_id


def test_it_lists_every_parameter_with_the_default_and_each_sites_value(
    client, clinician_a, site_a, site_b
):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.CLINICIAN)
    SiteGuideline.objects.create(
        site=site_a, overrides={"dose_grace_days": 5, "trough_min_ug_ml": "3"}
    )
    client.force_login(clinician_a)

    page = client.get(GUIDELINE).text

    rows = {row[0]: row for row in table_rows(page) if len(row) == 7}
    assert rows["Parameter"][:4] == ["Parameter", "Default", "north", "south"]
    assert rows["dose_grace_days"][:5] == ["dose_grace_days", "7", "5", "7", "days"]
    assert rows["trough_min_ug_ml"][:5] == ["trough_min_ug_ml", "5", "3", "5", "µg/mL"]
    for info in parameter_info():
        assert rows[info.name][4:6] == [info.unit, info.grade], info.name
        assert rows[info.name][6].startswith(info.source), info.name
    assert len(rows) == 1 + len(parameter_info())
    assert '<td class="overridden">5</td><td>7</td>' in page
    assert '<td class="overridden">3</td><td>5</td>' in page


def test_it_shows_only_the_users_sites_on_the_guideline(client, nurse_a, site_b):
    SiteGuideline.objects.create(site=site_b, overrides={"dose_grace_days": 3})
    client.force_login(nurse_a)
    page = client.get(GUIDELINE).text
    assert [row[:3] for row in table_rows(page) if row[0] == "dose_grace_days"] == [
        ["dose_grace_days", "7", "7"]
    ]
    assert '<th scope="col">south</th>' not in page
