"""The second factor's writes and checks: an authenticator app (TOTP) per person, and ten
single-use recovery codes for when the phone is lost. django-otp keeps both and throttles guessing
on each device (a wait that doubles after every wrong code)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
_AUTHENTICATOR_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class CodeCheck:
    """The device that accepted a code, or None; `wait_seconds` > 0 when the device refused to
    check at all because of recent wrong codes."""

    device: Device | None
    wait_seconds: int = 0


def normalise_code(code: str) -> str:
    """People type codes with spaces or dashes ("123 456", "abcd-efgh") and in either case."""
    return re.sub(r"[\s-]", "", code).lower()


def totp_device_to_confirm(*, user: User) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed (a reload of the page
    shows the same QR code), a new one for a person who has none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


@transaction.atomic
def totp_confirm(*, user: User, device_id: int, code: str) -> TOTPDevice | None:
    """Confirm the authenticator being set up with a code it shows; None if the code is wrong."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False, pk=device_id)
        .first()
    )
    if device is None or not device.verify_token(normalise_code(code)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return device


@transaction.atomic
def recovery_codes_issue(*, user: User) -> list[str]:
    """Ten new recovery codes, replacing any earlier ones; shown once, to the person."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_CODES_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def second_factor_remove(*, user: User) -> None:
    """Remove the authenticator and the recovery codes (every session verified by them loses it)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def code_check(*, user: User, code: str) -> CodeCheck:
    """Check a code from the authenticator (six digits) or a recovery code (used up if right)."""
    code = normalise_code(code)
    devices: list[Device]
    if _AUTHENTICATOR_CODE.fullmatch(code):
        devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
    else:
        devices = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True))
    wait_seconds = 0
    for device in devices:
        allowed, refusal = device.verify_is_allowed()
        if not allowed:
            locked_until = (refusal or {}).get("locked_until")
            if locked_until is not None:
                remaining = (locked_until - timezone.now()).total_seconds()
                wait_seconds = max(wait_seconds, math.ceil(remaining), 1)
            continue
        if device.verify_token(code):
            return CodeCheck(device)
    return CodeCheck(None, wait_seconds)
