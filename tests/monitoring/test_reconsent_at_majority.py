"""reconsent_at_majority, the pure rule: a patient of the age of majority whose consent in force was
given only by a parent or guardian (or by someone not recorded) is asked for their own; once per
patient (on the latest course); clears with the patient's own consent, or with every scope
withdrawn."""

import dataclasses
import datetime as dt

import pytest

from monitoring.guideline import DEFAULT, Severity, cut_at, evaluate
from monitoring.guideline.history import ConsentRow
from tests.monitoring.builders import adherent_days, day, history, infusions

RULE = "reconsent_at_majority"
GIVEN = infusions(*adherent_days(4))
AS_OF = 300  # day 300 = 2 Nov 2025
BORN_18_YEARS_BEFORE_DAY_100 = dt.date(2007, 4, 16)  # day 100 is 16 Apr 2025


def consent(given: int, by: str = "parent_guardian", **fields) -> ConsentRow:
    fields = {"care_data_given": True, "research_given": True} | fields
    return ConsentRow(id=given + 1000, given_on=day(given), consented_by=by, **fields)


def patient_course(*consents: ConsentRow, born=BORN_18_YEARS_BEFORE_DAY_100, **fields):
    return history(infusions=GIVEN, patient_born_on=born, consents=tuple(consents), **fields)


def found(course, as_of_day: int = AS_OF, guideline=DEFAULT):
    return [f for f in evaluate(course, day(as_of_day), guideline) if f.rule_id == RULE]


def test_a_parents_consent_asks_for_the_patients_own_from_majority():
    [finding] = found(patient_course(consent(-400)))
    assert finding.severity is Severity.INFO
    assert finding.key == day(100).isoformat() == finding.evidence["due_on"]
    assert finding.due_on == day(100)
    assert finding.title == "Consent: ask the patient's own consent at majority"
    assert finding.evidence["age_of_majority_years"] == 18
    assert finding.evidence["consents_in_force"] == [
        {
            "id": 600,
            "given_on": day(-400).isoformat(),
            "consented_by": "parent_guardian",
            "scopes": ["care_data", "research"],
        }
    ]
    assert finding.explanation.startswith(
        "The patient reached the age of majority (18) on 16 Apr 2025; the consent in force was "
        "given by a parent or guardian (latest given 03 Dec 2023). Ask the patient for their own "
        "consent and record it (or record the withdrawal if they decline)."
    )
    assert "Clears when: the patient's own consent is recorded; consent withdrawn entirely." in (
        finding.explanation
    )
    assert "Guideline (grade C, registry guideline" in finding.explanation


@pytest.mark.parametrize(("as_of", "raised"), [(99, False), (100, True), (101, True)])
def test_it_is_raised_from_the_18th_birthday(as_of, raised):
    assert bool(found(patient_course(consent(-400)), as_of)) is raised


def test_consent_recorded_before_consent_versions_counts_as_not_the_patients_own():
    [finding] = found(patient_course(consent(-400, "not_recorded", care_data_given=False)))
    assert "given by someone not recorded" in finding.explanation


def test_the_patients_own_consent_clears_it_from_the_day_it_is_given():
    course = patient_course(consent(-400), consent(250, "patient"))
    assert found(course, 249) != []
    assert found(course, 250) == []
    assert found(course, AS_OF) == []


def test_a_patient_who_consented_themself_as_a_young_person_is_not_asked_again():
    assert found(patient_course(consent(-400, "patient"))) == []


def test_withdrawing_every_scope_clears_it_but_a_scope_left_keeps_it():
    partly = consent(-400, research_withdrawn_on=day(200))
    assert found(patient_course(partly)) != []  # care data still in force on a parent's consent
    entirely = dataclasses.replace(partly, care_data_withdrawn_on=day(200))
    assert found(patient_course(entirely), 199) != []
    assert found(patient_course(entirely), 200) == []


def test_nothing_without_consent_or_without_a_date_of_birth():
    assert found(patient_course()) == []
    assert found(patient_course(consent(-400), born=None)) == []


def test_a_child_is_not_asked():
    assert found(patient_course(consent(-400), born=dt.date(2010, 1, 1))) == []


def test_only_the_latest_course_raises_it_one_alert_per_patient():
    earlier = patient_course(consent(-400), next_course_started_on=day(200))
    later = patient_course(consent(-400), course_id=2, started_on=day(200))
    assert found(earlier) == []
    assert len(found(later)) == 1


def test_a_stopped_course_still_asks_consent_is_not_treatment():
    [_finding] = found(patient_course(consent(-400), stopped_on=day(150), stop_reason="remission"))


def test_a_site_may_set_another_age_of_majority():
    sixteen = DEFAULT.with_overrides({"age_of_majority_years": 16})
    [finding] = found(patient_course(consent(-1200)), AS_OF, sixteen)
    assert finding.due_on == dt.date(2023, 4, 16)
    assert finding.evidence["age_of_majority_years"] == 16
    assert (
        found(
            patient_course(consent(-1200)),
            AS_OF,
            DEFAULT.with_overrides({"age_of_majority_years": 21}),
        )
        == []
    )


def test_a_29_february_birthday_comes_of_age_on_1_march():
    born = dt.date(2008, 2, 29)
    course = patient_course(consent(-400), born=born)
    on = (dt.date(2026, 3, 1) - day(0)).days
    assert found(course, on - 1) == []
    [finding] = found(course, on)
    assert finding.due_on == dt.date(2026, 3, 1)


def test_the_history_cut_at_a_date_knows_no_later_consent_or_withdrawal():
    own_later = patient_course(consent(-400), consent(250, "patient"))
    assert cut_at(own_later, day(249)).consents == (consent(-400),)
    withdrawn = patient_course(
        consent(-400, research_withdrawn_on=day(250), care_data_withdrawn_on=day(250))
    )
    [known] = cut_at(withdrawn, day(249)).consents
    assert (known.research_withdrawn_on, known.care_data_withdrawn_on) == (None, None)
    assert found(withdrawn, 249) != []  # on day 249 the withdrawal had not happened
