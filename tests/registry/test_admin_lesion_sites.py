"""The admin: lesion sites inline on a study (validated per row, saved by `lesion_sites_set`, the
counts derived), the phenotype with its derived Bristol/Jansson values, scoped by site."""

import datetime as dt

import pytest

from registry.models import ImagingStudy, LesionSite, Phenotype
from tests.factories import ImagingStudyFactory, PatientFactory
from tests.registry.test_admin import form_data, form_errors, logged_in, url

pytestmark = pytest.mark.django_db

PREFIX = "lesion_sites"


def _with_site(data: dict[str, str], index: int, **fields: str) -> dict[str, str]:
    data[f"{PREFIX}-TOTAL_FORMS"] = str(index + 1)
    for name, value in fields.items():
        data[f"{PREFIX}-{index}-{name}"] = value
    return data


def test_sites_added_inline_derive_the_study_s_counts(clinician_a, site_a):
    study = ImagingStudyFactory(patient=PatientFactory(site=site_a), active_lesions=2)
    client = logged_in(clinician_a)
    data = form_data(client.get(url(ImagingStudy, "change", study.pk)))
    _with_site(data, 0, bone="vertebra", vertebral_level="T7", laterality="midline")
    data[f"{PREFIX}-0-active"] = "on"
    data[f"{PREFIX}-0-vertebral_fracture"] = "on"
    _with_site(data, 1, bone="clavicle", laterality="right")

    response = client.post(url(ImagingStudy, "change", study.pk), data)

    assert response.status_code == 302, form_errors(response)
    study.refresh_from_db()
    assert (study.active_lesions, study.new_lesions, study.lesion_counts) == (1, 0, "sites")
    assert LesionSite.objects.get(bone="vertebra").history.get().history_user == clinician_a


def test_a_bad_site_is_refused_on_its_row(clinician_a, site_a):
    study = ImagingStudyFactory(patient=PatientFactory(site=site_a))
    client = logged_in(clinician_a)
    data = form_data(client.get(url(ImagingStudy, "change", study.pk)))
    _with_site(data, 0, bone="clavicle", laterality="left", vertebral_level="T4")

    response = client.post(url(ImagingStudy, "change", study.pk), data)

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert "only recorded for a vertebra" in str(inline.formset.forms[0].errors["vertebral_level"])
    assert not LesionSite.objects.exists()


def test_the_phenotype_admin_shows_met_and_score_derived(clinician_a, site_a):
    patient = PatientFactory(site=site_a)
    client = logged_in(clinician_a)
    data = form_data(client.get(url(Phenotype, "add")))
    data |= {
        "patient": str(patient.pk),
        "first_symptoms_on": "2022-10-01",
        "bristol_clinical": "true",
        "bristol_radiological": "true",
        "bristol_multifocal": "true",
        "bristol_crp_below_30": "true",
        "family_history": "no",
    }
    response = client.post(url(Phenotype, "add"), data)
    assert response.status_code == 302, form_errors(response)
    phenotype = Phenotype.objects.get(patient=patient)
    assert phenotype.bristol_met is True
    page = client.get(url(Phenotype, "change", phenotype.pk)).content.decode()
    assert "Bristol criteria met" in page

    data = form_data(client.get(url(Phenotype, "change", phenotype.pk)))
    data["first_symptoms_on"] = "2024-01-01"  # after the diagnosis (10 Jan 2023)
    response = client.post(url(Phenotype, "change", phenotype.pk), data)
    assert "after the diagnosis" in str(form_errors(response)["first_symptoms_on"])
    assert dt.date(2022, 10, 1) == Phenotype.objects.get().first_symptoms_on


def test_another_site_s_phenotype_is_not_listed(clinician_a, site_b):
    Phenotype.objects.create(patient=PatientFactory(site=site_b))
    response = logged_in(clinician_a).get(url(Phenotype, "changelist"))
    assert list(response.context["cl"].result_list) == []
