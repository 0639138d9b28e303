"""The API's edges: a wrong URL, a wrong method or a bad filter is answered in the API's error
format (JSON), never with Django's HTML page or an empty list that looks like an answer."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.api.conftest import Record

pytestmark = pytest.mark.django_db

INVALID_FILTER = "Invalid filter: nothing was selected."
NOT_A_CHOICE = "Select a valid choice. That choice is not one of the available choices."


@pytest.mark.parametrize(
    "url", ["/api/v1/nosuch/", "/api/nosuch", "/api/", "/api/v1/patients/1/nosuch/"]
)
def test_it_answers_a_url_no_route_matches_with_json(url, as_nurse):
    response = as_nurse.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_it_answers_json_to_a_wrong_url_before_logging_in():
    response = APIClient().get("/api/v1/nosuch/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_it_still_answers_a_wrong_url_outside_the_api_with_an_html_page(client: Client):
    response = client.get("/nosuch/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_still_redirects_a_url_missing_its_trailing_slash(as_nurse):
    response = as_nurse.get("/api/v1/patients")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/patients/"


def test_it_answers_an_id_that_is_no_record_with_json(record_a, as_nurse):
    response = as_nurse.get("/api/v1/patients/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_it_answers_another_site_s_record_as_one_that_does_not_exist(record_b, as_nurse):
    response = as_nurse.get(f"/api/v1/patients/{record_b.patient.pk}/")
    assert response.status_code == 404
    assert response.json() == as_nurse.get("/api/v1/patients/999999/").json()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", "/api/v1/patients/{pk}/"),
        ("put", "/api/v1/patients/"),
        ("post", "/api/v1/sites/"),
    ],
)
def test_it_answers_a_wrong_method_with_json(method, url, record_a: Record, as_clinician):
    response = getattr(as_clinician, method)(url.format(pk=record_a.patient.pk), {}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}


@pytest.mark.parametrize(
    ("url", "query", "errors"),
    [
        (
            "/api/v1/lab-results/",
            {"collected_after": "notadate"},
            {"collected_after": ["Enter a valid date."]},
        ),
        ("/api/v1/lab-results/", {"patient": "abc"}, {"patient": [NOT_A_CHOICE]}),
        (
            "/api/v1/infusions/",
            {"given_on__gte": "2026-13-01"},
            {"given_on__gte": ["Enter a valid date."]},
        ),
        ("/api/v1/alerts/", {"due_before": "soon"}, {"due_before": ["Enter a valid date."]}),
        (
            "/api/v1/alerts/",
            {"severity": "dire"},
            {"severity": ["Select a valid choice. dire is not one of the available choices."]},
        ),
    ],
    ids=["date", "id", "lookup-date", "alert-date", "choice"],
)
def test_it_refuses_a_filter_value_that_does_not_validate(url, query, errors, record_a, as_nurse):
    response = as_nurse.get(url, query)
    assert response.status_code == 400
    assert response.json() == {"detail": INVALID_FILTER, "errors": errors}


@pytest.mark.parametrize("resource", ["patients", "alerts"])
@pytest.mark.parametrize("code", ["nosuch", "south"], ids=["unknown", "another-site"])
def test_it_refuses_a_site_that_is_not_the_caller_s(resource, code, record_a, record_b, as_nurse):
    assert record_b.site.code == "south"
    response = as_nurse.get(f"/api/v1/{resource}/", {"site": code})
    assert response.status_code == 400
    assert response.json() == {"detail": INVALID_FILTER, "errors": {"site": [NOT_A_CHOICE]}}


def test_it_lists_the_patients_of_the_caller_s_own_site_by_code(record_a, record_b, as_nurse):
    response = as_nurse.get("/api/v1/patients/", {"site": record_a.site.code})
    assert response.status_code == 200
    codes = {patient["registry_code"] for patient in response.json()["results"]}
    assert codes == {record_a.patient.registry_code, record_a.new_patient.registry_code}


def test_it_lists_the_alerts_of_the_caller_s_own_site_by_code(record_a, record_b, as_nurse):
    response = as_nurse.get("/api/v1/alerts/", {"site": record_a.site.code})
    assert response.status_code == 200
    ids = {alert["id"] for alert in response.json()["results"]}
    assert record_a.alert.pk in ids
    assert record_b.alert.pk not in ids


def test_it_still_refuses_invalid_input_to_save_as_invalid_input(record_a, as_nurse):
    response = as_nurse.post("/api/v1/lab-results/", {"patient": "abc"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input: nothing was saved."
