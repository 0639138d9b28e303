"""Lockout after repeated failed sign-ins (django-axes): per account from anywhere, per address
across accounts, at the clinic's sign-in page and the admin's; unlocking."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.accounts.support import ADMIN_LOGIN, LOGIN, sign_in, signed_in_as
from tests.factories import UserFactory

LIMIT = 5  # AXES_FAILURE_LIMIT's default
HOME = reverse("clinic:home")
ELSEWHERE = "192.0.2.99"  # another client address (a documentation range: no traffic is sent)


def fail(client: Client, username: str, times: int, *, at: str = LOGIN, **extra) -> list[int]:
    return [sign_in(client, username, "wrong", at=at, **extra).status_code for _ in range(times)]


def test_it_signs_in_after_fewer_failures_than_the_limit(client, nurse_a):
    assert fail(client, "nina", LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with an error
    response = sign_in(client, "nina")
    assert response.status_code == 302
    assert signed_in_as(client) == "nina"


def test_it_locks_the_account_at_the_limit_and_then_refuses_the_right_password(client, nurse_a):
    assert fail(client, "nina", LIMIT) == [200] * (LIMIT - 1) + [429]
    refused = sign_in(client, "nina")
    assert refused.status_code == 429
    assert signed_in_as(client) is None
    assert client.get(HOME).status_code == 302  # to the sign-in page


def test_the_lockout_page_says_what_happened_and_whom_to_ask(client, nurse_a, settings):
    settings.SIGN_IN_HELP = "the North IT service desk (ext. 4444)"
    fail(client, "nina", LIMIT)
    page = sign_in(client, "nina")
    html = page.content.decode()
    assert "accounts/locked_out.html" in [template.name for template in page.templates]
    assert "Sign-in is locked for now" in html
    assert "Try again in <strong>15 minutes</strong>" in html
    assert "ask the North IT service desk (ext. 4444) to unlock your account" in html
    assert 'class="topbar"' in html  # the clinic's layout


def test_the_account_is_locked_from_every_address(client, nurse_a):
    fail(client, "nina", LIMIT)
    elsewhere = Client()
    assert sign_in(elsewhere, "nina", REMOTE_ADDR=ELSEWHERE).status_code == 429
    assert signed_in_as(elsewhere) is None


def test_an_address_trying_many_accounts_is_locked_for_every_account(client, nurse_a, site_a):
    for number in range(LIMIT):  # one guess each: no account reaches the limit by itself
        UserFactory(username=f"target{number}")
        assert fail(client, f"target{number}", 1) == [200 if number < LIMIT - 1 else 429]
    assert sign_in(client, "nina").status_code == 429
    assert signed_in_as(client) is None
    # nina herself, from her own computer, is not locked.
    elsewhere = Client()
    assert sign_in(elsewhere, "nina", REMOTE_ADDR=ELSEWHERE).status_code == 302
    assert signed_in_as(elsewhere) == "nina"


def test_the_admin_login_counts_failures_and_locks_too(client, clinician_a):
    assert fail(client, "carl", LIMIT, at=ADMIN_LOGIN) == [200] * (LIMIT - 1) + [429]
    locked = sign_in(client, "carl", at=ADMIN_LOGIN)
    assert locked.status_code == 429
    assert "Sign-in is locked for now" in locked.content.decode()
    # The same count as the clinic's sign-in page: one account, one lock.
    assert sign_in(Client(), "carl", REMOTE_ADDR=ELSEWHERE).status_code == 429


def test_the_admin_and_clinic_pages_add_up_to_one_count(client, nurse_a):
    fail(client, "nina", 3)
    assert fail(client, "nina", 2, at=ADMIN_LOGIN) == [200, 429]


def test_the_lock_ends_after_the_cool_off(client, nurse_a):
    fail(client, "nina", LIMIT)
    with time_machine.travel(dt.timedelta(minutes=16)):
        assert sign_in(client, "nina").status_code == 302
        assert signed_in_as(client) == "nina"


def test_failures_during_the_lock_extend_it(client, nurse_a):
    fail(client, "nina", LIMIT)
    with time_machine.travel(dt.timedelta(minutes=10)):
        fail(client, "nina", 1)
    with time_machine.travel(dt.timedelta(minutes=16)):
        assert sign_in(client, "nina").status_code == 429


def test_an_administrator_unlocks_the_account_in_the_admin(client, nurse_a, superuser):
    fail(client, "nina", LIMIT)
    admin = Client()
    admin.force_login(superuser)
    changelist = reverse("admin:axes_accessattempt_changelist")
    listed = admin.get(changelist)
    assert listed.status_code == 200
    assert "nina" in listed.content.decode()
    attempts = list(AccessAttempt.objects.filter(username="nina").values_list("pk", flat=True))
    confirmed = admin.post(
        changelist,
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert confirmed.status_code == 302
    assert sign_in(client, "nina").status_code == 302
    assert signed_in_as(client) == "nina"


def test_a_data_manager_cannot_unlock_accounts(client, data_manager_a):
    client.force_login(data_manager_a)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def test_the_management_command_unlocks_the_account(client, nurse_a):
    fail(client, "nina", LIMIT)
    call_command("axes_reset_username", "nina")
    assert sign_in(client, "nina").status_code == 302


def test_the_stored_attempts_keep_no_search_terms_or_passwords(client, nurse_a):
    client.post(
        LOGIN + "?next=/patients/%3Fq%3DLindqvist",
        {"username": "nina", "password": "wrong-secret", "next": "/patients/?q=Lindqvist"},
    )
    attempt = AccessAttempt.objects.get(username="nina")
    stored = attempt.get_data + attempt.post_data
    assert "Lindqvist" not in stored
    assert "wrong-secret" not in stored


@pytest.fixture
def lockouts():
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    user_locked_out.connect(receiver)
    yield received
    user_locked_out.disconnect(receiver)


def test_a_lockout_sends_axes_signal_once_with_the_account(client, nurse_a, lockouts):
    """The audit log listens to axes.signals.user_locked_out for lockout events."""
    fail(client, "nina", LIMIT - 1)
    assert lockouts == []
    fail(client, "nina", 1)
    assert [(event["username"], event["ip_address"]) for event in lockouts] == [
        ("nina", "127.0.0.1")
    ]


def test_the_access_log_records_the_failures_and_the_lockout(client, nurse_a):
    """Through the real sign-in page: each wrong password a "sign-in failed" row, the lockout one
    "locked out" row, with the account and the address (never the password)."""
    from audit.models import AccessKind, AccessLogEntry

    fail(client, "nina", LIMIT)
    rows = list(AccessLogEntry.objects.filter(username="nina").order_by("id"))
    kinds = [row.kind for row in rows]
    assert kinds.count(AccessKind.SIGN_IN_FAILED) == LIMIT
    assert kinds.count(AccessKind.LOCKED_OUT) == 1
    locked = next(row for row in rows if row.kind == AccessKind.LOCKED_OUT)
    assert locked.ip_address == "127.0.0.1"
    assert all("wrong" not in str(vars(row)) for row in rows)
