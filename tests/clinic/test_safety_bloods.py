"""Methotrexate's safety bloods in the clinic: the lab panel takes a neutrophil count, a platelet
count and an ALT with the draw's other results, refuses a value outside its physical range at its
field, and a saved draw resolves the methotrexate alert on commit; the patient page judges them
against the lab's range, and the import page names their fixed units."""

from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import LabResult
from tests.clinic.support import between, form_values, refused
from tests.conftest import TODAY
from tests.factories import LabResultFactory, MedicationFactory

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()
BLOODS = {
    "collected_on": ISO_TODAY,
    "neutrophils_value": "0.9",
    "neutrophils_reference_low": "1.5",
    "neutrophils_reference_high": "8",
    "platelets_value": "245",
    "alt_value": "31",
    "alt_reference_high": "40",
}


def lab_url(patient) -> str:
    return reverse("clinic:record_lab", args=[patient.pk])


def test_the_panel_has_them_after_the_antibodies_and_before_another_test(client, nurse_a, course_a):
    client.force_login(nurse_a)
    page = client.get(lab_url(course_a.patient)).text
    legends = [
        "Anti-infliximab antibodies",
        "Neutrophil count (×10⁹/L)",
        "Platelet count (×10⁹/L)",
        "ALT (U/L)",
    ]
    at = [page.index(f"<legend>{legend}</legend>") for legend in legends]
    assert at == sorted(at)
    assert at[-1] < page.index("<summary>Another test</summary>")
    assert {"neutrophils_value", "platelets_reference_low", "alt_reference_high"} <= set(
        form_values(page)
    )


def test_a_saved_draw_records_them_and_clears_the_methotrexate_alert(
    client, post_committed, nurse_a, course_a
):
    patient = course_a.patient
    MedicationFactory(patient=patient, drug="methotrexate", started_on=course_a.started_on)
    evaluate_courses([course_a.pk], TODAY)
    alert = Alert.objects.get(course=course_a, rule="methotrexate_monitoring_due")
    client.force_login(nurse_a)

    page = post_committed(lab_url(patient), BLOODS)

    assert "Recorded: Neutrophil count (×10⁹/L), Platelet count (×10⁹/L), ALT (U/L)." in page.text
    assert {
        lab.analyte: (lab.value, lab.unit, lab.reference_low, lab.reference_high)
        for lab in patient.lab_results.all()
    } == {
        "neutrophils": (Decimal("0.9"), "×10⁹/L", Decimal("1.5"), Decimal("8")),
        "platelets": (Decimal("245"), "×10⁹/L", None, None),
        "alt": (Decimal("31"), "U/L", None, Decimal("40")),
    }
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_reason) == ("resolved", "condition cleared")
    # The patient page judges each against the lab's range.
    row = between(page.text, "<td>Neutrophil count</td>", "</tr>")
    assert '<td>0.9 ×10⁹/L <strong class="judgement">(low; 1.5–8)</strong></td>' in row


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"neutrophils_value": "4500"}, "neutrophils_value",
         "4500 ×10⁹/L is above the physical maximum of 300 ×10⁹/L; check the value and its unit."),
        ({"platelets_value": "-5"}, "platelets_value",
         "Platelet count (×10⁹/L) cannot be negative."),
        ({"alt_value": "", "alt_reference_high": "40"}, "alt_value", "Enter the ALT (U/L) value."),
        ({"alt_reference_low": "50"}, "alt_reference_high",
         "The upper limit is below the lower limit."),
    ],
)  # fmt: skip
def test_a_refused_value_refuses_the_draw_at_its_field(
    client, nurse_a, course_a, changes, field, message
):
    client.force_login(nurse_a)
    response = client.post(lab_url(course_a.patient), BLOODS | changes)
    refused(response, field, message)
    assert not LabResult.objects.exists()


def test_the_alert_names_the_missing_tests_on_the_patient_page(client, nurse_a, course_a):
    patient = course_a.patient
    MedicationFactory(patient=patient, drug="methotrexate", started_on=course_a.started_on)
    LabResultFactory(patient=patient, analyte="alt", value=Decimal("22"), collected_on=TODAY)
    evaluate_courses([course_a.pk], TODAY)
    client.force_login(nurse_a)
    page = client.get(reverse("clinic:patient", args=[patient.pk])).text
    assert "Methotrexate: blood count and ALT due" in page
    assert "neutrophil count and platelet count" in page  # the evidence's missing tests
    assert "ALT, 24 Nov 2026: 22 U/L" in page  # the latest ALT, in time


def test_the_import_page_names_their_fixed_units(client, nurse_a):
    client.force_login(nurse_a)
    page = client.get(reverse("clinic:lab_import")).text
    assert (
        "These tests have a fixed unit: CRP mg/L, ESR mm/h, Infliximab trough level µg/mL, "
        "Neutrophil count ×10⁹/L, Platelet count ×10⁹/L, ALT U/L."
    ) in page
    assert "<code>neutrophils</code> Neutrophil count (×10⁹/L)" in page
