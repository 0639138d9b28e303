"""The patient page in Chromium: its tables, the chart, print and a phone's width.

With UPDATE_SCREENSHOTS=1 the README's images of the page are refreshed too
(docs/screenshots/patient-page.png and patient-page-phone.png).
"""

from __future__ import annotations

import os
import re

from playwright.sync_api import Page, expect

from tests.clinic.record_builders import followed_course
from tests.e2e.conftest import ARTIFACTS, README_IMAGES, screenshot, sign_in

PHONE = {"width": 390, "height": 844}


def open_patient_page(page: Page, clinician) -> None:
    course = followed_course(clinician.memberships.get().site, family_name="Okafor")
    sign_in(page, clinician.username)
    page.goto(f"/patients/{course.patient_id}/")
    page.wait_for_function("window.registryTimeline !== undefined")


def test_it_shows_the_tables_and_draws_the_chart_with_trough_antibodies_and_markers(
    page: Page, clinician_a
):
    open_patient_page(page, clinician_a)

    infusions = page.get_by_role("region", name="Table of infusions")
    expect(infusions.locator("tbody tr")).to_have_count(3)
    expect(infusions.locator("tbody tr").first).to_contain_text("Moderate, delayed (1–14 days)")
    labs = page.get_by_role("region", name="Table of lab results")
    expect(labs).to_contain_text("12 mg/L (high; ≤ 5)")
    expect(labs).to_contain_text("detected, titre 48 AU/mL (Drug-tolerant ELISA)")
    expect(page.get_by_role("region", name="Table of imaging studies")).to_contain_text(
        "RAI-CROMRIS 3"
    )
    expect(page.get_by_role("region", name="Table of assessments")).to_contain_text("Active")

    labels = page.evaluate("window.registryTimeline.data.datasets.map(d => d.label)")
    assert {"Trough (µg/mL)", "Anti-infliximab antibodies", "Today"} <= set(labels)
    assert "Dose 4 due 10 Nov 2026 (14 days overdue)" in labels
    scales = page.evaluate(
        "Object.values(window.registryTimeline.scales).filter(s => s.axis === 'y').length"
    )
    assert scales == 2
    painted = page.evaluate(
        """() => {
            const c = document.getElementById("timeline-chart");
            const pixels = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return pixels.some((value, i) => i % 4 === 3 && value !== 0);
        }"""
    )
    assert painted
    summary = page.locator("#timeline-chart").get_attribute("aria-label") or ""
    assert "next dose: Dose 4 due 10 Nov 2026 (14 days overdue)" in summary
    page.get_by_text("Timeline data").click()
    expect(page.get_by_role("region", name="Table of the timeline data")).to_contain_text(
        "Anti-infliximab antibodies"
    )
    page.get_by_text("Timeline data").click()

    screenshot(page, "patient-page")
    page.locator(".chart-box").screenshot(path=ARTIFACTS / "patient-page-chart.png")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=README_IMAGES / "patient-page.png", full_page=True)


def test_it_prints_with_the_printing_user_and_date_and_without_navigation_or_forms(
    page: Page, clinician_a
):
    open_patient_page(page, clinician_a)
    page.emulate_media(media="print")

    stamp = page.locator(".print-stamp")
    expect(stamp).to_be_visible()
    expect(stamp).to_contain_text(
        re.compile(r"printed by carl on \d\d [A-Z][a-z]{2} 2026 \d\d:\d\d")
    )
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Record")).to_be_hidden()
    for form in page.locator("main form").all():
        expect(form).to_be_hidden()
    expect(page.get_by_role("heading", name="Infusions")).to_be_visible()
    expect(page.get_by_role("heading", name="History of the record")).to_be_visible()
    expect(page.locator("table.history tbody tr").first).to_be_visible()
    screenshot(page, "patient-page-print")


def test_it_fits_a_phone_without_sideways_scrolling(page: Page, clinician_a):
    page.set_viewport_size(PHONE)
    open_patient_page(page, clinician_a)

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator("#timeline-chart").bounding_box()
    assert box is not None
    assert box["height"] >= 300  # legible, not squashed
    # A wide table scrolls inside its own box.
    infusions = page.get_by_role("region", name="Table of infusions")
    assert infusions.evaluate("box => box.scrollWidth > box.clientWidth")

    screenshot(page, "patient-page-phone")
    page.locator(".chart-box").screenshot(path=ARTIFACTS / "patient-page-phone-chart.png")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=README_IMAGES / "patient-page-phone.png", full_page=True)
