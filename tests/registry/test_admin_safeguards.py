"""The admin door: the same actions, safeguards and roles per site as every other door.

A refusal shows on the admin form (the page is re-displayed, nothing stored), because the admin
tries each form through its action before it saves.
"""

import datetime as dt
from decimal import Decimal

import pytest

from registry.models import Infusion, InfusionReaction, Patient, TreatmentCourse
from registry.signals import reevaluation_requested
from tests.conftest import _member
from tests.factories import MembershipFactory
from tests.registry.test_admin import (
    form_data,
    form_errors,
    logged_in,
    make_site_records,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def records_a(site_a):
    return make_site_records(site_a, family_name="Lindqvist", mrn="A-1001")


@pytest.fixture
def records_b(site_b):
    return make_site_records(site_b, family_name="Okafor", mrn="B-2002")


def add_infusion(client, records, **fields):
    data = form_data(client.get(url(Infusion, "add")))
    data |= {
        "course": str(records.course.pk),
        "given_on": "2025-03-03",
        "weight_kg": "40",
        "weight_measured_on": "2025-03-03",
        "dose_mg": "200",
    } | fields
    return client.post(url(Infusion, "add"), data)


def test_it_holds_an_infusion_after_an_unreviewed_severe_reaction(nurse_a, records_a):
    InfusionReaction.objects.filter(pk=records_a.reaction.pk).update(severity="severe")
    before = Infusion.objects.count()

    response = add_infusion(logged_in(nurse_a), records_a)

    [message] = form_errors(response)["__all__"]
    assert message.startswith("The severe reaction to the infusion of 20 Jan 2025 has not been")
    assert Infusion.objects.count() == before


def test_it_refuses_an_implausible_dose(nurse_a, records_a):
    before = Infusion.objects.count()
    response = add_infusion(logged_in(nurse_a), records_a, weight_kg="39", dose_mg="1950")
    assert any("above 20 mg/kg" in message for message in form_errors(response)["dose_mg"])
    assert Infusion.objects.count() == before


def test_it_asks_to_confirm_a_weight_far_from_the_previous_one(nurse_a, records_a):
    client = logged_in(nurse_a)
    before = Infusion.objects.count()

    response = add_infusion(client, records_a, weight_kg="4", dose_mg="20")

    [message] = form_errors(response)["weight_kg"]
    assert "4 kg is 90 % away from 40 kg measured on 17 Feb 2025" in message
    assert Infusion.objects.count() == before
    confirmed = add_infusion(client, records_a, weight_kg="4", dose_mg="20", weight_confirmed="on")
    assert confirmed.status_code == 302
    assert Infusion.objects.get(given_on=dt.date(2025, 3, 3)).weight_confirmed


def test_it_refuses_the_infusion_rows_of_a_course_page_as_the_infusion_page_does(
    clinician_a, records_a
):
    client = logged_in(clinician_a)
    course = records_a.course
    data = form_data(client.get(url(TreatmentCourse, "change", course.pk)))
    new = int(data["infusions-TOTAL_FORMS"])
    data["infusions-TOTAL_FORMS"] = str(new + 1)
    data |= {
        f"infusions-{new}-given_on": "2025-03-03",
        f"infusions-{new}-weight_kg": "40",
        f"infusions-{new}-weight_measured_on": "2025-03-03",
        f"infusions-{new}-dose_mg": "600",  # 15 mg/kg, no intensification
    }

    response = client.post(url(TreatmentCourse, "change", course.pk), data)

    assert response.status_code == 200
    [inline] = [i for i in response.context["inline_admin_formsets"] if i.formset.model is Infusion]
    errors = inline.formset.forms[new].errors["dose_mg"]
    assert any("above the 10 mg/kg cap" in message for message in errors)
    assert not course.infusions.filter(given_on=dt.date(2025, 3, 3)).exists()


def test_a_nurse_cannot_clear_a_severe_reaction_by_correcting_its_severity(nurse_a, records_a):
    reaction = records_a.reaction
    InfusionReaction.objects.filter(pk=reaction.pk).update(severity="severe")
    client = logged_in(nurse_a)
    data = form_data(client.get(url(InfusionReaction, "change", reaction.pk)))

    response = client.post(
        url(InfusionReaction, "change", reaction.pk), data | {"severity": "mild"}
    )

    [message] = form_errors(response)["__all__"]
    assert message.startswith("Only a clinician of this site may correct severity")
    assert InfusionReaction.objects.get(pk=reaction.pk).severity == "severe"


def test_the_stop_of_a_course_is_not_typed_in_the_admin(data_manager_a, records_a):
    page = logged_in(data_manager_a).get(url(TreatmentCourse, "change", records_a.course.pk))
    form = page.context["adminform"].form
    assert "stopped_on" not in form.fields  # read-only: the stop action owns it


@pytest.fixture
def nurse_north_clinician_south(site_a, site_b):
    person = _member("nico", site_a, "nurse")
    MembershipFactory(user=person, site=site_b, role="clinician")
    return person


@pytest.mark.parametrize("model", [Patient, TreatmentCourse])
def test_roles_are_those_of_the_records_site(
    nurse_north_clinician_south, records_a, records_b, model
):
    client = logged_in(nurse_north_clinician_south)
    north = records_a.patient if model is Patient else records_a.course
    south = records_b.patient if model is Patient else records_b.course

    north_page = client.get(url(model, "change", north.pk))
    assert north_page.status_code == 200
    assert not north_page.context["has_change_permission"]  # view only at north
    refused = client.post(url(model, "change", north.pk), form_data(north_page) | {"notes": "x"})
    assert refused.status_code == 403

    south_page = client.get(url(model, "change", south.pk))
    assert south_page.context["has_change_permission"]


def test_a_new_patient_at_a_site_where_the_user_is_a_nurse_is_refused_on_the_form(
    nurse_north_clinician_south, site_a, site_b
):
    client = logged_in(nurse_north_clinician_south)
    data = form_data(client.get(url(Patient, "add")))
    data |= {
        "mrn": "N-1",
        "given_name": "Iris",
        "family_name": "Nowak",
        "date_of_birth": "2014-02-02",
        "sex": "female",
    }

    at_north = client.post(url(Patient, "add"), data | {"site": str(site_a.pk)})

    [message] = form_errors(at_north)["__all__"]
    assert message == "Your role at this patient's site does not allow registering a patient."
    assert not Patient.objects.filter(mrn="N-1").exists()
    at_south = client.post(url(Patient, "add"), data | {"site": str(site_b.pk)})
    assert at_south.status_code == 302
    assert Patient.objects.get(mrn="N-1").site == site_b


def test_a_page_with_its_inlines_asks_for_one_re_evaluation(
    clinician_a, records_a, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, patient_ids, actor_id, **kwargs):
        received.append(patient_ids)

    client = logged_in(clinician_a)
    course = records_a.course
    data = form_data(client.get(url(TreatmentCourse, "change", course.pk)))
    new = int(data["infusions-TOTAL_FORMS"])
    data["infusions-TOTAL_FORMS"] = str(new + 2)
    for index, day in ((new, "2025-03-03"), (new + 1, "2025-04-28")):
        data |= {
            f"infusions-{index}-given_on": day,
            f"infusions-{index}-weight_kg": "40",
            f"infusions-{index}-weight_measured_on": day,
            f"infusions-{index}-dose_mg": "200",
        }
    data["notes"] = "Two infusions given at the satellite clinic, entered from its letter."
    reevaluation_requested.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url(TreatmentCourse, "change", course.pk), data)
    finally:
        reevaluation_requested.disconnect(receiver)

    assert response.status_code == 302
    assert course.infusions.count() == 5
    assert Decimal(course.infusions.get(given_on=dt.date(2025, 4, 28)).dose_mg) == 200
    assert received == [[course.patient_id]]  # three rows, one page: one re-evaluation
