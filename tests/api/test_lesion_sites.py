"""The API: lesion sites nested on imaging studies and assessments, the counts derived from them,
a bad site refused naming it, and the sites replaced by a correction."""

import pytest

from registry.models import ImagingStudy
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/imaging-studies/"


def test_a_study_created_with_sites_has_its_counts_derived(as_clinician, site_a):
    patient = PatientFactory(site=site_a)
    body = {
        "patient": patient.pk,
        "performed_on": "2026-11-20",
        "modality": "wb_mri",
        "lesion_sites": [
            {"bone": "vertebra", "vertebral_level": "T7", "laterality": "midline",
             "active": True, "new": True, "vertebral_fracture": True},
            {"bone": "clavicle", "laterality": "right", "active": True},
        ],
    }  # fmt: skip
    response = as_clinician.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert (answer["active_lesions"], answer["new_lesions"]) == (2, 1)
    assert answer["lesion_counts"] == "sites"
    assert {site["bone"] for site in answer["lesion_sites"]} == {"vertebra", "clavicle"}

    read = as_clinician.get(f"{URL}{answer['id']}/")
    body = {"lesion_sites": [{"bone": "clavicle", "laterality": "right", "resolved": True}]}
    patch = as_clinician.patch(
        f"{URL}{answer['id']}/", body, format="json", headers={"If-Match": read["ETag"]}
    )
    assert patch.status_code == 200, patch.json()
    assert (patch.json()["active_lesions"], patch.json()["new_lesions"]) == (0, 0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"bone": "clavicle", "laterality": "left", "vertebral_level": "T4"}, "only recorded"),
        ({"bone": "tibia", "laterality": "left", "active": True, "new": True, "resolved": True},
         "both new and resolved"),
    ],
)  # fmt: skip
def test_a_bad_site_is_refused_with_its_message(as_clinician, site_a, entry, message):
    patient = PatientFactory(site=site_a)
    body = {"patient": patient.pk, "performed_on": "2026-11-20", "modality": "mri",
            "lesion_sites": [entry]}  # fmt: skip
    response = as_clinician.post(URL, body, format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert not ImagingStudy.objects.exists()


def test_lesion_counts_are_read_only(as_clinician, site_a):
    patient = PatientFactory(site=site_a)
    body = {"patient": patient.pk, "performed_on": "2026-11-20", "modality": "mri",
            "lesion_counts": "sites"}  # fmt: skip
    assert as_clinician.post(URL, body, format="json").status_code == 400
