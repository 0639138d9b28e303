"""Two-factor sign-in (django-otp): the code after the password, set-up where the role requires
it, recovery codes, the admin, and API tokens left alone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.checks import sign_in_settings
from tests.accounts.support import (
    ADMIN_LOGIN,
    TWO_FACTOR,
    VERIFY,
    authenticator_for,
    sign_in,
    totp_code,
)
from tests.api.conftest import api_token

WORKLIST = reverse("clinic:worklist")
ADMIN = reverse("admin:index")


def enrol(client: Client) -> list[str]:
    """Set an authenticator up through the page; the recovery codes it shows."""
    page = client.get(TWO_FACTOR)
    assert page.status_code == 200
    device = TOTPDevice.objects.get(confirmed=False)
    done = client.post(TWO_FACTOR, {"code": totp_code(device)})
    assert done.status_code == 200
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())


def test_a_data_manager_without_an_authenticator_must_set_one_up_first(client, data_manager_a):
    assert sign_in(client, "dora")["Location"] == reverse("clinic:home")
    for page in (reverse("clinic:home"), WORKLIST, reverse("clinic:patients"), ADMIN):
        refused = client.get(page)
        assert refused.status_code == 302, page
        assert refused["Location"].startswith(TWO_FACTOR + "?next=")
    set_up = client.get(TWO_FACTOR)
    assert "Your role asks for a second factor" in set_up.content.decode()
    assert 'nav aria-label="Main"' not in set_up.content.decode()  # nothing else to open yet

    enrol(client)
    assert client.get(WORKLIST).status_code == 200


def test_the_api_refuses_a_session_that_owes_its_second_factor(client, data_manager_a):
    sign_in(client, "dora")
    response = client.get("/api/v1/patients/")
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_htmx_requests_are_sent_to_the_step_with_a_full_page_redirect(client, data_manager_a):
    sign_in(client, "dora")
    response = client.get(
        WORKLIST, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/patients/"}
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == TWO_FACTOR + "?next=%2Fpatients%2F"


def test_a_nurse_or_clinician_is_not_asked_for_a_second_factor_by_default(
    client, nurse_a, clinician_a
):
    for person in ("nina", "carl"):
        person_client = Client()
        sign_in(person_client, person)
        assert person_client.get(WORKLIST).status_code == 200, person


def test_a_superuser_must_set_one_up(client, superuser):
    sign_in(client, "root")
    assert client.get(ADMIN)["Location"].startswith(TWO_FACTOR)


def test_the_setting_names_the_roles_that_must(client, nurse_a, data_manager_a, settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["nurse"]
    sign_in(client, "nina")
    assert client.get(WORKLIST)["Location"].startswith(TWO_FACTOR)
    manager = Client()
    sign_in(manager, "dora")
    assert manager.get(WORKLIST).status_code == 200


def test_a_role_at_any_site_counts(client, nurse_a, site_b, settings):
    from tests.factories import MembershipFactory

    MembershipFactory(user=nurse_a, site=site_b, role="data_manager")
    sign_in(client, "nina")
    assert client.get(WORKLIST)["Location"].startswith(TWO_FACTOR)


def test_an_unknown_role_in_the_setting_stops_the_start(settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["data_manager", "datamanager"]
    errors = sign_in_settings(None)
    assert [error.id for error in errors] == ["accounts.E001"]
    assert "datamanager" in errors[0].msg


def test_set_up_shows_a_qr_code_and_the_key_and_confirms_with_a_code(client, nurse_a):
    sign_in(client, "nina")
    page = client.get(TWO_FACTOR).content.decode()
    device = TOTPDevice.objects.get(user=nurse_a, confirmed=False)
    assert "<svg" in page
    assert "<path" in page
    shown = re.search(r'id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    assert shown.replace(" ", "") == device.config_url.split("secret=")[1].split("&")[0]
    assert shown in client.get(TWO_FACTOR).content.decode()  # the same key on a reload

    wrong = client.post(TWO_FACTOR, {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    with time_machine.travel(dt.timedelta(seconds=2)):  # past the wait after a wrong code
        codes_page = client.post(TWO_FACTOR, {"code": totp_code(device)})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", codes_page.content.decode())
    assert len(codes) == 10
    assert "they are shown only now" in codes_page.content.decode()
    device.refresh_from_db()
    assert device.confirmed

    later = client.get(TWO_FACTOR).content.decode()
    assert "10 of your recovery codes are left" in later
    assert not any(code in later for code in codes)


def test_a_person_with_an_authenticator_gives_its_code_after_the_password(client, nurse_a):
    device = authenticator_for(nurse_a)
    assert sign_in(client, "nina").status_code == 302
    assert client.get(WORKLIST)["Location"] == VERIFY + "?next=%2Fworklist%2F"
    assert client.get(VERIFY + "?next=%2Fworklist%2F").status_code == 200

    done = client.post(VERIFY, {"code": totp_code(device), "next": WORKLIST})
    assert done["Location"] == WORKLIST
    assert client.get(WORKLIST).status_code == 200


def test_a_wrong_code_is_refused_and_counts_as_a_failed_sign_in(client, nurse_a):
    authenticator_for(nurse_a)
    sign_in(client, "nina")
    wrong = client.post(VERIFY, {"code": "123456"})
    assert "That code is not right" in wrong.content.decode()
    assert AccessAttempt.objects.get(username="nina").failures_since_start == 1
    assert client.get(WORKLIST)["Location"].startswith(VERIFY)


def test_a_code_is_accepted_once(client, nurse_a):
    device = authenticator_for(nurse_a)
    code = totp_code(device)
    sign_in(client, "nina")
    client.post(VERIFY, {"code": code})
    again = Client()
    sign_in(again, "nina")
    assert "That code is not right" in again.post(VERIFY, {"code": code}).content.decode()


def test_code_guessing_is_throttled(client, nurse_a):
    device = authenticator_for(nurse_a)
    sign_in(client, "nina")
    client.post(VERIFY, {"code": "123456"})
    client.post(VERIFY, {"code": "234567"})  # within the wait: not even checked
    throttled = client.post(VERIFY, {"code": totp_code(device)})
    assert "Too many wrong codes: wait" in throttled.content.decode()
    with time_machine.travel(dt.timedelta(seconds=5)):
        assert client.post(VERIFY, {"code": totp_code(device)})["Location"] == "/"


def test_code_guessing_locks_the_account_like_passwords(client, nurse_a):
    authenticator_for(nurse_a)
    sign_in(client, "nina")
    statuses = []
    for attempt in range(5):
        with time_machine.travel(dt.timedelta(minutes=attempt)):  # past each wait
            statuses.append(client.post(VERIFY, {"code": f"00000{attempt}"}).status_code)
    assert statuses == [200, 200, 200, 200, 429]
    assert client.get(WORKLIST)["Location"].startswith(reverse("login"))  # signed out
    assert sign_in(client, "nina").status_code == 429


def test_a_recovery_code_signs_in_once(client, nurse_a):
    sign_in(client, "nina")
    codes = enrol(client)
    client.post(reverse("logout"))

    sign_in(client, "nina")
    assert client.post(VERIFY, {"code": codes[0].upper()})["Location"] == "/"
    assert StaticToken.objects.filter(device__user=nurse_a).count() == 9
    client.post(reverse("logout"))

    sign_in(client, "nina")
    with time_machine.travel(dt.timedelta(seconds=2)):
        reused = client.post(VERIFY, {"code": codes[0]})
    assert "That code is not right" in reused.content.decode()
    with time_machine.travel(dt.timedelta(seconds=4)):
        assert client.post(VERIFY, {"code": codes[1]})["Location"] == "/"


def test_new_recovery_codes_replace_the_old_ones(client, nurse_a):
    sign_in(client, "nina")
    old = enrol(client)
    page = client.post(TWO_FACTOR, {"regenerate": "1"}).content.decode()
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
    assert len(new) == 10
    assert set(new).isdisjoint(old)
    stored = set(StaticToken.objects.filter(device__user=nurse_a).values_list("token", flat=True))
    assert stored == set(new)


def test_removing_the_authenticator_needs_the_password(client, nurse_a):
    sign_in(client, "nina")
    enrol(client)
    wrong = client.post(TWO_FACTOR, {"remove": "1", "password": "not-it"})
    assert "That is not your password" in wrong.content.decode()
    assert TOTPDevice.objects.filter(user=nurse_a).exists()
    removed = client.post(TWO_FACTOR, {"remove": "1", "password": "password"})
    assert removed["Location"] == TWO_FACTOR
    assert not TOTPDevice.objects.filter(user=nurse_a, confirmed=True).exists()
    assert not StaticToken.objects.filter(device__user=nurse_a).exists()


def test_removing_it_signs_other_sessions_back_to_the_code_step(client, data_manager_a):
    sign_in(client, "dora")
    enrol(client)
    client.post(TWO_FACTOR, {"remove": "1", "password": "password"})
    assert client.get(WORKLIST)["Location"].startswith(TWO_FACTOR)  # the role asks for one


def test_the_admin_asks_everyone_for_a_verified_second_factor(client, clinician_a):
    """A clinician need not use two-factor in the clinic, but the admin asks for it."""
    assert sign_in(client, "carl", at=ADMIN_LOGIN + "?next=/admin/").status_code == 302
    assert client.get(WORKLIST).status_code == 200
    to_login = client.get(ADMIN)
    assert to_login["Location"].startswith(ADMIN_LOGIN)
    to_set_up = client.get(to_login["Location"])
    assert to_set_up["Location"] == TWO_FACTOR + "?next=%2Fadmin%2F"
    page = client.get(to_set_up["Location"])
    assert "The admin asks for two-factor sign-in" in page.content.decode()

    codes_page = client.post(
        TWO_FACTOR + "?next=%2Fadmin%2F",
        {"code": totp_code(TOTPDevice.objects.get(user=clinician_a)), "next": "/admin/"},
    )
    assert 'href="/admin/"' in codes_page.content.decode()
    assert client.get(ADMIN).status_code == 200


def test_the_admin_login_then_asks_for_the_code(client, data_manager_a):
    device = authenticator_for(data_manager_a)
    sign_in(client, "dora", at=ADMIN_LOGIN + "?next=/admin/")
    assert client.get(ADMIN)["Location"] == VERIFY + "?next=%2Fadmin%2F"
    assert client.post(VERIFY, {"code": totp_code(device), "next": "/admin/"})["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_the_admin_refuses_a_password_only_session_even_without_the_middleware(rf, clinician_a):
    from django.contrib import admin
    from django.contrib.auth.models import AnonymousUser

    request = rf.get(ADMIN)
    request.user = clinician_a  # no OTPMiddleware: no is_verified() at all
    assert admin.site.has_permission(request) is False
    request.user = AnonymousUser()
    assert admin.site.has_permission(request) is False


@pytest.mark.parametrize("who", ["data_manager_a", "superuser"])
def test_api_tokens_are_not_asked_for_a_code(request, who, site_a):
    user = request.getfixturevalue(who)
    secret = api_token(user)
    response = Client().get("/api/v1/patients/", headers={"Authorization": f"Token {secret}"})
    assert response.status_code == 200


def test_an_administrator_resets_a_lost_authenticator_with_the_admin(client, nurse_a, superuser):
    authenticator_for(nurse_a)
    admin_client = Client()
    admin_client.force_login(superuser)
    device = TOTPDevice.objects.get(user=nurse_a)
    page = admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    assert device.key not in page.content.decode()  # OTP_ADMIN_HIDE_SENSITIVE_DATA
    admin_client.post(
        reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}
    )
    sign_in(client, "nina")
    assert client.get(WORKLIST).status_code == 200
