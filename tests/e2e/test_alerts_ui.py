"""Acting on alerts in a real browser: from the patient page into its alert history, and the
worklist's counts after an action. With UPDATE_SCREENSHOTS=1 also the README's alert-history
image (the README's worklist image comes from the demo: tests/e2e/test_browser.py)."""

from __future__ import annotations

import os

from playwright.sync_api import Page, expect

from monitoring.models import Alert
from tests.clinic.support import make_alert, overdue_course
from tests.e2e.conftest import README_IMAGES, screenshot, sign_in


def test_a_nurse_acknowledges_and_a_clinician_dismisses_from_the_patient_page(
    page: Page, nurse_a, clinician_a
):
    course = overdue_course(nurse_a.memberships.get().site, family_name="Okafor", given_name="Zara")
    overdue = Alert.objects.get(course=course, rule="maintenance_dose_overdue")
    urgent = make_alert(course, severity="urgent", rule="antibodies_detected", title="Antibodies")
    sign_in(page, "nina")
    page.goto(f"/patients/{course.patient_id}/")
    page.evaluate("window.notReloaded = true")

    article = page.locator(f"#alert-detail-{urgent.pk}")
    expect(article).to_contain_text("Only a clinician of this site may dismiss an urgent alert.")
    expect(article.get_by_text("Dismiss…")).to_have_count(0)
    open_count = page.locator("#alerts-heading .count")
    before = int(open_count.inner_text())
    article.get_by_role("button", name="Acknowledge").click()
    expect(article.locator(".status")).to_have_text("Acknowledged")
    expect(article.locator(".by")).to_contain_text("by nina")
    history = page.locator("#alert-history")
    expect(history.locator(f"#alert-history-{urgent.pk}")).to_contain_text("Acknowledged by nina")
    assert page.evaluate("window.notReloaded") is True

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "carl")
    page.goto(f"/patients/{course.patient_id}/")
    article = page.locator(f"#alert-detail-{overdue.pk}")
    article.get_by_text("Dismiss…").click()
    article.get_by_label("Why does this alert not apply?").fill("Given at the satellite clinic")
    article.get_by_role("button", name="Dismiss", exact=True).click()
    expect(article.locator(".status")).to_have_text("Dismissed")
    expect(article).to_contain_text("by carl")
    expect(open_count).to_have_text(str(before - 1))

    entry = history.locator(f"#alert-history-{overdue.pk}")
    entry.locator("summary").first.click()
    expect(entry).to_contain_text("Raised by registry")
    expect(entry).to_contain_text("Dismissed by carl: Given at the satellite clinic")
    page.reload()  # what the server now shows: dismissed, out of the open alerts, in the history
    expect(page.locator(f"#alert-detail-{overdue.pk}")).to_have_count(0)
    expect(page.locator(f"#alert-history-{overdue.pk}")).to_contain_text("Dismissed")
    page.locator(f"#alert-history-{overdue.pk} summary").first.click()
    page.locator(f"#alert-history-{urgent.pk} summary").first.click()
    page.locator("#alert-history").scroll_into_view_if_needed()
    screenshot(page, "alert-history")
    if not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    README_IMAGES.mkdir(parents=True, exist_ok=True)
    page.locator("#alert-history").screenshot(
        path=README_IMAGES / "alert-history.png", animations="disabled"
    )


def test_the_worklist_counts_change_when_an_alert_is_acknowledged(page: Page, nurse_a):
    site = nurse_a.memberships.get().site
    first, second = (
        Alert.objects.get(course=overdue_course(site), rule="maintenance_dose_overdue")
        for _ in range(2)
    )
    sign_in(page, "nina")
    heading = page.locator("#section-warning")
    expect(heading.locator(".count-detail")).to_have_count(0)

    page.locator(f"#alert-{first.pk}").get_by_role("button", name="Acknowledge").click()

    expect(heading.locator(".count-detail")).to_have_text("3 open · 1 acknowledged")
    expect(page.locator(f"#alert-{first.pk} .by")).to_contain_text("by nina")
    row = page.locator(f"#alert-{second.pk}")
    row.get_by_text("Dismiss…").click()
    row.get_by_label("Why does this alert not apply?").fill("Given at the satellite clinic")
    row.get_by_role("button", name="Dismiss", exact=True).click()
    expect(heading.locator(".count")).to_have_text("3")
    expect(page.locator("#worklist-counts")).to_contain_text("3 warning")
    screenshot(page, "worklist-after-actions")
