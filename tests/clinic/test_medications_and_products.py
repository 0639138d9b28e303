"""The clinic's pages for products and other medications: the infusion form pre-fills the product,
refuses one not on the list, and a switch shows in the infusion table and on the timeline; a
medication is recorded and stopped through its forms, refused with its field's message, and shown
as current on the patient page and along the timeline."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from registry.models import Medication
from tests.clinic.support import DAY, START, form_values, ms, refused, table_rows, timeline_data
from tests.clinic.test_forms import INFUSION, infusion_url, patient_url, saved
from tests.conftest import TODAY
from tests.factories import CourseFactory, MedicationFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def remicade():
    return ProductFactory(code="remicade")


@pytest.fixture
def remsima():
    return ProductFactory(code="remsima")


def rows_of(html: str, heading_id: str) -> list[list[str]]:
    start = html.index(f'aria-labelledby="{heading_id}"')
    rows = table_rows(html[start : html.index("</section>", start)])
    return [row for row in rows if row != rows[0]]


# --- Products -------------------------------------------------------------------------------------


def test_the_infusion_form_pre_fills_the_product_of_the_last_infusion(
    client, nurse_a, course_a, remicade, remsima
):
    course_a.product = remicade
    course_a.save()
    client.force_login(nurse_a)
    assert form_values(client.get(infusion_url(course_a)).text)["product"] == str(remicade.pk)

    course_a.infusions.filter(given_on=START + 42 * DAY).update(product=remsima)

    assert form_values(client.get(infusion_url(course_a)).text)["product"] == str(remsima.pk)


def test_a_switch_shows_in_the_infusion_table_and_on_the_timeline(
    client, post_committed, nurse_a, course_a, remicade, remsima
):
    course_a.infusions.update(product=remicade)
    client.force_login(nurse_a)

    page = post_committed(infusion_url(course_a), {**INFUSION, "product": str(remsima.pk)})

    saved(page, course_a.patient, "Infusion recorded.")
    [latest, *earlier] = rows_of(page.text, "infusions-heading")
    assert latest[8:10] == ["Remsima switched from Remicade", "LOT-9"]
    assert {row[8] for row in earlier} == {"Remicade"}
    data = timeline_data(page.text)
    assert {"x": ms(TODAY), "label": "Product switch: Remicade → Remsima"} in data["events"]
    assert ["24 Nov 2026", "Product", "switch: Remicade → Remsima"] in table_rows(page.text)


def test_the_infusion_form_refuses_a_product_not_on_the_list_at_its_field(
    client, nurse_a, course_a
):
    client.force_login(nurse_a)
    before = course_a.infusions.count()

    response = client.post(infusion_url(course_a), {**INFUSION, "product": "987654"})

    refused(response, "product", "Choose one of the registry's infliximab products.")
    assert course_a.infusions.count() == before


def test_a_new_course_plans_the_product_of_the_patients_last_course(
    client, clinician_a, site_a, remsima
):
    stopped = CourseFactory(
        patient__site=site_a, started_on=dt.date(2025, 1, 6), stopped_on=dt.date(2025, 9, 1),
        stop_reason="remission", product=remsima,
    )  # fmt: skip
    client.force_login(clinician_a)
    url = reverse("clinic:start_course", args=[stopped.patient.pk])

    assert form_values(client.get(url).text)["product"] == str(remsima.pk)


# --- Medications ----------------------------------------------------------------------------------


def medication_url(patient) -> str:
    return reverse("clinic:record_medication", args=[patient.pk])


MEDICATION = {
    "drug": "methotrexate",
    "started_on": "2026-09-01",
    "dose": "15",
    "dose_unit": "mg/m2",
    "route": "subcutaneous",
    "frequency": "weekly",
}


def test_a_clinician_records_a_medication_shown_as_current_and_along_the_timeline(
    client, post_committed, clinician_a, course_a
):
    patient = course_a.patient
    client.force_login(clinician_a)

    page = post_committed(medication_url(patient), MEDICATION)

    saved(page, patient, "Medication recorded.")
    medication = patient.medications.get()
    assert (medication.drug, medication.dose, medication.dose_unit) == (
        "methotrexate", Decimal("15"), "mg/m2",
    )  # fmt: skip
    assert medication.history.get().history_user == clinician_a
    current = page.text[page.text.index('id="current-medications-heading"') :]
    assert "<strong>Methotrexate</strong> 15 mg/m² weekly, subcutaneous" in current[:1500]
    assert rows_of(page.text, "medications-heading") == [
        ["Methotrexate", "L04AX03", "15 mg/m² weekly, subcutaneous", "01 Sep 2026", "taken"]
    ]
    [span] = timeline_data(page.text)["medications"]
    assert span == {
        "x": ms(dt.date(2026, 9, 1)), "until": ms(TODAY), "current": True,
        "label": "Methotrexate 15 mg/m² weekly, subcutaneous",
    }  # fmt: skip
    history = rows_of(page.text, "history-heading")
    assert history[0][1:] == ["carl", "Methotrexate from 01 Sep 2026 recorded"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"stopped_on": "2026-08-31", "stop_reason": "inefficacy"},
            "stopped_on",
            "It started on 01 Sep 2026; it cannot stop before that.",
        ),
        (
            {"started_on": "2026-11-25"},
            "started_on",
            "25 Nov 2026 is in the future; record what has happened.",
        ),
        ({"drug": "other"}, "drug_name", "Name the drug."),
    ],
)
def test_a_medication_is_refused_at_its_field_and_comes_back_filled_in(
    client, clinician_a, course_a, fields, field, message
):
    client.force_login(clinician_a)

    response = client.post(medication_url(course_a.patient), {**MEDICATION, **fields})

    refused(response, field, message)
    assert form_values(response.text)["dose"] == "15"
    assert not Medication.objects.exists()


def test_a_nurse_is_not_offered_medications_to_record(client, nurse_a, course_a):
    client.force_login(nurse_a)

    page = client.get(patient_url(course_a.patient))

    assert reverse("clinic:record_medication", args=[course_a.patient.pk]) not in page.text
    assert client.get(medication_url(course_a.patient)).status_code == 403


def test_a_clinician_stops_a_current_medication(client, post_committed, clinician_a, course_a):
    medication = MedicationFactory(patient=course_a.patient, started_on=START)
    client.force_login(clinician_a)
    stop_url = reverse("clinic:stop_medication", args=[medication.pk])
    assert stop_url in client.get(patient_url(course_a.patient)).text

    page = post_committed(stop_url, {"stopped_on": TODAY.isoformat(), "reason": "inefficacy"})

    saved(page, course_a.patient, "Naproxen stopped.")
    medication.refresh_from_db()
    assert (medication.stopped_on, medication.stop_reason) == (TODAY, "inefficacy")
    assert "No other medication recorded as taken today." in page.text
    assert ["24 Nov 2026", "Medication", "Naproxen: stopped (ineffective)"] in table_rows(page.text)


def test_a_stop_before_the_start_is_refused_at_its_field(client, clinician_a, course_a):
    medication = MedicationFactory(patient=course_a.patient, started_on=START)
    client.force_login(clinician_a)

    response = client.post(
        reverse("clinic:stop_medication", args=[medication.pk]),
        {"stopped_on": "2026-08-01", "reason": "other"},
    )

    refused(response, "stopped_on", "It started on 04 Aug 2026; it cannot stop before that.")
    medication.refresh_from_db()
    assert medication.stopped_on is None


def test_another_sites_medication_is_no_page(client, clinician_a, course_b):
    medication = MedicationFactory(patient=course_b.patient)
    client.force_login(clinician_a)

    response = client.get(reverse("clinic:stop_medication", args=[medication.pk]))

    assert response.status_code == 404
