"""The body map in Chromium: an MRI's lesion sites recorded with the keyboard only (Tab to a bone,
Enter or Space; a spine segment asks for the level in its row), then found on the patient page's
map and in its list of the sites active now."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from registry.models import ImagingStudy
from tests.clinic.record_builders import followed_course
from tests.e2e.conftest import sign_in

TABS_MAX = 80  # more presses than the form has stops: a missing stop fails instead of looping


def tab_to(page: Page, matches: str, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until the focused element matches the CSS selector `matches`."""
    for _ in range(TABS_MAX):
        if page.evaluate("s => document.activeElement.matches(s)", matches):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"no focusable element matching {matches!r}")


def test_an_mris_sites_are_recorded_with_the_keyboard_and_shown_on_the_patient_page(
    page: Page, clinician_a
):
    course = followed_course(clinician_a.memberships.get().site, family_name="Okafor")
    sign_in(page, clinician_a.username)
    page.goto(f"/patients/{course.patient_id}/imaging/new/")
    page.keyboard.press("Tab")  # from the page's top, through the menu, to the form

    tab_to(page, "#id_modality")
    page.keyboard.type("Whole")  # the select's type-ahead: "Whole-body MRI"
    tab_to(page, '[aria-label="Left tibia"]')
    page.keyboard.press("Space")
    tibia = page.get_by_role("button", name="Left tibia")
    expect(tibia).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("status").filter(has_text="Left tibia")).to_have_text(
        "Left tibia: added to site row 1."
    )

    tab_to(page, '[aria-label="Thoracic vertebrae (T1–T12)"]')
    page.keyboard.press("Enter")
    expect(page.locator("#id_site_1_level")).to_be_focused()  # the segment asks for its level
    page.keyboard.type("T7")
    tab_to(page, "#id_site_1_state")
    page.keyboard.type("Active")
    tab_to(page, "#id_site_0_state", backwards=True)
    page.keyboard.type("New")
    expect(page.get_by_role("button", name="Thoracic vertebrae (T1–T12)")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_role("button", name="Right tibia")).to_have_attribute(
        "aria-pressed", "false"
    )

    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Imaging study recorded.")).to_be_visible()
    study = ImagingStudy.objects.get(patient=course.patient, lesion_counts="sites")
    assert (study.modality, study.active_lesions, study.new_lesions) == ("wb_mri", 2, 1)
    assert sorted(s.words for s in study.lesion_sites.all()) == ["Left tibia", "Vertebra T7"]
    active = page.locator("#active-sites")
    expect(active.locator("li").first).to_contain_text("Left tibia (new), Vertebra T7")
    picture = active.get_by_role("img", name="Body map of the lesion sites active now")
    expect(picture.locator("path.bone.on")).to_have_count(2)
    expect(picture.locator('path.on[data-key="tibia:left"]')).to_have_count(1)
    expect(picture.locator('path.on[data-key="vertebra:T"]')).to_have_count(1)


def test_choosing_a_bone_again_clears_its_row_and_the_map_follows_the_selects(
    page: Page, clinician_a
):
    course = followed_course(clinician_a.memberships.get().site, family_name="Okafor")
    sign_in(page, clinician_a.username)
    page.goto(f"/patients/{course.patient_id}/assessments/new/")

    clavicle = page.get_by_role("button", name="Right clavicle")
    clavicle.click()
    expect(page.locator("#id_site_0_bone")).to_have_value("clavicle")
    expect(page.locator("#id_site_0_laterality")).to_have_value("right")
    clavicle.click()
    expect(clavicle).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#id_site_0_bone")).to_have_value("")

    # A site chosen in a row's plain selects presses its bone on the map.
    page.locator("#group-site-2 summary").click()
    page.locator("#id_site_2_bone").select_option("femur")
    page.locator("#id_site_2_laterality").select_option("left")
    expect(page.get_by_role("button", name="Left femur")).to_have_attribute("aria-pressed", "true")
