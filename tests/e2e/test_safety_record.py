"""The safety record in Chromium: an adverse event recorded with its seriousness criteria shown
only once it is serious, and the timeline's lanes of adverse events, screening and vaccines."""

from __future__ import annotations

from playwright.sync_api import FloatRect, Page, expect

from registry import services
from tests.clinic.record_builders import followed_course
from tests.clinic.support import DAY, START
from tests.e2e.conftest import sign_in


def test_the_seriousness_criteria_apply_once_the_event_is_serious(page: Page, clinician_a):
    course = followed_course(clinician_a.memberships.get().site, family_name="Okafor")
    sign_in(page, clinician_a.username)
    page.goto(f"/patients/{course.patient_id}/adverse-events/new/")

    criteria = page.locator("#fieldset-seriousness")
    expect(criteria).to_be_hidden()
    page.get_by_label("Serious (ICH E2A)").check()
    expect(criteria).to_be_visible()

    page.get_by_label("Onset on").fill((START + 30 * DAY).isoformat())
    page.get_by_label("Term").select_option("sepsis")
    page.get_by_label("CTCAE grade").select_option("4")
    page.get_by_label("It is life-threatening").check()
    page.get_by_label("Relation to infliximab").select_option("possibly_related")
    page.get_by_label("Action taken with infliximab").select_option("treatment_interrupted")
    page.get_by_label("Outcome").select_option("recovering")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Adverse event recorded.")).to_be_visible()
    events = page.get_by_role("region", name="Table of adverse events")
    expect(events).to_contain_text("serious: it is life-threatening")
    expect(events).to_contain_text("awaiting a clinician's review")


def test_the_timeline_draws_adverse_events_screening_and_vaccines(page: Page, clinician_a):
    course = followed_course(clinician_a.memberships.get().site, family_name="Okafor")
    patient = course.patient
    services.screening_result_record(
        patient=patient, test="tb_igra", tested_on=START - 20 * DAY, result="positive",
        by=clinician_a,
    )  # fmt: skip
    services.vaccination_record(
        patient=patient, vaccine="varicella", given_on=START + 50 * DAY, by=clinician_a
    )
    sign_in(page, clinician_a.username)
    page.goto(f"/patients/{patient.pk}/")
    page.wait_for_function("window.registryTimeline !== undefined")

    points = page.evaluate(
        "Object.fromEntries(window.registryTimeline.data.datasets"
        ".map(d => [d.label, d.data.length]))"
    )
    assert (points["Screening"], points["Vaccination"], points["Adverse event"]) == (1, 1, 0)
    lanes = page.evaluate(
        "window.registryTimeline.scales.dose.ticks.filter(t => t.value < 0).map(t => t.label)"
    )
    assert {"Adverse events", "Screening · vaccines"} <= set(lanes)


def test_a_select_with_long_choices_stays_in_its_column(page: Page, clinician_a):
    """The adverse-event terms are long: the term's select keeps to its column on a desktop
    screen, not over the grade beside it (a grid item shrinks only with min-width 0)."""
    course = followed_course(clinician_a.memberships.get().site, family_name="Okafor")
    page.set_viewport_size({"width": 1300, "height": 1000})
    sign_in(page, clinician_a.username)
    page.goto(f"/patients/{course.patient_id}/adverse-events/new/")

    def box_of(label: str) -> FloatRect:
        box = page.get_by_label(label).bounding_box()
        assert box is not None, label
        return box

    onset, term, grade = (box_of(label) for label in ("Onset on", "Term", "CTCAE grade"))
    assert onset["y"] == term["y"] == grade["y"]  # one row of three columns
    assert term["x"] + term["width"] <= grade["x"]
    form = page.locator("form.entry-form").bounding_box()
    assert form is not None
    for label in ("Term", "CTCAE grade", "Outcome", "Course"):
        box = box_of(label)
        assert box["x"] + box["width"] <= form["x"] + form["width"], label
