"""Helpers of the browser tests of roles, error pages and the phone layout."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.db import transaction
from playwright.sync_api import Browser, Page, ViewportSize

from registry.demo import PATIENTS, SiteStaff, register
from registry.models import Patient, Site
from registry.reevaluation import one_reevaluation
from tests.conftest import TODAY
from tests.e2e.conftest import (
    FACTORY_PASSWORD,
    VIEWPORT,
    pass_second_factor,
    settle,
    watch_csp,
)


def sign_in_as(page: Page, username: str, password: str = FACTORY_PASSWORD) -> None:
    """Through the login form; ends wherever the person lands (a researcher: the exports)."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login/")
    pass_second_factor(page, username)


@contextmanager
def tab(browser: Browser, base_url: str, viewport: ViewportSize = VIEWPORT) -> Iterator[Page]:
    """A fresh context like the `page` fixture's, that fails on a JavaScript error or a CSP
    violation; a response's status is the test's to judge (these tests open error pages on
    purpose)."""
    context = browser.new_context(
        base_url=base_url, viewport=viewport, locale="en-GB", timezone_id="Europe/London"
    )
    context.set_default_timeout(10_000)
    watch_csp(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document"
            else None
        ),
    )
    try:
        yield page
    finally:
        settle(page)
        context.close()
    assert errors == [], f"errors in the browser: {errors}"


def demo_patients(
    site: Site, *, clinician: User, nurse: User, family_names: Iterable[str]
) -> dict[str, Patient]:
    """Some of the demo registry's patients by family name, whole (courses, infusions, labs,
    imaging, reactions, history), at `site`, written by its staff as `seed_demo` writes them."""
    wanted = set(family_names)
    staff = SiteStaff(clinician=clinician, nurse=nurse)
    patients = {}
    for index, demo in enumerate(PATIENTS):
        if demo.family_name in wanted:
            with one_reevaluation(), transaction.atomic():
                chart = register(demo, site=site, mrn=f"DEMO-{index:04d}", staff=staff, today=TODAY)
                demo.scenario.build(chart)
            patients[demo.family_name] = chart.patient
    return patients
