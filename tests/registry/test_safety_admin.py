"""The admin door of the safety record: written through the services (each refusal on its field,
nothing saved), reviews read-only, scoped to the user's sites (with tests/config/
test_admin_scope.py and the changelist tests of test_admin.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.models import AdverseEvent, ScreeningResult, Vaccination
from tests.conftest import TODAY
from tests.factories import VaccinationFactory
from tests.registry.test_admin import (
    SiteRecords,
    form_data,
    form_errors,
    logged_in,
    make_site_records,
    result_pks,
    url,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def records_a(site_a) -> SiteRecords:
    return make_site_records(site_a, family_name="Lindqvist", mrn="A-1001")


@pytest.fixture
def records_b(site_b) -> SiteRecords:
    return make_site_records(site_b, family_name="Lindqvist", mrn="B-2002")


def event_data(client, records) -> dict[str, str]:
    data = form_data(client.get(url(AdverseEvent, "add")))
    return data | {
        "patient": str(records.patient.pk),
        "course": str(records.course.pk),
        "onset_on": "2026-10-12",
        "term": "psoriasis",
        "grade": "2",
        "relation_to_infliximab": "related",
        "action_taken": "none",
        "outcome": "not_recovered",
    }


def test_it_records_an_adverse_event_with_its_author(clinician_a, records_a):
    client = logged_in(clinician_a)

    response = client.post(url(AdverseEvent, "add"), event_data(client, records_a))

    assert response.status_code == 302
    event = AdverseEvent.objects.get(term="psoriasis")
    assert event.history.get().history_user == clinician_a
    assert event.needs_review


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"grade": "7"}, "grade", "The grade runs from 1 (mild) to 5"),
        ({"serious": "on"}, "serious", "A serious event meets at least one seriousness criterion"),
    ],
)
def test_it_refuses_bad_input_on_its_field(data_manager_a, records_a, changes, field, words):
    client = logged_in(data_manager_a)
    before = AdverseEvent.objects.count()

    response = client.post(url(AdverseEvent, "add"), event_data(client, records_a) | changes)

    assert any(words in message for message in form_errors(response)[field])
    assert AdverseEvent.objects.count() == before


def test_the_reviews_are_read_only_in_the_admin(clinician_a, records_a):
    client = logged_in(clinician_a)
    for model, record in (
        (AdverseEvent, records_a.adverse_event),
        (ScreeningResult, records_a.screening_result),
    ):
        form = client.get(url(model, "change", record.pk)).context["adminform"].form
        assert "reviewed_on" not in form.fields
        assert "reviewed_by" not in form.fields


def test_it_lists_only_the_own_sites_safety_record_and_marks_what_awaits_review(
    data_manager_a, records_a, records_b
):
    client = logged_in(data_manager_a)
    assert result_pks(client.get(url(Vaccination, "changelist"))) == {records_a.vaccination.pk}
    awaiting = client.get(url(AdverseEvent, "changelist"), {"awaiting_review": "yes"})
    assert result_pks(awaiting) == set()  # the record's event is a plain, non-serious one
    records_a.adverse_event.term = "lymphoma"
    records_a.adverse_event.save()
    awaiting = client.get(url(AdverseEvent, "changelist"), {"awaiting_review": "yes"})
    assert result_pks(awaiting) == {records_a.adverse_event.pk}


def act(client, model, action: str, *records):
    return client.post(
        url(model, "changelist"),
        {"action": action, "_selected_action": [str(r.pk) for r in records]},
        follow=True,
    )


def test_a_clinician_reviews_live_vaccines_with_an_action_and_others_are_refused_by_name(
    clinician_a, records_a
):
    inactivated = records_a.vaccination  # influenza, inactivated
    live = VaccinationFactory(patient=records_a.patient, vaccine="bcg", given_on=TODAY - 3 * DAY)
    client = logged_in(clinician_a)

    page = act(client, Vaccination, "review_infusion_deferred", inactivated, live)

    said = [str(m) for m in page.context["messages"]]
    assert any("is not a live vaccine: only a live vaccine is reviewed" in m for m in said)
    assert "1 review(s) recorded." in said
    live.refresh_from_db()
    assert (live.reviewed_on, live.reviewed_by, live.review_decision) == (
        TODAY,
        clinician_a,
        "infusion_deferred",
    )
    inactivated.refresh_from_db()
    assert inactivated.reviewed_on is None
    form = client.get(url(Vaccination, "change", live.pk)).context["adminform"].form
    assert not {"reviewed_on", "reviewed_by", "review_decision", "review_note"} & set(form.fields)


def test_a_data_manager_may_not_review_with_the_admins_actions(data_manager_a, records_a):
    live = VaccinationFactory(patient=records_a.patient, vaccine="mmr", given_on=TODAY - 3 * DAY)
    page = act(logged_in(data_manager_a), Vaccination, "review_risk_accepted", live)
    assert "0 review(s) recorded." in [str(m) for m in page.context["messages"]]
    live.refresh_from_db()
    assert live.reviewed_on is None


def test_a_clinician_reviews_a_serious_event_with_an_action(clinician_a, records_a):
    event = records_a.adverse_event
    event.term = "lymphoma"  # of special interest
    event.save()
    client = logged_in(clinician_a)

    act(client, AdverseEvent, "review_hold", event)

    event.refresh_from_db()
    assert (event.reviewed_on, event.reviewed_by, event.review_decision) == (
        TODAY,
        clinician_a,
        "hold",
    )
    page = act(client, AdverseEvent, "review_continue", event)  # once only
    assert any("This event was reviewed on" in str(m) for m in page.context["messages"])
    event.refresh_from_db()
    assert event.review_decision == "hold"
