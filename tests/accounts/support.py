"""Signing in through the pages, one step at a time, as a browser would."""

from __future__ import annotations

from base64 import b32decode

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "password"  # tests.factories.UserFactory's
LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
VERIFY = reverse("accounts:verify")
TWO_FACTOR = reverse("accounts:two_factor")


def sign_in(client: Client, username: str, password: str = PASSWORD, *, at: str = LOGIN, **extra):
    """POST the password form (the clinic's or the admin's); `extra` sets e.g. REMOTE_ADDR."""
    return client.post(at, {"username": username, "password": password}, **extra)


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the person's authenticator app shows now (or that many 30 s steps later)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{totp.token():0{device.digits}d}"


def unused_totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now: each is accepted once, so a second sign-in within the same
    30 s takes the next step's (within the device's tolerance of one step)."""
    device.refresh_from_db()
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    return totp_code(device, steps_ahead=1 if now <= device.last_t else 0)


def code_for_key(base32_key: str) -> str:
    """What an authenticator app shows for the key typed in from the set-up page."""
    key = b32decode(base32_key.replace(" ", ""))
    return f"{TOTP(key).token():06d}"


def authenticator_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def signed_in_as(client: Client) -> str | None:
    """Whose session the client holds (None: signed out)."""
    key = client.cookies.get("sessionid")
    if key is None:
        return None
    user_id = SessionStore(session_key=key.value).get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).username if user_id else None
