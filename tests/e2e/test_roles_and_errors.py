"""Each role's menu, and the error pages, in the browser (DEBUG off, as in production)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from registry.models import Role
from tests.e2e.conftest import screenshot
from tests.e2e.support import sign_in_as, tab
from tests.factories import MembershipFactory, PatientFactory, UserFactory

STAFF_PAGES = ["Worklist", "Infusion list", "Patients", "Guideline", "Lab import"]
# Exactly what each role's menu offers (a nurse here has no admin rights; see the Django tests for
# a nurse who has them). A new page in the menu goes here too.
MENUS = {
    # The outcomes' aggregates (research.outcome_figures) and their exports.
    "researcher_a": ["Outcomes", "Research exports"],
    "nurse_without_admin": STAFF_PAGES,
    "clinician_a": [*STAFF_PAGES, "Outcomes", "Admin"],
    # Their sites' exports (a data manager may request them too) and access log (audit).
    "data_manager_a": [*STAFF_PAGES, "Outcomes", "Research exports", "Access log", "Admin"],
}
ACCENT = "rgb(31, 95, 139)"  # the header's colour (clinic.css --accent): the layout is styled


@pytest.fixture(autouse=True)
def _production_errors(settings):
    settings.DEBUG = False


@pytest.fixture
def nurse_without_admin(site_a):
    nurse = UserFactory(username="nell", is_staff=False)
    MembershipFactory(user=nurse, site=site_a, role=Role.NURSE)
    return nurse


def menu(page: Page) -> list[str]:
    return [text.strip() for text in page.locator('nav[aria-label="Main"] a').all_inner_texts()]


@pytest.mark.parametrize("person", list(MENUS))
def test_each_role_sees_exactly_its_menu(request, browser: Browser, live_server, person):
    user = request.getfixturevalue(person)
    with tab(browser, live_server.url) as page:
        sign_in_as(page, user.username)
        assert menu(page) == MENUS[person]
        for link in MENUS[person]:
            with page.expect_navigation() as opened:
                page.locator('nav[aria-label="Main"]').get_by_role("link", name=link).click()
            assert opened.value is not None, link
            assert opened.value.status == 200, link


def test_a_researcher_on_a_staff_page_gets_the_styled_403_and_a_way_on(
    browser: Browser, live_server, researcher_a, site_a
):
    patient = PatientFactory(site=site_a)
    with tab(browser, live_server.url) as page:
        sign_in_as(page, researcher_a.username)
        expect(page).to_have_url(re.compile(r"/research/$"))  # the start page sends them here

        for old_link in (reverse("clinic:patients"), reverse("clinic:patient", args=[patient.pk])):
            response = page.goto(old_link)
            assert response is not None
            assert response.status == 403
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "You do not have access to this page"
            )
            expect(page.get_by_text("with your role at this site")).to_be_visible()
            expect(page.locator("header.topbar")).to_have_css("background-color", ACCENT)
            assert menu(page) == ["Outcomes", "Research exports"]
        screenshot(page, "error-403")

        page.locator(".where-to-go").get_by_role("link", name="Research exports").click()
        expect(page).to_have_url(re.compile(r"/research/$"))


def test_an_unknown_address_and_another_sites_patient_show_the_styled_404(
    browser: Browser, live_server, nurse_a, site_b
):
    elsewhere = PatientFactory(site=site_b, family_name="Okafor")
    with tab(browser, live_server.url) as page:
        sign_in_as(page, nurse_a.username)
        for address in ("/no-such-page/", reverse("clinic:patient", args=[elsewhere.pk])):
            response = page.goto(address)
            assert response is not None
            assert response.status == 404
            expect(page.get_by_role("heading", level=1)).to_have_text("No such page or record")
            expect(page.get_by_text("or it is not at your sites")).to_be_visible()
            expect(page.locator("header.topbar")).to_have_css("background-color", ACCENT)
            expect(page.get_by_text("Okafor")).to_have_count(0)
        screenshot(page, "error-404")
        page.locator(".where-to-go").get_by_role("link", name="Worklist").click()
        expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()


def test_the_favicon_loads(browser: Browser, live_server, nurse_a):
    with tab(browser, live_server.url) as page:
        response = page.goto("/favicon.ico")
        assert response is not None
        assert response.status == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert urlsplit(response.url).path.endswith("/favicon.svg")

        sign_in_as(page, nurse_a.username)
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        assert icon is not None
        assert page.request.get(icon).status == 200
