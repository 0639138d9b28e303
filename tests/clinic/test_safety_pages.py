"""The safety record's pages: recording an adverse event, screening results of one date and a
vaccination, each refusal at its field; the clinician's reviews; what the patient page and its
timeline show (infusion reactions among the adverse events); who is offered what."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from registry import services
from registry.models import AdverseEvent, ScreeningResult, Vaccination
from tests.clinic.support import (
    DAY,
    START,
    between,
    form_values,
    ms,
    refused,
    table_rows,
    timeline_data,
)
from tests.conftest import TODAY
from tests.factories import ReactionFactory

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()
ONSET = (START + 30 * DAY).isoformat()  # 03 Sep 2026, during course_a


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def adverse_event(course, **fields: Any) -> dict[str, Any]:
    """A form's worth: a serious lung infection in hospital, recovered."""
    return {
        "onset_on": ONSET,
        "term": "lung_infection",
        "grade": "3",
        "serious": "on",
        "seriousness_hospitalisation": "on",
        "relation_to_infliximab": "possibly_related",
        "action_taken": "infusion_delayed",
        "outcome": "recovered",
        "resolved_on": (START + 40 * DAY).isoformat(),
        "course": str(course.pk),
        **fields,
    }


# --- Adverse events -------------------------------------------------------------------------------


def test_a_clinician_records_a_serious_adverse_event(client, clinician_a, course_a):
    client.force_login(clinician_a)
    url = reverse("clinic:record_adverse_event", args=[course_a.patient.pk])
    page = client.get(url)
    values = form_values(page.text)
    assert (values["onset_on"], values["course"]) == (ISO_TODAY, str(course_a.pk))
    assert (
        'value="infusion_related_reaction"' not in page.text
    )  # a reaction is recorded on its infusion
    assert 'data-shown-if="serious"' in page.text  # the criteria, once the event is serious

    response = client.post(url, adverse_event(course_a))

    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert (event.term, event.grade, event.serious, event.seriousness_hospitalisation) == (
        "lung_infection", 3, True, True,
    )  # fmt: skip
    assert (event.course, event.history.get().history_user) == (course_a, clinician_a)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"grade": "7"}, "grade",
         "The grade runs from 1 (mild) to 5 (death related to the event), as CTCAE v5.0 grades; "
         "7 is outside that."),
        ({"seriousness_hospitalisation": ""}, "serious",
         "A serious event meets at least one seriousness criterion (ICH E2A): tick each one it "
         "meets, or record it as not serious."),
        ({"resolved_on": ""}, "resolved_on", "Give when: the outcome says the event ended."),
        ({"onset_on": (TODAY + DAY).isoformat(), "resolved_on": "", "outcome": "unknown"},
         "onset_on", "25 Nov 2026 is in the future; record what has happened."),
        ({"term": "other"}, "specified_term", "Name the event: this term asks for it."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_at_its_field(client, clinician_a, course_a, fields, field, message):
    client.force_login(clinician_a)
    url = reverse("clinic:record_adverse_event", args=[course_a.patient.pk])
    refused(client.post(url, adverse_event(course_a, **fields)), field, message)
    assert not AdverseEvent.objects.exists()


def test_a_nurse_is_not_offered_adverse_events_screening_or_vaccinations(client, nurse_a, course_a):
    client.force_login(nurse_a)
    page = client.get(patient_url(course_a.patient)).text
    for name in ("record_adverse_event", "record_screening", "record_vaccination"):
        assert reverse(f"clinic:{name}", args=[course_a.patient.pk]) not in page
        assert client.get(reverse(f"clinic:{name}", args=[course_a.patient.pk])).status_code == 403


def test_another_sites_patient_does_not_exist_here(client, clinician_a, course_b):
    client.force_login(clinician_a)
    url = reverse("clinic:record_adverse_event", args=[course_b.patient.pk])
    assert client.get(url).status_code == 404


@pytest.fixture
def serious_event(course_a, clinician_a) -> AdverseEvent:
    return services.adverse_event_record(
        patient=course_a.patient,
        course=course_a,
        onset_on=START + 30 * DAY,
        term="sepsis",
        grade=4,
        serious=True,
        seriousness=["life_threatening", "hospitalisation"],
        relation_to_infliximab="possibly_related",
        action_taken="treatment_interrupted",
        outcome="recovering",
        by=clinician_a,
    )


def test_the_patient_page_lists_adverse_events_with_infusion_reactions(
    client, clinician_a, course_a, serious_event
):
    ReactionFactory(infusion=course_a.infusions.first(), severity="moderate")
    client.force_login(clinician_a)

    page = client.get(patient_url(course_a.patient)).text

    rows = table_rows(between(page, 'id="adverse-events-heading"', "</section>"))
    assert rows[1] == [
        "03 Sep 2026",
        "Sepsis",
        "4 — life-threatening",
        "serious: it is life-threatening; it requires inpatient hospitalisation or prolongs an "
        "existing one",
        "Serious infection",
        "Possibly related",
        "Treatment interrupted",
        "Recovering",
        "awaiting a clinician's review Review",
    ]
    assert rows[2][:3] == [
        "04 Aug 2026",
        "Infusion related reaction (acute (within 24 h), to the infusion of 04 Aug 2026)",
        "Moderate (reaction)",
    ]
    assert reverse("clinic:review_adverse_event", args=[serious_event.pk]) in page


def test_a_nurse_sees_the_events_but_is_not_offered_their_review(
    client, nurse_a, course_a, serious_event
):
    client.force_login(nurse_a)
    page = client.get(patient_url(course_a.patient)).text
    assert "awaiting a clinician&#x27;s review" in page
    assert reverse("clinic:review_adverse_event", args=[serious_event.pk]) not in page
    url = reverse("clinic:review_adverse_event", args=[serious_event.pk])
    assert client.get(url).status_code == 403


def test_a_clinicians_review_that_stops_infliximab_stops_the_course(
    client, clinician_a, course_a, serious_event
):
    client.force_login(clinician_a)
    url = reverse("clinic:review_adverse_event", args=[serious_event.pk])
    page = client.get(url).text
    assert "Review the adverse event of 03 Sep 2026" in page
    assert "stops the course from 04 Aug 2026 on the review date" in page

    response = client.post(url, {"reviewed_on": ISO_TODAY, "decision": "stop"})

    assert response.status_code == 302
    serious_event.refresh_from_db()
    course_a.refresh_from_db()
    assert (serious_event.review_decision, serious_event.reviewed_by) == ("stop", clinician_a)
    assert (course_a.stopped_on, course_a.stop_reason) == (TODAY, "adverse_event")


def test_a_review_without_a_decision_is_refused(client, clinician_a, serious_event):
    client.force_login(clinician_a)
    url = reverse("clinic:review_adverse_event", args=[serious_event.pk])
    refused(client.post(url, {"reviewed_on": ISO_TODAY}), "decision", "This field is required.")


# --- Screening ------------------------------------------------------------------------------------


def test_a_clinician_records_the_screening_of_one_date_and_the_review_of_a_positive_igra(
    client, clinician_a, course_a
):
    client.force_login(clinician_a)
    patient = course_a.patient
    url = reverse("clinic:record_screening", args=[patient.pk])
    assert "Hepatitis B surface antibody (anti-HBs)" in client.get(url).text

    tested_on = (START - 20 * DAY).isoformat()
    response = client.post(
        url,
        {"tested_on": tested_on, "tb_igra": "positive", "tb_chest_xray": "negative",
         "hbv_hbsag": "negative", "hbv_anti_hbc": "negative", "hbv_anti_hbs": "positive"},
    )  # fmt: skip

    assert response.status_code == 302
    assert ScreeningResult.objects.count() == 5
    page = client.get(patient_url(patient)).text
    rows = table_rows(between(page, 'id="screening-heading"', "</section>"))
    igra = next(row for row in rows if row[1].startswith("TB: interferon"))
    assert igra[2:] == ["positive", "awaiting a specialist's review Record the review"]
    assert [
        "15 Jul 2026",
        "Hepatitis B surface antibody (anti-HBs)",
        "positive (immune)",
        "—",
    ] in rows

    positive = ScreeningResult.objects.get(test="tb_igra")
    review = reverse("clinic:review_screening", args=[positive.pk])
    assert client.post(review, {"reviewed_on": ISO_TODAY}).status_code == 302
    positive.refresh_from_db()
    assert (positive.reviewed_on, positive.reviewed_by) == (TODAY, clinician_a)


def test_screening_in_the_future_is_refused_and_nothing_is_saved(client, clinician_a, course_a):
    client.force_login(clinician_a)
    url = reverse("clinic:record_screening", args=[course_a.patient.pk])
    future = {"tested_on": (TODAY + DAY).isoformat(), "tb_igra": "negative", "hiv": "negative"}
    refused(
        client.post(url, future),
        "tested_on",
        "25 Nov 2026 is in the future; record what has happened.",
    )
    assert not ScreeningResult.objects.exists()


def test_a_screening_date_without_any_result_is_refused(client, clinician_a, course_a):
    client.force_login(clinician_a)
    url = reverse("clinic:record_screening", args=[course_a.patient.pk])
    refused(
        client.post(url, {"tested_on": ISO_TODAY}),
        "__all__",
        "Enter at least one result of this date.",
    )


# --- Vaccinations ---------------------------------------------------------------------------------


def test_a_live_vaccine_is_marked_live_on_the_form_the_page_and_the_timeline(
    client, clinician_a, course_a
):
    client.force_login(clinician_a)
    patient = course_a.patient
    url = reverse("clinic:record_vaccination", args=[patient.pk])
    assert "Measles, mumps and rubella (MMR) — live" in client.get(url).text

    given_on = START + 50 * DAY
    assert client.post(url, {"vaccine": "mmr", "given_on": given_on.isoformat()}).status_code == 302

    page = client.get(patient_url(patient)).text
    rows = table_rows(between(page, 'id="vaccinations-heading"', "</section>"))
    assert rows[1] == [
        "23 Sep 2026",
        "Measles, mumps and rubella (MMR)",
        "live",
        "not reviewed Review",
    ]
    data = timeline_data(page)
    assert data["vaccinations"] == [
        {"x": ms(given_on), "label": "Measles, mumps and rubella (MMR) (live)", "live": True}
    ]


def test_a_clinician_reviews_a_live_vaccine_from_the_patient_page(client, clinician_a, course_a):
    vaccination = services.vaccination_record(
        patient=course_a.patient, vaccine="varicella", given_on=START + 50 * DAY, by=clinician_a
    )
    url = reverse("clinic:review_vaccination", args=[vaccination.pk])
    client.force_login(clinician_a)
    assert url in client.get(patient_url(course_a.patient)).text
    page = client.get(url).text
    assert "Review the Varicella of 23 Sep 2026" in page
    assert "no infusion within 90 days after one" in page

    refused(client.post(url, {"reviewed_on": ISO_TODAY}), "decision", "This field is required.")
    response = client.post(
        url, {"reviewed_on": ISO_TODAY, "decision": "risk_accepted", "note": "GP; no rash"}
    )

    assert response.status_code == 302
    vaccination.refresh_from_db()
    assert (vaccination.reviewed_by, vaccination.review_decision, vaccination.review_note) == (
        clinician_a,
        "risk_accepted",
        "GP; no rash",
    )
    page = client.get(patient_url(course_a.patient)).text
    rows = table_rows(between(page, 'id="vaccinations-heading"', "</section>"))
    assert rows[1][3] == (f"reviewed {TODAY:%d %b %Y}: Risk accepted: infusions go on as planned")
    assert url not in page


def test_a_vaccine_that_is_not_live_is_not_offered_a_review_and_is_refused_one(
    client, clinician_a, nurse_a, course_a
):
    vaccination = services.vaccination_record(
        patient=course_a.patient, vaccine="hepatitis_a", given_on=START + 50 * DAY, by=clinician_a
    )
    url = reverse("clinic:review_vaccination", args=[vaccination.pk])
    client.force_login(clinician_a)
    assert url not in client.get(patient_url(course_a.patient)).text
    response = client.post(url, {"reviewed_on": ISO_TODAY, "decision": "risk_accepted"})
    assert response.status_code == 400
    assert "Hepatitis A is not a live vaccine: only a live vaccine is reviewed" in response.text
    client.force_login(nurse_a)
    assert client.get(url).status_code == 403


def test_a_vaccine_date_before_birth_is_refused_at_its_field(client, clinician_a, course_a):
    client.force_login(clinician_a)
    url = reverse("clinic:record_vaccination", args=[course_a.patient.pk])
    born = course_a.patient.date_of_birth
    response = client.post(url, {"vaccine": "bcg", "given_on": (born - DAY).isoformat()})
    refused(response, "given_on", f"{born - DAY:%d %b %Y} is before the patient's date of birth.")
    assert not Vaccination.objects.exists()


def test_the_timeline_marks_adverse_events_and_screening(
    client, clinician_a, course_a, serious_event
):
    services.screening_result_record(
        patient=course_a.patient, test="hbv_anti_hbc", tested_on=START - 3 * DAY,
        result="indeterminate", by=clinician_a,
    )  # fmt: skip
    client.force_login(clinician_a)

    data = timeline_data(client.get(patient_url(course_a.patient)).text)

    assert data["adverse_events"] == [
        {"x": ms(START + 30 * DAY), "label": "Sepsis, grade 4, serious", "serious": True}
    ]
    assert data["screening"] == [
        {
            "x": ms(START - 3 * DAY),
            "label": "Hepatitis B core antibody (anti-HBc): indeterminate",
            "flagged": True,
        }
    ]


def test_the_history_of_the_record_names_the_new_records(
    client, clinician_a, course_a, serious_event
):
    services.adverse_event_review_record(
        event=serious_event, reviewed_on=TODAY, decision="continue", by=clinician_a
    )
    client.force_login(clinician_a)
    history = [
        change.what for change in client.get(patient_url(course_a.patient)).context["history"]
    ]
    assert (
        "Adverse event of 03 Sep 2026 (sepsis) reviewed: reviewed on 24 Nov 2026; review decision "
        "Continue infliximab" in history
    )
    assert "Adverse event of 03 Sep 2026 (sepsis) recorded" in history
