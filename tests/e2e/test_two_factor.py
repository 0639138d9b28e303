"""Two-factor sign-in in the browser: a data manager sets up an authenticator on first sign-in,
keeps the recovery codes, and next time signs in with a code."""

from __future__ import annotations

import re

from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.accounts.support import code_for_key, unused_totp_code
from tests.e2e.conftest import FACTORY_PASSWORD, screenshot


def password_step(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(FACTORY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_data_manager_sets_up_two_factor_then_signs_in_with_a_code(page: Page, data_manager_a):
    password_step(page, "dora")
    expect(page).to_have_url(re.compile(r"/account/two-factor/\?next=%2F$"))
    expect(page.get_by_text("Your role asks for a second factor")).to_be_visible()
    expect(page.locator('nav[aria-label="Main"]')).to_have_count(0)
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot(page, "two-factor-set-up")

    # Nothing else opens until it is set up.
    page.goto("/worklist/")
    expect(page).to_have_url(re.compile(r"/account/two-factor/\?next=%2Fworklist%2F$"))

    key = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(code_for_key(key))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    screenshot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    password_step(page, "dora")
    expect(page).to_have_url(re.compile(r"/login/code/"))
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")

    page.wait_for_timeout(1100)  # django-otp's wait after a wrong code
    device = TOTPDevice.objects.get(user=data_manager_a, confirmed=True)
    page.get_by_label("Code").fill(unused_totp_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Two-factor")).to_be_visible()
