"""Self-service password change for everyone, and password reset by email."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.accounts.support import sign_in, signed_in_as
from tests.factories import PatientFactory

CHANGE = reverse("accounts:password_change")
RESET = reverse("accounts:password_reset")
NEW_PASSWORD = "infusion-Tuesday-42"


@pytest.mark.parametrize("who", ["nurse_a", "clinician_a", "data_manager_a", "researcher_a"])
def test_every_role_finds_password_and_two_factor_in_its_menu(client, request, who):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("clinic:home"), follow=True).content.decode()
    assert f'href="{CHANGE}"' in page
    assert f'href="{reverse("accounts:two_factor")}"' in page


def test_changing_the_password_keeps_this_session_and_signs_out_the_others(client, nurse_a):
    sign_in(client, "nina")
    other_browser = Client()
    sign_in(other_browser, "nina")

    changed = client.post(
        CHANGE,
        {"old_password": "password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your password was changed" in changed.content.decode()
    assert client.get(reverse("clinic:worklist")).status_code == 200
    assert signed_in_as(client) == "nina"
    assert other_browser.get(reverse("clinic:worklist")).status_code == 302
    nurse_a.refresh_from_db()
    assert nurse_a.check_password(NEW_PASSWORD)


def test_a_wrong_current_password_or_a_weak_new_one_is_refused(client, nurse_a):
    sign_in(client, "nina")
    wrong = client.post(
        CHANGE,
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(
        CHANGE,
        {"old_password": "password", "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert "This password is too common" in weak.content.decode()
    nurse_a.refresh_from_db()
    assert nurse_a.check_password("password")


def test_password_reset_by_email(client, nurse_a, site_a, mailoutbox, settings):
    settings.SITE_URL = "https://registry.north.example"
    PatientFactory(site=site_a, family_name="Lindqvist")
    sent = client.post(RESET, {"email": "nina@example.org"}, follow=True)
    assert "Check your email" in sent.content.decode()
    assert "The link works for 1 hour." in sent.content.decode()

    [email] = mailoutbox
    assert email.to == ["nina@example.org"]
    assert email.subject == "Reset your CRMO registry password"
    assert "Lindqvist" not in email.body  # no patient data, ever
    link = re.search(r"https://registry\.north\.example(/password-reset/\S+/)", email.body)
    assert link is not None, email.body

    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your new password is set" in done.content.decode()
    assert signed_in_as(client) is None  # signing in still goes through the sign-in page
    assert sign_in(client, "nina", NEW_PASSWORD).status_code == 302

    used_again = client.get(link.group(1), follow=True)
    assert "This link does not work" in used_again.content.decode()


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, db, mailoutbox):
    sent = client.post(RESET, {"email": "nobody@example.org"}, follow=True)
    assert "If an account has that address" in sent.content.decode()
    assert mailoutbox == []


def test_the_sign_in_page_offers_the_reset(client, db):
    assert f'href="{RESET}"' in client.get(reverse("login")).content.decode()
