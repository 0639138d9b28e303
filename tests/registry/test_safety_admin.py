"""The admin door of the safety record: written through the services (each refusal on its field,
nothing saved), reviews read-only, scoped to the user's sites (with tests/config/
test_admin_scope.py and the changelist tests of test_admin.py)."""

from __future__ import annotations

import pytest

from registry.models import AdverseEvent, ScreeningResult, Vaccination
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
