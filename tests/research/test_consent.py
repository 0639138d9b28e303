"""The consent gate: consent given on or before the export date and not withdrawn on it."""

from __future__ import annotations

import datetime as dt

from research.deidentify import consenting_patients
from research.models import PseudonymMapping
from tests.conftest import TODAY
from tests.factories import CourseFactory, PatientFactory
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
