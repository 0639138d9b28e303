"""How the data-entry forms read: one message per error, plurals, groups and fields that apply,
the confirmation pages of a stop and of a relapse with its retreatment, the reaction review."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from registry.models import Relapse, TreatmentCourse
from tests.clinic.support import DAY, between, form_values, refused
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
)

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()


# --- One message per error -----------------------------------------------------------------------


def test_an_empty_symptoms_field_gives_one_message(client, nurse_a, course_a):
    client.force_login(nurse_a)
    infusion = course_a.infusions.last()
    data = {"infusion": str(infusion.pk), "onset": "acute", "severity": "mild", "symptoms": "",
            "outcome": "resolved"}  # fmt: skip

    response = client.post(reverse("clinic:record_reaction", args=[course_a.pk]), data)

    refused(response, "symptoms", "This field is required.")
    # Not also the model's "Describe the symptoms.": the form had already refused the field.
    assert response.context["form"].errors == {"symptoms": ["This field is required."]}
    assert response.text.count("This field is required.") == 2  # under the field, in the summary


def test_a_blank_only_symptoms_field_still_gets_the_models_message(client, nurse_a, course_a):
    client.force_login(nurse_a)
    infusion = course_a.infusions.last()
    data = {"infusion": str(infusion.pk), "onset": "acute", "severity": "mild", "symptoms": "   ",
            "outcome": "resolved"}  # fmt: skip
    response = client.post(reverse("clinic:record_reaction", args=[course_a.pk]), data)
    assert response.context["form"].errors["symptoms"] == ["This field is required."]


# --- Plurals -------------------------------------------------------------------------------------


def test_one_vial_is_one_vial(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 20 * DAY)
    InfusionFactory(course=course, given_on=course.started_on, weight_kg=Decimal("20"),
                    dose_mg=Decimal("100"), weight_measured_on=course.started_on)  # fmt: skip
    client.force_login(nurse_a)

    page = client.get(reverse("clinic:record_infusion", args=[course.pk])).text

    assert '<strong id="suggested-dose">100 mg</strong> (1 × 100 mg vial).' in page


def test_an_interval_of_one_week_is_one_week(client, clinician_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 60 * DAY)
    RegimenChangeFactory(course=course, effective_on=TODAY - 10 * DAY, reason="intensification",
                         dose_mg_per_kg=Decimal("5"), interval_weeks=1)  # fmt: skip
    client.force_login(clinician_a)
    page = client.get(reverse("clinic:change_regimen", args=[course.pk])).text
    assert "In force: <strong>5.00 mg/kg every 1 week</strong>" in page


# --- Groups and fields that apply ----------------------------------------------------------------


def test_the_premedication_is_one_group_with_a_legend(client, nurse_a, course_a):
    client.force_login(nurse_a)
    page = client.get(reverse("clinic:record_infusion", args=[course_a.pk])).text
    group = between(page, '<fieldset class="group" id="fieldset-premedication">', "</fieldset>")
    assert "<legend>Premedication given before this infusion</legend>" in group
    for name in ("antihistamine", "corticosteroid", "antipyretic"):
        assert f'name="premedication_{name}"' in group
    assert page.count('name="premedication_') == 3  # nowhere else on the form


def test_the_regimen_form_explains_the_reason_chosen(client, clinician_a, course_a):
    client.force_login(clinician_a)
    page = client.get(reverse("clinic:change_regimen", args=[course_a.pk])).text
    assert '<p class="help" data-shown-if="reason" data-shown-values="intensification">' in page
    assert "only up to 20 mg/kg" in page


def test_the_retreatment_regimen_applies_only_with_a_retreatment_date(
    client, clinician_a, stopped_course
):
    client.force_login(clinician_a)
    page = client.get(relapse_url(stopped_course)).text
    assert ('<fieldset class="group" id="fieldset-retreatment_regimen" '
            'data-shown-if="retreatment_starts_on">') in page  # fmt: skip


# --- Stopping a course ---------------------------------------------------------------------------


def stop_url(course) -> str:
    return reverse("clinic:stop_course", args=[course.pk])


STOP = {"stopped_on": ISO_TODAY, "reason": "patient_choice", "note": "The family prefers a pause."}


def test_stopping_asks_for_a_confirmation_that_says_what_it_does(client, clinician_a, course_a):
    client.force_login(clinician_a)

    preview = client.post(stop_url(course_a), STOP)

    assert preview.status_code == 200
    summary = between(preview.text, '<dl class="summary" id="stop-summary">', "</dl>")
    assert "<dd>from 04 Aug 2026, last infusion 15 Sep 2026</dd>" in summary
    assert "<dt>Reason</dt><dd>Patient or family choice</dd>" in summary
    assert "The family prefers a pause." in summary
    assert "watches for a relapse for 730 days after the stop" in preview.text
    assert (
        '<button type="submit" class="primary" name="confirm" value="1">Stop the course</button>'
        in preview.text
    )
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.notes, course_a.history.count()) == (None, "", 1)


def test_change_goes_back_to_the_form_as_it_was_filled_in(client, clinician_a, course_a):
    client.force_login(clinician_a)

    back = client.post(stop_url(course_a), STOP | {"change": "1"})

    assert back.status_code == 200
    assert form_values(back.text) == STOP
    assert "error-summary" not in back.text
    course_a.refresh_from_db()
    assert course_a.stopped_on is None


def test_the_confirmation_saves_the_stop_with_its_note(client, clinician_a, course_a):
    client.force_login(clinician_a)
    client.post(stop_url(course_a), STOP | {"confirm": "1"})
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason) == (TODAY, "patient_choice")
    assert course_a.notes == "Stopped on 24 Nov 2026: The family prefers a pause."
    assert course_a.history.first().history_user == clinician_a


# --- Reaction review -----------------------------------------------------------------------------


def test_the_review_shows_the_reaction_and_what_stopping_infliximab_does(
    client, clinician_a, course_a
):
    reaction = ReactionFactory(infusion=course_a.infusions.last(), severity="severe",
                               symptoms="Wheeze and stridor", management="Adrenaline")  # fmt: skip
    client.force_login(clinician_a)

    page = client.get(reverse("clinic:review_reaction", args=[reaction.pk])).text

    shown = between(page, '<dl class="summary" id="reaction-under-review">', "</dl>")
    assert "<dt>Symptoms</dt><dd>Wheeze and stridor</dd>" in shown
    assert "<dt>Management</dt><dd>Adrenaline</dd>" in shown
    stop = between(page, '<div class="banner warning" id="stop-explanation"', "</div>")
    assert 'data-shown-if="decision" data-shown-values="stop"' in stop
    assert "stops the course from 04 Aug 2026 on the review date (reason: adverse event" in stop
    assert "no further infusion can be recorded for this patient" in stop


# --- Relapse and retreatment ---------------------------------------------------------------------


@pytest.fixture
def stopped_course(site_a) -> TreatmentCourse:
    course = CourseFactory(patient=PatientFactory(site=site_a), stopped_on=dt.date(2026, 2, 1),
                           stop_reason="remission")  # fmt: skip
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=course.started_on + offset * DAY)
    return course


def relapse_url(course) -> str:
    return reverse("clinic:record_relapse", args=[course.pk])


RETREAT = {"noted_on": ISO_TODAY, "evidence": "New tibial lesion on whole-body MRI",
           "retreatment_starts_on": ISO_TODAY}  # fmt: skip


def test_the_retreatment_preview_shows_what_it_will_create_and_saves_nothing(
    client, clinician_a, stopped_course
):
    client.force_login(clinician_a)

    preview = client.post(relapse_url(stopped_course), RETREAT)

    assert preview.status_code == 200
    relapse = between(preview.text, '<dl class="summary" id="relapse-summary">', "</dl>")
    assert "the course from 06 Jan 2025 (stopped 01 Feb 2026, remission)" in relapse
    course = between(preview.text, '<dl class="summary" id="retreatment-summary">', "</dl>")
    assert "<dt>Starts on</dt><dd><strong>24 Nov 2026</strong></dd>" in course
    assert "5 mg/kg: 200 mg at 40 kg (2 × 100 mg vials), weighed 17 Feb 2025" in course
    assert "<dt>Then</dt><dd>every 8 weeks</dd>" in course
    doses = between(preview.text, '<table class="schedule" id="retreatment-doses">', "</table>")
    assert [
        day in doses for day in ("24 Nov 2026", "08 Dec 2026", "05 Jan 2027", "02 Mar 2027")
    ] == [True] * 4
    carried = between(preview.text, '<ul id="carried-over">', "</ul>")
    assert "No anti-infliximab antibody result on record" in carried
    assert "No infusion reaction on record." in preview.text
    assert not Relapse.objects.exists()
    assert TreatmentCourse.objects.get() == stopped_course


def test_the_retreatment_preview_says_the_antibodies_and_reactions_carry_over(
    client, clinician_a, stopped_course
):
    patient = stopped_course.patient
    LabResultFactory(patient=patient, analyte="anti_ifx", value=Decimal("48"), unit="AU/mL",
                     antibodies_positive=True, assay_name="ELISA",
                     collected_on=dt.date(2026, 1, 20))  # fmt: skip
    ReactionFactory(infusion=stopped_course.infusions.last(), severity="moderate", onset="delayed")
    client.force_login(clinician_a)

    preview = client.post(relapse_url(stopped_course), RETREAT).text

    assert ("<strong>Anti-infliximab antibodies were detected</strong> on 20 Jan 2026 "
            "(titre 48 AU/mL), ELISA") in preview  # fmt: skip
    assert "Moderate delayed (1–14 days) reaction to the infusion of 17 Feb 2025" in preview
    alerts = between(preview, '<ul id="retreatment-alerts">', "</ul>")
    # The engine's own findings for the new course, today.
    for severity, title in [
        ("urgent", "Anti-infliximab antibodies detected"),
        ("warning", "Premedicate: reaction at an earlier infusion"),
        ("warning", "Re-exposure after a drug-free interval: check trough and antibodies"),
    ]:
        assert f'<span class="severity-badge {severity}">{severity}</span> {title}</li>' in alerts
    assert not Relapse.objects.exists()


def test_the_confirmed_retreatment_starts_the_course_previewed(client, clinician_a, stopped_course):
    client.force_login(clinician_a)
    data = RETREAT | {"planned_dose_mg_per_kg": "7.5", "maintenance_interval_weeks": "6"}
    preview = client.post(relapse_url(stopped_course), data)
    assert "<dt>Then</dt><dd>every 6 weeks</dd>" in preview.text

    client.post(relapse_url(stopped_course), data | {"confirm": "1"})

    course = Relapse.objects.get().retreatment_course
    assert (course.started_on, course.planned_dose_mg_per_kg) == (TODAY, Decimal("7.5"))
    assert course.maintenance_interval_weeks == 6


def test_a_refused_retreatment_is_shown_on_the_form_not_previewed(
    client, clinician_a, stopped_course
):
    client.force_login(clinician_a)
    response = client.post(
        relapse_url(stopped_course), RETREAT | {"retreatment_starts_on": "2026-11-20"}
    )
    refused(response, "__all__", "The retreatment course starts before the relapse was noted.")
