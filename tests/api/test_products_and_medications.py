"""Products and other medications over the API: a product named by its code (anything else refused
naming the list), the previous infusion's product when none is sent, a switch, and medications
with the model's own refusals, their stop action and their site's scope."""

from __future__ import annotations

import pytest

from registry.models import Infusion, Medication
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

D = "2026-11-20"


def infusion_body(record, **fields):
    return {
        "course": record.course.pk,
        "given_on": D,
        "weight_kg": "40",
        "weight_measured_on": D,
        "dose_mg": "200",
    } | fields


@pytest.fixture
def remicade():
    return ProductFactory(code="remicade")


@pytest.fixture
def remsima():
    return ProductFactory(code="remsima")


def test_an_infusion_names_its_product_by_code_and_the_next_one_takes_it(
    record_a, as_nurse, remsima
):
    given = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, product="remsima", lot_number="21B04A"),
        format="json",
    )  # fmt: skip
    assert given.status_code == 201, given.json()
    assert (given.json()["product"], given.json()["lot_number"]) == ("remsima", "21B04A")

    later = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, given_on="2026-11-23",
                                            weight_measured_on="2026-11-23"),
        format="json",
    )  # fmt: skip
    assert later.status_code == 201, later.json()
    assert later.json()["product"] == "remsima"  # the previous infusion's, none being sent


def test_an_infusion_without_a_product_takes_the_courses(record_a, as_clinician, remicade):
    patched = as_clinician.patch(
        f"/api/v1/courses/{record_a.course.pk}/", {"product": "remicade"}, format="json",
        headers={"If-Match": as_clinician.get(f"/api/v1/courses/{record_a.course.pk}/")["ETag"]},
    )  # fmt: skip
    assert patched.status_code == 200, patched.json()

    given = as_clinician.post("/api/v1/infusions/", infusion_body(record_a), format="json")

    assert given.json()["product"] == "remicade"


@pytest.mark.parametrize("product", ["humira", "amgevita", "infliximab"])
def test_a_product_that_is_not_an_infliximab_product_of_the_list_is_refused_at_its_field(
    record_a, as_nurse, product
):
    before = Infusion.objects.count()

    refused = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, product=product), format="json"
    )

    assert refused.status_code == 400
    [message] = refused.json()["errors"]["product"]
    assert message.startswith(f"“{product}” is not one of the registry's infliximab products (")
    assert {"remicade", "remsima"} <= set(message.rstrip(").").split("(")[1].split(", "))
    assert Infusion.objects.count() == before


def test_a_lot_that_is_not_a_code_is_refused_at_its_field(record_a, as_nurse):
    refused = as_nurse.post(
        "/api/v1/infusions/", infusion_body(record_a, lot_number="from the fridge"), format="json"
    )
    assert refused.status_code == 400
    assert "the code printed on the vial" in refused.json()["errors"]["lot_number"][0]


# --- Medications ----------------------------------------------------------------------------------


def medication_body(record, **fields):
    return {
        "patient": record.patient.pk,
        "drug": "naproxen",
        "dose": "5",
        "dose_unit": "mg/kg",
        "route": "oral",
        "frequency": "twice_daily",
        "started_on": "2026-01-05",
    } | fields


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"stopped_on": "2026-01-04", "stop_reason": "inefficacy"},
            "stopped_on",
            "It started on 05 Jan 2026; it cannot stop before that.",
        ),
        ({"started_on": "2026-11-25"}, "started_on", "25 Nov 2026 is in the future; record what "
         "has happened."),
        ({"drug": "other"}, "drug_name", "Name the drug."),
        ({"dose_unit": ""}, "dose_unit", "Choose the dose's unit."),
    ],
)  # fmt: skip
def test_a_medication_is_refused_with_the_models_message_at_its_field(
    record_a, as_clinician, fields, field, message
):
    before = Medication.objects.count()

    refused = as_clinician.post("/api/v1/medications/", medication_body(record_a, **fields),
                                format="json")  # fmt: skip

    assert refused.status_code == 400
    assert refused.json()["errors"][field] == [message]
    assert Medication.objects.count() == before


def test_a_medication_shows_its_atc_code_and_stops_with_its_action(
    record_a, as_clinician, clinician_a
):
    created = as_clinician.post("/api/v1/medications/", medication_body(record_a, drug="celecoxib",
                                dose="100", dose_unit="mg"), format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    assert created.json()["atc_code"] == "M01AH01"
    url = f"/api/v1/medications/{created.json()['id']}/stop/"

    stopped = as_clinician.post(url, {"stopped_on": D, "reason": "adverse_event"}, format="json")
    again = as_clinician.post(url, {"stopped_on": D, "reason": "other"}, format="json")

    assert stopped.status_code == 200, stopped.json()
    assert (stopped.json()["stopped_on"], stopped.json()["stop_reason"]) == (D, "adverse_event")
    assert again.status_code == 400
    assert again.json()["errors"]["stopped_on"] == [
        "This medication already stopped on 20 Nov 2026."
    ]


def test_a_nurse_reads_medications_but_does_not_record_them(record_a, as_nurse):
    assert as_nurse.get("/api/v1/medications/").json()["count"] == 1
    refused = as_nurse.post("/api/v1/medications/", medication_body(record_a), format="json")
    assert refused.status_code == 403


def test_medications_are_scoped_to_the_callers_sites(record_a, record_b, as_clinician):
    listed = as_clinician.get("/api/v1/medications/", {"stopped_on__isnull": "true"}).json()
    assert [row["id"] for row in listed["results"]] == [record_a.medication.pk]
    assert as_clinician.get(f"/api/v1/medications/{record_b.medication.pk}/").status_code == 404

    refused = as_clinician.post(
        "/api/v1/medications/", medication_body(record_b), format="json"
    )  # another site's patient
    assert refused.status_code == 400
    assert "patient" in refused.json()["errors"]
    assert not record_b.patient.medications.exclude(pk=record_b.medication.pk).exists()
