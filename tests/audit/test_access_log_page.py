"""The data managers' access log: who read their sites' patients' records, who signed in;
filters, pages, CSV; scoped to their sites; and itself recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessKind, AccessLogEntry
from tests.factories import MembershipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("clinic:access_log")
CSV = reverse("clinic:access_log_csv")


@pytest.fixture
def patients(site_a, site_b):
    return {
        "a": PatientFactory(site=site_a, mrn="A-1", family_name="Amberley"),
        "a2": PatientFactory(site=site_a, mrn="A-2", family_name="Ashdown"),
        "b": PatientFactory(site=site_b, mrn="B-1", family_name="Bexley"),
    }


def _read(user, *patients, kind=AccessKind.PAGE, at=None):
    return AccessLogEntry.objects.create(
        kind=kind,
        user=user,
        username=user.username,
        at=at or timezone.now(),
        path="/patients/",
        method="GET",
        status_code=200,
        patient_ids=[p.pk for p in patients],
        site_ids=sorted({p.site_id for p in patients}),
    )


@pytest.fixture
def dora(data_manager_a):
    client = Client()
    client.force_login(data_manager_a)
    return client


def _shown(response) -> list[AccessLogEntry]:
    return [row.entry for row in response.context["rows"]]


def test_it_shows_who_read_which_patient_of_the_sites_only(
    dora, nurse_a, nurse_b, patients, site_a
):
    mine = _read(nurse_a, patients["a"])
    _read(nurse_b, patients["b"])  # another site's read
    both = _read(nurse_a, patients["a2"], patients["b"])  # a superuser's list, say
    response = dora.get(PAGE)
    assert response.status_code == 200
    shown = _shown(response)
    assert mine in shown
    assert both in shown
    assert all(site_a.pk in entry.site_ids for entry in shown)
    [row] = [row for row in response.context["rows"] if row.entry == both]
    assert row.patients == [(patients["a2"].pk, patients["a2"].registry_code)]
    assert row.others == 1
    assert patients["b"].registry_code not in response.text
    assert "1 at other sites" in response.text


def test_it_shows_the_sign_in_events_of_the_sites_people(dora, client, nurse_a, nurse_b):
    for username in ("nina", "noah"):
        Client().post(reverse("login"), {"username": username, "password": "password"})
    shown = _shown(dora.get(PAGE, {"kind": AccessKind.SIGN_IN}))
    assert {entry.username for entry in shown} == {"nina", "dora"}  # not noah, of site B


def test_it_filters_by_person_date_patient_and_kind(dora, nurse_a, clinician_a, patients):
    now = timezone.now()
    old = _read(nurse_a, patients["a"], at=now - dt.timedelta(days=40))
    recent = _read(nurse_a, patients["a2"])
    by_carl = _read(clinician_a, patients["a"], kind=AccessKind.API_LIST)
    today = timezone.localdate()

    def shown(**query):
        return set(_shown(dora.get(PAGE, query))) - {None}

    assert shown(user="NINA") >= {old, recent}
    assert by_carl not in shown(user="nina")
    assert shown(patient=patients["a"].registry_code.lower()) >= {old, by_carl}
    assert recent not in shown(patient=patients["a"].registry_code)
    last_month = {"since": (today - dt.timedelta(days=45)).isoformat(),
                  "until": (today - dt.timedelta(days=30)).isoformat()}  # fmt: skip
    assert shown(**last_month) == {old}
    assert shown(kind=AccessKind.API_LIST) == {by_carl}


def test_it_refuses_a_patient_of_another_site_as_a_filter(dora, patients):
    response = dora.get(PAGE, {"patient": patients["b"].registry_code})
    assert response.context["rows"] == []
    assert f"No patient {patients['b'].registry_code} at your sites." in response.text


def test_it_refuses_a_range_that_ends_before_it_starts(dora):
    response = dora.get(PAGE, {"since": "2026-11-20", "until": "2026-11-01"})
    assert "The end of the range is before its start." in response.text


def test_it_is_for_data_managers_only(client, nurse_a, clinician_a, researcher_a):
    for user in (nurse_a, clinician_a, researcher_a):
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        assert client.get(CSV).status_code == 403


def test_a_superuser_sees_every_row(client, superuser, nurse_b, patients):
    entry = _read(nurse_b, patients["b"])
    client.force_login(superuser)
    assert entry in _shown(client.get(PAGE))


def test_it_pages(dora, nurse_a, patients):
    for _ in range(51):
        _read(nurse_a, patients["a"])
    first = dora.get(PAGE)
    assert len(first.context["rows"]) == 50
    assert len(dora.get(PAGE, {"page": 2}).context["rows"]) >= 1


def test_opening_it_is_recorded_with_the_patients_shown(dora, data_manager_a, nurse_a, patients):
    _read(nurse_a, patients["a"])
    dora.get(PAGE, {"patient": patients["a"].registry_code})
    entry = AccessLogEntry.objects.filter(kind=AccessKind.ACCESS_LOG).get()
    assert entry.user == data_manager_a
    assert entry.patient_ids == [patients["a"].pk]
    assert entry.path == PAGE  # the registry code of the filter is not in it


def test_the_csv_has_the_filtered_rows_of_the_sites(dora, nurse_a, nurse_b, patients):
    _read(nurse_a, patients["a"], patients["b"])
    _read(nurse_b, patients["b"])
    _read(nurse_a, patients["a2"])
    response = dora.get(CSV, {"patient": patients["a"].registry_code})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    reads = [r for r in rows if r["kind"] != "Access log"]  # this download is a row too
    assert [(r["username"], r["patients"], r["patients_at_other_sites"]) for r in reads] == [
        ("nina", patients["a"].registry_code, "1")
    ]
    entry = AccessLogEntry.objects.filter(kind=AccessKind.ACCESS_LOG).get()
    assert entry.patient_ids == [patients["a"].pk]


def test_the_csv_defuses_a_typed_username_that_looks_like_a_formula(dora, site_a):
    AccessLogEntry.objects.create(
        kind=AccessKind.SIGN_IN_FAILED, username='=HYPERLINK("http://x")', site_ids=[site_a.pk]
    )
    text = b"".join(dora.get(CSV).streaming_content).decode()
    [row] = [r for r in csv.DictReader(io.StringIO(text)) if r["kind"] == "Sign-in failed"]
    assert row["username"] == '\'=HYPERLINK("http://x")'


def test_the_patient_page_links_it_for_the_sites_data_managers_only(
    client, data_manager_a, nurse_a, site_b, patients
):
    link = f"{PAGE}?patient={patients['a'].registry_code}"
    client.force_login(data_manager_a)
    assert link in client.get(reverse("clinic:patient", args=[patients["a"].pk])).text
    client.force_login(nurse_a)
    assert link not in client.get(reverse("clinic:patient", args=[patients["a"].pk])).text
    # A data manager elsewhere who is a nurse here: not for this patient.
    both = UserFactory(username="dana")
    MembershipFactory(user=both, site=site_b, role="data_manager")
    MembershipFactory(user=both, site=patients["a"].site, role="nurse")
    client.force_login(both)
    assert link not in client.get(reverse("clinic:patient", args=[patients["a"].pk])).text
