"""Consent records at the registry's doors: the model's rules (each refused in words that name the
field), the database constraints behind them, the services and who may call them (clinicians and
data managers record and withdraw, only data managers correct), and the admin (scoped by site)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from monitoring.models import SiteGuideline
from registry import services
from registry.models import Consent, ConsentDocument, Patient
from registry.selectors import consent_by_scope, consent_in_force, with_consent_in_force
from tests.conftest import TODAY
from tests.factories import (
    ConsentFactory,
    MembershipFactory,
    PatientFactory,
    acting_superuser,
    consent_document,
)
from tests.registry.test_admin import form_data, form_errors, logged_in, url

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
CHILD_BORN = dt.date(2014, 5, 2)  # 12 on TODAY


@pytest.fixture
def child(site_a):
    return PatientFactory(site=site_a, date_of_birth=CHILD_BORN)


def record(patient, by=None, **fields):
    arguments = {
        "document": consent_document(),
        "consented_by": "parent_guardian",
        "assent": "given",
        "scopes": ["care_data", "research"],
        "given_on": dt.date(2025, 3, 1),
    } | fields
    return services.consent_record(patient=patient, by=by or acting_superuser(), **arguments)


def refusal(make) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        make()
    return refused.value.message_dict


# --- The model's rules, through the service -------------------------------------------------------


def test_it_records_a_parents_consent_with_the_childs_assent(child, clinician_a):
    consent = record(child, clinician_a)
    assert consent.scopes_given() == ["care_data", "research"]
    assert (consent.consented_by, consent.assent) == ("parent_guardian", "given")
    created = consent.history.get()
    assert (created.history_type, created.history_user) == ("+", clinician_a)
    assert consent_in_force(child, "research", dt.date(2025, 3, 1))
    assert not consent_in_force(child, "research", dt.date(2025, 2, 28))
    assert not consent_in_force(child, "contact", TODAY)


def test_it_refuses_assent_for_an_adult_on_the_day(site_a):
    adult = PatientFactory(site=site_a, date_of_birth=dt.date(2007, 3, 1))
    errors = refusal(lambda: record(adult, given_on=dt.date(2025, 3, 1)))  # 18 that day
    assert errors["assent"] == [
        "The patient was 18 on 01 Mar 2025, an adult (the age of majority here is 18): a child's "
        "assent does not apply."
    ]
    record(adult, given_on=dt.date(2025, 2, 28))  # 17 the day before: assent applies


def test_the_sites_age_of_majority_decides_who_is_an_adult(site_a):
    SiteGuideline.objects.create(site=site_a, overrides={"age_of_majority_years": 16})
    sixteen = PatientFactory(site=site_a, date_of_birth=dt.date(2009, 1, 1))
    errors = refusal(lambda: record(sixteen, given_on=dt.date(2025, 3, 1)))
    assert "the age of majority here is 16" in errors["assent"][0]


def test_it_refuses_assent_to_the_patients_own_consent(child):
    errors = refusal(
        lambda: record(
            child, document=consent_document("young-person-consent"), consented_by="patient"
        )
    )
    assert errors["assent"] == ["Assent goes with a parent's consent, not the patient's own."]


def test_it_refuses_a_signer_the_document_is_not_for(child):
    errors = refusal(lambda: record(child, consented_by="patient", assent="not_applicable"))
    assert errors["consented_by"] == [f"{consent_document()} is signed by a parent or guardian."]
    errors = refusal(lambda: record(child, consented_by="not_recorded"))
    assert errors["consented_by"][0].startswith("Say who signed ")


def test_it_refuses_no_scope_an_unknown_scope_and_a_scope_the_document_does_not_cover(child):
    assert refusal(lambda: record(child, scopes=[]))["research_given"] == [
        "Tick at least one scope the consent gives."
    ]
    assert refusal(lambda: record(child, scopes=["marketing"]))["scopes"] == [
        "marketing is not a consent scope (care_data, research, contact)."
    ]
    legacy = consent_document("legacy-research-consent")
    errors = refusal(lambda: record(child, document=legacy, scopes=["care_data", "research"]))
    assert errors["care_data_given"][0].endswith("does not cover registry care data.")


def test_it_refuses_a_date_in_the_future_or_before_birth(child):
    assert refusal(lambda: record(child, given_on=TODAY + DAY))["given_on"] == [
        f"{TODAY + DAY:%d %b %Y} is in the future; record what has happened."
    ]
    assert refusal(lambda: record(child, given_on=CHILD_BORN - DAY))["given_on"] == [
        f"{CHILD_BORN - DAY:%d %b %Y} is before the patient's date of birth."
    ]


def test_it_refuses_consent_on_a_document_before_its_approval(child):
    document = consent_document()
    document.approved_on = dt.date(2025, 6, 1)
    document.save()
    assert refusal(lambda: record(child))["document"] == [
        f"{document} was approved on 01 Jun 2025, after this consent."
    ]


# --- Withdrawal -----------------------------------------------------------------------------------


def test_a_withdrawal_withdraws_the_scopes_named_each_on_its_own_date(child, clinician_a):
    consent = record(child)
    services.consent_withdraw(
        consent=consent, scopes=["research"], withdrawn_on=dt.date(2026, 1, 2), by=clinician_a
    )
    consent.refresh_from_db()
    assert consent.research_withdrawn_on == dt.date(2026, 1, 2)
    assert consent.care_data_withdrawn_on is None
    assert consent_in_force(child, "research", dt.date(2026, 1, 1))
    assert not consent_in_force(child, "research", dt.date(2026, 1, 2))
    assert consent_in_force(child, "care_data", TODAY)
    services.consent_withdraw(
        consent=consent, scopes=["care_data"], withdrawn_on=TODAY, by=clinician_a
    )
    consent.refresh_from_db()
    assert consent.research_withdrawn_on == dt.date(2026, 1, 2)  # the first date is kept
    assert consent.history.count() == 3


def test_it_refuses_a_withdrawal_without_a_scope_of_a_scope_never_given_or_again(child):
    consent = record(child)
    withdraw = services.consent_withdraw
    by = acting_superuser()
    assert refusal(lambda: withdraw(consent=consent, scopes=[], withdrawn_on=TODAY, by=by)) == {
        "scopes": ["Tick the scopes the withdrawal withdraws."]
    }
    assert refusal(
        lambda: withdraw(consent=consent, scopes=["contact"], withdrawn_on=TODAY, by=by)
    ) == {"scopes": ["Contact for future studies was never given, so it cannot be withdrawn."]}
    withdraw(consent=consent, scopes=["research"], withdrawn_on=TODAY, by=by)
    assert refusal(
        lambda: withdraw(consent=consent, scopes=["research"], withdrawn_on=TODAY, by=by)
    ) == {"scopes": [f"Research exports was already withdrawn on {TODAY:%d %b %Y}."]}


def test_it_refuses_a_withdrawal_before_the_consent_or_in_the_future(child):
    consent = record(child)
    by = acting_superuser()
    errors = refusal(
        lambda: services.consent_withdraw(
            consent=consent, scopes=["research"], withdrawn_on=dt.date(2025, 2, 1), by=by
        )
    )
    assert errors == {"withdrawn_on": ["Withdrawal is before consent was given (01 Mar 2025)."]}
    errors = refusal(
        lambda: services.consent_withdraw(
            consent=consent, scopes=["research"], withdrawn_on=TODAY + DAY, by=by
        )
    )
    assert errors["withdrawn_on"] == [
        f"{TODAY + DAY:%d %b %Y} is in the future; record what has happened."
    ]
    consent.refresh_from_db()
    assert consent.research_withdrawn_on is None


# --- The database constraints behind clean() ------------------------------------------------------


def assert_database_refuses(constraint: str, **fields) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        ConsentFactory(**fields)
    assert constraint in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"care_data_given": False, "research_given": False, "contact_given": False},
         "consent_gives_a_scope"),
        ({"research_withdrawn_on": dt.date(2023, 1, 1)}, "consent_withdrawn_after_given"),
        ({"contact_given": False, "contact_withdrawn_on": dt.date(2025, 1, 1)},
         "consent_withdraws_only_given_scopes"),
        ({"consented_by": "patient", "assent": "given"}, "consent_no_assent_to_own_consent"),
        ({"consented_by": "grandparent"}, "consent_by_valid"),
        ({"assent": "maybe"}, "consent_assent_valid"),
    ],
)  # fmt: skip
def test_the_database_refuses_what_clean_refuses(fields, constraint):
    assert_database_refuses(constraint, **fields)


def test_the_database_refuses_a_document_without_a_scope_or_twice_the_same_version():
    with (
        pytest.raises(IntegrityError, match="consent_document_covers_a_scope"),
        transaction.atomic(),
    ):
        ConsentDocument.objects.create(code="x", title="X", version="1", signed_by="patient")
    with (
        pytest.raises(IntegrityError, match="consent_document_version_unique"),
        transaction.atomic(),
    ):
        ConsentDocument.objects.create(
            code="parent-guardian-consent", title="Again", version="1", signed_by="patient",
            covers_research=True,
        )  # fmt: skip


def test_a_constraint_refusal_comes_back_in_its_own_words(child, monkeypatch):
    # With clean() skipped, the database is the last word, and it speaks through the service.
    monkeypatch.setattr(Consent, "clean", lambda self: None)
    with pytest.raises(ValidationError, match="Assent goes with a parent's consent"):
        record(
            child,
            document=consent_document("young-person-consent"),
            consented_by="patient",
            assent="given",
        )


# --- Who may --------------------------------------------------------------------------------------


def test_clinicians_and_data_managers_record_and_withdraw_nurses_do_not(
    child, clinician_a, data_manager_a, nurse_a
):
    consent = record(child, clinician_a)
    record(child, data_manager_a, scopes=["contact"])
    with pytest.raises(PermissionDenied, match="does not allow recording consent"):
        record(child, nurse_a)
    with pytest.raises(PermissionDenied, match="does not allow recording a withdrawal"):
        services.consent_withdraw(
            consent=consent, scopes=["research"], withdrawn_on=TODAY, by=nurse_a
        )
    services.consent_withdraw(
        consent=consent, scopes=["research"], withdrawn_on=TODAY, by=data_manager_a
    )


def test_only_a_data_manager_corrects_a_consent(child, clinician_a, data_manager_a):
    consent = record(child, clinician_a)
    with pytest.raises(PermissionDenied, match="does not allow correcting this record"):
        services.consent_correct(
            consent=consent, changes={"given_on": dt.date(2025, 3, 2)}, by=clinician_a
        )
    services.consent_correct(
        consent=consent, changes={"given_on": dt.date(2025, 3, 2)}, by=data_manager_a
    )
    assert Consent.objects.get(pk=consent.pk).given_on == dt.date(2025, 3, 2)
    with pytest.raises(ValidationError, match="Recorded with the “record consent” action"):
        services.consent_correct(
            consent=consent, changes={"patient": PatientFactory()}, by=data_manager_a
        )


def test_another_sites_clinician_may_not(child, site_b):
    elsewhere = MembershipFactory(site=site_b, role="clinician").user
    with pytest.raises(PermissionDenied):
        record(child, elsewhere)


# --- Selectors ------------------------------------------------------------------------------------


def test_the_selectors_answer_per_scope_and_day(child, site_a):
    parents = ConsentFactory(patient=child, given_on=dt.date(2024, 1, 1), contact_given=False)
    own = ConsentFactory(
        patient=child,
        document=consent_document("young-person-consent"),
        consented_by="patient",
        given_on=dt.date(2026, 1, 1),
        care_data_given=False,
        research_given=True,
        contact_given=False,
        research_withdrawn_on=dt.date(2026, 6, 1),
    )
    by_scope = consent_by_scope(child, dt.date(2026, 3, 1))
    assert by_scope == {"care_data": parents, "research": own, "contact": None}  # the latest
    assert consent_by_scope(child, TODAY)["research"] == parents
    other = PatientFactory(site=site_a)
    held = with_consent_in_force(Patient.objects.all(), "research", TODAY)
    assert set(held) == {child}
    assert other not in held


# --- The admin ------------------------------------------------------------------------------------


def test_a_clinician_adds_consent_in_the_admin_through_the_service(child, clinician_a):
    client = logged_in(clinician_a)
    data = form_data(client.get(url(Consent, "add")))
    data |= {
        "patient": str(child.pk),
        "document": str(consent_document().pk),
        "consented_by": "parent_guardian",
        "assent": "given",
        "given_on": "2025-03-01",
        "research_given": "on",
    }
    response = client.post(url(Consent, "add"), data)
    assert response.status_code == 302, form_errors(response)
    consent = child.consents.get()
    assert consent.history.get().history_user == clinician_a


def test_the_admin_refuses_assent_for_an_adult_at_its_field(site_a, data_manager_a):
    adult = PatientFactory(site=site_a, date_of_birth=dt.date(2000, 1, 1))
    client = logged_in(data_manager_a)
    data = form_data(client.get(url(Consent, "add")))
    data |= {
        "patient": str(adult.pk),
        "document": str(consent_document().pk),
        "consented_by": "parent_guardian",
        "assent": "given",
        "given_on": "2025-03-01",
        "research_given": "on",
    }
    errors = form_errors(client.post(url(Consent, "add"), data))
    assert "a child's assent does not apply" in errors["assent"][0]
    assert not adult.consents.exists()


def test_the_admin_refuses_a_withdrawal_typed_into_a_new_consent(child, data_manager_a):
    client = logged_in(data_manager_a)
    data = form_data(client.get(url(Consent, "add")))
    data |= {
        "patient": str(child.pk),
        "document": str(consent_document().pk),
        "consented_by": "parent_guardian",
        "assent": "given",
        "given_on": "2025-03-01",
        "research_given": "on",
        "research_withdrawn_on": "2025-04-01",
    }
    errors = form_errors(client.post(url(Consent, "add"), data))
    assert errors["research_withdrawn_on"] == ["Record the consent, then its withdrawal."]


def test_a_clinician_sees_but_may_not_change_a_consent_a_data_manager_may(
    child, clinician_a, data_manager_a
):
    consent = ConsentFactory(patient=child)
    page = logged_in(clinician_a).get(url(Consent, "change", consent.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    client = logged_in(data_manager_a)
    data = form_data(client.get(url(Consent, "change", consent.pk)))
    data["research_withdrawn_on"] = "2026-01-02"
    response = client.post(url(Consent, "change", consent.pk), data)
    assert response.status_code == 302, form_errors(response)
    assert Consent.objects.get(pk=consent.pk).research_withdrawn_on == dt.date(2026, 1, 2)


def test_the_admins_lists_are_scoped_to_the_users_sites(child, data_manager_a, site_b):
    mine = ConsentFactory(patient=child)
    theirs = ConsentFactory(patient=PatientFactory(site=site_b))
    page = logged_in(data_manager_a).get(url(Consent, "changelist"))
    shown = {row.pk for row in page.context["cl"].result_list}
    assert shown == {mine.pk}
    assert logged_in(data_manager_a).get(url(Consent, "change", theirs.pk)).status_code == 302
    in_force = logged_in(data_manager_a).get(url(Consent, "changelist") + "?research_in_force=yes")
    assert {row.pk for row in in_force.context["cl"].result_list} == {mine.pk}


def test_the_documents_are_the_superusers_list(data_manager_a, superuser):
    assert logged_in(data_manager_a).get(url(ConsentDocument, "changelist")).status_code == 403
    page = logged_in(superuser).get(url(ConsentDocument, "changelist"))
    assert page.status_code == 200
    codes = {d.code for d in page.context["cl"].result_list}
    assert {"parent-guardian-consent", "young-person-consent", "legacy-research-consent"} <= codes
