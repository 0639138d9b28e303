"""API tokens: hashed, shown once, expiring, their last use recorded, revoked by their owner, an
admin, a command, a password change (by every door) and "sign out everywhere"."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
import time_machine
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from tests.api.conftest import api_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
PAGE = "/settings/api-tokens/"
PASSWORD = "an old password 1"


def with_token(secret: str) -> APIClient:
    return APIClient(headers={"Authorization": f"Token {secret}"})


def works(secret: str) -> bool:
    response = with_token(secret).get(PATIENTS)
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_token(username: str, *args: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", username, *args, stdout=out)
    return out.getvalue().strip()


# --- Stored hashed, shown once --------------------------------------------------------------------


def test_it_stores_only_a_digest_of_the_secret(nurse_a):
    secret = api_token(nurse_a)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    token = ApiToken.objects.get(user=nurse_a)
    assert token.digest == hashlib.sha512(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 - our table
        [row] = cursor.fetchall()
    assert not [value for value in row if secret in str(value)]  # the whole secret: nowhere


def test_the_page_shows_a_new_token_once(record_a, nurse_a):
    client = signed_in(nurse_a)
    made = client.post(PAGE, {"name": "Lab interface", "expires_in_days": "30"})
    assert made.status_code == 200
    [secret] = re.findall(
        r'<code class="token-secret">([0-9a-f]{64})</code>', made.content.decode()
    )
    assert "no-store" in made["Cache-Control"]  # no copy of the secret kept on the way
    assert works(secret)

    listed = client.get(PAGE).content.decode()
    assert secret not in listed
    assert secret[:15] not in listed  # not even the part stored to find the row
    assert "Lab interface" in listed
    token = ApiToken.objects.get(user=nurse_a)
    assert token.name == "Lab interface"
    assert abs(token.expiry - token.created - dt.timedelta(days=30)) < dt.timedelta(seconds=1)


def test_the_page_refuses_a_token_without_a_name_or_beyond_a_year(nurse_a):
    client = signed_in(nurse_a)
    for data in ({"name": "", "expires_in_days": "30"}, {"name": "x", "expires_in_days": "367"}):
        page = client.post(PAGE, data)
        assert page.status_code == 200
        assert 'class="field-error"' in page.content.decode()
        assert 'class="token-secret"' not in page.content.decode()
    assert not ApiToken.objects.exists()


def test_the_page_lists_only_one_s_own_tokens(nurse_a, clinician_a):
    ApiToken.objects.issue(user=nurse_a, name="Nina's script")
    ApiToken.objects.issue(user=clinician_a, name="Carl's script")
    page = signed_in(nurse_a).get(PAGE).content.decode()
    assert "Nina&#x27;s script" in page
    assert "Carl" not in page


def test_the_page_needs_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- Expiry and last use ------------------------------------------------------------------------


def test_a_token_expires_after_the_ttl(record_a, nurse_a, settings):
    assert dt.timedelta(days=90) == settings.API_TOKEN_TTL
    secret = api_token(nurse_a)
    with time_machine.travel(timezone.now() + dt.timedelta(days=89, hours=23)):
        assert works(secret)
    with time_machine.travel(timezone.now() + dt.timedelta(days=90, minutes=1)):
        response = with_token(secret).get(PATIENTS)
        assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})
        assert "expired" in signed_in(nurse_a).get(PAGE).content.decode()


def test_the_last_use_is_recorded_at_most_once_a_minute(record_a, nurse_a):
    secret = api_token(nurse_a)
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    first_use = timezone.now()
    assert works(secret)
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert abs(token.last_used_at - first_use) < dt.timedelta(seconds=5)

    with time_machine.travel(first_use + dt.timedelta(seconds=30)):
        assert works(secret)
    token.refresh_from_db()
    assert abs(token.last_used_at - first_use) < dt.timedelta(seconds=5)  # not written again

    with time_machine.travel(first_use + dt.timedelta(minutes=2)):
        assert works(secret)
    token.refresh_from_db()
    assert token.last_used_at - first_use >= dt.timedelta(minutes=2)


# --- Revocation: the owner, the admin, the commands ---------------------------------------------


def test_its_owner_revokes_a_token_on_the_page(record_a, nurse_a):
    kept = api_token(nurse_a)
    revoked = api_token(nurse_a)
    digest = hashlib.sha512(revoked.encode()).hexdigest()
    response = signed_in(nurse_a).post(f"{PAGE}revoke/", {"token": digest}, follow=True)
    assert "is revoked" in response.content.decode()
    assert not works(revoked)
    assert works(kept)


def test_nobody_revokes_another_person_s_token_on_the_page(record_a, nurse_a, clinician_a):
    secret = api_token(clinician_a)
    client = signed_in(nurse_a)
    digest = hashlib.sha512(secret.encode()).hexdigest()
    for sent in (digest, "not-a-digest", "\x00"):
        assert client.post(f"{PAGE}revoke/", {"token": sent}).status_code == 404
    assert works(secret)


def test_the_admin_lists_and_revokes_tokens_without_showing_them(record_a, nurse_a, superuser):
    secret = api_token(nurse_a)
    token = ApiToken.objects.get()
    admin = signed_in(superuser)
    listed = admin.get("/admin/api/apitoken/")
    assert listed.status_code == 200
    assert "Test script" in listed.content.decode()
    assert secret[:15] not in listed.content.decode()
    assert admin.get("/admin/api/apitoken/add/").status_code == 403  # no token with a chosen key
    detail = admin.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert detail.status_code == 200
    assert secret[:15] not in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()  # read only

    revoked = admin.post(
        "/admin/api/apitoken/",
        {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"},
    )
    assert revoked.status_code == 302
    assert not works(secret)


def test_only_superusers_see_tokens_in_the_admin(data_manager_a):
    assert signed_in(data_manager_a).get("/admin/api/apitoken/").status_code == 403


def test_create_api_token_prints_a_new_working_token(record_a, nurse_a):
    first = make_token(nurse_a.username, "--name", "Lab interface", "--expires-in", "7")
    second = make_token(nurse_a.username)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second  # the secret is not kept: it cannot be printed again
    assert works(first)
    assert works(second)
    by_name = {token.name: token for token in ApiToken.objects.all()}
    for name, days in (("Lab interface", 7), ("Made with manage.py", 90)):
        lifetime = by_name[name].expiry - by_name[name].created
        assert abs(lifetime - dt.timedelta(days=days)) < dt.timedelta(seconds=1)


def test_rotating_revokes_the_user_s_other_tokens(record_a, nurse_a):
    old = make_token(nurse_a.username)
    new = make_token(nurse_a.username, "--rotate")
    assert not works(old)
    assert works(new)


def test_revoke_api_tokens_revokes_every_token_of_the_user(record_a, nurse_a, clinician_a):
    mine = [api_token(nurse_a), api_token(nurse_a)]
    theirs = api_token(clinician_a)
    out = io.StringIO()
    call_command("revoke_api_tokens", nurse_a.username, stdout=out)
    assert out.getvalue().strip() == "2 token(s) of nina revoked."
    assert not any(works(secret) for secret in mine)
    assert works(theirs)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("nobody",), "no user 'nobody'"),
        (("nina", "--expires-in", "0"), "invalid positive_days value"),
        (("nina", "--expires-in", "soon"), "invalid positive_days value"),
    ],
)
def test_create_api_token_refuses_bad_arguments(nurse_a, args, error):
    with pytest.raises(CommandError, match=error):
        make_token(*args)
    assert not ApiToken.objects.exists()


# --- A password change, by every door -----------------------------------------------------------


@pytest.fixture
def person(record_a, nurse_a):
    nurse_a.set_password(PASSWORD)
    nurse_a.save()
    return nurse_a


def change_in_the_ui(user) -> None:
    new = "a new password 2"
    form = PasswordChangeForm(
        user, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert form.is_valid(), form.errors
    form.save()


def reset_by_email_link(user) -> None:
    new = "a new password 2"
    form = SetPasswordForm(user, {"new_password1": new, "new_password2": new})
    assert form.is_valid(), form.errors
    form.save()


def change_in_the_admin(user) -> None:
    admin = signed_in(UserFactory(username="root2", is_superuser=True, is_staff=True))
    new = "a new password 2"
    response = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()


def change_with_manage_py(user, monkeypatch) -> None:
    answers = iter(["a new password 2", "a new password 2"])
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": next(answers),
    )
    call_command("changepassword", user.username, stdout=io.StringIO())


def assign_a_hash(user) -> None:
    """A script that writes the hash itself, bypassing set_password."""
    user.password = make_password("a new password 2")
    user.save()


@pytest.mark.parametrize(
    "change",
    [
        change_in_the_ui,
        reset_by_email_link,
        change_in_the_admin,
        change_with_manage_py,
        assign_a_hash,
    ],
    ids=lambda change: change.__name__,
)
def test_a_password_change_revokes_every_token(person, clinician_a, change, monkeypatch):
    mine = [api_token(person), api_token(person)]
    theirs = api_token(clinician_a)
    if change is change_with_manage_py:
        change(person, monkeypatch)
    else:
        change(person)
    person.refresh_from_db()
    assert person.check_password("a new password 2")
    assert not any(works(secret) for secret in mine)
    assert not ApiToken.objects.filter(user=person).exists()
    assert works(theirs)


class UpgradedHasher(MD5PasswordHasher):
    """A hasher other than the tests' MD5 (and as fast): the preferred one after an upgrade."""

    algorithm = "md5-upgraded"


def test_a_rehash_of_the_same_password_at_sign_in_keeps_the_tokens(person, settings):
    secret = api_token(person)
    settings.PASSWORD_HASHERS = [
        "tests.api.test_tokens.UpgradedHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    # axes' backend needs the request of the sign-in (the test client's login passes none).
    assert Client().login(request=HttpRequest(), username=person.username, password=PASSWORD)
    person.refresh_from_db()
    assert person.password.startswith("md5-upgraded$")  # Django re-hashed it on sign-in
    assert works(secret)


def test_saving_a_person_without_touching_the_password_keeps_the_tokens(person):
    secret = api_token(person)
    person.first_name = "Nina"
    person.save()
    signed_in(person)  # a sign-in saves last_login only
    assert works(secret)


# --- Sign out everywhere ------------------------------------------------------------------------


def test_sign_out_everywhere_ends_every_session_and_revokes_every_token(person, clinician_a):
    here, elsewhere = signed_in(person), signed_in(person)
    colleague = signed_in(clinician_a)
    mine = api_token(person)
    theirs = api_token(clinician_a)
    assert Session.objects.count() == 3

    response = here.post(f"{PAGE}sign-out-everywhere/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not works(mine)
    assert works(theirs)
    assert Session.objects.count() == 1  # the colleague's
    for client in (here, elsewhere):
        assert client.get("/worklist/")["Location"].startswith("/login/")
    assert colleague.get(PAGE).status_code == 200


def test_sign_out_everywhere_is_a_post(person):
    client = signed_in(person)
    assert client.get(f"{PAGE}sign-out-everywhere/").status_code == 405
    assert Session.objects.count() == 1


# --- The plain-text tokens of before ------------------------------------------------------------


def test_the_migration_empties_the_plain_text_token_table(db):
    from importlib import import_module

    migration = import_module("api.migrations.0002_revoke_plain_text_tokens")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id int)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef', 1)")
    with connection.schema_editor() as editor:
        migration.revoke_plain_text_tokens(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
