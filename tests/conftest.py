"""Shared fixtures: two sites and a fixed, named person for each role (healthchecks style)."""

import datetime as dt
import os
import uuid
from importlib import import_module
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from celery import current_app
from django.apps import apps as installed_apps
from django.conf import settings
from django.db import connection
from django.db.models.signals import post_migrate
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.models import Role
from tests.factories import MembershipFactory, SiteFactory, UserFactory


def _redis_url_of_this_worker(url: str, worker: str) -> str:
    """Under pytest-xdist (`-n 2`) worker gwN uses Redis database (REDIS_URL's) + N: each
    worker's Celery broker, result store and cache of its own, as pytest-django gives each its
    own test database. A Celery worker started by a test, purges and message counts then see
    only that pytest worker's queue."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database > 15:
        raise pytest.UsageError(
            f"REDIS_URL {url} leaves too few Redis databases for worker {worker} (0-15)"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def _use_this_workers_redis() -> None:
    """Settings were read from REDIS_URL before this file (pytest-django's set-up): point every
    reader of it at the worker's database, before anything has connected. The environment too:
    tests start Celery workers, runserver and gunicorn with it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not settings.REDIS_URL:
        return
    url = _redis_url_of_this_worker(settings.REDIS_URL, worker)
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    cache = settings.CACHES["default"]
    if cache.get("BACKEND", "").endswith("RedisCache") and "CACHE_REDIS_URL" not in os.environ:
        settings.CACHES = {**settings.CACHES, "default": {**cache, "LOCATION": url}}
    current_app.conf.update(broker_url=url, result_backend=url)


_use_this_workers_redis()

_products_seed = import_module("registry.migrations.0011_infliximab_products_seed")
_consents_seed = import_module("registry.migrations.0018_consent_documents_and_legacy_consent")


def _put_back_the_seeded_products(sender, **kwargs) -> None:
    """A transactional test (live server, browser) ends with a flush, a TRUNCATE of every table,
    which takes the rows a migration seeded (registry 0011: the infliximab products) with it.
    In one process pytest-django runs those tests after all others; a pytest-xdist worker runs
    whole files one after another, so a later file's tests would find no product. The flush ends
    with post_migrate: the products are put back there, as the migration writes them (it skips
    codes that exist), and so are registry 0018's consent documents. A migration test's earlier
    state, without the table, is left alone."""
    if sender.label != "registry":
        return
    apps = kwargs.get("apps") or installed_apps  # migrate passes its state; flush passes none
    try:
        apps.get_model("registry", "InfliximabProduct")
    except LookupError:
        return
    _products_seed.add_products(apps, None)
    try:
        document = apps.get_model("registry", "ConsentDocument")
    except LookupError:
        return
    # The consent documents of registry 0018 likewise (the factories would otherwise make their
    # own, under other titles): as the migration writes them.
    for (
        code,
        title,
        version,
        signed_by,
        care,
        research,
        contact,
    ) in _consents_seed.DOCUMENTS:
        document.objects.get_or_create(
            code=code,
            version=version,
            defaults={
                "title": title,
                "signed_by": signed_by,
                "covers_care_data": care,
                "covers_research": research,
                "covers_contact": contact,
            },
        )


post_migrate.connect(_put_back_the_seeded_products, dispatch_uid="tests-put-back-seeded-products")

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
