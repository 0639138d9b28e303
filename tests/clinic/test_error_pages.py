"""The menu each role sees, the 403, 404 and 500 pages, the favicon, and how a refusal is logged.
Error pages as production shows them: DEBUG off."""

import logging
import re

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from registry.models import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

NO_ACCESS = "You do not have access to this page with your role at this site."
NOT_FOUND = "No such page or record"


@pytest.fixture(autouse=True)
def _production_errors(settings):
    settings.DEBUG = False


def menu_links(html: str) -> dict[str, str]:
    """The main menu's links: text → address."""
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert nav, "no main menu"
    return {
        re.sub(r"<[^>]+>", "", text).strip(): href
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav.group(1), re.S)
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def without_csrf(html: str) -> str:
    """A page without its per-request CSRF tokens: two renderings of one page compare equal."""
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


# --- The menu: only what the role may open ---------------------------------------------------


def test_it_offers_a_researcher_only_the_outcomes_and_the_research_exports(researcher_a):
    page = signed_in(researcher_a).get(reverse("clinic:research:exports"))
    assert list(menu_links(page.content.decode())) == ["Outcomes", "Research exports"]


def test_it_offers_a_nurse_without_admin_rights_no_admin(site_a):
    nurse = UserFactory(username="nell", is_staff=False)
    MembershipFactory(user=nurse, site=site_a, role=Role.NURSE)
    page = signed_in(nurse).get(reverse("clinic:worklist"))
    links = menu_links(page.content.decode())
    assert "Admin" not in links
    assert {"Worklist", "Patients", "Guideline"} <= set(links)
    assert "Research exports" not in links


@pytest.mark.parametrize("person", ["nurse_a", "clinician_a", "data_manager_a"])
def test_it_offers_admin_to_staff_with_admin_rights(request, person):
    page = signed_in(request.getfixturevalue(person)).get(reverse("clinic:worklist"))
    assert menu_links(page.content.decode())["Admin"] == reverse("admin:index")


@pytest.mark.parametrize(
    "person", ["nurse_a", "clinician_a", "data_manager_a", "researcher_a", "superuser"]
)
def test_every_link_of_a_menu_opens_for_its_role(request, person):
    client = signed_in(request.getfixturevalue(person))
    landing = client.get(reverse("clinic:worklist"), follow=True)
    links = menu_links(landing.content.decode())
    assert links
    for text, href in links.items():
        assert client.get(href).status_code == 200, text


def test_it_links_a_researchers_name_to_no_digest_settings(researcher_a):
    page = signed_in(researcher_a).get(reverse("clinic:research:exports")).content.decode()
    assert reverse("clinic:notification_settings") not in page


# --- 403 -------------------------------------------------------------------------------------


def test_the_start_page_sends_a_researcher_to_the_exports(researcher_a):
    response = signed_in(researcher_a).get(reverse("clinic:home"))
    assert response.url == reverse("clinic:research:exports")


@pytest.mark.parametrize("old_link", ["clinic:patients", "clinic:guideline"])
def test_a_researcher_following_an_old_link_gets_the_styled_403(researcher_a, old_link):
    client = signed_in(researcher_a)
    url = reverse(old_link)
    response = client.get(url)
    assert response.status_code == 403
    assert [t.name for t in response.templates][:2] == ["403.html", "base.html"]
    html = response.content.decode()
    assert NO_ACCESS in html
    assert "Patient records are for clinic staff." in html
    where_to_go = html.split("Where to go from here")[1]
    assert reverse("clinic:research:exports") in where_to_go
    assert reverse("clinic:patients") not in where_to_go
    assert menu_links(html) == {
        "Outcomes": reverse("clinic:outcomes"),
        "Research exports": reverse("clinic:research:exports"),
    }


def test_a_nurse_refused_a_form_gets_the_styled_403_with_the_reason(nurse_a, site_a):
    patient = PatientFactory(site=site_a)
    response = signed_in(nurse_a).get(reverse("clinic:record_imaging", args=[patient.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert NO_ACCESS in html
    assert escape("Your role at this patient's site does not record this.") in html
    assert reverse("clinic:worklist") in html.split("Where to go from here")[1]


# --- 404 -------------------------------------------------------------------------------------


def test_it_answers_an_unknown_address_with_the_styled_404(nurse_a):
    response = signed_in(nurse_a).get("/no-such-page/")
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["404.html", "base.html"]
    html = response.content.decode()
    assert NOT_FOUND in html
    assert "Worklist" in menu_links(html)


def test_another_sites_patient_looks_exactly_like_no_patient(nurse_a, site_b):
    """The 404 page does not tell a record of another site from one that never existed."""
    elsewhere = PatientFactory(site=site_b, family_name="Okafor", mrn="MRN-SOUTH-1")
    client = signed_in(nurse_a)
    other_site = client.get(reverse("clinic:patient", args=[elsewhere.pk]))
    nowhere = client.get(reverse("clinic:patient", args=[elsewhere.pk + 1000]))
    assert other_site.status_code == nowhere.status_code == 404
    assert without_csrf(other_site.content.decode()) == without_csrf(nowhere.content.decode())
    assert "Okafor" not in other_site.content.decode()
    assert "MRN-SOUTH-1" not in other_site.content.decode()


def test_it_offers_a_stranger_the_sign_in_on_the_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert NOT_FOUND in html
    assert f'href="{reverse("login")}"' in html
    assert '<nav aria-label="Main">' not in html


def test_it_keeps_the_apis_404_in_json(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


# --- 500 -------------------------------------------------------------------------------------


@pytest.mark.urls("tests.clinic.error_urls")
def test_a_failure_shows_the_styled_500(nurse_a):
    client = Client(raise_request_exception=False)
    client.force_login(nurse_a)
    response = client.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "clinic/clinic.css" in html


@pytest.mark.django_db(False)
def test_the_500_page_renders_without_a_request_or_the_database():
    """What failed may be the database: the page must not touch it (pytest-django refuses here)."""
    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html
    assert 'href="/"' in html


# --- The favicon ------------------------------------------------------------------------------


def test_it_answers_the_browsers_favicon_request(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response.url)
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)


def test_every_page_links_the_icon(nurse_a):
    html = signed_in(nurse_a).get(reverse("clinic:patients")).content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', html)


# --- A refusal in the log: one line ----------------------------------------------------------


def test_a_refusal_is_logged_in_one_line_without_a_traceback(researcher_a, caplog):
    caplog.set_level(logging.INFO)
    signed_in(researcher_a).get(reverse("clinic:patients"))
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"Forbidden: /patients/ (user {researcher_a.pk}): Patient records are for clinic staff."
    )
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_a_refusal_about_a_patient_logs_no_identifier(nurse_a, site_a, caplog):
    patient = PatientFactory(site=site_a, family_name="Okafor", mrn="MRN-77")
    caplog.set_level(logging.INFO)
    signed_in(nurse_a).get(reverse("clinic:record_imaging", args=[patient.pk]))
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == (
        f"Forbidden: /patients/{patient.pk}/imaging/new/ (user {nurse_a.pk}): "
        "Your role at this patient's site does not record this."
    )
    assert "Okafor" not in caplog.text
    assert "MRN-77" not in caplog.text
    assert patient.registry_code not in caplog.text
