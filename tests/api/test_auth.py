"""Who can call the API at all: session or token, and roles. (Tokens themselves: test_tokens.)"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry.models import Infusion, Role
from tests.api.conftest import token_client
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Token not-a-token", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Bearer abc", "Authentication credentials were not provided."),
    ],
)
def test_no_valid_credentials_is_401_with_a_challenge(authorization, detail, record_a):
    client = APIClient(headers={"Authorization": authorization} if authorization else {})
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": detail}


def test_an_inactive_user_s_token_stops_working(record_a, nurse_a):
    client = token_client(nurse_a)
    nurse_a.is_active = False
    nurse_a.save()
    response = client.get("/api/v1/patients/")
    assert (response.status_code, response.json()) == (401, {"detail": "User inactive or deleted."})


def test_a_session_reads_and_writes_with_its_csrf_token(record_a, nurse_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(nurse_a)
    assert client.get("/api/v1/infusions/").status_code == 200
    body = {
        "course": record_a.course.pk,
        "given_on": "2026-11-20",
        "weight_kg": "40",
        "weight_measured_on": "2026-11-20",
        "dose_mg": "200",
    }
    refused = client.post("/api/v1/infusions/", body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not Infusion.objects.filter(given_on="2026-11-20").exists()

    secret = "k" * 32  # what the CSRF cookie of a page would hold; the header must repeat it
    client.cookies["csrftoken"] = secret
    saved = client.post("/api/v1/infusions/", body, format="json", headers={"X-CSRFToken": secret})
    assert saved.status_code == 201, saved.json()
    assert Infusion.objects.get(pk=saved.json()["id"]).history.get().history_user == nurse_a


def test_a_researcher_gets_no_identified_data(record_a, as_researcher):
    for url in (
        "/api/v1/",
        "/api/v1/patients/",
        f"/api/v1/patients/{record_a.patient.pk}/",
        "/api/v1/alerts/",
        "/api/v1/sites/",
    ):
        response = as_researcher.get(url)
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "Your role does not allow this."},
        )


def test_roles_apply_at_the_sites_where_they_are_held(record_a, record_b, researcher_a, site_b):
    """A researcher at one site who nurses at another sees the other site's record only."""
    MembershipFactory(user=researcher_a, site=site_b, role=Role.NURSE)
    client = token_client(researcher_a)
    patients = client.get("/api/v1/patients/").json()["results"]
    assert {p["site"] for p in patients} == {"south"}
    assert client.get(f"/api/v1/patients/{record_a.patient.pk}/").status_code == 404


def test_a_superuser_sees_every_site(record_a, record_b, superuser):
    sites = token_client(superuser).get("/api/v1/sites/").json()["results"]
    assert [s["code"] for s in sites] == ["north", "south"]
