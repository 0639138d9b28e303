"""Every main page on a phone (390 × 844): nothing scrolls sideways, as the right person for each.

To add a page, add a line to PAGES: who opens it, its URL name and its arguments (PATIENT and
COURSE stand for the demo patient's records below).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, ViewportSize, expect
from playwright.sync_api import Error as PlaywrightError

from registry.models import Patient
from tests.e2e.conftest import README_IMAGES, screenshot
from tests.e2e.support import demo_patients, sign_in_as, tab

PHONE: ViewportSize = {"width": 390, "height": 844}
PATIENT, COURSE, NO_SUCH_PATIENT = "patient", "course", "no such patient"


class PhonePage(NamedTuple):
    who: str | None  # a fixture's name, or None: not signed in
    url_name: str
    args: tuple[str, ...] = ()
    status: int = 200
    # test-artifacts/<name>.png; with UPDATE_SCREENSHOTS=1 also docs/screenshots/<name>.png, the
    # top `readme_height` px of the page.
    screenshot: str | None = None
    readme_height: int = 1300


PAGES = [
    PhonePage(None, "login"),
    PhonePage("nurse_a", "clinic:worklist", screenshot="phone-worklist"),
    PhonePage("nurse_a", "clinic:patients", screenshot="phone-patients"),
    PhonePage(
        "clinician_a", "clinic:patient", (PATIENT,), screenshot="phone-patient", readme_height=1700
    ),
    PhonePage("nurse_a", "clinic:guideline"),
    PhonePage("nurse_a", "clinic:notification_settings"),
    PhonePage("nurse_a", "clinic:record_infusion", (COURSE,)),
    PhonePage("nurse_a", "clinic:record_reaction", (COURSE,)),
    PhonePage("nurse_a", "clinic:record_lab", (PATIENT,)),
    PhonePage("clinician_a", "clinic:record_imaging", (PATIENT,)),
    PhonePage("clinician_a", "clinic:record_assessment", (PATIENT,)),
    PhonePage("clinician_a", "clinic:record_medication", (PATIENT,)),
    PhonePage("clinician_a", "clinic:change_regimen", (COURSE,)),
    PhonePage("clinician_a", "clinic:stop_course", (COURSE,)),
    PhonePage("clinician_a", "clinic:record_adverse_event", (PATIENT,)),
    PhonePage("clinician_a", "clinic:record_screening", (PATIENT,)),
    PhonePage("clinician_a", "clinic:record_vaccination", (PATIENT,)),
    PhonePage("data_manager_a", "clinic:lab_import"),
    PhonePage("nurse_a", "clinic:infusion_list", screenshot="phone-infusion-list"),
    PhonePage("researcher_a", "clinic:research:exports"),
    PhonePage("researcher_a", "clinic:patients", status=403),
    PhonePage("nurse_a", "clinic:patient", (NO_SUCH_PATIENT,), status=404),
]


@pytest.fixture
def patient(site_a, clinician_a, nurse_a) -> Patient:
    """A demo patient with a long record: two courses (a relapse after the first, retreated),
    infusions, labs, imaging, assessments; and one with antibodies, so the worklist has rows."""
    patients = demo_patients(
        site_a, clinician=clinician_a, nurse=nurse_a, family_names=("Emberwing", "Thistlewick")
    )
    return patients["Emberwing"]


def url_of(spec: PhonePage, patient: Patient) -> str:
    records = {
        PATIENT: patient.pk,
        COURSE: patient.courses.order_by("started_on").last().pk,
        NO_SUCH_PATIENT: patient.pk + 1000,
    }
    return reverse(spec.url_name, args=[records[arg] for arg in spec.args])


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def check_page(page: Page, spec: PhonePage, patient: Patient) -> None:
    response = page.goto(url_of(spec, patient))
    assert response is not None
    assert response.status == spec.status
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    if spec.screenshot:
        screenshot(page, spec.screenshot)
        if os.environ.get("UPDATE_SCREENSHOTS"):
            README_IMAGES.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=README_IMAGES / f"{spec.screenshot}.png",
                full_page=True,
                clip={"x": 0, "y": 0, "width": PHONE["width"], "height": spec.readme_height},
                animations="disabled",
            )


# One test per person, who signs in once and opens each of their pages in turn: a test per page
# rebuilt the demo patients and signed in again 22 times (a quarter of the browser tests' time).
PEOPLE = list(dict.fromkeys(spec.who for spec in PAGES))


@pytest.mark.parametrize("who", PEOPLE, ids=str)
def test_each_page_fits_a_phone(request, browser: Browser, live_server, patient, who: str | None):
    failures = []
    with tab(browser, live_server.url, PHONE) as page:
        if who:
            sign_in_as(page, request.getfixturevalue(who).username)
        for spec in (spec for spec in PAGES if spec.who == who):
            try:
                check_page(page, spec, patient)
            except (AssertionError, PlaywrightError) as error:  # every page's failure is told
                failures.append(f"{spec.url_name}{spec.args}: {error}")
    assert failures == []


def test_a_list_becomes_stacked_rows_that_name_their_values(
    browser: Browser, live_server, patient, nurse_a
):
    with tab(browser, live_server.url, PHONE) as page:
        sign_in_as(page, nurse_a.username)
        page.goto(reverse("clinic:patients"))
        row = page.locator("table.list tbody tr", has_text=patient.registry_code)
        mrn = row.locator("td", has_text=patient.mrn)
        assert mrn.get_attribute("data-label") == "MRN"
        expect(page.locator("table.list thead")).to_be_hidden()
        # One card per patient: the code above, each value under it, within the screen.
        code_box = row.locator("td").first.bounding_box()
        mrn_box = mrn.bounding_box()
        assert code_box
        assert mrn_box
        assert mrn_box["y"] > code_box["y"]
        assert mrn_box["x"] + mrn_box["width"] <= PHONE["width"]


def test_a_wide_table_scrolls_inside_its_own_box(browser: Browser, live_server, patient, nurse_a):
    with tab(browser, live_server.url, PHONE) as page:
        sign_in_as(page, nurse_a.username)
        page.goto(reverse("clinic:patient", args=[patient.pk]))
        schedule = page.locator("table.schedule").first
        scroll_width, client_width = schedule.evaluate("t => [t.scrollWidth, t.clientWidth]")
        assert scroll_width > client_width  # wider than the phone: it scrolls itself...
        assert page_width(page) <= PHONE["width"]  # ...and the page does not


def test_the_chart_keeps_a_legible_height(browser: Browser, live_server, patient, clinician_a):
    with tab(browser, live_server.url, PHONE) as page:
        sign_in_as(page, clinician_a.username)
        page.goto(reverse("clinic:patient", args=[patient.pk]))
        box = page.locator(".chart-box canvas").bounding_box()
        assert box is not None
        assert box["width"] <= PHONE["width"]
        assert box["height"] >= 300
