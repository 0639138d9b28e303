"""The clinic in a real browser: what a nurse or a clinician does, click by click.

Data is committed (live server, transactional database); TODAY is 2026-11-24 (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Locator, Page, expect

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.demo import DEMO_PASSWORD, username_for
from registry.models import Patient, Role
from tests.conftest import TODAY
from tests.e2e.conftest import README_IMAGES, VIEWPORT, screenshot, sign_in
from tests.factories import CourseFactory, InfusionFactory, PatientFactory

DAY = dt.timedelta(days=1)
OVERDUE = "Maintenance dose overdue"


def overdue_alert(site) -> Alert:
    """Induction given (weeks 0, 2, 6 at 40 kg, 200 mg); the first maintenance dose (week 14) is
    two weeks late."""
    start = TODAY - 112 * DAY
    course = CourseFactory(patient=PatientFactory(site=site), started_on=start)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=start + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


def test_signing_in_shows_the_worklist_with_site_and_role_and_signing_out_ends_it(
    page: Page, clinician_a
):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill("carl")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    sign_in(page, "carl")
    header = page.locator("header.topbar")
    expect(header.locator(".user")).to_have_text("carl")
    expect(header.locator(".roles")).to_have_text("Clinician · north")
    expect(page.get_by_role("link", name="Worklist")).to_have_attribute("aria-current", "page")

    header.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_a_nurse_records_the_overdue_dose_from_the_suggested_dose(page: Page, nurse_a):
    alert = overdue_alert(nurse_a.memberships.get().site)
    patient = alert.course.patient
    sign_in(page, "nina", home="Infusion list")
    page.goto("/worklist/")
    row = page.locator(f"#alert-{alert.pk}")
    expect(row).to_contain_text(OVERDUE)
    expect(row).to_contain_text(patient.registry_code)
    expect(row).to_contain_text("14 d")  # days overdue

    row.get_by_role("link", name=patient.registry_code).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.registry_code)
    expect(page.locator(f"#alert-detail-{alert.pk}")).to_contain_text(OVERDUE)
    screenshot(page, "patient-overdue")

    page.get_by_role("link", name="Record infusion").click()
    expect(page.get_by_role("heading", name="Record an infusion")).to_be_visible()
    expect(page.locator("#suggested-dose")).to_have_text("200 mg")
    # The date picker shows today (an ISO value: a localised one would leave it empty).
    expect(page.get_by_label("Given on")).to_have_value(TODAY.isoformat())
    dose = page.get_by_label("Dose (mg)")
    expect(dose).to_have_value("200")
    weight = page.get_by_label("Weight (kg)")
    expect(weight).to_have_value(re.compile(r"^40(\.0+)?$"))
    # The weight carried over from the last infusion keeps the day it was measured ...
    measured_on = page.get_by_label("Weight measured on")
    expect(measured_on).to_have_value("2026-09-15")
    expect(page.locator("#live-mg-per-kg")).to_have_text("5.00")
    expect(page.locator("#live-vials")).to_have_text("2 vials")
    warning = page.locator("#dose-warning")
    expect(warning).to_be_hidden()

    dose.fill("300")
    expect(page.locator("#live-mg-per-kg")).to_have_text("7.50")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Does not match 5 mg/kg × 40 kg = 200 mg (50.0 % off")

    dose.fill("200")
    expect(warning).to_be_hidden()
    expect(page.locator("#live-mg-per-kg")).to_have_text("5.00")
    # ... and a weight typed in is measured today.
    weight.fill("40")
    expect(measured_on).to_have_value(TODAY.isoformat())
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Infusion recorded.")
    expect(page.locator(f"#alert-detail-{alert.pk}")).to_have_count(0)
    expect(page.locator(".alert-detail", has_text=OVERDUE)).to_have_count(0)
    given = page.locator(f"#course-{alert.course_id} tbody tr", has_text="maintenance").first
    expect(given).to_contain_text("24 Nov 2026")  # dose 4 given today, at 5.00 mg/kg
    expect(given).to_contain_text("5.00")
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.course.infusions.filter(
        given_on=TODAY, dose_mg=200, weight_measured_on=TODAY
    ).exists()

    page.get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    expect(page.locator(f"#alert-{alert.pk}")).to_have_count(0)


def test_acknowledging_and_dismissing_on_the_worklist_swap_the_row_in_place(page: Page, nurse_a):
    site = nurse_a.memberships.get().site
    to_acknowledge, to_dismiss = overdue_alert(site), overdue_alert(site)
    sign_in(page, "nina", home="Infusion list")
    page.goto("/worklist/")
    # A marker on the window survives HTMX swaps, not a full page load.
    page.evaluate("window.notReloaded = true")

    row = page.locator(f"#alert-{to_acknowledge.pk}")
    expect(row.locator(".status")).to_have_text("Open")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator(".status")).to_have_text("Acknowledged")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(row.get_by_text("Dismiss…")).to_be_visible()  # still offered; no manual resolve
    expect(row.get_by_role("button", name="Resolve")).to_have_count(0)

    row = page.locator(f"#alert-{to_dismiss.pk}")
    row.get_by_text("Dismiss…").click()
    row.get_by_label("Why does this alert not apply?").fill("Dose given at the satellite clinic")
    row.get_by_role("button", name="Dismiss", exact=True).click()
    expect(row.locator(".status")).to_have_text("Dismissed")
    expect(row.get_by_role("button")).to_have_count(0)

    assert page.evaluate("window.notReloaded") is True
    assert page.locator(".messages").count() == 0  # no redirect with a flash message either
    acknowledged = to_acknowledge.events.get(kind="acknowledged")
    dismissed = to_dismiss.events.get(kind="dismissed")
    assert (acknowledged.actor, acknowledged.to_status) == (nurse_a, "acknowledged")
    assert (dismissed.actor, dismissed.note) == (nurse_a, "Dose given at the satellite clinic")
    to_dismiss.refresh_from_db()
    assert to_dismiss.status == "dismissed"

    page.reload()  # what the server now shows: the dismissed alert has left the worklist
    expect(page.locator(f"#alert-{to_acknowledge.pk} .status")).to_have_text("Acknowledged")
    expect(page.locator(f"#alert-{to_dismiss.pk}")).to_have_count(0)


def test_the_patient_timeline_chart_draws_the_infusions(page: Page, clinician_a):
    alert = overdue_alert(clinician_a.memberships.get().site)
    sign_in(page, "carl")
    page.goto(f"/patients/{alert.course.patient_id}/")
    page.wait_for_function("window.registryTimeline !== undefined")
    datasets = page.evaluate(
        "window.registryTimeline.data.datasets.map(d => [d.label, d.data.length])"
    )
    assert datasets[0] == ["Infusion (mg/kg)", 3]
    assert page.evaluate("window.registryTimeline.data.datasets[0].data[0].y") == 5.0
    box = page.locator("#timeline-chart").bounding_box()
    assert box is not None
    assert box["width"] > 600
    assert box["height"] > 150
    # Something was painted: the canvas is not blank.
    painted = page.evaluate(
        """() => {
            const c = document.getElementById("timeline-chart");
            const pixels = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return pixels.some((value, i) => i % 4 === 3 && value !== 0);
        }"""
    )
    assert painted
    screenshot(page, "patient")


def tab_to(page: Page, target: Locator, *, presses: int = 40) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"Tab never reached {target}")


def test_the_worklist_works_from_the_keyboard(page: Page, nurse_a):
    alert = overdue_alert(nurse_a.memberships.get().site)
    sign_in(page, "nina", home="Infusion list")
    page.goto("/worklist/")
    screenshot(page, "worklist")
    row = page.locator(f"#alert-{alert.pk}")
    tab_to(page, row.get_by_role("button", name="Acknowledge"))
    page.keyboard.press("Enter")
    expect(row.locator(".status")).to_have_text("Acknowledged")

    # On from the swapped row: the dismiss form opens and submits from the keyboard too.
    tab_to(page, row.locator("summary"))
    page.keyboard.press("Enter")
    reason = row.get_by_label("Why does this alert not apply?")
    expect(reason).to_be_visible()
    page.keyboard.press("Tab")
    expect(reason).to_be_focused()
    page.keyboard.type("Duplicate of the clinic's own reminder")
    page.keyboard.press("Enter")
    expect(row.locator(".status")).to_have_text("Dismissed")


def test_the_demo_registry_in_the_browser_and_the_readme_screenshots(page: Page, transactional_db):
    """The demo (`seed_demo`) as clinician.north sees it, then as nurse.north (the infusion list),
    saved to test-artifacts/. One seeded demo serves both. With UPDATE_SCREENSHOTS=1 also the
    README's images, docs/screenshots/ (1280 px wide, one screen of the worklist, the top of
    CRMO-000037's page, one screen of the infusion list):

        UPDATE_SCREENSHOTS=1 DATABASE_URL=... REDIS_URL=... .venv/bin/pytest tests/e2e -k demo
    """
    call_command("seed_demo", stdout=io.StringIO())
    call_command("evaluate_courses", stdout=io.StringIO())
    sign_in(page, username_for(Role.CLINICIAN, "north"), DEMO_PASSWORD)
    expect(page.locator(".alert-row").first).to_be_visible()
    worklist = screenshot(page, "demo-worklist")

    patient = Patient.objects.get(registry_code="CRMO-000037")
    page.goto(f"/patients/{patient.pk}/")
    page.wait_for_function("window.registryTimeline !== undefined")
    expect(page.get_by_role("heading", level=1)).to_contain_text("CRMO-000037")
    full = screenshot(page, "demo-patient")
    assert worklist.stat().st_size > 0
    assert full.stat().st_size > 0

    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        page.goto("/")
        page.screenshot(path=README_IMAGES / "worklist.png", animations="disabled")
        page.goto(f"/patients/{patient.pk}/")
        page.wait_for_function("window.registryTimeline !== undefined")
        page.screenshot(
            path=README_IMAGES / "patient.png",
            animations="disabled",
            clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 1200},
            full_page=True,
        )

    page.context.clear_cookies()  # signed out: the nurse's turn
    sign_in(page, username_for(Role.NURSE, "north"), DEMO_PASSWORD, home="Infusion list")
    expect(page.locator("table.infusions tbody tr").first).to_be_visible()
    expect(page.locator("#vial-forecast")).to_contain_text("Total")
    assert screenshot(page, "demo-infusion-list").stat().st_size > 0
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(
            path=README_IMAGES / "infusion-list.png",
            animations="disabled",
            clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 1100},
            full_page=True,
        )
