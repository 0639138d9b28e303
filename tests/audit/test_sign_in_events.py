"""Sign-in, sign-out, a failed sign-in and a lockout each write one row: who (or the username
typed), from where, and the sites of the person (whose data managers see it). Never a password."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from audit.models import AccessKind, AccessLogEntry
from audit.receivers import record_lockout
from audit.recording import client_address

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chromium/140"


def _only(kind: str) -> AccessLogEntry:
    [entry] = AccessLogEntry.objects.filter(kind=kind)
    return entry


def test_it_records_a_sign_in(client, nurse_a, site_a):
    client.post(
        LOGIN, {"username": "nina", "password": "password"}, headers={"user-agent": BROWSER}
    )
    entry = _only(AccessKind.SIGN_IN)
    assert (entry.user, entry.username, entry.ip_address) == (nurse_a, "nina", "127.0.0.1")
    assert (entry.user_agent, entry.method, entry.path, entry.url_name) == (
        BROWSER,
        "POST",
        LOGIN,
        "login",
    )
    assert entry.site_ids == [site_a.pk]
    assert entry.patient_ids == []


def test_it_records_a_sign_out(client, nurse_a):
    client.force_login(nurse_a)
    client.post(reverse("logout"))
    entry = _only(AccessKind.SIGN_OUT)
    assert (entry.user, entry.username, entry.path) == (nurse_a, "nina", reverse("logout"))


def test_a_sign_out_without_a_session_records_nothing(client, db):
    client.post(reverse("logout"))
    assert not AccessLogEntry.objects.exists()


def test_it_records_a_failed_sign_in_with_the_username_typed_and_never_the_password(
    client, nurse_a, site_a
):
    client.post(LOGIN, {"username": "nina", "password": "Secret-Guess-42"})
    entry = _only(AccessKind.SIGN_IN_FAILED)
    assert (entry.user, entry.username) == (None, "nina")
    assert entry.site_ids == [site_a.pk]  # nina's data managers see attempts on her account
    stored = AccessLogEntry.objects.filter(pk=entry.pk).values().get()
    assert "Secret-Guess-42" not in repr(stored)


def test_a_failed_sign_in_of_an_unknown_username_belongs_to_no_site(client, db):
    client.post(LOGIN, {"username": "nobody", "password": "x"})
    entry = _only(AccessKind.SIGN_IN_FAILED)
    assert (entry.username, entry.site_ids) == ("nobody", [])


def test_the_lockout_receiver_records_the_username_and_address(nurse_a, site_a):
    """Ready for django-axes: connect it to axes.signals.user_locked_out."""
    request = RequestFactory().post(LOGIN, REMOTE_ADDR="192.0.2.7")
    record_lockout(sender="axes", request=request, username="nina", ip_address="192.0.2.7")
    entry = _only(AccessKind.LOCKED_OUT)
    assert (entry.user, entry.username, entry.ip_address) == (None, "nina", "192.0.2.7")
    assert entry.site_ids == [site_a.pk]


def test_the_lockout_receiver_takes_the_address_when_there_is_no_request(db):
    record_lockout(sender="axes", request=None, username="ghost", ip_address="2001:db8::1")
    assert _only(AccessKind.LOCKED_OUT).ip_address == "2001:db8::1"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: a client's header is ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client sent before is forged
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (1, "", "10.0.0.2"),  # a proxy that did not say: the connection's address
        (1, "not-an-address", None),
    ],
)
def test_the_address_is_remote_addr_unless_proxies_are_trusted(
    settings, proxies, forwarded, expected
):
    settings.AUDIT_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_an_api_token_request_is_no_sign_in(clinician_a, site_a):
    from tests.api.conftest import token_client

    token_client(clinician_a).get(reverse("api:site-list"))
    assert not AccessLogEntry.objects.filter(kind=AccessKind.SIGN_IN).exists()


def test_a_session_sign_in_through_the_client_is_one_row(nurse_a):
    client = Client()
    client.post(LOGIN, {"username": "nina", "password": "password"}, follow=True)
    assert AccessLogEntry.objects.filter(kind=AccessKind.SIGN_IN).count() == 1
