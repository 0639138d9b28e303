"""Throttles at the API's door: callers without credentials and failed tokens per address, token
users per person, counted in the shared cache (Redis under `make test`), answered with 429 and
Retry-After."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api.conftest import api_token

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
HERE, THERE = "192.0.2.10", "198.51.100.20"
BAD = "Token " + "0" * 64


@pytest.fixture
def rates(settings):
    """Small rates, so that a test reaches them in a few requests."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "3/minute",
            "user": "5/minute",
            "failed_token": "3/minute",
        },
    }


def from_(address: str, authorization: str | None = None) -> APIClient:
    headers = {"Authorization": authorization} if authorization else {}
    return APIClient(REMOTE_ADDR=address, headers=headers)


def assert_throttled(response, *, within: int = 60) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= within
    assert response.json()["detail"].startswith("Request was throttled.")


def test_the_counters_are_in_redis_shared_by_every_worker(rates, record_a):
    """Another process (a second gunicorn worker) sees the same counts: they are in Redis."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the demo's in-memory cache (no REDIS_URL)")
    cache = django_settings.CACHES["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    for _ in range(3):
        from_(HERE, BAD).get(PATIENTS)
    keys = redis.Redis.from_url(cache["LOCATION"]).keys(f"{cache['KEY_PREFIX']}:*")
    assert [key.decode().split(":", 2)[2] for key in keys] == [f"throttle_failed_token_{HERE}"]


def test_callers_without_credentials_are_throttled_per_address(rates, db):
    for _ in range(3):
        assert from_(HERE).get(PATIENTS).status_code == 401
    assert_throttled(from_(HERE).get(PATIENTS))
    assert from_(THERE).get(PATIENTS).status_code == 401  # another address: its own count


def test_a_token_user_is_throttled_per_person(rates, record_a, nurse_a, clinician_a):
    first, second = api_token(nurse_a), api_token(nurse_a)
    for n in range(5):
        secret = (first, second)[n % 2]  # one count per person, whichever token
        assert from_(HERE, f"Token {secret}").get(PATIENTS).status_code == 200
    assert_throttled(from_(THERE, f"Token {first}").get(PATIENTS))
    assert from_(HERE, f"Token {api_token(clinician_a)}").get(PATIENTS).status_code == 200


def test_failed_tokens_are_throttled_per_address(rates, record_a, nurse_a):
    good = f"Token {api_token(nurse_a)}"
    for bad in (BAD, "Token not-a-token", "Token"):  # wrong, malformed, empty: all failures
        assert from_(HERE, bad).get(PATIENTS).status_code == 401
    assert_throttled(from_(HERE, BAD).get(PATIENTS))
    # From that address no token is checked now, a good one neither: guessing cannot go on.
    assert_throttled(from_(HERE, good).get(PATIENTS))
    assert from_(THERE, good).get(PATIENTS).status_code == 200
    # A minute after the last failure (not the first: a loaded machine takes seconds to send them).
    last_failure = timezone.now()
    with time_machine.travel(last_failure + dt.timedelta(seconds=61)):
        assert from_(HERE, good).get(PATIENTS).status_code == 200


def test_retry_after_counts_down_to_when_the_oldest_failure_ages_out(rates, db):
    started = timezone.now()
    with time_machine.travel(started, tick=False):
        for _ in range(3):
            from_(HERE, BAD).get(PATIENTS)
    with time_machine.travel(started + dt.timedelta(seconds=40), tick=False):
        response = from_(HERE, BAD).get(PATIENTS)
    assert_throttled(response, within=20)
    assert int(response["Retry-After"]) == 20


def test_the_default_rates_come_from_the_environment_s_settings():
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {"anon": "60/minute", "user": "600/minute", "failed_token": "10/minute"}


def test_a_cache_that_is_down_lets_requests_through_with_a_warning(
    rates, settings, record_a, nurse_a, caplog
):
    """Nothing listens on port 1: the counters cannot be read, the API still answers."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    good = f"Token {api_token(nurse_a)}"
    answers = [from_(HERE, good).get(PATIENTS).status_code for _ in range(6)]
    answers += [from_(HERE, BAD).get(PATIENTS).status_code for _ in range(4)]
    answers += [from_(HERE).get(PATIENTS).status_code for _ in range(4)]
    assert answers == [200] * 6 + [401] * 8
    assert "API throttles not applied: the cache is unavailable" in caplog.text
