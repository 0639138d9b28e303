"""Browser tests: Debian's Chromium driven by Playwright (sync API) against pytest-django's
`live_server`.

Chromium is the system one (/usr/bin/chromium, installed by scripts/ensure-chromium.sh, which
`make test` runs); Playwright never downloads a browser here. The machine may have no network,
so the launch flags switch off everything Chromium would otherwise look up on start.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery import current_app
from django.conf import settings
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    sync_playwright,
)
from playwright.sync_api import (
    Error as PlaywrightError,
)

from tests.accounts.support import code_for_key, unused_totp_code

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots of every run (git-ignored), and the README's images (tracked: only on request).
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
README_IMAGES = Path(settings.BASE_DIR) / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module; each test gets its own context (see `page`)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium.sh (make test does)")
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an asyncio event loop running in this thread, so Django
        # would refuse the test's own (synchronous) database access; the live server has its own
        # thread. Allowed only while the browser is up, not for the rest of the test session.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: Any, transactional_db: None) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server. A JavaScript error, a
    Content-Security-Policy violation, or a request the server answers with an error (the favicon
    included; but a refused form's 400), fails the test."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=VIEWPORT,
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(10_000)
    watch_csp(context)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: _console_error(msg, errors))
    tab.on("response", lambda response: _error_response(response, errors))
    yield tab
    settle(tab)
    context.close()
    assert errors == [], f"errors in the browser: {errors}"


def settle(page: Page) -> None:
    """Wait until the page's requests are answered before the test ends: a request the live
    server still works on while the test database is flushed deadlocks the flush (its TRUNCATE
    against the request's reads), which a loaded machine makes likely."""
    with contextlib.suppress(PlaywrightError):  # a page that keeps polling: close it anyway
        page.wait_for_load_state("networkidle", timeout=5_000)


# Every page reports each Content-Security-Policy violation as a console error, which the
# console handlers of `page` and of support.tab count as a failure. (Chromium logs a refusal to
# the console too, but only the event names the directive and the blocked source reliably, and
# it is also fired for a report-only policy.)
CSP_VIOLATION = "CSP violation"
_REPORT_CSP_VIOLATIONS = f"""
document.addEventListener("securitypolicyviolation", (event) => {{
  console.error("{CSP_VIOLATION}: " + event.effectiveDirective + " refused "
    + (event.blockedURI || "inline") + " at " + event.documentURI
    + (event.sourceFile ? " from " + event.sourceFile + ":" + event.lineNumber : "")
    + (event.sample ? " (" + event.sample + ")" : ""));
}});
"""


def watch_csp(context: BrowserContext) -> None:
    context.add_init_script(_REPORT_CSP_VIOLATIONS)


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    # A failed request is logged to the console too: the response handler judges those.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(f"console: {message.text}")


def _error_response(response: Response, errors: list[str]) -> None:
    # A refused form answers 400 by design (its errors on the page): the test reads what it shows.
    refused_form = response.status == 400 and response.request.method == "POST"
    if response.status >= 400 and not refused_form:
        errors.append(f"{response.status} {response.request.method} {response.url}")


@pytest.fixture(autouse=True)
def _evaluations_in_process() -> Iterator[None]:
    """Re-evaluations queued after a save run in the server's thread, not on the shared Redis
    (where another test run's worker could pick them up against its own database)."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = eager


# The password tests.factories.UserFactory gives every user.
FACTORY_PASSWORD = "password"


def sign_in(
    page: Page, username: str, password: str = FACTORY_PASSWORD, *, home: str = "Worklist"
) -> None:
    """Through the login form, as a person would; ends on the person's home page, whose heading is
    `home` (a nurse's is the infusion list)."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login/")
    pass_second_factor(page, username)
    page.get_by_role("heading", name=home, level=1).wait_for()


def pass_second_factor(page: Page, username: str) -> None:
    """After the password, as the person would: the code of their authenticator, or setting one
    up where their role requires it (TWO_FACTOR_REQUIRED_ROLES: data managers, superusers)."""
    path = urlsplit(page.url).path
    if path == reverse("accounts:verify"):
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.get_by_label("Code").fill(unused_totp_code(device))
        page.get_by_role("button", name="Continue").click()
    elif path == reverse("accounts:two_factor"):
        key = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(code_for_key(key))
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        page.get_by_role("link", name="I have kept them: continue").click()
    else:
        return
    page.wait_for_url(lambda url: urlsplit(url).path != path)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page, animations="disabled")
    return path
