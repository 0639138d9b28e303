"""A NUL character (%00) anywhere in a clinic page's query or form gets a clear 400, never a 500
(PostgreSQL refuses NUL in text, so a search for it failed in the database)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from registry.models import Analyte
from tests.clinic.support import overdue_course

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "contains a NUL character"


@pytest.fixture
def course(site_a):
    return overdue_course(site_a, family_name="Okafor", given_name="Zara", mrn="MRN-77")


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def assert_refused(response) -> None:
    assert response.status_code == 400, response
    assert NUL_MESSAGE in response.content.decode()


@pytest.mark.parametrize(
    "address",
    [
        "/patients/?q=%00",
        "/patients/?q=Oka%00for",
        "/patients/?q%00=Okafor",  # in a parameter's name
        "/worklist/?site=%00",
        "/worklist/?rule=a%00",
        "/infusions/?site=%00",
        "/infusions/?sort=%00",
        "/lab-import/?x=%00",
        "/research/?q=%00",
    ],
)
def test_a_nul_in_a_clinic_query_gets_a_400_page_saying_so(address, data_manager_a, course):
    assert_refused(signed_in(data_manager_a).get(address))


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:registry_patient_changelist",
        "admin:registry_infusion_changelist",
        "admin:monitoring_alert_changelist",
        "admin:research_pseudonymmapping_changelist",
    ],
)
def test_a_nul_in_an_admin_search_gets_a_400(changelist, data_manager_a, course):
    assert_refused(signed_in(data_manager_a).get(reverse(changelist) + "?q=%00"))


LAB = {
    "collected_on": "2026-11-20",
    f"{Analyte.OTHER}_analyte_name": "ferr\x00itin",
    f"{Analyte.OTHER}_value": "5",
    f"{Analyte.OTHER}_unit": "ug/L",
}


def as_browser_form(data: dict[str, str]) -> dict:
    """The body a browser sends for a form without a file (the test client sends multipart)."""
    return {"data": urlencode(data), "content_type": "application/x-www-form-urlencoded"}


def test_a_nul_in_a_posted_form_field_gets_a_400_and_saves_nothing(nurse_a, course):
    before = course.patient.lab_results.count()
    url = reverse("clinic:record_lab", args=[course.patient.pk])
    assert_refused(signed_in(nurse_a).post(url, **as_browser_form(LAB)))
    assert course.patient.lab_results.count() == before


def test_a_nul_in_a_multipart_form_field_is_the_fields_own_error(nurse_a, course):
    """A multipart body is left to its view (its upload handlers come first): Django's form
    fields refuse NUL themselves."""
    before = course.patient.lab_results.count()
    response = signed_in(nurse_a).post(reverse("clinic:record_lab", args=[course.patient.pk]), LAB)
    assert response.status_code in (200, 400)
    assert "Null characters are not allowed" in response.content.decode()
    assert course.patient.lab_results.count() == before


def test_a_nul_in_the_sign_in_form_gets_a_400(nurse_a):
    form = as_browser_form({"username": "nina\x00", "password": "x"})
    assert_refused(Client().post(reverse("login"), **form))


def test_a_nul_in_an_uploaded_lab_file_is_a_clear_refusal_not_a_500(nurse_a, course):
    csv = "mrn,site,collected_on,analyte,value\nMRN-77\x00,north,2026-11-20,crp,5\n"
    response = signed_in(nurse_a).post(
        reverse("clinic:lab_import"),
        {"file": SimpleUploadedFile("labs.csv", csv.encode(), content_type="text/csv")},
    )
    assert response.status_code in (200, 400), response
