"""Security headers on every kind of page: clinic pages and fragments, forms, the lab import,
research exports, the admin, sign-in, error pages, API JSON and the API docs.

CSP (no inline script or style), nosniff, frame refusal, referrer and opener policies and
Cache-Control: no-store on everything Django answers; HSTS on HTTPS under production settings;
static files stay cacheable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.digests import unsubscribe_token
from tests.clinic.support import make_alert, overdue_course

pytestmark = pytest.mark.django_db

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def policy_of(response: Any) -> dict[str, str]:
    directives = (part.strip() for part in response["Content-Security-Policy"].split(";"))
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in directives if d}


def assert_hardened(response: Any) -> None:
    assert policy_of(response) == EXPECTED_CSP
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= cache_control, response["Cache-Control"]


@pytest.fixture
def world(site_a, nurse_a, clinician_a, data_manager_a, researcher_a, superuser):
    course = overdue_course(site_a, family_name="Okafor", given_name="Zara", mrn="MRN-77")
    alert = make_alert(course)
    return {
        "course": course,
        "patient": course.patient,
        "alert": alert,
        "nurse": nurse_a,
        "clinician": clinician_a,
        "data_manager": data_manager_a,
        "researcher": researcher_a,
        "superuser": superuser,
    }


def _as(user_key: str | None, url: Callable[[dict[str, Any]], str], **headers: str):
    return (user_key, url, headers)


# (who, address, request headers): a page of each kind. Expected: 200 unless PAGE_STATUS says.
PAGES = {
    "home": _as("nurse", lambda w: reverse("clinic:home")),
    "worklist": _as("nurse", lambda w: reverse("clinic:worklist")),
    "worklist fragment (htmx)": _as(
        "nurse", lambda w: reverse("clinic:worklist"), HTTP_HX_REQUEST="true"
    ),
    "infusion list": _as("nurse", lambda w: reverse("clinic:infusion_list")),
    "patients search": _as("nurse", lambda w: reverse("clinic:patients") + "?q=Okafor"),
    "patient page with chart": _as(
        "nurse", lambda w: reverse("clinic:patient", args=[w["patient"].pk])
    ),
    "lab form": _as("nurse", lambda w: reverse("clinic:record_lab", args=[w["patient"].pk])),
    "infusion form": _as(
        "nurse", lambda w: reverse("clinic:record_infusion", args=[w["course"].pk])
    ),
    "guideline": _as("nurse", lambda w: reverse("clinic:guideline")),
    "lab import": _as("nurse", lambda w: reverse("clinic:lab_import")),
    "digest settings": _as("nurse", lambda w: reverse("clinic:notification_settings")),
    "unsubscribe": _as(
        None, lambda w: reverse("clinic:unsubscribe", args=[unsubscribe_token(w["nurse"])])
    ),
    "research exports": _as("researcher", lambda w: reverse("clinic:research:exports")),
    "admin index": _as("data_manager", lambda w: reverse("admin:index")),
    "admin changelist": _as("data_manager", lambda w: reverse("admin:registry_patient_changelist")),
    "admin change form": _as(
        "data_manager", lambda w: reverse("admin:registry_patient_change", args=[w["patient"].pk])
    ),
    "admin history": _as(
        "data_manager",
        lambda w: reverse("admin:registry_patient_history", args=[w["patient"].pk]),
    ),
    "admin login": _as(None, lambda w: reverse("admin:login")),
    "sign-in": _as(None, lambda w: reverse("login")),
    "404": _as("nurse", lambda w: "/no-such-page/"),
    "403": _as("researcher", lambda w: reverse("clinic:worklist")),
    "400 (NUL)": _as("nurse", lambda w: reverse("clinic:patients") + "?q=%00"),
    "API root": _as("nurse", lambda w: "/api/v1/"),
    "API JSON list": _as("nurse", lambda w: "/api/v1/patients/"),
    "API 404": _as("nurse", lambda w: "/api/v1/patients/999999/"),
    "API schema": _as("nurse", lambda w: "/api/schema/"),
    "API docs": _as("nurse", lambda w: "/api/docs/"),
    "health": _as(None, lambda w: "/healthz"),
}
# The start page sends each person to their first page.
PAGE_STATUS = {"home": 302, "404": 404, "403": 403, "400 (NUL)": 400, "API 404": 404}


@pytest.mark.parametrize("name", PAGES)
def test_every_kind_of_page_carries_the_security_headers(name, world):
    user_key, url, headers = PAGES[name]
    client = Client()
    if user_key:
        client.force_login(world[user_key])
    response = client.get(url(world), **headers)
    assert response.status_code == PAGE_STATUS.get(name, 200), response
    assert_hardened(response)


@pytest.mark.urls("tests.clinic.error_urls")
def test_the_500_page_carries_the_security_headers(world):
    client = Client(raise_request_exception=False)
    client.force_login(world["nurse"])
    response = client.get("/broken/")
    assert response.status_code == 500
    assert_hardened(response)


def test_an_htmx_action_answer_carries_the_security_headers(world):
    client = Client()
    client.force_login(world["nurse"])
    action = reverse("clinic:alert_action", args=[world["alert"].pk, "acknowledge"])
    response = client.post(action, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert_hardened(response)


def test_a_redirect_after_sign_in_carries_no_store(world):
    response = Client().get(reverse("clinic:worklist"))
    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(client):
    response = client.get("/static/clinic/clinic.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "Content-Security-Policy" in response  # whitenoise answers after the CSP middleware


def test_hsts_is_sent_on_https_under_production_settings(world, settings):
    settings.SECURE_HSTS_SECONDS = 31536000  # production's default (settings.PRODUCTION)
    client = Client()
    client.force_login(world["nurse"])
    response = client.get(reverse("clinic:worklist"), secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_production_redirects_plain_http_except_the_health_checks(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    redirected = client.get("/patients/?q=x")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/patients/?q=x"
    assert client.get("/healthz").status_code == 200
    # Another part of the app may add /health/ checks: that path is exempt too.
    assert client.get("/health/").status_code != 301
