"""The consent pages: recording consent on the patient page (each refusal at its field, in the error
summary too), a withdrawal of some scopes, what the patient page shows of each scope, the history
in words, and who is offered what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry.models import Consent
from tests.clinic.support import between, refused, table_rows
from tests.conftest import TODAY
from tests.factories import ConsentFactory, PatientFactory, consent_document

pytestmark = pytest.mark.django_db


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def record_url(patient) -> str:
    return reverse("clinic:record_consent", args=[patient.pk])


def consent_form(**fields) -> dict[str, str]:
    return {
        "document": str(consent_document().pk),
        "consented_by": "parent_guardian",
        "assent": "given",
        "care_data_given": "on",
        "research_given": "on",
        "given_on": "2026-10-01",
        **fields,
    }


def scopes_shown(page: str) -> dict[str, str]:
    section = between(page, 'id="consent-heading"', "</ul>")
    items = section.split('<li data-scope="')[1:]
    return {
        item.split('"', 1)[0]: " ".join(item.split(">", 1)[1].split("</li>")[0].split())
        for item in items
    }


def test_a_clinician_records_a_parents_consent_and_the_page_shows_each_scope(
    client, clinician_a, course_a
):
    client.force_login(clinician_a)
    patient = course_a.patient
    page = client.get(patient_url(patient)).text
    assert record_url(patient) in page
    assert scopes_shown(page)["research"].endswith("not in force</strong> — not given")
    assert "Research consent: not given" in page

    response = client.post(record_url(patient), consent_form())
    assert response.status_code == 302

    consent = patient.consents.get()
    assert consent.scopes_given() == ["care_data", "research"]
    page = client.get(patient_url(patient)).text
    shown = scopes_shown(page)
    assert shown["research"].startswith(
        "<strong>Research exports:</strong> in force — given 01 Oct 2026 by a parent or guardian "
        "(Parent/guardian consent v1), child's assent given"
    )
    assert shown["contact"].endswith("not in force</strong> — not given")
    assert "Research consent: in force (given 01 Oct 2026)" in page
    rows = table_rows(between(page, 'id="consent-heading"', "</section>"))
    assert rows[1][:4] == [
        "01 Oct 2026",
        "Parent/guardian consent v1",
        "A parent or guardian",
        "Given",
    ]
    history = between(page, 'id="history-heading"', "</section>")
    assert "Consent of 01 Oct 2026 (a parent or guardian)" in history


def test_the_form_offers_neither_the_legacy_document_nor_not_recorded(
    client, clinician_a, course_a
):
    client.force_login(clinician_a)
    form = client.get(record_url(course_a.patient)).context["form"]
    documents = {d.code for d in form.fields["document"].queryset}
    assert "legacy-research-consent" not in documents
    assert "not_recorded" not in {value for value, _label in form.fields["consented_by"].choices}


def test_assent_for_an_adult_is_refused_at_its_field(client, clinician_a, site_a):
    adult = PatientFactory(site=site_a, date_of_birth=dt.date(2006, 1, 1))
    client.force_login(clinician_a)
    response = client.post(record_url(adult), consent_form())
    refused(
        response,
        "assent",
        "The patient was 20 on 01 Oct 2026, an adult (the age of majority here is 18): a child's "
        "assent does not apply.",
    )
    assert not adult.consents.exists()


def test_no_scope_and_a_future_date_are_refused_at_their_fields(client, clinician_a, course_a):
    client.force_login(clinician_a)
    data = consent_form()
    del data["care_data_given"], data["research_given"]
    refused(
        client.post(record_url(course_a.patient), data),
        "research_given",
        "Tick at least one scope the consent gives.",
    )
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    refused(
        client.post(record_url(course_a.patient), consent_form(given_on=future)),
        "given_on",
        "25 Nov 2026 is in the future; record what has happened.",
    )
    assert not Consent.objects.exists()


def withdraw_url(consent) -> str:
    return reverse("clinic:withdraw_consent", args=[consent.pk])


def test_a_clinician_withdraws_research_and_care_data_stays_in_force(client, clinician_a, course_a):
    consent = ConsentFactory(patient=course_a.patient, given_on=dt.date(2025, 1, 1))
    client.force_login(clinician_a)
    page = client.get(withdraw_url(consent))
    assert page.status_code == 200
    assert {v for v, _l in page.context["form"].fields["scopes"].choices} == {
        "care_data",
        "research",
        "contact",
    }
    response = client.post(
        withdraw_url(consent), {"withdrawn_on": "2026-11-01", "scopes": ["research"]}
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.research_withdrawn_on == dt.date(2026, 11, 1)
    page = client.get(patient_url(course_a.patient)).text
    shown = scopes_shown(page)
    assert shown["research"].endswith("not in force</strong> — withdrawn 01 Nov 2026")
    assert "in force — given 01 Jan 2025" in shown["care_data"]
    assert "Research consent: withdrawn 01 Nov 2026" in page
    assert "research exports withdrawn" in between(page, 'id="history-heading"', "</section>")
    # What is withdrawn is no longer offered.
    again = client.get(withdraw_url(consent)).context["form"].fields["scopes"].choices
    assert "research" not in {v for v, _l in again}


def test_a_withdrawal_without_a_scope_or_before_the_consent_is_refused(
    client, clinician_a, course_a
):
    consent = ConsentFactory(patient=course_a.patient, given_on=dt.date(2025, 1, 1))
    client.force_login(clinician_a)
    refused(
        client.post(withdraw_url(consent), {"withdrawn_on": "2026-11-01"}),
        "scopes",
        "Tick the scopes the withdrawal withdraws.",
    )
    refused(
        client.post(withdraw_url(consent), {"withdrawn_on": "2024-12-01", "scopes": ["research"]}),
        "withdrawn_on",
        "Withdrawal is before consent was given (01 Jan 2025).",
    )
    consent.contact_given = False
    consent.save()
    refused(
        client.post(withdraw_url(consent), {"withdrawn_on": "2026-11-01", "scopes": ["contact"]}),
        "scopes",
        "contact was never given on this consent, or is already withdrawn.",
    )
    consent.refresh_from_db()
    assert consent.scopes_withdrawn() == []


def test_a_nurse_sees_consent_but_is_offered_neither_action(client, nurse_a, course_a):
    consent = ConsentFactory(patient=course_a.patient)
    client.force_login(nurse_a)
    page = client.get(patient_url(course_a.patient)).text
    assert 'id="consent-heading"' in page
    assert record_url(course_a.patient) not in page
    assert withdraw_url(consent) not in page
    assert client.get(record_url(course_a.patient)).status_code == 403
    assert client.get(withdraw_url(consent)).status_code == 403


def test_another_sites_consent_does_not_exist_here(client, clinician_a, course_b):
    consent = ConsentFactory(patient=course_b.patient)
    client.force_login(clinician_a)
    assert client.get(withdraw_url(consent)).status_code == 404
    assert client.get(record_url(course_b.patient)).status_code == 404


def test_a_data_manager_sees_who_must_reconsent_and_clears_it_with_the_patients_own_consent(
    client, data_manager_a, site_a, committed
):
    """The whole path of reconsent_at_majority through the clinic: 18 on a parent's consent, the
    data manager's worklist (filtered by the rule) names the patient; the patient's own consent,
    recorded on the consent page, resolves it."""
    from monitoring.evaluation import evaluate_courses
    from monitoring.models import Alert
    from tests.factories import CourseFactory, InfusionFactory

    turned_18 = TODAY - dt.timedelta(days=30)
    patient = PatientFactory(site=site_a, date_of_birth=turned_18.replace(year=turned_18.year - 18))
    ConsentFactory(patient=patient, given_on=dt.date(2022, 5, 1))
    course = CourseFactory(patient=patient, started_on=TODAY - dt.timedelta(days=20))
    InfusionFactory(course=course, given_on=course.started_on)
    evaluate_courses([course.pk], TODAY)
    client.force_login(data_manager_a)

    worklist = client.get(reverse("clinic:worklist"), {"rule": "reconsent_at_majority"}).text
    assert patient.registry_code in worklist
    assert "Consent: ask the patient&#x27;s own consent at majority" in worklist

    own = consent_form(
        document=str(consent_document("young-person-consent").pk),
        consented_by="patient",
        assent="not_applicable",
        given_on=str(TODAY),
    )
    with committed():
        response = client.post(record_url(patient), own)
    assert response.status_code == 302, response.context["form"].errors
    alert = Alert.objects.get(course=course, rule="reconsent_at_majority")
    assert alert.status == "resolved"
    worklist = client.get(reverse("clinic:worklist"), {"rule": "reconsent_at_majority"}).text
    assert patient.registry_code not in worklist
