"""Pseudonyms: random, fresh per export, never derived from an identifier; the mapping is right
and only data managers can read it."""

from __future__ import annotations

from research.dictionary import INFUSIONS
from research.models import PSEUDONYM_PREFIX, PseudonymMapping
from tests.factories import CourseFactory, InfusionFactory, PatientFactory
from tests.research.support import build, csv_rows, entries


def test_each_export_gives_the_patient_a_new_random_pseudonym(consenting_course):
    first, second = build("csv"), build("csv")
    patient = consenting_course.patient
    one = PseudonymMapping.objects.get(export=first, patient=patient).pseudonym
    two = PseudonymMapping.objects.get(export=second, patient=patient).pseudonym
    assert one != two
    for pseudonym in (one, two):
        assert pseudonym.startswith(PSEUDONYM_PREFIX)
        assert len(pseudonym) == len(PSEUDONYM_PREFIX) + 16
        for identifier in (patient.registry_code, patient.mrn, str(patient.pk)):
            assert identifier not in pseudonym


def test_the_mapping_links_exported_rows_to_their_patient(consenting_course, site_a):
    other = CourseFactory(
        patient=PatientFactory(site=site_a, research_consent_given_on=consenting_course.started_on)
    )
    InfusionFactory(course=other, dose_mg=100)
    export = build("csv")
    rows = csv_rows(entries(export)["infusions.csv"], INFUSIONS)
    by_pseudonym = {row[0]: row[7] for row in rows}
    mapping = {m.patient_id: m.pseudonym for m in PseudonymMapping.objects.filter(export=export)}
    assert by_pseudonym[mapping[consenting_course.patient_id]] == 200
    assert by_pseudonym[mapping[other.patient_id]] == 100


def test_only_data_managers_read_the_mapping_in_the_admin(
    client, consenting_course, data_manager_a, researcher_a, nurse_a
):
    export = build("csv")
    pseudonym = PseudonymMapping.objects.get(export=export).pseudonym
    url = "/admin/research/pseudonymmapping/"
    client.force_login(data_manager_a)
    assert pseudonym in client.get(url).content.decode()
    for user in (researcher_a, nurse_a):
        client.force_login(user)
        assert client.get(url).status_code in (302, 403)
