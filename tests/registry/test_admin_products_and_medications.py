"""The admin door for products and medications: an infusion added without a product takes the
previous one's, a product not on the list is refused at its field, the list itself is for
superusers and for infliximab only, and a medication goes through its action like at every door."""

import datetime as dt

import pytest

from registry.models import NOT_A_PRODUCT, InfliximabProduct, Infusion, Medication
from tests.factories import ProductFactory
from tests.registry.test_admin import form_data, form_errors, logged_in, make_site_records, url
from tests.registry.test_admin_safeguards import add_infusion

pytestmark = pytest.mark.django_db


@pytest.fixture
def records_a(site_a):
    return make_site_records(site_a, family_name="Lindqvist", mrn="A-1001")


def test_an_infusion_added_without_a_product_takes_the_previous_infusions(nurse_a, records_a):
    remsima = ProductFactory(code="remsima")
    Infusion.objects.filter(pk=records_a.infusions[2].pk).update(product=remsima)

    response = add_infusion(logged_in(nurse_a), records_a, product="")

    assert response.status_code == 302, form_errors(response)
    assert Infusion.objects.get(given_on=dt.date(2025, 3, 3)).product == remsima


def test_an_infusion_naming_a_product_not_on_the_list_is_refused_at_its_field(nurse_a, records_a):
    before = Infusion.objects.count()

    response = add_infusion(logged_in(nurse_a), records_a, product="987654")

    assert form_errors(response)["product"] == [NOT_A_PRODUCT]
    assert Infusion.objects.count() == before


def add_product(client, **fields):
    data = form_data(client.get(url(InfliximabProduct, "add")))
    data |= {"code": "amgevita", "name": "Amgevita", "manufacturer": "Amgen"} | fields
    return client.post(url(InfliximabProduct, "add"), data)


def test_a_superuser_adds_infliximab_products_only(superuser):
    client = logged_in(superuser)

    refused = add_product(client, atc_code="L04AB04")
    added = add_product(client, code="avsola", name="Avsola", is_biosimilar="on")

    # The form offers infliximab's code only: anything else is not one of its choices.
    assert form_errors(refused)["atc_code"] == [
        "Select a valid choice. L04AB04 is not one of the available choices."
    ]
    assert added.status_code == 302, form_errors(added)
    assert InfliximabProduct.objects.get(code="avsola").history.get().history_user == superuser
    assert not InfliximabProduct.objects.filter(code="amgevita").exists()


def test_the_product_list_is_not_a_data_managers_to_change(data_manager_a):
    client = logged_in(data_manager_a)
    assert client.get(url(InfliximabProduct, "changelist")).status_code == 403
    posted = client.post(
        url(InfliximabProduct, "add"), {"code": "x", "name": "X", "manufacturer": "X"}
    )
    assert posted.status_code == 403
    assert not InfliximabProduct.objects.filter(code="x").exists()


def add_medication(client, patient, **fields):
    data = form_data(client.get(url(Medication, "add")))
    data |= {
        "patient": str(patient.pk),
        "drug": "zoledronic_acid",
        "dose": "0.025",
        "dose_unit": "mg/kg",
        "route": "intravenous",
        "frequency": "every_3_months",
        "started_on": "2025-02-03",
    } | fields
    return client.post(url(Medication, "add"), data)


def test_a_medication_added_in_the_admin_goes_through_its_action(data_manager_a, records_a):
    client = logged_in(data_manager_a)
    patient = records_a.patient

    refused = add_medication(client, patient, stopped_on="2025-02-02", stop_reason="completed")
    added = add_medication(client, patient)

    assert form_errors(refused)["stopped_on"] == [
        "It started on 03 Feb 2025; it cannot stop before that."
    ]
    assert added.status_code == 302, form_errors(added)
    medication = patient.medications.get(drug="zoledronic_acid")
    assert medication.history.get().history_user == data_manager_a


def test_a_nurse_may_not_add_a_medication_in_the_admin(nurse_a):
    assert logged_in(nurse_a).get(url(Medication, "add")).status_code == 403
