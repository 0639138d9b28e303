"""The lab import in a real browser: a data manager downloads the template, uploads a file with
three new results, one already recorded and one error, reads the preview, fixes the file,
confirms, and sees what was added.

Data is committed (live server, transactional database); TODAY is 2026-11-24 (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from playwright.sync_api import Page, expect

from clinic.lab_import import EXAMPLE_CODE
from registry.models import LabResult
from tests.e2e.conftest import README_IMAGES, screenshot, sign_in
from tests.factories import PatientFactory


def test_a_data_manager_previews_fixes_and_imports_a_lab_file(
    page: Page, data_manager_a, site_a, site_b, tmp_path: Path
):
    zara = PatientFactory(
        site=site_a, registry_code="CRMO-000042", family_name="Okafor", given_name="Zara"
    )
    PatientFactory(site=site_a, registry_code="CRMO-000043", family_name="Lind", given_name="Ola")
    PatientFactory(site=site_b, registry_code="CRMO-000077", family_name="Southby")
    LabResult.objects.create(
        patient=zara, collected_on=dt.date(2026, 11, 20), analyte="esr", value="12", unit="mm/h"
    )
    sign_in(page, "dora")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lab import").click()
    expect(page.get_by_role("heading", name="Lab import", level=1)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the CSV template").click()
    template = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, example = template.splitlines()
    assert header.startswith("registry_code,analyte,collected_on,value,unit,reference_low")
    assert example.startswith(f"{EXAMPLE_CODE},crp,")

    def row(code: str, analyte: str, on: str, value: str, unit: str = "") -> str:
        cells = dict.fromkeys(header.split(","), "")
        cells |= {"registry_code": code, "analyte": analyte, "collected_on": on}
        cells |= {"value": value, "unit": unit}
        return ",".join(cells.values())

    good = [
        row("CRMO-000042", "crp", "2026-11-20", "3.2", "mg/L"),
        row("CRMO-000043", "crp", "2026-11-20", "41", "mg/L"),
        row("CRMO-000043", "ifx_trough", "2026-11-18", "0.8", "µg/mL"),
        row("CRMO-000042", "esr", "2026-11-20", "12", "mm/h"),  # already recorded
    ]
    wrong = row("CRMO-000077", "crp", "2026-11-20", "3")  # another site's patient
    with_error = tmp_path / "labs.csv"
    with_error.write_text("\n".join([header, *good, wrong]) + "\n", encoding="utf-8-sig")

    page.get_by_label("CSV file").set_input_files(with_error)
    page.get_by_role("button", name="Preview the import").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: labs.csv")
    expect(page.locator("#count-new")).to_have_text("3")
    expect(page.locator("#count-already")).to_have_text("1")
    expect(page.locator("#count-invalid")).to_have_text("1")
    expect(page.locator("#import-blocked")).to_contain_text("1 row has errors")
    expect(page.locator("#row-1")).to_contain_text("Okafor, Zara")
    expect(page.locator("#row-4")).to_contain_text("Already recorded")
    expect(page.locator("#row-5")).to_contain_text(
        "registry_code: Unknown patient: CRMO-000077 is none of your sites' patients."
    )
    expect(page.locator("#row-5")).not_to_contain_text("Southby")
    expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)
    screenshot(page, "lab-import-preview")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=README_IMAGES / "lab-import-preview.png", animations="disabled")

    # On a phone the preview's rows stack: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "lab-import-preview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    fixed = tmp_path / "labs-fixed.csv"
    fixed.write_text("\n".join([header, *good]) + "\n", encoding="utf-8")
    page.get_by_role("link", name="Upload another file").click()
    expect(page.get_by_role("heading", name="Upload a CSV file")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(fixed)
    page.get_by_role("button", name="Preview the import").click()
    expect(page.locator("#count-invalid")).to_have_text("0")
    page.get_by_role("button", name="Confirm import of 3 results").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Imported: labs-fixed.csv")
    expect(page.locator("#import-result")).to_have_text(
        "3 results added; 1 already recorded, not added again."
    )
    expect(page.locator("table.lab-import-done tbody tr")).to_have_count(2)
    screenshot(page, "lab-import-done")
    added = LabResult.history.filter(history_type="+", history_user=data_manager_a)
    assert added.count() == 3
    assert LabResult.objects.count() == 4

    page.goto("/lab-import/preview/")  # the file is imported: no preview waits any more
    expect(page.get_by_role("heading", name="Lab import", level=1)).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("No file is waiting to be imported")
