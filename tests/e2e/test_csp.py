"""The clinic, the admin and the API docs under the Content-Security-Policy (no inline script or
style): every page works, its scripts run (HTMX swaps, the chart, the forms' helpers, the
admin's widgets, Swagger UI) and the browser reports no violation. The `page` fixture fails a test
on any violation (tests/e2e/conftest.py): these tests open one page of each kind.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.e2e.conftest import CSP_VIOLATION, sign_in
from tests.e2e.support import tab
from tests.e2e.test_browser import overdue_alert

CSP_HEADER = "content-security-policy"


def open_page(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None
    assert response.status == 200, f"{path}: {response.status}"
    policy = response.headers.get(CSP_HEADER, "")
    assert "script-src 'self'" in policy, path
    assert "unsafe-inline" not in policy


def test_the_clinic_pages_and_their_htmx_actions_run_under_the_csp(page: Page, clinician_a):
    alert = overdue_alert(clinician_a.memberships.get().site)
    sign_in(page, "carl")

    open_page(page, "/worklist/")
    page.evaluate("window.notReloaded = true")
    row = page.locator(f"#alert-{alert.pk}")
    row.get_by_role("button", name="Acknowledge").click()  # an HTMX swap
    expect(row.locator(".status")).to_have_text("Acknowledged")
    assert page.evaluate("window.notReloaded") is True
    # htmx took its settings from the meta tag: no indicator style of its own, no eval.
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("htmx.config.allowEval") is False
    assert "style" not in page.evaluate("htmx.config.attributesToSettle")

    open_page(page, f"/patients/{alert.course.patient_id}/")
    page.wait_for_function("window.registryTimeline !== undefined")  # Chart.js drew
    assert page.evaluate("window.registryTimeline.data.datasets[0].data.length") == 3

    open_page(page, f"/courses/{alert.course_id}/infusions/new/")
    page.get_by_label("Weight (kg)").fill("40")
    page.get_by_label("Dose (mg)").fill("200")
    expect(page.locator("#live-mg-per-kg")).to_have_text("5.00")  # infusion.js ran

    for path in ("/infusions/", "/patients/?q=a", "/guideline/", "/lab-import/"):
        open_page(page, path)
    open_page(page, reverse("clinic:notification_settings"))


def test_the_admin_runs_under_the_csp(page: Page, data_manager_a):
    alert = overdue_alert(data_manager_a.memberships.get().site)
    patient = alert.course.patient
    sign_in(page, "dora")

    open_page(page, "/admin/")
    open_page(page, "/admin/registry/patient/")
    open_page(page, f"/admin/registry/patient/{patient.pk}/change/")
    open_page(page, f"/admin/registry/patient/{patient.pk}/history/")  # simple-history's page
    open_page(page, f"/admin/registry/treatmentcourse/{alert.course_id}/change/")
    # The inline's "Add another" is the admin's own script (inlines.js).
    rows = page.locator("#infusions-group tbody tr.dynamic-infusions")
    before = rows.count()
    page.locator("#infusions-group .add-row a").click()
    expect(rows).to_have_count(before + 1)
    open_page(page, "/admin/registry/infusion/add/")  # autocomplete (select2) and the calendar
    page.locator(".select2-selection").first.click()
    expect(page.locator(".select2-results")).to_be_visible()


def test_the_api_docs_run_under_the_csp(page: Page, clinician_a):
    sign_in(page, "carl")
    open_page(page, "/api/docs/")
    # Swagger UI fetched the schema (generated on first use: slow) and drew the operations.
    expect(page.locator(".opblock").first).to_be_visible(timeout=90_000)
    expect(page.get_by_text("CRMO infliximab registry API").first).to_be_visible()


def _add_an_inline_style(browser, base_url: str) -> None:
    with tab(browser, base_url) as page:
        page.goto("/login/")
        page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body{}</style>')")
        page.wait_for_timeout(300)


def test_a_violation_is_caught(browser, live_server, clinician_a):
    """The watcher itself: an inline style added to a page is refused and reported."""
    with pytest.raises(AssertionError, match=CSP_VIOLATION):
        _add_an_inline_style(browser, live_server.url)
