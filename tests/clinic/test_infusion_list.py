"""The infusion list: who is due (overdue, today, this week) at the user's sites, what to prepare
for them, the printable day sheet and pharmacy's vial forecast. TODAY is 2026-11-24."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.evaluation import evaluate_courses
from registry.models import Role
from tests.clinic.support import table_rows
from tests.conftest import TODAY
from tests.factories import (
    AdverseEventFactory,
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    VaccinationFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
INFUSION_LIST = reverse("clinic:infusion_list")
HOME = reverse("clinic:home")
WEIGHT_MAX_AGE_DAYS = 30  # the guideline's default


def due_course(site, due_in_days: int, *, weight_kg="40", weighed_days_ago=None, **patient):
    """Induction dose 2 due `due_in_days` from today (negative: overdue): dose 1 was given 14 days
    before that, at `weight_kg`, weighed on the day unless `weighed_days_ago` says otherwise."""
    start = TODAY + (due_in_days - 14) * DAY
    course = CourseFactory(patient=PatientFactory(site=site, **patient), started_on=start)
    weighed_on = TODAY - weighed_days_ago * DAY if weighed_days_ago is not None else start
    InfusionFactory(
        course=course,
        given_on=start,
        weight_kg=Decimal(weight_kg),
        weight_measured_on=weighed_on,
        dose_mg=Decimal(weight_kg) * 5,
    )
    return course


def rows_of(response, section: str) -> list:
    return next(rows for key, _title, rows in response.context["sections"] if key == section)


def codes_of(response, section: str) -> list[str]:
    return [row.patient.registry_code for row in rows_of(response, section)]


def row_of(response, course):
    rows = [row for _key, _title, rows in response.context["sections"] for row in rows]
    return next(row for row in rows if row.course_id == course.pk)


def row_html(response, course) -> str:
    text = response.text
    start = text.index(f'id="due-{course.pk}"')
    return text[start : text.index("</tr>", start)]


# --- Sections -------------------------------------------------------------------------------------


def test_it_sorts_courses_into_overdue_today_and_this_week_by_their_next_dose(client, nurse_a):
    site = nurse_a.memberships.get().site
    yesterday = due_course(site, -1, registry_code="CRMO-000001")
    today = due_course(site, 0, registry_code="CRMO-000002")
    in_seven = due_course(site, 7, registry_code="CRMO-000003")
    due_course(site, 8, registry_code="CRMO-000004")  # next week's: not on the list
    client.force_login(nurse_a)

    page = client.get(INFUSION_LIST)

    assert codes_of(page, "overdue") == ["CRMO-000001"]
    assert codes_of(page, "today") == ["CRMO-000002"]
    assert codes_of(page, "week") == ["CRMO-000003"]
    assert "CRMO-000004" not in page.text
    assert "1 day overdue" in row_html(page, yesterday)
    assert "today" in row_html(page, today)
    assert "in 7 days" in row_html(page, in_seven)
    assert "dose 2 (induction)" in row_html(page, today)


def test_it_shows_how_many_days_a_dose_is_overdue_and_the_patients_name(client, nurse_a, course_a):
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course_a)
    assert "14 days overdue" in row  # the first maintenance dose was due on 10 Nov 2026
    assert "Okafor, Zara" in row
    assert "5 mg/kg q8w" in row


def test_it_leaves_out_stopped_courses_and_other_sites_patients(client, nurse_a, course_b):
    site = nurse_a.memberships.get().site
    stopped = due_course(site, 0, registry_code="CRMO-000010")
    stopped.stopped_on = TODAY - DAY
    stopped.stop_reason = "patient_choice"
    stopped.save()
    client.force_login(nurse_a)

    page = client.get(INFUSION_LIST)

    assert "CRMO-000010" not in page.text
    assert course_b.patient.registry_code not in page.text
    assert page.context["count"] == 0
    assert "No dose is due today." in page.text


def test_it_filters_by_site_for_staff_of_several_sites(client, clinician_a, site_b):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.NURSE)
    north = due_course(clinician_a.memberships.get(site__code="north").site, 0)
    south = due_course(site_b, 0)
    client.force_login(clinician_a)

    both = client.get(INFUSION_LIST)
    only_south = client.get(INFUSION_LIST, {"site": "south"})

    assert {row.course_id for row in rows_of(both, "today")} == {north.pk, south.pk}
    assert [row.course_id for row in rows_of(only_south, "today")] == [south.pk]
    assert '<option value="south" selected>' in only_south.text


def test_a_site_filter_outside_the_users_sites_shows_only_their_own(client, nurse_a, course_b):
    client.force_login(nurse_a)
    page = client.get(INFUSION_LIST, {"site": "south"})
    assert course_b.patient.registry_code not in page.text
    assert page.context["site"] == ""


# --- Dose, weight ---------------------------------------------------------------------------------


def test_it_shows_the_expected_dose_from_the_latest_weight_and_its_vials(client, nurse_a):
    site = nurse_a.memberships.get().site
    three_vials = due_course(site, 0, weight_kg="43")
    one_vial = due_course(site, 0, weight_kg="20")
    client.force_login(nurse_a)

    page = client.get(INFUSION_LIST)

    assert "<strong>215 mg</strong> · 3 vials" in row_html(page, three_vials)
    assert "<strong>100 mg</strong> · 1 vial<" in row_html(page, one_vial)
    assert "43 kg" in row_html(page, three_vials)


def test_the_expected_dose_follows_the_regimen_in_force(client, nurse_a, course_a):
    RegimenChangeFactory(
        course=course_a,
        effective_on=TODAY - 3 * DAY,
        dose_mg_per_kg=Decimal("7.5"),
        interval_weeks=6,
        reason="intensification",
    )
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course_a)
    assert "7.50 mg/kg q6w" in row
    assert "<strong>300 mg</strong> · 3 vials" in row  # 7.5 mg/kg x 40 kg
    assert "3 days overdue" in row  # due on the day it was decided: max(last + 6 weeks, 21 Nov)


def test_the_infusion_form_suggests_the_same_dose(client, nurse_a):
    course = due_course(nurse_a.memberships.get().site, 0, weight_kg="43")
    client.force_login(nurse_a)
    form = client.get(reverse("clinic:record_infusion", args=[course.pk]))
    assert '<strong id="suggested-dose">215 mg</strong> (3 × 100 mg vials)' in form.text


@pytest.mark.parametrize(
    ("weighed_days_ago", "weigh_today"),
    [(WEIGHT_MAX_AGE_DAYS, False), (WEIGHT_MAX_AGE_DAYS + 1, True)],
)
def test_it_asks_to_weigh_today_when_the_weight_is_too_old_for_a_dose_check(
    client, nurse_a, weighed_days_ago, weigh_today
):
    course = due_course(nurse_a.memberships.get().site, 0, weighed_days_ago=weighed_days_ago)
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course)
    assert f"{weighed_days_ago} days ago" in row
    assert ("Weigh today" in row) is weigh_today


def test_a_dose_later_in_the_week_is_weighed_on_the_day_if_the_weight_will_be_too_old(
    client, nurse_a
):
    # Weighed 26 days ago, due in 5 days: 31 days old on the day.
    course = due_course(nurse_a.memberships.get().site, 5, weighed_days_ago=26)
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course)
    assert "Weigh on the day" in row
    assert "Weigh today" not in row


# --- Holds and premedication ----------------------------------------------------------------------


def test_an_unreviewed_severe_reaction_holds_the_dose_and_offers_the_clinician_the_review(
    client, nurse_a, clinician_a
):
    course = due_course(nurse_a.memberships.get().site, 0)
    reaction = ReactionFactory(infusion=course.infusions.get(), severity="severe")
    review = reverse("clinic:review_reaction", args=[reaction.pk])
    record = reverse("clinic:record_infusion", args=[course.pk])

    client.force_login(nurse_a)
    as_nurse = row_html(client.get(INFUSION_LIST), course)
    client.force_login(clinician_a)
    as_clinician = row_html(client.get(INFUSION_LIST), course)

    for row in (as_nurse, as_clinician):
        assert "has not been reviewed by a clinician: no further infusion" in row
        assert record not in row  # the registry would refuse it
    assert review not in as_nurse
    assert review in as_clinician


def test_a_reviewed_severe_reaction_lifts_the_hold(client, nurse_a, clinician_a):
    course = due_course(nurse_a.memberships.get().site, 0)
    ReactionFactory(
        infusion=course.infusions.get(),
        severity="severe",
        reviewed_on=TODAY - DAY,
        reviewed_by=clinician_a,
        review_decision="continue_premedicated",
    )
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course)
    assert "Hold:" not in row
    assert reverse("clinic:record_infusion", args=[course.pk]) in row


def test_a_clinicians_decision_to_stop_infliximab_holds_every_further_dose(client, clinician_a):
    course = due_course(clinician_a.memberships.get().site, 0)
    reaction = ReactionFactory(
        infusion=course.infusions.get(),
        severity="moderate",
        reviewed_on=TODAY - DAY,
        reviewed_by=clinician_a,
        review_decision="stop",
    )
    client.force_login(clinician_a)
    row = row_html(client.get(INFUSION_LIST), course)
    assert "a clinician decided to stop infliximab on 23 Nov 2026: no further infusion" in row
    assert reverse("clinic:review_reaction", args=[reaction.pk]) not in row  # reviewed already
    assert reverse("clinic:record_infusion", args=[course.pk]) not in row


def test_positive_antibodies_put_the_dose_on_hold_for_a_clinician(client, nurse_a):
    course = due_course(nurse_a.memberships.get().site, 0)
    LabResultFactory(
        patient=course.patient,
        collected_on=TODAY - 5 * DAY,
        analyte="anti_ifx",
        value=Decimal("48"),
        unit="AU/mL",
        antibodies_positive=True,
    )
    evaluate_courses([course.pk], TODAY)
    client.force_login(nurse_a)

    page = client.get(INFUSION_LIST)

    row = row_of(page, course)
    assert row.antibodies is not None
    assert row.antibodies.rule == "antibodies_detected"
    assert "ask a clinician before giving it" in row_html(page, course)


def test_an_unreviewed_live_vaccine_within_90_days_asks_a_clinician_first(
    client, nurse_a, clinician_a
):
    course = due_course(nurse_a.memberships.get().site, 2)  # dose 2 due in 2 days
    vaccine = VaccinationFactory(patient=course.patient, vaccine="mmr", given_on=TODAY - 5 * DAY)
    review = reverse("clinic:review_vaccination", args=[vaccine.pk])
    record = reverse("clinic:record_infusion", args=[course.pk])
    client.force_login(nurse_a)
    as_nurse = row_html(client.get(INFUSION_LIST), course)
    client.force_login(clinician_a)
    page = client.get(INFUSION_LIST)
    as_clinician = row_html(page, course)
    [hold] = row_of(page, course).holds
    assert (hold.refused, hold.vaccination_id) == (False, vaccine.pk)
    for row in (as_nurse, as_clinician):
        assert (
            "Live vaccine (Measles, mumps and rubella (MMR)) given 19 Nov 2026, not reviewed: no "
            "infusion before 18 Feb 2027 (90 days after it) unless a clinician accepts the risk. "
            "Ask a clinician first."
        ) in row
        assert record in row  # asked, not refused
    assert review not in as_nurse
    assert review in as_clinician


@pytest.mark.parametrize(
    ("vaccine", "days_ago", "reviewed", "held"),
    [
        ("mmr", 88, False, True),  # 90 days before the due date (in 2 days)
        ("mmr", 89, False, False),  # 91 days before it
        ("mmr", 5, True, False),  # reviewed
        ("influenza_inactivated", 5, False, False),  # not live
    ],
)
def test_the_live_vaccine_hold_counts_90_days_before_the_dose(
    client, nurse_a, clinician_a, vaccine, days_ago, reviewed, held
):
    course = due_course(nurse_a.memberships.get().site, 2)
    review = {"reviewed_on": TODAY, "reviewed_by": clinician_a, "review_decision": "risk_accepted"}
    VaccinationFactory(patient=course.patient, vaccine=vaccine, given_on=TODAY - days_ago * DAY,
                       **(review if reviewed else {}))  # fmt: skip
    client.force_login(nurse_a)
    assert bool(row_of(client.get(INFUSION_LIST), course).holds) is held


def test_an_overdue_dose_counts_from_today(client, nurse_a):
    course = due_course(nurse_a.memberships.get().site, -3)  # overdue: it would be given today
    VaccinationFactory(patient=course.patient, vaccine="bcg", given_on=TODAY - DAY)
    client.force_login(nurse_a)
    assert row_of(client.get(INFUSION_LIST), course).holds


def test_a_serious_adverse_event_awaiting_review_asks_a_clinician_first(
    client, nurse_a, clinician_a
):
    course = due_course(nurse_a.memberships.get().site, 0)
    event = AdverseEventFactory(
        patient=course.patient, onset_on=TODAY - 4 * DAY, term="lung_infection", grade=3,
        serious=True, seriousness_hospitalisation=True, outcome="recovering", resolved_on=None,
    )  # fmt: skip
    AdverseEventFactory(patient=course.patient, onset_on=TODAY - 4 * DAY)  # mild: no review
    review = reverse("clinic:review_adverse_event", args=[event.pk])
    client.force_login(nurse_a)
    page = client.get(INFUSION_LIST)
    [hold] = row_of(page, course).holds
    assert (hold.refused, hold.adverse_event_id) == (False, event.pk)
    assert hold.message == (
        "Serious adverse event (Lung infection (pneumonia), from 20 Nov 2026) awaiting a "
        "clinician's review. Ask a clinician first."
    )
    assert "Serious adverse event (Lung infection (pneumonia), from 20 Nov 2026)" in row_html(
        page, course
    )
    assert review not in row_html(page, course)
    client.force_login(clinician_a)
    assert review in row_html(client.get(INFUSION_LIST), course)
    event.reviewed_on, event.reviewed_by, event.review_decision = TODAY, clinician_a, "continue"
    event.save()
    assert row_of(client.get(INFUSION_LIST), course).holds == []


def test_a_reaction_at_the_last_infusion_asks_for_premedication(client, nurse_a):
    course = due_course(nurse_a.memberships.get().site, 0)
    plain = due_course(nurse_a.memberships.get().site, 0)
    ReactionFactory(infusion=course.infusions.get(), severity="mild")
    evaluate_courses([course.pk, plain.pk], TODAY)
    client.force_login(nurse_a)

    page = client.get(INFUSION_LIST)

    assert "<strong>Premedicate</strong>" in row_html(page, course)
    assert "Premedicate" not in row_html(page, plain)
    assert "Hold:" not in row_html(page, course)  # a mild reaction holds nothing


# --- Actions and who sees the list ----------------------------------------------------------------


def test_each_row_links_to_the_patient_and_to_recording_the_infusion(client, nurse_a, course_a):
    client.force_login(nurse_a)
    row = row_html(client.get(INFUSION_LIST), course_a)
    assert reverse("clinic:patient", args=[course_a.patient.pk]) in row
    assert f'href="{reverse("clinic:record_infusion", args=[course_a.pk])}">Record infusion' in row


def test_only_those_who_may_record_an_infusion_at_the_site_are_offered_it(
    client, clinician_a, site_b, course_b
):
    # A nurse's permissions at south; at a site where the person has no role, nothing at all.
    MembershipFactory(user=clinician_a, site=site_b, role=Role.DATA_MANAGER)
    client.force_login(clinician_a)
    row = row_of(client.get(INFUSION_LIST), course_b)
    assert row.can_record is True
    assert row.can_review is False  # a data manager at south does not review reactions


def test_a_researcher_may_not_open_it(client, researcher_a):
    client.force_login(researcher_a)
    assert client.get(INFUSION_LIST).status_code == 403


def test_a_nurse_lands_on_the_infusion_list_and_others_on_the_worklist(
    client, nurse_a, clinician_a, site_b
):
    client.force_login(nurse_a)
    assert client.get(HOME)["Location"] == INFUSION_LIST
    worklist = client.get(reverse("clinic:worklist"))
    assert worklist.status_code == 200  # still a click away
    menu = client.get(INFUSION_LIST).text
    assert f'href="{INFUSION_LIST}" aria-current="page">Infusion list' in menu

    client.force_login(clinician_a)
    assert client.get(HOME)["Location"] == reverse("clinic:worklist")
    MembershipFactory(user=nurse_a, site=site_b, role=Role.CLINICIAN)
    client.force_login(nurse_a)
    assert client.get(HOME)["Location"] == reverse("clinic:worklist")


def test_the_menu_offers_it_to_staff_only(client, nurse_a, researcher_a):
    client.force_login(nurse_a)
    assert ">Infusion list</a>" in client.get(reverse("clinic:patients")).text
    client.force_login(researcher_a)
    assert ">Infusion list</a>" not in client.get(reverse("clinic:research:exports")).text


# --- Sorting --------------------------------------------------------------------------------------


def test_it_sorts_by_due_date_patient_or_site_with_plain_links(client, clinician_a, site_b):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.CLINICIAN)
    site_a = clinician_a.memberships.get(site__code="north").site
    due_course(site_b, 2, family_name="Adeyemi", registry_code="CRMO-000021")
    due_course(site_a, 5, family_name="Brown", registry_code="CRMO-000022")
    due_course(site_b, 1, family_name="Chen", registry_code="CRMO-000023")
    client.force_login(clinician_a)

    by_due = client.get(INFUSION_LIST)
    by_patient = client.get(INFUSION_LIST, {"sort": "patient"})
    by_site = client.get(INFUSION_LIST, {"sort": "site"})
    unknown = client.get(INFUSION_LIST, {"sort": "nonsense"})

    assert codes_of(by_due, "week") == ["CRMO-000023", "CRMO-000021", "CRMO-000022"]
    assert codes_of(by_patient, "week") == ["CRMO-000021", "CRMO-000022", "CRMO-000023"]
    assert codes_of(by_site, "week") == ["CRMO-000022", "CRMO-000023", "CRMO-000021"]
    assert codes_of(unknown, "week") == codes_of(by_due, "week")
    assert 'href="?sort=patient">Patient</a>' in by_due.text
    assert 'aria-sort="ascending"><a href="?sort=patient">' in by_patient.text
    # The site filter is kept when sorting.
    assert 'href="?site=south&amp;sort=site"' in client.get(INFUSION_LIST, {"site": "south"}).text


def test_the_day_sheet_rows_are_on_the_table_of_the_list(client, nurse_a):
    due_course(nurse_a.memberships.get().site, 0, registry_code="CRMO-000031")
    client.force_login(nurse_a)
    rows = table_rows(client.get(INFUSION_LIST).text)
    assert rows[0][:3] == ["Patient", "Site", "Due"]
    assert rows[1][0].startswith("CRMO-000031")


# --- Day sheet ------------------------------------------------------------------------------------


def test_the_day_sheet_lists_today_and_the_overdue_for_print(client, nurse_a, course_a):
    site = nurse_a.memberships.get().site
    today = due_course(site, 0, weight_kg="43", registry_code="CRMO-000041")
    due_course(site, 3, registry_code="CRMO-000042")  # this week: not on today's sheet
    client.force_login(nurse_a)

    sheet = client.get(INFUSION_LIST, {"sheet": "day"})

    assert sheet.status_code == 200
    rows = {row[0]: row for row in table_rows(sheet.text)[1:-1]}
    assert set(rows) == {course_a.patient.registry_code, "CRMO-000041"}
    row = rows["CRMO-000041"]
    assert row[1] == f"{today.patient.family_name}, {today.patient.given_name}"
    assert row[2] == "14 Mar 2012"  # date of birth
    assert "215 mg · 3 vials" in row[6]
    assert "14 days overdue" in rows[course_a.patient.registry_code][3]
    assert "printed by nina on 24 Nov 2026" in sheet.text
    # Nothing to click on the sheet but the way back and the print button.
    assert "Record infusion" not in sheet.text
    assert '<form method="get"' not in sheet.text


# --- Vial forecast --------------------------------------------------------------------------------


def test_the_vial_forecast_counts_whole_vials_per_day_and_site(client, clinician_a, site_b):
    MembershipFactory(user=clinician_a, site=site_b, role=Role.CLINICIAN)
    north = clinician_a.memberships.get(site__code="north").site
    due_course(north, -3, weight_kg="43")  # overdue: counted today, 3 vials
    due_course(north, 0, weight_kg="40")  # 2 vials
    due_course(north, 0, weight_kg="21")  # 105 mg: 2 vials (a vial is not shared)
    due_course(north, 7, weight_kg="60")  # 3 vials, the last day of the week
    due_course(north, 8, weight_kg="60")  # after the week: not counted
    held = due_course(north, 2, weight_kg="40", registry_code="CRMO-000051")
    ReactionFactory(infusion=held.infusions.get(), severity="severe")
    due_course(site_b, 1, weight_kg="30")  # south: 2 vials tomorrow
    client.force_login(clinician_a)

    page = client.get(INFUSION_LIST)

    north_forecast, south_forecast = page.context["forecast"]
    assert north_forecast.site.code == "north"
    assert [day.vials for day in north_forecast.days] == [7, 0, 0, 0, 0, 0, 0, 3]
    assert [day.doses for day in north_forecast.days] == [3, 0, 0, 0, 0, 0, 0, 1]
    assert north_forecast.total_vials == 10
    assert [row.patient.registry_code for row in north_forecast.not_counted] == ["CRMO-000051"]
    assert [day.vials for day in south_forecast.days] == [0, 2, 0, 0, 0, 0, 0, 0]
    assert south_forecast.total_vials == 2
    table = table_rows(page.text[page.text.index('id="forecast-north"') :])
    assert table[1] == ["Tue 24 Nov (today)", "3", "7"]
    assert table[9] == ["Total", "4", "10"]
    assert "CRMO-000051 (on hold, 2 vials if given)" in page.text


# --- Queries --------------------------------------------------------------------------------------


def test_it_reads_a_constant_number_of_queries_whatever_the_number_of_courses(
    client, nurse_a, django_assert_max_num_queries
):
    site = nurse_a.memberships.get().site
    client.force_login(nurse_a)

    def add_courses(count: int) -> None:
        for _ in range(count):
            course = due_course(site, 0)
            ReactionFactory(infusion=course.infusions.get(), severity="mild")
            evaluate_courses([course.pk], TODAY)
        held = due_course(site, -2)
        ReactionFactory(infusion=held.infusions.get(), severity="severe")

    add_courses(1)
    with CaptureQueriesContext(connection) as few:
        client.get(INFUSION_LIST)
    add_courses(8)
    with django_assert_max_num_queries(len(few)):
        page = client.get(INFUSION_LIST)
    assert len(rows_of(page, "today")) == 9
    # The layout (menu links by role) included, the screening holds with who may review them, the
    # engine's loader (its live vaccines among its rows) and the adverse events awaiting review.
    assert len(few) <= 42
