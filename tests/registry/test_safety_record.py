"""The safety record: adverse events, screening results and vaccinations, as the services store
them, what they refuse (each with its field's message), who may record and review them, and the
database constraints behind the refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from registry import roles, services
from registry.models import (
    AWAITING_REVIEW,
    SCREENING_AWAITING_REVIEW,
    AdverseEvent,
    ScreeningResult,
    Vaccination,
)
from registry.safety_codes import (
    CODINGS,
    LIVE_VACCINES,
    AdverseEventTerm,
    SpecialInterest,
    Vaccine,
    special_interest,
)
from tests.conftest import TODAY, _member
from tests.factories import (
    AdverseEventFactory,
    CourseFactory,
    InfusionFactory,
    PatientFactory,
    ScreeningResultFactory,
    VaccinationFactory,
)

pytestmark = pytest.mark.django_db

ONSET = dt.date(2026, 10, 5)


@pytest.fixture
def course(site_a):
    return CourseFactory(patient=PatientFactory(site=site_a), started_on=dt.date(2026, 6, 1))


def event(course, by, **fields: Any) -> AdverseEvent:
    """A non-serious grade-2 skin infection of the course's patient, recovered (or `fields`)."""
    values: dict[str, Any] = {
        "patient": course.patient,
        "course": course,
        "onset_on": ONSET,
        "term": "skin_infection",
        "grade": 2,
        "relation_to_infliximab": "possibly_related",
        "action_taken": "none",
        "outcome": "recovered",
        "resolved_on": ONSET + dt.timedelta(days=10),
        **fields,
    }
    return services.adverse_event_record(by=by, **values)


def refused(action, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        action(**kwargs)
    return caught.value.message_dict


# --- Adverse events: what is stored ---------------------------------------------------------------


def test_it_records_a_serious_event_with_its_criteria_and_its_author(course, clinician_a):
    recorded = event(
        course,
        clinician_a,
        term="lung_infection",
        grade=3,
        serious=True,
        seriousness=["hospitalisation", "medically_important"],
        outcome="recovering",
        resolved_on=None,
    )

    stored = AdverseEvent.objects.get(pk=recorded.pk)
    assert (stored.serious, stored.seriousness_hospitalisation) == (True, True)
    assert stored.seriousness_medically_important
    assert not stored.seriousness_death
    assert stored.seriousness_criteria == [
        "requires inpatient hospitalisation or prolongs an existing one",
        "is another important medical event",
    ]
    assert stored.special_interest == [SpecialInterest.SERIOUS_INFECTION]
    assert stored.needs_review
    assert stored.history.get().history_user == clinician_a
    assert list(AdverseEvent.objects.filter(AWAITING_REVIEW)) == [stored]


def test_it_codes_each_term_by_its_ctcae_term_and_meddra_code_or_by_the_terms_text():
    assert CODINGS[AdverseEventTerm.LUNG_INFECTION].code == "10061229"
    assert CODINGS[AdverseEventTerm.INFUSION_RELATED_REACTION].code == "10051792"
    tb = CODINGS[AdverseEventTerm.TUBERCULOSIS]
    assert tb.meddra_llt == ""
    assert tb.code == "Infections and infestations - Other, specify: Tuberculosis"
    assert set(CODINGS) == set(AdverseEventTerm.values)


@pytest.mark.parametrize(
    ("term", "serious", "found"),
    [
        ("lung_infection", False, []),
        ("lung_infection", True, ["serious_infection"]),
        ("tuberculosis", False, ["tuberculosis"]),
        ("tuberculosis", True, ["serious_infection", "tuberculosis"]),
        ("psoriasis", False, ["paradoxical_psoriasis"]),
        ("lupus_like_syndrome", False, ["lupus_like_syndrome"]),
        ("peripheral_sensory_neuropathy", False, ["demyelination"]),
        ("lymphoma", True, ["malignancy"]),
        ("other_malignancy", False, ["malignancy"]),
        ("alt_increased", True, []),
    ],
)
def test_events_of_special_interest_come_from_the_term_and_seriousness(term, serious, found):
    assert special_interest(term, serious=serious) == found


def test_a_non_serious_event_of_special_interest_awaits_review_a_plain_one_does_not(
    course, clinician_a
):
    psoriasis = event(
        course, clinician_a, term="psoriasis", outcome="not_recovered", resolved_on=None
    )
    plain = event(course, clinician_a, onset_on=ONSET + dt.timedelta(days=1))

    assert psoriasis.needs_review
    assert not plain.needs_review
    assert list(AdverseEvent.objects.filter(AWAITING_REVIEW)) == [psoriasis]


def test_a_fatal_event_is_grade_5_serious_and_results_in_death(course, clinician_a):
    fatal = event(
        course,
        clinician_a,
        term="sepsis",
        grade=5,
        serious=True,
        seriousness=["death", "life_threatening"],
        outcome="fatal",
        resolved_on=ONSET + dt.timedelta(days=3),
    )
    assert fatal.seriousness_death


def test_a_named_term_keeps_the_name_given(course, clinician_a):
    named = event(course, clinician_a, term="other_infection", specified_term=" Mastoiditis ")
    assert named.specified_term == "Mastoiditis"
    assert named.term_words == "Other infection: Mastoiditis"


# --- Adverse events: bad input, one message at its field ------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"grade": 7}, "grade", "The grade runs from 1 (mild) to 5 (death related to the event)"),
        ({"grade": 0}, "grade", "0 is outside that"),
        ({"grade": None}, "grade", "Give the CTCAE grade, from 1 (mild) to 5 (death)."),
        ({"serious": True}, "serious", "A serious event meets at least one seriousness criterion"),
        ({"seriousness": ["hospitalisation"]}, "serious", "that makes it serious"),
        (
            {"grade": 5, "serious": True, "seriousness": ["death"]},
            "outcome",
            "The event resulted in death: its outcome is fatal.",
        ),
        (
            {"outcome": "fatal", "serious": True, "seriousness": ["life_threatening"], "grade": 5},
            "seriousness_death",
            "A fatal event results in death",
        ),
        (
            {"outcome": "fatal", "serious": True, "seriousness": ["death"], "grade": 4},
            "grade",
            "A fatal event is grade 5",
        ),
        ({"resolved_on": None}, "resolved_on", "the outcome says the event ended"),
        ({"outcome": "recovering"}, "resolved_on", "has not ended"),
        ({"resolved_on": ONSET - dt.timedelta(days=1)}, "resolved_on", "before its onset"),
        (
            {"onset_on": TODAY + dt.timedelta(days=1), "resolved_on": None, "outcome": "unknown"},
            "onset_on",
            "is in the future",
        ),
        ({"onset_on": dt.date(2026, 5, 1)}, "onset_on", "The course started on 01 Jun 2026"),
        ({"term": "infusion_related_reaction"}, "term", "recorded as a reaction to its infusion"),
        ({"term": "other"}, "specified_term", "Name the event"),
        ({"specified_term": "Cellulitis"}, "specified_term", "Only a term that says “name it”"),
        ({"relation_to_infliximab": "maybe"}, "relation_to_infliximab", "not a valid choice"),
    ],
)
def test_it_refuses_bad_input_at_its_field(course, clinician_a, fields, field, words):
    errors = refused(event, course=course, by=clinician_a, **fields)
    assert words in " ".join(errors[field]), errors
    assert not AdverseEvent.objects.exists()


def test_it_refuses_an_unknown_seriousness_criterion(course, clinician_a):
    errors = refused(event, course=course, by=clinician_a, serious=True, seriousness=["scary"])
    assert errors == {
        "seriousness": [
            "Unknown seriousness criteria: ['scary']; the criteria are death, life_threatening, "
            "hospitalisation, disability, congenital_anomaly, medically_important."
        ]
    }


def test_it_refuses_another_patients_course_and_an_onset_before_birth(course, clinician_a):
    other = CourseFactory(patient=PatientFactory(site=course.patient.site))
    errors = refused(event, course=other, by=clinician_a, patient=course.patient)
    assert errors["course"] == ["This course belongs to another patient."]
    errors = refused(
        event, course=course, by=clinician_a, onset_on=dt.date(2010, 1, 1), resolved_on=None,
        outcome="unknown",
    )  # fmt: skip
    assert errors["onset_on"][0] == "01 Jan 2010 is before the patient's date of birth."


# --- Adverse events: who records and who reviews --------------------------------------------------


@pytest.mark.parametrize("role", ["nurse", "researcher"])
def test_nurses_and_researchers_do_not_record_adverse_events(course, site_a, role):
    person = _member(f"{role}-x", site_a, role)
    with pytest.raises(PermissionDenied, match="does not allow recording an adverse event"):
        event(course, person)


def test_staff_of_another_site_do_not_record_them(course, site_b):
    with pytest.raises(PermissionDenied):
        event(course, _member("elsewhere", site_b, "clinician"))


def test_a_clinician_reviews_an_event_once(course, clinician_a):
    recorded = event(course, clinician_a, serious=True, seriousness=["hospitalisation"])

    reviewed = services.adverse_event_review_record(
        event=recorded, reviewed_on=TODAY, decision="continue", by=clinician_a
    )

    assert (reviewed.reviewed_on, reviewed.reviewed_by, reviewed.review_decision) == (
        TODAY,
        clinician_a,
        "continue",
    )
    assert not reviewed.needs_review
    again = refused(
        services.adverse_event_review_record,
        event=reviewed,
        reviewed_on=TODAY,
        decision="hold",
        by=clinician_a,
    )
    assert again == {"reviewed_on": ["This event was reviewed on 24 Nov 2026 by carl."]}


@pytest.mark.parametrize("role", ["data_manager", "nurse"])
def test_only_a_clinician_of_the_site_reviews_an_event(course, clinician_a, site_a, site_b, role):
    recorded = event(course, clinician_a, term="psoriasis")
    for reviewer in (_member(f"{role}-x", site_a, role), _member("other", site_b, "clinician")):
        with pytest.raises(PermissionDenied, match="Only a clinician of this site"):
            services.adverse_event_review_record(
                event=recorded, reviewed_on=TODAY, decision="continue", by=reviewer
            )
    assert AdverseEvent.objects.get().reviewed_on is None


def test_a_review_needs_a_decision_and_a_date_after_the_onset(course, clinician_a):
    recorded = event(course, clinician_a)
    assert refused(
        services.adverse_event_review_record,
        event=recorded, reviewed_on=TODAY, decision="", by=clinician_a,
    ) == {"decision": ["Choose the decision on infliximab."]}  # fmt: skip
    early = refused(
        services.adverse_event_review_record,
        event=recorded, reviewed_on=ONSET - dt.timedelta(days=1), decision="hold", by=clinician_a,
    )  # fmt: skip
    assert early == {"reviewed_on": ["The review is before the event's onset."]}
    assert AdverseEvent.objects.get().reviewed_on is None


def test_a_review_that_stops_infliximab_stops_the_active_course(course, clinician_a):
    InfusionFactory(course=course, given_on=dt.date(2026, 9, 1))
    recorded = event(
        course, clinician_a, term="lymphoma", outcome="not_recovered", resolved_on=None
    )

    services.adverse_event_review_record(
        event=recorded, reviewed_on=TODAY, decision="stop", by=clinician_a
    )

    course.refresh_from_db()
    assert (course.stopped_on, course.stop_reason) == (TODAY, "adverse_event")
    assert "after the adverse event of 05 Oct 2026 (lymphoma, grade 2)" in course.notes


def test_a_correction_of_what_the_review_rule_reads_is_a_clinicians(
    course, clinician_a, data_manager_a
):
    recorded = event(course, clinician_a)
    services.adverse_event_correct(event=recorded, changes={"grade": 3}, by=data_manager_a)
    with pytest.raises(PermissionDenied, match="Only a clinician of this site may correct"):
        services.adverse_event_correct(
            event=recorded,
            changes={"serious": True, "seriousness_hospitalisation": True},
            by=data_manager_a,
        )
    owned = refused(
        services.adverse_event_correct,
        event=recorded, changes={"review_decision": "stop"}, by=clinician_a,
    )  # fmt: skip
    assert owned == {
        "review_decision": [
            "Recorded with the “review the adverse event” action, not corrected here."
        ]
    }
    assert AdverseEvent.objects.get().grade == 3


# --- Screening ------------------------------------------------------------------------------------


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a)


def screen(patient, by, **fields: Any) -> ScreeningResult:
    values = {"test": "tb_igra", "tested_on": dt.date(2026, 5, 20), "result": "positive", **fields}
    return services.screening_result_record(patient=patient, by=by, **values)


def test_a_positive_tb_screen_awaits_a_specialist_review_until_a_clinician_records_it(
    patient, clinician_a
):
    positive = screen(patient, clinician_a)
    assert positive.awaiting_review
    assert list(ScreeningResult.objects.filter(SCREENING_AWAITING_REVIEW)) == [positive]

    reviewed = services.screening_review_record(
        screening=positive, reviewed_on=TODAY, by=clinician_a
    )

    assert (reviewed.reviewed_on, reviewed.reviewed_by) == (TODAY, clinician_a)
    assert not ScreeningResult.objects.filter(SCREENING_AWAITING_REVIEW).exists()
    assert [h.history_user for h in reviewed.history.all()] == [clinician_a, clinician_a]


@pytest.mark.parametrize(
    ("test", "result", "words"),
    [
        ("hbv_hbsag", "negative", "is not recorded for a negative result"),
        ("hbv_anti_hbs", "positive", "a positive (immune) Hepatitis B surface antibody"),
        ("varicella_igg", "indeterminate", "result means immunity"),
    ],
)
def test_a_result_that_needs_no_specialist_is_not_reviewed(
    patient, clinician_a, test, result, words
):
    screening = screen(patient, clinician_a, test=test, result=result)
    assert not screening.awaiting_review
    errors = refused(
        services.screening_review_record, screening=screening, reviewed_on=TODAY, by=clinician_a
    )
    assert words in errors["reviewed_on"][0]


def test_an_indeterminate_hepatitis_b_core_antibody_needs_a_specialist(patient, clinician_a):
    assert screen(patient, clinician_a, test="hbv_anti_hbc", result="indeterminate").awaiting_review


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"tested_on": TODAY + dt.timedelta(days=1)}, "tested_on",
         "25 Nov 2026 is in the future; record what has happened."),
        ({"tested_on": dt.date(2011, 1, 1)}, "tested_on",
         "01 Jan 2011 is before the patient's date of birth."),
        ({"result": "weak"}, "result", "Value 'weak' is not a valid choice."),
        ({"test": "sputum"}, "test", "Value 'sputum' is not a valid choice."),
    ],
)  # fmt: skip
def test_it_refuses_a_screening_result_in_the_future_and_other_bad_input(
    patient, clinician_a, fields, field, message
):
    assert refused(screen, patient=patient, by=clinician_a, **fields) == {field: [message]}
    assert not ScreeningResult.objects.exists()


def test_it_records_a_test_once_a_day(patient, clinician_a):
    screen(patient, clinician_a)
    errors = refused(screen, patient=patient, by=clinician_a, result="negative")
    assert errors == {
        "tested_on": [
            "A TB: interferon-gamma release assay (IGRA) result of 20 May 2026 is already "
            "recorded for this patient: correct that result instead."
        ]
    }


def test_only_a_clinician_of_the_site_records_a_screening_review(
    patient, clinician_a, data_manager_a, nurse_a
):
    positive = screen(patient, clinician_a)
    for person in (data_manager_a, nurse_a):
        with pytest.raises(PermissionDenied, match="Only a clinician of this site"):
            services.screening_review_record(screening=positive, reviewed_on=TODAY, by=person)
    with pytest.raises(PermissionDenied, match="does not allow recording a screening result"):
        screen(patient, nurse_a, test="hiv")


def test_the_screening_of_one_date_is_saved_whole_or_not_at_all(patient, clinician_a):
    screen(patient, clinician_a, test="hbv_hbsag", result="negative")
    results = {"tb_igra": "negative", "hbv_hbsag": "negative", "hiv": "weak"}

    errors = refused(
        services.screening_panel_record,
        patient=patient, tested_on=dt.date(2026, 5, 20), results=results, by=clinician_a,
    )  # fmt: skip

    assert errors == {
        "tested_on": [
            "A Hepatitis B surface antigen (HBsAg) result of 20 May 2026 is already recorded "
            "for this patient: correct that result instead."
        ],
        "hiv": ["Value 'weak' is not a valid choice."],
    }
    assert list(ScreeningResult.objects.values_list("test", flat=True)) == ["hbv_hbsag"]

    saved = services.screening_panel_record(
        patient=patient, tested_on=dt.date(2026, 5, 21), results=results | {"hiv": "negative"},
        by=clinician_a,
    )  # fmt: skip
    assert sorted(saved) == ["hbv_hbsag", "hiv", "tb_igra"]


# --- Vaccinations ---------------------------------------------------------------------------------


def test_a_vaccine_is_live_or_not_by_its_kind(patient, clinician_a):
    mmr = services.vaccination_record(
        patient=patient, vaccine="mmr", given_on=dt.date(2026, 9, 1), by=clinician_a
    )
    flu = services.vaccination_record(
        patient=patient,
        vaccine="influenza_inactivated",
        given_on=dt.date(2026, 9, 1),
        by=clinician_a,
    )
    assert (mmr.live, flu.live) == (True, False)
    assert {
        Vaccine.MMR, Vaccine.MMRV, Vaccine.VARICELLA, Vaccine.BCG, Vaccine.ROTAVIRUS,
        Vaccine.YELLOW_FEVER, Vaccine.INFLUENZA_LIVE, Vaccine.TYPHOID_ORAL,
    } == LIVE_VACCINES  # fmt: skip


@pytest.mark.parametrize(
    ("given_on", "message"),
    [
        (dt.date(2012, 3, 13), "13 Mar 2012 is before the patient's date of birth."),
        (TODAY + dt.timedelta(days=3), "27 Nov 2026 is in the future; record what has happened."),
    ],
)
def test_it_refuses_a_vaccine_date_before_birth_or_in_the_future(
    patient, clinician_a, given_on, message
):
    errors = refused(
        services.vaccination_record,
        patient=patient, vaccine="bcg", given_on=given_on, by=clinician_a,
    )  # fmt: skip
    assert errors == {"given_on": [message]}
    assert not Vaccination.objects.exists()


def test_a_nurse_does_not_record_a_vaccination_a_data_manager_does(
    patient, nurse_a, data_manager_a
):
    with pytest.raises(PermissionDenied):
        services.vaccination_record(
            patient=patient, vaccine="hpv", given_on=dt.date(2026, 1, 5), by=nurse_a
        )
    services.vaccination_record(
        patient=patient, vaccine="hpv", given_on=dt.date(2026, 1, 5), by=data_manager_a
    )


def live_vaccination(patient, clinician):
    return services.vaccination_record(
        patient=patient, vaccine="yellow_fever", given_on=dt.date(2026, 9, 1), by=clinician
    )


def test_a_clinician_reviews_a_live_vaccination_once_with_a_note(patient, clinician_a):
    vaccination = live_vaccination(patient, clinician_a)
    assert vaccination.awaiting_review
    reviewed = services.vaccination_review_record(
        vaccination=vaccination, reviewed_on=dt.date(2026, 9, 3), decision="infusion_deferred",
        note="  travel; next infusion after the interval ", by=clinician_a,
    )  # fmt: skip
    assert (reviewed.reviewed_by, reviewed.review_decision, reviewed.review_note) == (
        clinician_a,
        "infusion_deferred",
        "travel; next infusion after the interval",
    )
    assert not reviewed.awaiting_review
    assert reviewed.history.first().history_user == clinician_a
    errors = refused(
        services.vaccination_review_record, vaccination=reviewed, reviewed_on=TODAY,
        decision="risk_accepted", by=clinician_a,
    )  # fmt: skip
    assert errors == {
        "reviewed_on": [f"This vaccination was reviewed on 03 Sep 2026 by {clinician_a}."]
    }


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"decision": "maybe"}, {"decision": ["Choose the decision on the infusions."]}),
        (
            {"reviewed_on": dt.date(2026, 8, 31)},
            {"reviewed_on": ["The review is before the vaccine was given."]},
        ),
        (
            {"reviewed_on": TODAY + dt.timedelta(days=1)},
            {"reviewed_on": ["25 Nov 2026 is in the future; record what has happened."]},
        ),
    ],
)
def test_a_bad_vaccination_review_is_refused_at_its_field(patient, clinician_a, changes, errors):
    vaccination = live_vaccination(patient, clinician_a)
    arguments = {"reviewed_on": dt.date(2026, 9, 3), "decision": "risk_accepted"} | changes
    assert (
        refused(
            services.vaccination_review_record,
            vaccination=vaccination,
            by=clinician_a,
            **arguments,
        )
        == errors
    )
    vaccination.refresh_from_db()
    assert vaccination.reviewed_on is None


def test_only_a_clinician_reviews_a_vaccination(patient, clinician_a, nurse_a, data_manager_a):
    vaccination = live_vaccination(patient, clinician_a)
    for person in (nurse_a, data_manager_a):
        with pytest.raises(PermissionDenied):
            services.vaccination_review_record(
                vaccination=vaccination, reviewed_on=TODAY, decision="risk_accepted", by=person
            )


def test_a_reviewed_vaccination_stays_a_live_one(patient, clinician_a):
    vaccination = live_vaccination(patient, clinician_a)
    services.vaccination_review_record(
        vaccination=vaccination, reviewed_on=TODAY, decision="risk_accepted", by=clinician_a
    )
    errors = refused(
        services.vaccination_correct, vaccination=vaccination, changes={"vaccine": "hpv"},
        by=clinician_a,
    )  # fmt: skip
    assert errors == {
        "vaccine": [
            "Human papillomavirus (HPV) is not a live vaccine: only a live vaccine is reviewed "
            "(an inactivated one is no concern on infliximab)."
        ]
    }
    errors = refused(
        services.vaccination_correct, vaccination=vaccination,
        changes={"review_decision": "infusion_deferred"}, by=clinician_a,
    )  # fmt: skip
    assert errors == {
        "review_decision": [
            "Recorded with the “review the vaccination” action, not corrected here."
        ]
    }


# --- The database's constraints, for writes that skip clean() -------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"grade": 6},
        {"serious": True},  # no criterion
        {"seriousness_disability": True},  # not marked serious
        {"outcome": "fatal", "grade": 5, "serious": True, "seriousness_hospitalisation": True},
        {"outcome": "recovering"},  # with a resolution date
        {"term": "infusion_related_reaction"},
        {"term": "other"},  # unnamed
        {"reviewed_on": dt.date(2026, 11, 1)},  # no clinician, no decision
    ],
)
def test_the_database_refuses_an_inconsistent_adverse_event(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEventFactory(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"result": "negative", "reviewed_on": dt.date(2026, 1, 1)},
        {"test": "hbv_anti_hbs", "result": "positive", "reviewed_on": dt.date(2026, 1, 1)},
        {"result": "maybe"},
    ],
)
def test_the_database_refuses_an_inconsistent_screening_result(fields, clinician_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        ScreeningResultFactory(
            reviewed_by=clinician_a if "reviewed_on" in fields else None, **fields
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"vaccine": "mmr", "reviewed_on": dt.date(2026, 1, 1)},  # no clinician, no decision
        {"vaccine": "mmr", "review_decision": "risk_accepted"},  # no date
        {"vaccine": "mmr", "reviewed_on": dt.date(2025, 9, 1), "review_decision": "risk_accepted"},
        {"vaccine": "mmr", "reviewed_on": dt.date(2026, 1, 1), "review_decision": "maybe"},
        {"vaccine": "hpv", "reviewed_on": dt.date(2026, 1, 1), "review_decision": "risk_accepted"},
    ],
)
def test_the_database_refuses_an_inconsistent_vaccination_review(fields, clinician_a):
    reviewer = {"reviewed_by": clinician_a} if "reviewed_on" in fields else {}
    with pytest.raises(IntegrityError), transaction.atomic():
        VaccinationFactory(**reviewer, **fields)


def test_the_database_refuses_a_vaccine_it_does_not_know_and_a_vaccine_twice_a_day():
    with pytest.raises(IntegrityError), transaction.atomic():
        VaccinationFactory(vaccine="smallpox")
    first = VaccinationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        VaccinationFactory(patient=first.patient, given_on=first.given_on)


# --- One query for what a page offers -------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "nurse", "data_manager", "researcher"])
def test_the_permissions_at_a_site_are_what_may_answers_one_by_one(site_a, site_b, superuser, role):
    person = _member(f"{role}-x", site_a, role)
    every = frozenset().union(*roles.ROLE_PERMISSIONS.values())
    for user in (person, superuser):
        for site in (site_a, site_b):
            allowed = roles.permissions_at(user, site.pk)
            assert {p for p in every if p in allowed} == {
                p for p in every if roles.may(user, p, site.pk)
            }
    assert roles.permissions_at(person, site_b.pk) == frozenset()
