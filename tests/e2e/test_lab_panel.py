"""The lab panel in a real browser: the results of one draw in one save, all or nothing.

Data is committed (live server, transactional database); TODAY is 2026-11-24 (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal

from playwright.sync_api import Page, expect

from registry.models import LabResult
from tests.conftest import TODAY
from tests.e2e.conftest import README_IMAGES, screenshot, sign_in
from tests.factories import CourseFactory, PatientFactory


def test_a_nurse_records_crp_esr_and_trough_of_one_draw_in_one_save(page: Page, nurse_a):
    patient = PatientFactory(site=nurse_a.memberships.get().site)
    CourseFactory(patient=patient)
    sign_in(page, "nina")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Lab result").click()
    expect(page.get_by_role("heading", name="Record lab results of one draw")).to_be_visible()
    expect(page.get_by_label("Collected on")).to_have_value(TODAY.isoformat())

    # The antibody titre and assay apply only once a result is chosen.
    antibodies = page.get_by_role("group", name="Anti-infliximab antibodies")
    details = page.get_by_role("group", name="Antibody titre and assay")
    expect(details).to_be_hidden()
    antibodies.get_by_label("Result").select_option("not_detected")
    expect(details).to_be_visible()
    expect(details.get_by_label("Assay")).to_be_enabled()
    antibodies.get_by_label("Result").select_option("")
    expect(details).to_be_hidden()
    # Another test is folded away until wanted.
    expect(page.get_by_label("Test", exact=True)).to_be_hidden()

    page.get_by_label("CRP (mg/L)", exact=True).fill("12.5")
    page.get_by_role("group", name="CRP (mg/L)").get_by_label("Upper limit of normal").fill("5")
    page.get_by_label("ESR (mm/h)", exact=True).fill("30")
    page.get_by_label("Infliximab trough level (µg/mL)", exact=True).fill("1.2")
    screenshot(page, "lab-panel")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=README_IMAGES / "lab-panel.png", full_page=True, animations="disabled")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(
        "Recorded: CRP (mg/L), ESR (mm/h), Infliximab trough level (µg/mL)."
    )
    # On the patient's page: three results of that draw, recorded by her.
    expect(page.locator("table.history tbody tr", has_text="nina")).to_have_count(3)
    stored = {lab.analyte: (lab.value, lab.collected_on) for lab in patient.lab_results.all()}
    assert stored == {
        "crp": (Decimal("12.5"), TODAY),
        "esr": (Decimal("30"), TODAY),
        "ifx_trough": (Decimal("1.2"), TODAY),
    }


def test_a_refused_value_saves_none_of_the_draw_and_the_focus_goes_to_it(page: Page, nurse_a):
    patient = PatientFactory(site=nurse_a.memberships.get().site)
    sign_in(page, "nina")
    page.goto(f"/patients/{patient.pk}/labs/new/")

    page.get_by_label("CRP (mg/L)", exact=True).fill("4")
    page.get_by_label("ESR (mm/h)", exact=True).fill("250")  # above the physical maximum
    page.get_by_label("Infliximab trough level (µg/mL)", exact=True).fill("-1")
    page.get_by_role("button", name="Save").click()

    summary = page.get_by_role("alert").filter(has_text="Nothing was saved")
    expect(summary).to_contain_text("2 problems to correct")
    esr = page.get_by_label("ESR (mm/h)", exact=True)
    expect(esr).to_be_focused()  # the first field in error, not the page's body
    expect(esr).to_have_attribute("aria-invalid", "true")
    expect(esr).to_have_value("250")  # kept as typed
    expect(page.locator("#id_esr_value_error")).to_contain_text("above the physical maximum")
    expect(page.locator("#id_ifx_trough_value_error")).to_contain_text("cannot be negative")
    # The summary's link goes to its field.
    summary.get_by_role("link", name=re.compile("Infliximab trough")).click()
    expect(page.get_by_label("Infliximab trough level (µg/mL)", exact=True)).to_be_focused()
    screenshot(page, "lab-panel-refused")
    assert not LabResult.objects.exists()  # not even the valid CRP
