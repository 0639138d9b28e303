"""The infusion list in a real browser: a nurse's day from it, its day sheet printed. The demo's
list is seen in test_browser.py's demo test, which seeds the demo once for both.

Data is committed (live server, transactional database); TODAY is 2026-11-24 (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from playwright.sync_api import Page, expect

from registry.models import Infusion
from tests.conftest import TODAY
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import CourseFactory, InfusionFactory, PatientFactory

DAY = dt.timedelta(days=1)
INFUSION_LIST = "Infusion list"


def due_today(site, **patient):
    """Induction dose 2 due today: dose 1 was given 14 days ago, at 43 kg (215 mg)."""
    start = TODAY - 14 * DAY
    course = CourseFactory(patient=PatientFactory(site=site, **patient), started_on=start)
    InfusionFactory(course=course, given_on=start, weight_kg=Decimal("43"), dose_mg=Decimal("215"))
    return course


def test_a_nurse_records_an_infusion_from_the_infusion_list(page: Page, nurse_a):
    site = nurse_a.memberships.get().site
    course = due_today(site, family_name="Okafor", given_name="Zara")
    later = due_today(site, family_name="Brown")  # stays due today
    sign_in(page, "nina", home=INFUSION_LIST)  # a nurse's home

    today = page.locator("#section-today")
    row = today.locator(f"#due-{course.pk}")
    expect(row).to_contain_text(course.patient.registry_code)
    expect(row).to_contain_text("Okafor, Zara")
    expect(row).to_contain_text("215 mg · 3 vials")
    expect(row).to_contain_text("14 days ago")
    vials_today = page.locator("#forecast-north tbody tr").first.locator("td").last
    expect(vials_today).to_have_text("6")  # two doses of 3 vials
    expect(page.get_by_role("link", name=INFUSION_LIST)).to_have_attribute("aria-current", "page")
    screenshot(page, "infusion-list")

    row.get_by_role("link", name="Record infusion").click()
    expect(page.get_by_role("heading", name="Record an infusion")).to_be_visible()
    expect(page.locator("#suggested-dose")).to_have_text("215 mg")
    expect(page.get_by_label("Given on")).to_have_value(TODAY.isoformat())
    expect(page.get_by_label("Dose (mg)")).to_have_value("215")
    expect(page.get_by_label("Weight (kg)")).to_have_value(re.compile(r"^43(\.0+)?$"))
    expect(page.get_by_label("Weight measured on")).to_have_value((TODAY - 14 * DAY).isoformat())
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("Infusion recorded.")
    assert Infusion.objects.filter(course=course, given_on=TODAY, dose_mg=215).exists()
    page.get_by_role("link", name=INFUSION_LIST).click()
    expect(today.locator(f"#due-{later.pk}")).to_be_visible()
    expect(page.locator(f"#due-{course.pk}")).to_have_count(0)  # week 6 is four weeks away
    expect(vials_today).to_have_text("3")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: rows stack, nothing scrolls
    page.reload()
    expect(today.locator(f"#due-{later.pk}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_day_sheet_prints_without_the_page_around_it(page: Page, nurse_a):
    course = due_today(nurse_a.memberships.get().site)
    sign_in(page, "nina", home=INFUSION_LIST)
    page.get_by_role("link", name="Today's day sheet").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Infusion day sheet")
    expect(page.get_by_role("button", name="Print")).to_be_visible()  # shown once JS runs

    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".crumbs")).to_be_hidden()
    row = page.locator(f"#sheet-{course.pk}")
    expect(row).to_contain_text(course.patient.registry_code)
    expect(row).to_contain_text("14 Mar 2012")
    expect(row).to_contain_text("215 mg · 3 vials")
    expect(page.locator(".sheet-footer")).to_contain_text("printed by nina on 24 Nov 2026")
    expect(page.locator("main a:visible")).to_have_count(0)  # nothing to click on paper
    screenshot(page, "infusion-day-sheet-print")
