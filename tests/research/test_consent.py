"""The consent gate: the scope research exports given on or before the export date and not
withdrawn by it."""

from __future__ import annotations

import datetime as dt

from research.deidentify import consenting_patients
from research.models import PseudonymMapping
from tests.conftest import TODAY
from tests.factories import ConsentFactory, CourseFactory, PatientFactory, consent_document
from tests.research.support import build

DAY = dt.timedelta(days=1)


def patient_with_course(site, **consent):
    patient = PatientFactory(site=site, **consent)
    CourseFactory(patient=patient)
    return patient


def test_it_applies_consent_as_it_stands_on_the_export_date(site_a):
    given_today = patient_with_course(site_a, research_consent_given_on=TODAY)
    given_tomorrow = patient_with_course(site_a, research_consent_given_on=TODAY + DAY)
    never = patient_with_course(site_a)
    withdrawn_today = patient_with_course(
        site_a, research_consent_given_on=TODAY - 9 * DAY, research_consent_withdrawn_on=TODAY
    )
    withdrawn_tomorrow = patient_with_course(
        site_a,
        research_consent_given_on=TODAY - 9 * DAY,
        research_consent_withdrawn_on=TODAY + DAY,
    )
    export = build("csv", sites=[site_a])
    mapped = set(PseudonymMapping.objects.filter(export=export).values_list("patient", flat=True))
    assert mapped == {given_today.pk, withdrawn_tomorrow.pk}
    assert not mapped & {given_tomorrow.pk, never.pk, withdrawn_today.pk}
    assert export.row_counts["patients"] == 2


def test_it_leaves_out_a_consenting_patient_without_a_course(site_a):
    PatientFactory(site=site_a, research_consent_given_on=TODAY)
    assert not consenting_patients(site_ids=[site_a.pk], on=TODAY).exists()


def test_it_leaves_out_other_sites(site_a, site_b):
    patient_with_course(site_b, research_consent_given_on=TODAY)
    mine = patient_with_course(site_a, research_consent_given_on=TODAY)
    assert list(consenting_patients(site_ids=[site_a.pk], on=TODAY)) == [mine]


def test_the_gate_is_the_scope_research_exports_of_any_consent_record(site_a):
    """Care data alone is not research; a withdrawal of research leaves care data; a patient's own
    consent to research after a parent's was withdrawn lets them in again."""
    care_only = PatientFactory(site=site_a)
    ConsentFactory(patient=care_only, research_given=False, given_on=TODAY - 9 * DAY)
    research_withdrawn = PatientFactory(site=site_a)
    ConsentFactory(
        patient=research_withdrawn, given_on=TODAY - 9 * DAY, research_withdrawn_on=TODAY - DAY
    )
    own_again = PatientFactory(site=site_a)
    ConsentFactory(
        patient=own_again, given_on=TODAY - 90 * DAY, research_withdrawn_on=TODAY - 9 * DAY
    )
    ConsentFactory(
        patient=own_again,
        document=consent_document("young-person-consent"),
        consented_by="patient",
        given_on=TODAY - 2 * DAY,
    )
    twice = PatientFactory(site=site_a)  # two consents in force: one row in the gate
    ConsentFactory(patient=twice, given_on=TODAY - 9 * DAY)
    ConsentFactory(patient=twice, given_on=TODAY - 3 * DAY, care_data_given=False)
    for patient in (care_only, research_withdrawn, own_again, twice):
        CourseFactory(patient=patient)
    gated = list(consenting_patients(site_ids=[site_a.pk], on=TODAY))
    assert sorted(p.pk for p in gated) == sorted([own_again.pk, twice.pk])
    # On the day before the withdrawal, the withdrawn patient was in.
    before = consenting_patients(site_ids=[site_a.pk], on=TODAY - 2 * DAY)
    assert research_withdrawn in before
