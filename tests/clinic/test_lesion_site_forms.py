"""The imaging and assessment forms with their lesion sites filled in: the counts derived from the
sites, each refusal at its row's field (and in the summary), the body map on the form and the
active sites on the patient page's map."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from registry.models import ClinicalAssessment, ImagingStudy
from tests.clinic.support import between, refused
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db

ON = TODAY.isoformat()


def site(row: int, bone: str, laterality: str, **fields: str) -> dict[str, str]:
    return {
        f"site_{row}_bone": bone,
        f"site_{row}_laterality": laterality,
        **{f"site_{row}_{name}": value for name, value in fields.items()},
    }


def mri(**fields: Any) -> dict[str, Any]:
    """A whole-body MRI with a new lesion of the left tibia and an active T7 with a fracture."""
    return {
        "performed_on": ON,
        "modality": "wb_mri",
        **site(0, "tibia", "left", state="new"),
        **site(1, "vertebra", "midline", level="T7", state="active", fracture="on"),
        **fields,
    }


def imaging_url(course) -> str:
    return reverse("clinic:record_imaging", args=[course.patient.pk])


def assessment_url(course) -> str:
    return reverse("clinic:record_assessment", args=[course.patient.pk])


def test_an_mri_with_its_sites_derives_its_counts(client, clinician_a, course_a):
    client.force_login(clinician_a)

    response = client.post(imaging_url(course_a), mri())

    assert response.status_code == 302
    study = ImagingStudy.objects.get()
    assert (study.lesion_counts, study.active_lesions, study.new_lesions) == ("sites", 2, 1)
    sites = {s.words: s for s in study.lesion_sites.all()}
    assert (sites["Left tibia"].new, sites["Left tibia"].active) == (True, True)
    assert (sites["Vertebra T7"].active, sites["Vertebra T7"].vertebral_fracture) == (True, True)
    assert sites["Vertebra T7"].history.get().history_user == clinician_a
    page = client.get(reverse("clinic:patient", args=[course_a.patient.pk])).text
    active = between(page, '<section aria-labelledby="active-sites-heading"', "</section>")
    assert 'class="bone on" d="' in active
    assert active.count('class="bone on"') == 2
    assert 'data-key="tibia:left"' in between(active, 'class="bone on"', "</path>")
    assert "Left tibia (new), Vertebra T7 (fracture)" in active


def test_the_form_offers_the_body_map_hidden_until_its_script_runs(client, clinician_a, course_a):
    client.force_login(clinician_a)
    page = client.get(imaging_url(course_a)).text
    assert '<div class="body-map" id="body-map" data-body-map hidden>' in page
    assert 'role="button" tabindex="0" aria-pressed="false" aria-label="Left tibia"' in page
    assert 'aria-label="Lumbar vertebrae (L1–L5)"' in page
    assert "clinic/bodymap.js" in page
    assert "<script>" not in page  # the CSP: no inline script
    assert 'style="' not in between(page, 'id="body-map"', "</svg>")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (site(2, "tibia", "right", level="T4"), "site_2_level",
         "A vertebral level is only recorded for a vertebra, not for the tibia."),
        (site(2, "vertebra", "midline"), "site_2_level", "Give the vertebra's level (C1–S5)."),
        (site(2, "femur", ""), "site_2_laterality", "Give the side (left or right)."),
        (site(2, "femur", "midline"), "site_2_laterality", "The femur is paired: left or right."),
        (site(2, "sternum", "left"), "site_2_laterality",
         "The sternum is a midline bone: midline."),
        (site(2, "clavicle", "right", fracture="on"), "site_2_fracture",
         "A vertebral fracture is flagged on a vertebra only."),
        (site(2, "tibia", "left"), "site_2_bone", "This site is already in row 1."),
        ({"active_lesions": "5"}, "active_lesions",
         "Derived from the lesion sites (2): leave it blank."),
    ],
)  # fmt: skip
def test_a_bad_site_is_refused_at_its_rows_field(
    client, clinician_a, course_a, fields, field, message
):
    client.force_login(clinician_a)
    refused(client.post(imaging_url(course_a), mri(**fields)), field, message)
    assert not ImagingStudy.objects.exists()


def test_an_mri_state_on_an_x_ray_is_refused_at_the_rows_state(client, clinician_a, course_a):
    client.force_login(clinician_a)
    response = client.post(
        imaging_url(course_a),
        {"performed_on": ON, "modality": "xray", **site(0, "tibia", "left", state="active")},
    )
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["site_0_state"])
    assert "Active, new and resolved are MRI findings" in errors
    assert not ImagingStudy.objects.exists()


def test_an_x_rays_sites_are_recorded_without_counts(client, clinician_a, course_a):
    client.force_login(clinician_a)
    posted = {"performed_on": ON, "modality": "xray", **site(0, "clavicle", "right")}
    assert client.post(imaging_url(course_a), posted).status_code == 302
    study = ImagingStudy.objects.get()
    assert (study.lesion_counts, study.active_lesions) == ("sites", None)
    assert [s.words for s in study.lesion_sites.all()] == ["Right clavicle"]


def test_an_assessments_sites_are_its_clinically_active_lesions(client, clinician_a, course_a):
    client.force_login(clinician_a)
    form = client.get(assessment_url(course_a)).text
    assert 'name="site_0_state"' not in form  # an MRI finding, not an examination's

    posted = {
        "assessed_on": ON,
        **site(0, "clavicle", "left"),
        **site(1, "vertebra", "midline", level="L2"),
    }
    assert client.post(assessment_url(course_a), posted).status_code == 302

    assessment = ClinicalAssessment.objects.get()
    assert (assessment.lesion_counts, assessment.clinically_active_lesions) == ("sites", 2)


def test_a_bad_assessment_site_is_refused_at_its_rows_field(client, clinician_a, course_a):
    client.force_login(clinician_a)
    posted = {"assessed_on": ON, **site(4, "mandible", "left"), **site(5, "pelvis", "midline")}
    refused(
        client.post(assessment_url(course_a), posted),
        "site_5_laterality",
        "The pelvis is paired: left or right.",
    )
    assert not ClinicalAssessment.objects.exists()
