"""The phenotype's pages: recording the phenotype (first symptoms, the Bristol and Jansson items,
the family history) and correcting it, recording and correcting a comorbidity, each refusal at its
field; what the patient page shows of them; who is offered what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from registry import services
from registry.models import Comorbidity, Phenotype
from registry.phenotype_codes import BRISTOL_ITEMS, JANSSON_ITEMS
from tests.clinic.support import between, form_values, refused
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db

# The patient (tests.factories.PatientFactory): born 14 Mar 2012, diagnosed 10 Jan 2023.
FIRST_SYMPTOMS = dt.date(2022, 9, 1)


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def phenotype_form(**fields: Any) -> dict[str, Any]:
    """A form's worth: every Bristol item present but the biopsy (not recorded), every Jansson
    item present, a family history of psoriasis."""
    return {
        "first_symptoms_on": FIRST_SYMPTOMS.isoformat(),
        **{item.name: "true" for item in BRISTOL_ITEMS},
        "bristol_biopsy": "unknown",
        **{item.name: "true" for item in JANSSON_ITEMS},
        "family_history": "yes",
        "family_psoriasis": "on",
        **fields,
    }


def test_a_clinician_records_the_phenotype_from_the_patient_page(client, clinician_a, course_a):
    patient = course_a.patient
    client.force_login(clinician_a)
    url = reverse("clinic:record_phenotype", args=[patient.pk])
    page = client.get(patient_url(patient)).text
    assert "No phenotype recorded." in page
    assert url in page
    form = client.get(url).text
    assert 'data-shown-if="family_history" data-shown-values="yes"' in form
    assert '<option value="unknown" selected>— not recorded —</option>' in form

    response = client.post(url, phenotype_form())

    assert response.status_code == 302
    phenotype = Phenotype.objects.get(patient=patient)
    assert (phenotype.first_symptoms_on, phenotype.bristol_biopsy) == (FIRST_SYMPTOMS, None)
    assert (phenotype.bristol_met, phenotype.jansson_score) == (True, 63)
    assert phenotype.family_conditions == ["psoriasis"]
    assert phenotype.history.get().history_user == clinician_a
    section = between(
        client.get(patient_url(patient)).text,
        '<section aria-labelledby="phenotype-heading"',
        "</section>",
    )
    assert "<dd>01 Sep 2022</dd>" in section
    assert "<dd>met</dd>" in section
    assert "<dd>63 of 63</dd>" in section
    assert "<dd>Yes: Psoriasis</dd>" in section
    assert "Correct the phenotype" in section


def test_the_phenotype_is_corrected_on_the_same_page(client, clinician_a, course_a):
    patient = course_a.patient
    services.phenotype_record(
        patient=patient, values={"first_symptoms_on": FIRST_SYMPTOMS}, by=clinician_a
    )
    client.force_login(clinician_a)
    url = reverse("clinic:record_phenotype", args=[patient.pk])
    page = client.get(url)
    assert "Correct the phenotype" in page.text
    assert form_values(page.text)["first_symptoms_on"] == FIRST_SYMPTOMS.isoformat()
    assert "Bristol criteria <strong>undetermined (5 items not recorded)</strong>" in page.text

    response = client.post(
        url, phenotype_form(bristol_clinical="false", family_history="no", family_psoriasis="")
    )

    assert response.status_code == 302
    phenotype = Phenotype.objects.get(patient=patient)  # still one
    assert (phenotype.bristol_met, phenotype.family_history) == (False, "no")
    assert phenotype.history.count() == 2
    section = between(client.get(patient_url(patient)).text, 'id="phenotype"', "</section>")
    assert "<dd>not met</dd>" in section
    assert "<dd>No</dd>" in section


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"first_symptoms_on": "2023-02-01"}, "first_symptoms_on",
         "01 Feb 2023 is after the diagnosis (10 Jan 2023): the first symptoms come before it."),
        ({"first_symptoms_on": (TODAY + dt.timedelta(days=1)).isoformat()}, "first_symptoms_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"family_psoriasis": ""}, "family_history", "Name at least one condition in the family."),
        ({"family_history": "unknown"}, "family_history",
         "Conditions in the family are recorded only when the family history is yes."),
    ],
)  # fmt: skip
def test_bad_phenotype_input_is_refused_at_its_field(
    client, clinician_a, course_a, fields, field, message
):
    client.force_login(clinician_a)
    url = reverse("clinic:record_phenotype", args=[course_a.patient.pk])
    refused(client.post(url, phenotype_form(**fields)), field, message)
    assert not Phenotype.objects.exists()


def test_a_first_symptoms_date_before_birth_is_refused(client, clinician_a, course_a):
    client.force_login(clinician_a)
    url = reverse("clinic:record_phenotype", args=[course_a.patient.pk])
    response = client.post(url, phenotype_form(first_symptoms_on="2011-01-01"))
    assert response.status_code == 400
    assert "before" in " ".join(response.context["form"].errors["first_symptoms_on"])


def test_a_clinician_records_and_corrects_a_comorbidity(client, clinician_a, course_a):
    patient = course_a.patient
    client.force_login(clinician_a)
    url = reverse("clinic:record_comorbidity", args=[patient.pk])
    assert url in client.get(patient_url(patient)).text
    assert form_values(client.get(url).text).get("onset_on", "") == ""  # no onset suggested

    assert client.post(url, {"condition": "psoriasis", "onset_on": "2024-05-01"}).status_code == 302

    comorbidity = Comorbidity.objects.get()
    correct = reverse("clinic:correct_comorbidity", args=[comorbidity.pk])
    page = client.get(patient_url(patient)).text
    assert '<strong>Psoriasis</strong> <span class="muted">· since 01 May 2024</span>' in page
    assert correct in page
    assert form_values(client.get(correct).text)["condition"] == "psoriasis"

    assert (
        client.post(correct, {"condition": "psoriasis", "onset_on": "2024-03-01"}).status_code
        == 302
    )

    comorbidity.refresh_from_db()
    assert comorbidity.onset_on == dt.date(2024, 3, 1)
    assert [h.history_user for h in comorbidity.history.all()] == [clinician_a, clinician_a]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"onset_on": "2010-01-01"}, "onset_on", "before"),
        ({"onset_on": (TODAY + dt.timedelta(days=1)).isoformat()}, "onset_on", "in the future"),
        ({"condition": "psoriasis"}, "condition", "Psoriasis is already recorded for this patient"),
        ({"condition": "gout"}, "condition", "Select a valid choice."),
        ({"onset_on": ""}, "onset_on", "This field is required."),
    ],
)
def test_bad_comorbidity_input_is_refused_at_its_field(
    client, clinician_a, course_a, fields, field, message
):
    patient = course_a.patient
    services.comorbidity_record(
        patient=patient, condition="psoriasis", onset_on=dt.date(2024, 5, 1), by=clinician_a
    )
    client.force_login(clinician_a)
    url = reverse("clinic:record_comorbidity", args=[patient.pk])
    response = client.post(url, {"condition": "ibd", "onset_on": "2024-06-01", **fields})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Comorbidity.objects.count() == 1


def test_a_correction_to_a_condition_already_recorded_is_refused(client, clinician_a, course_a):
    patient = course_a.patient
    for condition in ("psoriasis", "ibd"):
        services.comorbidity_record(
            patient=patient, condition=condition, onset_on=dt.date(2024, 5, 1), by=clinician_a
        )
    ibd = Comorbidity.objects.get(condition="ibd")
    client.force_login(clinician_a)
    url = reverse("clinic:correct_comorbidity", args=[ibd.pk])
    response = client.post(url, {"condition": "psoriasis", "onset_on": "2024-05-01"})
    refused(
        response,
        "condition",
        "Psoriasis is already recorded for this patient: correct that record instead.",
    )
    ibd.refresh_from_db()
    assert ibd.condition == "ibd"


def test_a_nurse_is_not_offered_the_phenotype_or_comorbidities(
    client, nurse_a, clinician_a, course_a
):
    patient = course_a.patient
    services.comorbidity_record(
        patient=patient, condition="psoriasis", onset_on=dt.date(2024, 5, 1), by=clinician_a
    )
    comorbidity = Comorbidity.objects.get()
    client.force_login(nurse_a)
    page = client.get(patient_url(patient)).text
    assert "<strong>Psoriasis</strong>" in page  # seen, not changed
    urls = [
        reverse("clinic:record_phenotype", args=[patient.pk]),
        reverse("clinic:record_comorbidity", args=[patient.pk]),
        reverse("clinic:correct_comorbidity", args=[comorbidity.pk]),
    ]
    for url in urls:
        assert url not in page
        assert client.get(url).status_code == 403
        assert client.post(url, {"condition": "ibd", "onset_on": "2024-06-01"}).status_code == 403
    assert not Phenotype.objects.exists()
    assert Comorbidity.objects.get().condition == "psoriasis"


def test_a_data_manager_records_the_phenotype(client, data_manager_a, course_a):
    client.force_login(data_manager_a)
    url = reverse("clinic:record_phenotype", args=[course_a.patient.pk])
    assert client.post(url, phenotype_form()).status_code == 302
    assert Phenotype.objects.get().history.get().history_user == data_manager_a


def test_another_sites_patient_does_not_exist_here(client, clinician_a, superuser, course_b):
    services.comorbidity_record(
        patient=course_b.patient, condition="ibd", onset_on=dt.date(2024, 5, 1), by=superuser
    )
    client.force_login(clinician_a)
    urls = [
        reverse("clinic:record_phenotype", args=[course_b.patient.pk]),
        reverse("clinic:record_comorbidity", args=[course_b.patient.pk]),
        reverse("clinic:correct_comorbidity", args=[Comorbidity.objects.get().pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404
