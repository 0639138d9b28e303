"""The data manager's access log in the browser: a clinician opens a patient's page; the data
manager follows "Who accessed this record" from that page, sees the clinician's read, narrows it
to the person, and downloads the CSV of what is shown."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.support import tab
from tests.e2e.test_browser import overdue_alert


def test_a_data_manager_sees_who_opened_a_patient_and_downloads_it(
    page: Page, browser: Browser, live_server, clinician_a, data_manager_a
):
    patient = overdue_alert(clinician_a.memberships.get().site).course.patient
    with tab(browser, live_server.url) as clinician_page:
        sign_in(clinician_page, "carl")
        clinician_page.goto(f"/patients/{patient.pk}/")
        expect(clinician_page.get_by_role("heading", level=1)).to_contain_text(
            patient.registry_code
        )

    sign_in(page, "dora")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Who accessed this record").click()
    expect(page.get_by_role("heading", name="Access log", level=1)).to_be_visible()
    expect(page.get_by_label("Patient (registry code)")).to_have_value(patient.registry_code)
    rows = page.get_by_role("region", name="Access log").locator("tbody tr")
    carls = rows.filter(has_text="carl").filter(has_text=f"/patients/{patient.pk}/")
    expect(carls.first).to_contain_text(patient.registry_code)
    expect(carls.first).to_contain_text("Page")

    # The person's name narrows the log to them (the patient filter stays).
    carls.first.get_by_role("link", name="carl").click()
    expect(page.get_by_label("Person (username)")).to_have_value("carl")
    assert rows.filter(has_text="dora").count() == 0
    assert rows.count() >= 1

    screenshot(page, "access-log")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    table = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    body = table[1:]
    assert len(body) == rows.count()
    assert all("carl" in row for row in body)
    assert any(patient.registry_code in ";".join(row) for row in body)
