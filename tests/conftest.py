"""Shared fixtures: two sites and a fixed, named person for each role (healthchecks style)."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.models import Role
from tests.factories import MembershipFactory, SiteFactory, UserFactory

# Password hashing is slow by design; tests log in hundreds of times (module-scoped data included).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as migrated, except that it may be emptied between tests: Django empties
    it with TRUNCATE (transactional tests, the browser's live server), which the access log's
    trigger refuses everywhere else. tests/audit/test_append_only.py turns it back on to test it."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE audit_accesslogentry DISABLE TRIGGER audit_access_log_no_truncate"
            )


# Every test runs on this day unless it travels elsewhere: "the future" is then well defined.
TODAY = dt.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _fixed_today():
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), tick=True):
        yield


_force_login = Client.force_login


def _force_login_with_second_factor(client, user, backend=None):
    _force_login(client, user, backend)
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="test authenticator", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture(autouse=True)
def _force_login_gives_the_second_factor(monkeypatch):
    """`client.force_login` stands for a whole interactive sign-in: the password and the code of
    an authenticator, which the admin and TWO_FACTOR_REQUIRED_ROLES ask for. tests/accounts sign
    in through the pages instead, one step at a time."""
    monkeypatch.setattr(Client, "force_login", _force_login_with_second_factor)


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Each test counts its own requests (the API's throttles): a key prefix of its own in the
    shared cache (Redis when REDIS_URL is set), not a flush, which could empty the broker."""
    default = settings.CACHES["default"]
    settings.CACHES = {"default": {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture
def site_a(db):
    return SiteFactory(code="north", name="North Children's Hospital")


@pytest.fixture
def site_b(db):
    return SiteFactory(code="south", name="South University Hospital")


def _member(username: str, site, role: str, *, is_staff: bool = True):
    user = UserFactory(username=username, is_staff=is_staff)
    MembershipFactory(user=user, site=site, role=role)
    return user


@pytest.fixture
def nurse_a(site_a):
    return _member("nina", site_a, Role.NURSE)


@pytest.fixture
def clinician_a(site_a):
    return _member("carl", site_a, Role.CLINICIAN)


@pytest.fixture
def data_manager_a(site_a):
    return _member("dora", site_a, Role.DATA_MANAGER)


@pytest.fixture
def researcher_a(site_a):
    return _member("rita", site_a, Role.RESEARCHER, is_staff=False)


@pytest.fixture
def nurse_b(site_b):
    return _member("noah", site_b, Role.NURSE)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)
