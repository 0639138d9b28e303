"""Data entry through the clinic's forms: a valid POST saves through the service as the signed-in
person, asks for the patient's re-evaluation once it commits and goes back to their page; a refused
one returns 400 with the field's message, saves nothing and comes back filled in as it was sent.

The re-evaluation runs after the commit (`post_committed`, tests/clinic/conftest.py), never inside
the view: a test of an alert raised or cleared by a save lets the save commit first."""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    InfusionReaction,
    LabResult,
    LabUnit,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from tests.clinic.support import (
    DAY,
    START,
    between,
    field_tag,
    form_values,
    messages_of,
    ms,
    refused,
)
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
)

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()
TOMORROW = (TODAY + DAY).isoformat()


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def saved(response, patient, message: str) -> None:
    """Redirected to the patient's page, which says what was recorded."""
    assert response.redirect_chain == [(patient_url(patient), 302)], response.content[:2000]
    assert response.status_code == 200
    assert messages_of(response) == [message]
    assert f'<li class="message success">{message}</li>' in response.text


def filled_in(response, data: dict[str, Any]) -> None:
    """The form comes back with every value as it was sent."""
    shown = form_values(response.text)
    expected = {name: True if value == "on" else value for name, value in data.items()}
    assert {name: shown.get(name) for name in data} == expected


def overdue_alert_of(course) -> Alert:
    return Alert.objects.get(course=course, rule="maintenance_dose_overdue")


# --- Infusion -------------------------------------------------------------------------------------


def infusion_url(course) -> str:
    return reverse("clinic:record_infusion", args=[course.pk])


INFUSION = {
    "given_on": ISO_TODAY,
    "weight_kg": "41",
    "weight_measured_on": ISO_TODAY,
    "dose_mg": "205",
    "duration_minutes": "120",
    "premedication_antihistamine": "on",
    "lot_number": "LOT-9",
    "notes": "Uneventful",
}


def test_it_records_the_due_infusion_and_resolves_the_overdue_alert_once_it_commits(
    client, post_committed, nurse_a, course_a
):
    alert = overdue_alert_of(course_a)
    assert alert.status == "open"
    client.force_login(nurse_a)

    response = post_committed(infusion_url(course_a), INFUSION)

    saved(response, course_a.patient, "Infusion recorded.")
    infusion = course_a.infusions.get(given_on=TODAY)
    assert (infusion.weight_kg, infusion.dose_mg, infusion.duration_minutes) == (
        Decimal("41"), Decimal("205"), 120,
    )  # fmt: skip
    assert (infusion.weight_measured_on, infusion.weight_confirmed) == (TODAY, False)
    assert (infusion.premedication_antihistamine, infusion.premedication_corticosteroid) == (
        True, False,
    )  # fmt: skip
    assert (infusion.lot_number, infusion.notes) == ("LOT-9", "Uneventful")
    assert infusion.history.get().history_user == nurse_a
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert alert.events.last().actor == nurse_a  # the re-evaluation her save asked for
    assert alert not in response.context["alerts"]


def test_it_leaves_the_alerts_as_they_were_until_the_save_commits(client, nurse_a, course_a):
    client.force_login(nurse_a)

    response = client.post(infusion_url(course_a), INFUSION, follow=True)

    saved(response, course_a.patient, "Infusion recorded.")
    assert course_a.infusions.filter(given_on=TODAY).exists()
    assert overdue_alert_of(course_a).status == "open"  # the view evaluates nothing itself


def test_it_suggests_todays_date_and_the_dose_for_the_last_weight(client, nurse_a, course_a):
    client.force_login(nurse_a)

    page = client.get(infusion_url(course_a))

    assert page.status_code == 200
    values = form_values(page.text)
    assert (values["given_on"], values["weight_kg"], values["dose_mg"]) == (
        ISO_TODAY, "40.00", "200",
    )  # fmt: skip
    # The weight carried over from the last infusion keeps the day it was measured.
    assert values["weight_measured_on"] == "2026-09-15"
    assert values["weight_confirmed"] is False
    assert values["duration_minutes"] == "120"  # the guideline's minimum infusion time
    assert (
        "Suggested: 5 mg/kg × 40.00 kg (weighed 15 Sep 2026) = "
        '<strong id="suggested-dose">200 mg</strong> (2 × 100 mg vials).'
    ) in page.text
    assert "dose 4 due 10 Nov 2026" in page.text
    assert 'id="premedication-banner"' not in page.text


def test_it_suggests_the_dose_of_the_regimen_in_force_and_the_weight_when_it_was_measured(
    client, nurse_a, site_a
):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    InfusionFactory(course=course, given_on=START)
    InfusionFactory(course=course, given_on=START + 14 * DAY, weight_kg=Decimal("42"),
                    dose_mg=Decimal("315"), weight_measured_on=START + 10 * DAY)  # fmt: skip
    RegimenChangeFactory(course=course, effective_on=START + 12 * DAY, reason="intensification",
                         dose_mg_per_kg=Decimal("7.5"), interval_weeks=8)  # fmt: skip
    client.force_login(nurse_a)

    page = client.get(infusion_url(course))

    values = form_values(page.text)
    assert (values["weight_kg"], values["dose_mg"]) == ("42.00", "315")
    assert values["weight_measured_on"] == "2026-08-14"  # not the day of that infusion, nor today
    assert (
        "Suggested: 7.50 mg/kg × 42.00 kg (weighed 14 Aug 2026) = "
        '<strong id="suggested-dose">315 mg</strong> (4 × 100 mg vials).'
    ) in page.text
    assert 'data-mg-per-kg="7.50"' in page.text


def test_it_suggests_no_dose_for_a_course_without_an_infusion(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY)
    client.force_login(nurse_a)
    page = client.get(infusion_url(course))
    assert "Suggested:" not in page.text
    values = form_values(page.text)
    assert (values["given_on"], values["weight_kg"], values["dose_mg"]) == (ISO_TODAY, "", "")
    assert values["weight_measured_on"] == ISO_TODAY  # a weight to take today
    assert "dose 1 due 24 Nov 2026" in page.text


def test_it_asks_for_premedication_after_a_reaction_at_the_last_infusion(client, nurse_a, course_a):
    ReactionFactory(infusion=course_a.infusions.last(), severity="moderate")
    client.force_login(nurse_a)

    page = client.get(infusion_url(course_a)).text

    assert '<div class="banner warning" role="alert" id="premedication-banner">' in page
    assert "the last infusion (15 Sep 2026) had a moderate reaction" in page


def test_it_asks_for_no_premedication_after_a_reaction_at_an_earlier_infusion(
    client, nurse_a, course_a
):
    ReactionFactory(infusion=course_a.infusions.first())
    client.force_login(nurse_a)
    assert 'id="premedication-banner"' not in client.get(infusion_url(course_a)).text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"weight_kg": "500"}, "weight_kg",
         "A weight of 500 kg is outside 0.5–250 kg; check the unit (kg, not lb or g)."),
        ({"given_on": TOMORROW}, "given_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"given_on": "2026-09-15"}, "given_on",
         "This course already has an infusion on 15 Sep 2026."),
        ({"given_on": "2026-08-01"}, "given_on",
         "The course started on 04 Aug 2026; an infusion cannot come before it."),
        ({"dose_mg": "500"}, "dose_mg",
         "500 mg for 41 kg is 12.20 mg/kg, above the 10 mg/kg cap, and no intensification is in "
         "force. A dose above the cap needs a clinician's intensification (a regimen change) that "
         "prescribes it."),
        ({"weight_measured_on": TOMORROW}, "weight_measured_on",
         "The weight must be measured before the infusion."),
        ({"weight_measured_on": ""}, "weight_measured_on", "This field is required."),
        ({"weight_kg": "30"}, "weight_kg",
         "30 kg is 25 % away from 40 kg measured on 15 Sep 2026 (more than 15 %). Check the "
         "weight and its unit; if it is right, confirm it."),
        ({"dose_mg": ""}, "dose_mg", "This field is required."),
    ],
)  # fmt: skip
def test_it_refuses_an_impossible_infusion_and_keeps_what_was_typed(
    client, nurse_a, course_a, changes, field, message
):
    client.force_login(nurse_a)
    data = INFUSION | changes

    response = client.post(infusion_url(course_a), data)

    refused(response, field, message)
    filled_in(response, data)
    assert course_a.infusions.count() == 3
    assert overdue_alert_of(course_a).status == "open"


def test_it_keeps_the_dose_helper_on_a_refused_infusion(client, nurse_a, course_a):
    client.force_login(nurse_a)
    response = client.post(infusion_url(course_a), INFUSION | {"weight_kg": "500"})
    assert 'id="dose-helper"' in response.text
    assert '<strong id="suggested-dose">200 mg</strong>' in response.text


# --- Lab panel ------------------------------------------------------------------------------------


def lab_url(patient) -> str:
    return reverse("clinic:record_lab", args=[patient.pk])


LAB = {"collected_on": ISO_TODAY, "crp_value": "12.5", "crp_reference_high": "5"}
PANEL = LAB | {
    "esr_value": "30",
    "esr_reference_high": "20",
    "ifx_trough_value": "1.2",
    "anti_ifx_antibodies_positive": "detected",
    "anti_ifx_value": "48",
    "anti_ifx_unit": "AU/mL",
    "anti_ifx_assay_name": "ELISA (drug-sensitive)",
}


def test_it_records_a_lab_result(client, nurse_a, course_a):
    patient = course_a.patient
    client.force_login(nurse_a)

    response = client.post(lab_url(patient), LAB, follow=True)

    saved(response, patient, "Recorded: CRP (mg/L).")
    lab = patient.lab_results.get()
    assert (lab.collected_on, lab.analyte, lab.value, lab.unit) == (
        TODAY, "crp", Decimal("12.5"), "mg/L",
    )  # fmt: skip
    assert lab.reference_high == Decimal("5")
    assert lab.history.get().history_user == nurse_a
    assert response.context["timeline"].chart["crp"][-1]["y"] == 12.5


def test_it_records_the_results_of_one_draw_in_one_save(client, post_committed, nurse_a, course_a):
    patient = course_a.patient
    client.force_login(nurse_a)

    response = post_committed(lab_url(patient), PANEL)

    saved(
        response, patient, "Recorded: CRP (mg/L), ESR (mm/h), Infliximab trough level (µg/mL), "
        "Anti-infliximab antibodies.",
    )  # fmt: skip
    stored = {
        lab.analyte: (lab.collected_on, lab.value, lab.unit, lab.reference_high)
        for lab in patient.lab_results.all()
    }
    assert stored == {
        "crp": (TODAY, Decimal("12.5"), "mg/L", Decimal("5")),
        "esr": (TODAY, Decimal("30"), "mm/h", Decimal("20")),
        "ifx_trough": (TODAY, Decimal("1.2"), "µg/mL", None),
        "anti_ifx": (TODAY, Decimal("48"), "AU/mL", None),
    }
    antibodies = patient.lab_results.get(analyte="anti_ifx")
    assert (antibodies.antibodies_positive, antibodies.assay_name) == (
        True,
        "ELISA (drug-sensitive)",
    )
    # One save, one re-evaluation: the antibody alert is raised once.
    assert Alert.objects.filter(course=course_a, rule="antibodies_detected").count() == 1


def test_it_records_another_test_by_its_name(client, nurse_a, course_a):
    patient = course_a.patient
    client.force_login(nurse_a)
    other = {"collected_on": ISO_TODAY, "other_analyte_name": "Ferritin", "other_value": "80",
             "other_unit": "µg/L"}  # fmt: skip

    response = client.post(lab_url(patient), other, follow=True)

    saved(response, patient, "Recorded: Ferritin.")
    lab = patient.lab_results.get()
    assert (lab.analyte, lab.analyte_name, lab.value, lab.unit) == (
        "other", "Ferritin", Decimal("80"), "µg/L",
    )  # fmt: skip


def test_it_shows_the_lab_panel_with_todays_date_and_nothing_tested(client, nurse_a, course_a):
    client.force_login(nurse_a)
    page = client.get(lab_url(course_a.patient))
    assert page.status_code == 200
    values = form_values(page.text)
    assert values["collected_on"] == ISO_TODAY
    assert values["anti_ifx_antibodies_positive"] == ""
    assert '<option value="" selected>— not tested —</option>' in page.text
    for legend in ("CRP (mg/L)", "ESR (mm/h)", "Infliximab trough level (µg/mL)",
                   "Anti-infliximab antibodies"):  # fmt: skip
        assert f"<legend>{legend}</legend>" in page.text


def test_the_units_of_antibodies_and_other_tests_are_lists_of_their_units(
    client, nurse_a, course_a
):
    client.force_login(nurse_a)
    page = client.get(lab_url(course_a.patient)).text
    antibodies = between(page, 'name="anti_ifx_unit"', "</select>")
    options = re.findall(r'<option value="([^"]*)"', antibodies)
    assert options == ["", "AU/mL", "ng/mL", "µg/mL", "U/mL", "titre"]
    other = re.findall(r'<option value="([^"]*)"', between(page, 'name="other_unit"', "</select>"))
    assert other == ["", *LabUnit.values]


def test_a_unit_typed_freely_is_refused(client, nurse_a, course_a):
    client.force_login(nurse_a)

    response = client.post(lab_url(course_a.patient), PANEL | {"anti_ifx_unit": "Quillfeather"})

    refused(
        response,
        "anti_ifx_unit",
        "Select a valid choice. Quillfeather is not one of the available choices.",
    )
    assert not LabResult.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"crp_value": "-1"}, "crp_value", "CRP (mg/L) cannot be negative."),
        ({"esr_value": "250"}, "esr_value",
         "250 mm/h is above the physical maximum of 200 mm/h; check the value and its unit."),
        ({"collected_on": TOMORROW}, "collected_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"collected_on": "2012-01-01"}, "collected_on",
         "01 Jan 2012 is before the patient's date of birth."),
        ({"anti_ifx_antibodies_positive": "", "anti_ifx_value": "48"},
         "anti_ifx_antibodies_positive", "Record whether antibodies were detected."),
        ({"crp_reference_low": "10"}, "crp_reference_high",
         "The upper limit is below the lower limit."),
        ({"ifx_trough_value": "", "ifx_trough_reference_low": "3"}, "ifx_trough_value",
         "Enter the Infliximab trough level (µg/mL) value."),
        ({"other_value": "3"}, "other_analyte_name", "Name the test."),
        ({"collected_on": ""}, "collected_on", "This field is required."),
    ],
)  # fmt: skip
def test_it_refuses_the_whole_panel_when_one_value_is_refused_and_keeps_what_was_typed(
    client, nurse_a, course_a, changes, field, message
):
    client.force_login(nurse_a)
    data = PANEL | changes

    response = client.post(lab_url(course_a.patient), data)

    refused(response, field, message)
    filled_in(response, data)
    assert not LabResult.objects.exists()  # the valid values of the draw are not saved either
    assert response.context["form"].errors[field] == [message]  # one message, once


def test_it_refuses_a_result_already_recorded_and_saves_none_of_the_draw(client, nurse_a, course_a):
    patient = course_a.patient
    client.force_login(nurse_a)
    client.post(lab_url(patient), LAB)

    response = client.post(lab_url(patient), PANEL)

    refused(
        response, "crp_value", "This result is already recorded (CRP (mg/L) on 24 Nov 2026, 12.5)."
    )
    assert list(patient.lab_results.values_list("analyte", flat=True)) == ["crp"]


def test_it_shows_every_refused_value_of_the_panel_at_once_and_focuses_the_first(
    client, nurse_a, course_a
):
    client.force_login(nurse_a)

    response = client.post(
        lab_url(course_a.patient), PANEL | {"crp_value": "-1", "esr_value": "250"}
    )

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"crp_value", "esr_value"}
    summary = between(response.text, '<div class="error-summary" role="alert"', "</div>")
    assert "Nothing was saved: 2 problems to correct" in summary
    assert summary.index('href="#id_crp_value"') < summary.index('href="#id_esr_value"')
    # The first field in error takes the focus when the page loads, and says why it is invalid.
    crp = field_tag(response.text, "crp_value")
    assert "autofocus" in crp
    assert 'aria-invalid="true"' in crp
    assert 'aria-describedby="id_crp_value_error"' in crp
    assert "autofocus" not in field_tag(response.text, "esr_value")
    assert 'aria-invalid="true"' in field_tag(response.text, "esr_value")


def test_it_refuses_an_empty_panel(client, nurse_a, course_a):
    client.force_login(nurse_a)
    response = client.post(lab_url(course_a.patient), {"collected_on": ISO_TODAY})
    refused(response, "__all__", "Enter at least one result of this draw.")
    # No field to go to: the summary itself takes the focus.
    assert (
        '<div class="error-summary" role="alert" id="error-summary" tabindex="-1" autofocus>'
        in response.text
    )


def test_it_shows_the_antibody_details_only_for_a_result_and_another_test_folded(
    client, nurse_a, course_a
):
    client.force_login(nurse_a)
    page = client.get(lab_url(course_a.patient)).text
    # The script hides and disables the titre and assay until a result is chosen; without it,
    # they show.
    assert ('<fieldset class="group" id="fieldset-anti_ifx_details" '
            'data-shown-if="anti_ifx_antibodies_positive">') in page  # fmt: skip
    assert '<details class="group-details" id="group-other"><summary>Another test</summary>' in page
    after_a_refusal = client.post(
        lab_url(course_a.patient), {"collected_on": ISO_TODAY, "other_value": "3"}
    )
    assert '<details class="group-details" id="group-other" open>' in after_a_refusal.text


# --- Imaging --------------------------------------------------------------------------------------


def imaging_url(patient) -> str:
    return reverse("clinic:record_imaging", args=[patient.pk])


IMAGING = {
    "performed_on": ISO_TODAY,
    "modality": "wb_mri",
    "active_lesions": "2",
    "new_lesions": "0",
    "impression": "improved",
    "report_text": "Fewer lesions; no new one.",
}


def test_it_records_an_imaging_study(client, clinician_a, course_a):
    patient = course_a.patient
    client.force_login(clinician_a)

    response = client.post(imaging_url(patient), IMAGING, follow=True)

    saved(response, patient, "Imaging study recorded.")
    study = patient.imaging_studies.get()
    assert (study.performed_on, study.modality, study.active_lesions, study.new_lesions) == (
        TODAY, "wb_mri", 2, 0,
    )  # fmt: skip
    assert (study.impression, study.report_text) == ("improved", "Fewer lesions; no new one.")
    assert study.history.get().history_user == clinician_a
    assert response.context["timeline"].chart["mri"] == [
        {"x": ms(TODAY), "y": 2, "new": 0, "modality": "Whole-body MRI"}
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"performed_on": TOMORROW}, "performed_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"modality": "pet"}, "modality",
         "Select a valid choice. pet is not one of the available choices."),
        ({"active_lesions": "-1"}, "active_lesions",
         "Ensure this value is greater than or equal to 0."),
    ],
)  # fmt: skip
def test_it_refuses_an_impossible_imaging_study_and_keeps_what_was_typed(
    client, clinician_a, course_a, changes, field, message
):
    client.force_login(clinician_a)
    data = IMAGING | changes

    response = client.post(imaging_url(course_a.patient), data)

    refused(response, field, message)
    filled_in(response, {k: v for k, v in data.items() if k != "modality"})
    assert not ImagingStudy.objects.exists()


# --- Clinical assessment --------------------------------------------------------------------------


def assessment_url(patient) -> str:
    return reverse("clinic:record_assessment", args=[patient.pk])


ASSESSMENT = {
    "assessed_on": ISO_TODAY,
    "pain_score": "1",
    "physician_global": "1.5",
    "patient_global": "2",
    "chaq": "0.25",
    "clinically_active_lesions": "0",
    "disease_state": "inactive",
    "notes": "Running again.",
}


def test_it_records_a_clinical_assessment(client, data_manager_a, course_a):
    patient = course_a.patient
    client.force_login(data_manager_a)

    response = client.post(assessment_url(patient), ASSESSMENT, follow=True)

    saved(response, patient, "Assessment recorded.")
    assessment = patient.assessments.get()
    assert (assessment.assessed_on, assessment.physician_global, assessment.chaq) == (
        TODAY, Decimal("1.5"), Decimal("0.25"),
    )  # fmt: skip
    assert (assessment.disease_state, assessment.notes) == ("inactive", "Running again.")
    assert assessment.history.get().history_user == data_manager_a
    assert response.context["timeline"].chart["assessments"][-1]["state"] == "inactive"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pain_score": "11"}, "pain_score", "Scores run from 0 to 10; 11 is outside that."),
        ({"chaq": "3.5"}, "chaq", "Scores run from 0 to 3; 3.5 is outside that."),
        ({"assessed_on": TOMORROW}, "assessed_on",
         "25 Nov 2026 is in the future; record what has happened."),
    ],
)  # fmt: skip
def test_it_refuses_an_impossible_assessment_and_keeps_what_was_typed(
    client, clinician_a, course_a, changes, field, message
):
    client.force_login(clinician_a)
    data = ASSESSMENT | changes

    response = client.post(assessment_url(course_a.patient), data)

    refused(response, field, message)
    filled_in(response, data)
    assert not ClinicalAssessment.objects.exists()


# --- Infusion reaction ----------------------------------------------------------------------------


def reaction_url(course) -> str:
    return reverse("clinic:record_reaction", args=[course.pk])


def reaction_data(infusion, /, **changes: str) -> dict[str, str]:
    return {
        "infusion": str(infusion.pk),
        "onset": "acute",
        "severity": "severe",
        "symptoms": "Wheeze and stridor",
        "management": "Infusion stopped; adrenaline",
        "infusion_stopped": "on",
        "outcome": "resolved",
    } | changes


def test_it_records_a_reaction_and_raises_the_review_alert(
    client, post_committed, nurse_a, course_a
):
    last = course_a.infusions.last()
    client.force_login(nurse_a)

    response = post_committed(reaction_url(course_a), reaction_data(last))

    saved(response, course_a.patient, "Reaction recorded.")
    reaction = last.reactions.get()
    assert (reaction.severity, reaction.onset, reaction.infusion_stopped) == (
        "severe", "acute", True,
    )  # fmt: skip
    assert reaction.symptoms == "Wheeze and stridor"
    assert reaction.history.get().history_user == nurse_a
    review = Alert.objects.get(course=course_a, rule="severe_reaction_review")
    assert (review.status, review.severity) == ("open", "urgent")
    assert review in response.context["alerts"]
    assert "awaits a clinician" in response.text


def test_it_offers_only_this_courses_infusions_newest_first(client, nurse_a, course_a, course_b):
    client.force_login(nurse_a)
    page = client.get(reaction_url(course_a))
    choices = [pk for pk, _label in page.context["form"].fields["infusion"].choices if pk]
    newest_first = course_a.infusions.order_by("-given_on").values_list("pk", flat=True)
    assert [int(str(pk)) for pk in choices] == list(newest_first)
    assert form_values(page.text)["infusion"] == str(newest_first[0])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"symptoms": ""}, "symptoms", "This field is required."),
        ({"severity": "fatal"}, "severity",
         "Select a valid choice. fatal is not one of the available choices."),
        ({"infusion": ""}, "infusion", "This field is required."),
    ],
)  # fmt: skip
def test_it_refuses_an_incomplete_reaction_and_keeps_what_was_typed(
    client, nurse_a, course_a, changes, field, message
):
    client.force_login(nurse_a)
    data = reaction_data(course_a.infusions.last(), **changes)

    response = client.post(reaction_url(course_a), data)

    refused(response, field, message)
    filled_in(response, {k: v for k, v in data.items() if k != "severity"})
    assert not InfusionReaction.objects.exists()


def test_it_refuses_a_reaction_to_another_courses_infusion(client, nurse_a, course_a, site_a):
    other = CourseFactory(patient=PatientFactory(site=site_a))
    infusion = InfusionFactory(course=other)
    client.force_login(nurse_a)

    response = client.post(reaction_url(course_a), reaction_data(infusion))

    refused(
        response,
        "infusion",
        "Select a valid choice. That choice is not one of the available choices.",
    )
    assert not InfusionReaction.objects.exists()


# --- Reaction review ------------------------------------------------------------------------------


@pytest.fixture
def severe_reaction(course_a):
    reaction = ReactionFactory(infusion=course_a.infusions.last(), severity="severe")
    evaluate_courses([course_a.pk], TODAY)
    return reaction


def review_url(reaction) -> str:
    return reverse("clinic:review_reaction", args=[reaction.pk])


REVIEW = {"reviewed_on": ISO_TODAY, "decision": "continue_premedicated", "note": ""}


def test_it_records_a_clinicians_review_and_clears_its_alert(
    client, post_committed, clinician_a, course_a, severe_reaction
):
    alert = Alert.objects.get(course=course_a, rule="severe_reaction_review")
    client.force_login(clinician_a)
    page = client.get(review_url(severe_reaction))
    assert "Review the severe reaction of 15 Sep 2026" in page.text
    values = form_values(page.text)
    assert (values["reviewed_on"], values["note"]) == (ISO_TODAY, "")
    assert values["decision"] == ""  # nothing decided for the clinician: no choice checked
    for decision in ("continue_premedicated", "continue_unchanged", "stop"):
        assert f'type="radio" name="decision" value="{decision}"' in page.text

    response = post_committed(
        review_url(severe_reaction), REVIEW | {"note": "Premedicate and halve the rate."}
    )

    saved(response, course_a.patient, "Review recorded.")
    severe_reaction.refresh_from_db()
    assert (severe_reaction.reviewed_on, severe_reaction.reviewed_by) == (TODAY, clinician_a)
    assert (severe_reaction.review_decision, severe_reaction.review_note) == (
        "continue_premedicated", "Premedicate and halve the rate.",
    )  # fmt: skip
    assert severe_reaction.history.first().history_user == clinician_a
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert alert.events.last().actor == clinician_a
    assert "awaits a clinician" not in response.text
    course_a.refresh_from_db()
    assert course_a.stopped_on is None  # continuing


def test_it_stops_the_course_when_the_review_decides_to_stop_infliximab(
    client, post_committed, clinician_a, course_a, severe_reaction
):
    client.force_login(clinician_a)

    response = post_committed(review_url(severe_reaction), REVIEW | {"decision": "stop"})

    saved(response, course_a.patient, "Review recorded.")
    severe_reaction.refresh_from_db()
    assert severe_reaction.review_decision == "stop"
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason) == (TODAY, "adverse_event")
    assert course_a.history.first().history_user == clinician_a
    assert 'to 24 Nov 2026 <span class="muted">(adverse event)</span>' in response.text
    assert response.context["active_course"] is None


def test_it_refuses_a_review_without_a_decision(client, clinician_a, severe_reaction):
    client.force_login(clinician_a)
    data = REVIEW | {"decision": "", "note": "Thinking about it"}

    response = client.post(review_url(severe_reaction), data)

    refused(response, "decision", "This field is required.")
    filled_in(response, {k: v for k, v in data.items() if k != "decision"})
    severe_reaction.refresh_from_db()
    assert (severe_reaction.reviewed_on, severe_reaction.review_decision) == (None, "")
    assert severe_reaction.history.count() == 1


def test_it_refuses_a_second_review(client, clinician_a, severe_reaction):
    client.force_login(clinician_a)
    client.post(review_url(severe_reaction), REVIEW)

    again = client.post(review_url(severe_reaction), REVIEW | {"decision": "stop"})

    refused(again, "reviewed_on", "This reaction was reviewed on 24 Nov 2026 by carl.")
    severe_reaction.refresh_from_db()
    assert severe_reaction.review_decision == "continue_premedicated"
    assert severe_reaction.infusion.course.stopped_on is None
    assert severe_reaction.history.count() == 2


@pytest.mark.parametrize(
    ("reviewed_on", "message"),
    [
        ("2026-09-14", "The review is before the infusion."),
        (TOMORROW, "25 Nov 2026 is in the future; record what has happened."),
        ("", "This field is required."),
    ],
)
def test_it_refuses_an_impossible_review_date(
    client, clinician_a, severe_reaction, reviewed_on, message
):
    client.force_login(clinician_a)
    data = REVIEW | {"reviewed_on": reviewed_on}

    response = client.post(review_url(severe_reaction), data)

    refused(response, "reviewed_on", message)
    filled_in(response, {"reviewed_on": reviewed_on, "decision": "continue_premedicated"})
    severe_reaction.refresh_from_db()
    assert severe_reaction.reviewed_on is None


# --- Regimen change -------------------------------------------------------------------------------


def regimen_url(course) -> str:
    return reverse("clinic:change_regimen", args=[course.pk])


TAPER = {
    "effective_on": ISO_TODAY,
    "reason": "taper",
    "dose_mg_per_kg": "5",
    "interval_weeks": "10",
    "note": "In remission for a year",
}


def test_it_shows_the_regimen_in_force(client, clinician_a, course_a):
    client.force_login(clinician_a)
    page = client.get(regimen_url(course_a))
    assert "In force: <strong>5.00 mg/kg every 8 weeks</strong>" in page.text
    values = form_values(page.text)
    assert (values["effective_on"], values["dose_mg_per_kg"], values["interval_weeks"]) == (
        ISO_TODAY, "5.00", "8",
    )  # fmt: skip


def test_it_records_a_taper_and_reschedules_the_next_dose(
    client, post_committed, clinician_a, course_a
):
    alert = overdue_alert_of(course_a)
    client.force_login(clinician_a)

    response = post_committed(regimen_url(course_a), TAPER)

    saved(response, course_a.patient, "Regimen changed.")
    change = course_a.regimen_changes.get()
    assert (change.effective_on, change.reason, change.note) == (
        TODAY, "taper", "In remission for a year",
    )  # fmt: skip
    assert course_a.regimen_on(TODAY) == (Decimal("5"), 10)
    assert change.history.get().history_user == clinician_a
    # Ten weeks after the week-6 dose of 15 Sep is today: no longer overdue.
    assert "dose 4 (maintenance) due 24 Nov 2026</strong> — in 0 days" in response.text
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "regimen changed")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"interval_weeks": "6"}, "reason",
         "A taper lowers the dose or lengthens the interval; in force: 5.00 mg/kg every 8 weeks."),
        ({"dose_mg_per_kg": "6", "interval_weeks": "8"}, "reason",
         "A taper lowers the dose or lengthens the interval; in force: 5.00 mg/kg every 8 weeks."),
        ({"reason": "intensification"}, "reason",
         "An intensification raises the dose or shortens the interval; in force: 5.00 mg/kg every "
         "8 weeks."),
        ({"dose_mg_per_kg": "12"}, "dose_mg_per_kg",
         "The dose must be above 0 and at most 10 mg/kg (the labelled maximum)."),
        ({"effective_on": "2026-08-01"}, "effective_on", "This is before the course started."),
        ({"effective_on": TOMORROW}, "effective_on",
         "25 Nov 2026 is in the future; record what has happened."),
    ],
)  # fmt: skip
def test_it_refuses_a_regimen_change_that_contradicts_itself_and_keeps_what_was_typed(
    client, clinician_a, course_a, changes, field, message
):
    client.force_login(clinician_a)
    data = TAPER | changes

    response = client.post(regimen_url(course_a), data)

    refused(response, field, message)
    filled_in(response, data)
    assert not RegimenChange.objects.exists()


# --- Stopping a course ----------------------------------------------------------------------------


def stop_url(course) -> str:
    return reverse("clinic:stop_course", args=[course.pk])


def test_it_stops_a_course_and_its_dose_alert(client, post_committed, clinician_a, course_a):
    alert = overdue_alert_of(course_a)
    client.force_login(clinician_a)
    page = client.get(stop_url(course_a)).text
    assert form_values(page) == {"stopped_on": ISO_TODAY, "reason": "", "note": ""}
    assert '<option value="" selected>— choose —</option>' in page  # no reason chosen for them

    stop = {"stopped_on": ISO_TODAY, "reason": "remission"}
    preview = client.post(stop_url(course_a), stop)  # a confirmation page first; nothing saved
    assert preview.status_code == 200
    assert "<dt>Stops on</dt><dd><strong>24 Nov 2026</strong></dd>" in preview.text
    assert form_values(preview.text) == {}  # the values travel as hidden fields
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.history.count()) == (None, 1)

    response = post_committed(stop_url(course_a), stop | {"confirm": "1"})

    saved(response, course_a.patient, "Course stopped.")
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason) == (TODAY, "remission")
    assert course_a.notes == ""  # no note given, none added
    assert course_a.history.first().history_user == clinician_a
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "course stopped")
    assert alert.events.last().actor == clinician_a
    assert 'to 24 Nov 2026 <span class="muted">(remission)</span>' in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stopped_on": "2026-09-01", "reason": "remission"},
         "The last infusion was given on 15 Sep 2026; the course cannot stop before it."),
        ({"stopped_on": TOMORROW, "reason": "inefficacy"},
         "25 Nov 2026 is in the future; record what has happened."),
        ({"stopped_on": "", "reason": "other"}, "This field is required."),
    ],
)  # fmt: skip
def test_it_refuses_to_stop_a_course_before_its_last_infusion_and_keeps_what_was_typed(
    client, clinician_a, course_a, data, message
):
    client.force_login(clinician_a)
    data = data | {"note": "As agreed with the family"}

    response = client.post(stop_url(course_a), data)

    refused(response, "stopped_on", message)
    filled_in(response, data)
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason, course_a.notes) == (None, "", "")
    assert course_a.history.count() == 1


def test_it_refuses_to_stop_a_course_without_a_reason(client, clinician_a, course_a):
    client.force_login(clinician_a)
    data = {"stopped_on": ISO_TODAY, "reason": "", "note": "Doing well"}

    response = client.post(stop_url(course_a), data)

    refused(response, "reason", "This field is required.")
    filled_in(response, data)
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason, course_a.notes) == (None, "", "")


def test_it_refuses_to_stop_a_course_twice(client, clinician_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), stopped_on=dt.date(2026, 2, 1),
                           stop_reason="remission")  # fmt: skip
    client.force_login(clinician_a)

    response = client.post(stop_url(course), {"stopped_on": ISO_TODAY, "reason": "other"})

    refused(response, "stopped_on", "This course already stopped on 01 Feb 2026.")
    course.refresh_from_db()
    assert (course.stopped_on, course.stop_reason) == (dt.date(2026, 2, 1), "remission")


# --- Starting a course ----------------------------------------------------------------------------


def start_url(patient) -> str:
    return reverse("clinic:start_course", args=[patient.pk])


COURSE = {
    "started_on": ISO_TODAY,
    "planned_dose_mg_per_kg": "5",
    "maintenance_interval_weeks": "8",
    "notes": "Refractory to NSAIDs and bisphosphonates",
}


def test_it_starts_a_course_for_a_patient_without_one(client, clinician_a, site_a):
    patient = PatientFactory(site=site_a)
    client.force_login(clinician_a)
    values = form_values(client.get(start_url(patient)).text)
    assert (values["started_on"], values["planned_dose_mg_per_kg"]) == (ISO_TODAY, "5")

    response = client.post(start_url(patient), COURSE, follow=True)

    saved(response, patient, "Course started.")
    course = patient.courses.get()
    assert (course.started_on, course.planned_dose_mg_per_kg, course.induction_weeks) == (
        TODAY, Decimal("5"), [0, 2, 6],
    )  # fmt: skip
    assert course.notes == COURSE["notes"]
    assert course.history.get().history_user == clinician_a
    assert response.context["active_course"] == course
    assert "dose 1 (induction) due 24 Nov 2026" in response.text


def test_it_refuses_a_second_active_course_and_keeps_what_was_typed(client, clinician_a, course_a):
    client.force_login(clinician_a)

    response = client.post(start_url(course_a.patient), COURSE)

    refused(
        response,
        "started_on",
        "The course from 04 Aug 2026 has not stopped; stop it before starting a new course.",
    )
    filled_in(response, COURSE)
    assert course_a.patient.courses.count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"started_on": TOMORROW}, "started_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"planned_dose_mg_per_kg": "0"}, "planned_dose_mg_per_kg",
         "The dose must be above 0 and at most 10 mg/kg (the labelled maximum)."),
        ({"maintenance_interval_weeks": "60"}, "maintenance_interval_weeks",
         "The interval must be between 1 and 52 weeks."),
    ],
)  # fmt: skip
def test_it_refuses_an_impossible_course(client, clinician_a, site_a, changes, field, message):
    patient = PatientFactory(site=site_a)
    client.force_login(clinician_a)
    data = COURSE | changes

    response = client.post(start_url(patient), data)

    refused(response, field, message)
    filled_in(response, data)
    assert not TreatmentCourse.objects.exists()


# --- Relapse and retreatment ----------------------------------------------------------------------


@pytest.fixture
def stopped_course(site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), stopped_on=dt.date(2026, 2, 1),
                           stop_reason="remission")  # fmt: skip
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=course.started_on + offset * DAY)
    return course


def relapse_url(course) -> str:
    return reverse("clinic:record_relapse", args=[course.pk])


RELAPSE = {"noted_on": ISO_TODAY, "evidence": "New tibial lesion on whole-body MRI"}


def test_it_records_a_relapse_and_clears_its_alert(
    client, post_committed, clinician_a, stopped_course
):
    ImagingStudyFactory(patient=stopped_course.patient, performed_on=dt.date(2026, 11, 2),
                        active_lesions=2, new_lesions=1)  # fmt: skip
    evaluate_courses([stopped_course.pk], TODAY)
    alert = Alert.objects.get(course=stopped_course, rule="relapse_after_stopping")
    assert alert.status == "open"
    client.force_login(clinician_a)

    response = post_committed(relapse_url(stopped_course), RELAPSE | {"confirm": "1"})

    saved(response, stopped_course.patient, "Relapse recorded.")
    relapse = Relapse.objects.get()
    assert (relapse.course, relapse.patient, relapse.noted_on) == (
        stopped_course, stopped_course.patient, TODAY,
    )  # fmt: skip
    assert relapse.retreatment_course is None
    assert relapse.history.get().history_user == clinician_a
    assert TreatmentCourse.objects.count() == 1
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    assert "Relapse noted 24 Nov 2026 after the course from 06 Jan 2025" in response.text


def test_it_records_a_relapse_and_starts_the_retreatment(client, clinician_a, stopped_course):
    client.force_login(clinician_a)

    response = client.post(
        relapse_url(stopped_course),
        RELAPSE | {"retreatment_starts_on": ISO_TODAY, "confirm": "1"},
        follow=True,
    )

    saved(response, stopped_course.patient, "Relapse recorded.")
    relapse = Relapse.objects.get()
    retreatment = relapse.retreatment_course
    assert retreatment is not None
    assert (retreatment.patient, retreatment.started_on, retreatment.stopped_on) == (
        stopped_course.patient, TODAY, None,
    )  # fmt: skip
    assert retreatment.notes == "Retreatment after the relapse noted on 24 Nov 2026."
    assert retreatment.history.get().history_user == clinician_a
    assert relapse.history.first().history_user == clinician_a
    assert response.context["active_course"] == retreatment
    assert "retreated from 24 Nov 2026" in response.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"noted_on": TOMORROW}, "noted_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"noted_on": "2024-12-01"}, "noted_on",
         "This is before the course it followed started."),
        ({"evidence": ""}, "evidence", "This field is required."),
        ({"retreatment_starts_on": "2026-11-20"}, "__all__",
         "The retreatment course starts before the relapse was noted."),
        ({"retreatment_starts_on": "2026-01-15"}, "__all__",
         "The previous course stopped on 01 Feb 2026; a new course cannot start before that."),
    ],
)  # fmt: skip
def test_it_refuses_an_impossible_relapse_and_saves_neither_part(
    client, clinician_a, stopped_course, changes, field, message
):
    client.force_login(clinician_a)
    data = RELAPSE | changes

    response = client.post(relapse_url(stopped_course), data)

    refused(response, field, message)
    filled_in(response, data)
    assert not Relapse.objects.exists()
    assert TreatmentCourse.objects.count() == 1
