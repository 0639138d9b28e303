"""The access matrix: every endpoint of the URL conf × role × own/other site × method.

The endpoints are read from the URL conf (get_resolver), not listed by hand, so an endpoint added
to the API without an entry in TABLE fails here. The expected status of each request is derived
from TABLE: who may call which method of the endpoint. Each request runs in a savepoint that is
rolled back, so every case starts from the same record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse
from rest_framework.routers import DefaultRouter
from rest_framework.test import APIClient

from api import urls as api_urls
from api import views
from api.views import etag_of
from registry.models import Role
from tests.api.conftest import Record, built_export, token_client
from tests.factories import (
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    RelapseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ANONYMOUS, RESEARCHER, NURSE, CLINICIAN, DATA_MANAGER = (
    "anonymous",
    "researcher",
    "nurse",
    "clinician",
    "data_manager",
)
ROLES = (ANONYMOUS, RESEARCHER, NURSE, CLINICIAN, DATA_MANAGER)
OWN, OTHER = "own", "other"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}  # the schema and its docs: no record, but no public
STAFF = frozenset({NURSE, CLINICIAN, DATA_MANAGER})  # every clinic role; never researchers
CLINICAL = frozenset({CLINICIAN, DATA_MANAGER})  # the whole clinical record
NURSING = STAFF  # what nurses record: infusions, reactions, lab results
CLINICIANS = frozenset({CLINICIAN})  # clinical judgements: reviewing a reaction
DATA_MANAGERS = frozenset({DATA_MANAGER})  # the consent paperwork's corrections
RESEARCHERS = frozenset({RESEARCHER})
EXPORTERS = RESEARCHERS | {DATA_MANAGER}

# Who may call each method of each endpoint (by URL name). A method not listed is not offered:
# 405 for those who pass the endpoint's permission check, 403 for others, 401 before logging in.
# Keep this table in step with the URL conf: the tests below fail otherwise.
TABLE: dict[str, dict[str, frozenset[str]]] = {
    "api-root": {"GET": STAFF},
    "schema": {"GET": SIGNED_IN},
    "docs": {"GET": SIGNED_IN},
    "site-list": {"GET": STAFF},
    "site-detail": {"GET": STAFF},
    "patient-list": {"GET": STAFF, "POST": CLINICAL},
    "patient-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "course-list": {"GET": STAFF, "POST": CLINICAL},
    "course-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "course-stop": {"POST": CLINICAL},
    "course-schedule": {"GET": STAFF},
    "course-alerts": {"GET": STAFF},
    "regimenchange-list": {"GET": STAFF, "POST": CLINICAL},
    "regimenchange-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "infusion-list": {"GET": STAFF, "POST": NURSING},
    "infusion-detail": {"GET": STAFF, "PUT": NURSING, "PATCH": NURSING},
    "labresult-list": {"GET": STAFF, "POST": NURSING},
    "labresult-detail": {"GET": STAFF, "PUT": NURSING, "PATCH": NURSING},
    "labresult-bulk-import": {"POST": NURSING},
    "imagingstudy-list": {"GET": STAFF, "POST": CLINICAL},
    "imagingstudy-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "assessment-list": {"GET": STAFF, "POST": CLINICAL},
    "assessment-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "reaction-list": {"GET": STAFF, "POST": NURSING},
    "reaction-detail": {"GET": STAFF, "PUT": NURSING, "PATCH": NURSING},
    "reaction-review": {"POST": CLINICIANS},
    "relapse-list": {"GET": STAFF, "POST": CLINICAL},
    "relapse-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "relapse-retreat": {"POST": CLINICAL},
    "medication-list": {"GET": STAFF, "POST": CLINICAL},
    "medication-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "medication-stop": {"POST": CLINICAL},
    "adverseevent-list": {"GET": STAFF, "POST": CLINICAL},
    "adverseevent-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "adverseevent-review": {"POST": CLINICIANS},
    "screeningresult-list": {"GET": STAFF, "POST": CLINICAL},
    "screeningresult-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "screeningresult-review": {"POST": CLINICIANS},
    "vaccination-list": {"GET": STAFF, "POST": CLINICAL},
    "vaccination-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "vaccination-review": {"POST": CLINICIANS},
    # Consent: clinicians and data managers record it and its withdrawal; only a data manager
    # corrects a record (registry.roles).
    "phenotype-list": {"GET": STAFF, "POST": CLINICAL},
    "phenotype-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "comorbidity-list": {"GET": STAFF, "POST": CLINICAL},
    "comorbidity-detail": {"GET": STAFF, "PUT": CLINICAL, "PATCH": CLINICAL},
    "consent-list": {"GET": STAFF, "POST": CLINICAL},
    "consent-detail": {"GET": STAFF, "PUT": DATA_MANAGERS, "PATCH": DATA_MANAGERS},
    "consent-withdraw": {"POST": CLINICAL},
    "alert-list": {"GET": STAFF},
    "alert-detail": {"GET": STAFF},
    "alert-acknowledge": {"POST": STAFF},
    "alert-dismiss": {"POST": STAFF},
    # Research exports: researchers and data managers request them (and see their own); a file
    # also goes to a data manager of every site it covers. Downloads are decided by the roles
    # held when asking (no superuser bypass): a role removed since is refused, and so is a
    # superuser without one (tests/research/test_download_access.py).
    "export-list": {"GET": EXPORTERS, "POST": EXPORTERS},
    "export-detail": {"GET": EXPORTERS},
    "export-download": {"GET": EXPORTERS},
}
# Who passes an endpoint's permission check at all (before the method is looked at): by default
# anyone TABLE names for it; others get 403 whatever the method. An action of a record is offered
# to all staff (a method it does not take is 405 for them); its own method is checked by role.
GATES: dict[str, frozenset[str]] = {
    "export-download": EXPORTERS,
    "course-stop": STAFF,
    "reaction-review": STAFF,
    "relapse-retreat": STAFF,
    "medication-stop": STAFF,
    "adverseevent-review": STAFF,
    "screeningresult-review": STAFF,
    "vaccination-review": STAFF,
    "consent-withdraw": STAFF,
}
# Endpoints where a caller who may not see the record gets 404 (it does not exist for them).
HIDDEN = {"export-download"}
# A page for browsers: an anonymous caller is sent to sign in (302), whatever the method.
SIGN_IN_FIRST = {"docs"}


# --- The endpoints, from the URL conf -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    detail: bool  # addresses one record (its id in the path)
    view: Any
    actions: tuple[str, ...]  # a viewset's actions here ("list", "retrieve", "schedule", …)

    @property
    def basename(self) -> str:
        return self.name.split("-")[0]


def discover(patterns: Iterable[Any], prefix: str = "") -> Iterator[Route]:
    """Every named route under api/, once (without DRF's `.json` format-suffix variants)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from discover(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            full = prefix + str(entry.pattern)
            if not full.startswith("api/") or "format" in entry.pattern.regex.groupindex:
                continue
            assert entry.name, f"unnamed API route {full}"
            view = getattr(entry.callback, "cls", None) or getattr(
                entry.callback, "view_class", None
            )
            detail = "pk" in entry.pattern.regex.groupindex
            actions = tuple(getattr(entry.callback, "actions", {}).values())
            yield Route(name=entry.name, pattern=full, detail=detail, view=view, actions=actions)


ROUTES = sorted({r.name: r for r in discover(get_resolver().url_patterns)}.values(), key=str)


def test_the_table_covers_exactly_the_url_conf():
    names = {route.name for route in ROUTES}
    assert names - set(TABLE) == set(), "endpoints without an entry in TABLE"
    assert set(TABLE) - names == set(), "entries of TABLE that are no endpoint"
    served = {pattern.name for pattern in api_urls.router.urls}
    assert served <= names, "the router's routes are not all served under /api/"


def test_a_newly_registered_endpoint_without_an_entry_is_caught():
    router = DefaultRouter()
    router.register("sites", views.SiteViewSet, basename="site")
    router.register("widgets", views.SiteViewSet, basename="widget")
    routes = {r.name for r in discover([path("api/v1/", include(router.urls))])}
    assert routes - set(TABLE) == {"widget-list", "widget-detail"}


# --- What each request sends ----------------------------------------------------------------------

D = "2026-11-20"  # a date inside every course, before TODAY

# The record a detail route addresses, by basename.
TARGETS: dict[str, Callable[[Record], Any]] = {
    "site": lambda r: r.site,
    "patient": lambda r: r.patient,
    "course": lambda r: r.course,
    "regimenchange": lambda r: r.regimen_change,
    "infusion": lambda r: r.infusion,
    "labresult": lambda r: r.lab_result,
    "imagingstudy": lambda r: r.imaging_study,
    "assessment": lambda r: r.assessment,
    "reaction": lambda r: r.reaction,
    "relapse": lambda r: r.relapse,
    "medication": lambda r: r.medication,
    "alert": lambda r: r.alert,
    "export": lambda r: r.export,
    "adverseevent": lambda r: r.adverse_event,
    "screeningresult": lambda r: r.screening_result,
    "vaccination": lambda r: r.vaccination,
    "consent": lambda r: r.consent,
    "phenotype": lambda r: r.phenotype,
    "comorbidity": lambda r: r.comorbidity,
}
# Where an action needs another record than its basename's (a retreatment needs a patient with no
# active course).
ROUTE_TARGETS: dict[str, Callable[[Record], Any]] = {"relapse-retreat": lambda r: r.retreatable}


def _lab(r: Record) -> dict[str, Any]:
    return {"patient": r.patient.pk, "collected_on": D, "analyte": "crp", "value": "3.2"}


# A valid new record of each kind, naming the given site's rows (another site's: refused).
CREATE: dict[str, Callable[[Record], Any]] = {
    "patient-list": lambda r: {
        "site": r.site.code,
        "mrn": "NEW-1",
        "given_name": "Ola",
        "family_name": "Nowak",
        "date_of_birth": "2014-02-01",
        "sex": "male",
    },
    "course-list": lambda r: {"patient": r.new_patient.pk, "started_on": D},
    # A taper: an intensification is a clinician's alone (test_actions.py).
    "regimenchange-list": lambda r: {
        "course": r.course.pk,
        "effective_on": D,
        "dose_mg_per_kg": "5",
        "interval_weeks": 10,
        "reason": "taper",
    },
    "infusion-list": lambda r: {
        "course": r.course.pk,
        "given_on": D,
        "weight_kg": "40",
        "weight_measured_on": D,
        "dose_mg": "200",
    },
    "labresult-list": _lab,
    "labresult-bulk-import": lambda r: [_lab(r), {**_lab(r), "analyte": "esr", "value": "12"}],
    "imagingstudy-list": lambda r: {"patient": r.patient.pk, "performed_on": D, "modality": "mri"},
    "assessment-list": lambda r: {"patient": r.patient.pk, "assessed_on": D, "pain_score": "1"},
    "reaction-list": lambda r: {
        "infusion": r.infusion.pk,
        "onset": "acute",
        "severity": "mild",
        "symptoms": "Itch",
    },
    "relapse-list": lambda r: {"course": r.stopped_course.pk, "noted_on": D, "evidence": "MRI"},
    "medication-list": lambda r: {
        "patient": r.patient.pk,
        "drug": "methotrexate",
        "dose": "15",
        "dose_unit": "mg/m2",
        "route": "subcutaneous",
        "frequency": "weekly",
        "started_on": D,
    },
    # The actions: the active course stops after its last infusion (15 Sep 2026); the mild reaction
    # is reviewed after its infusion; the retreatment starts after the relapse was noted.
    "course-stop": lambda r: {"stopped_on": D, "reason": "remission", "note": "MDT decision"},
    "reaction-review": lambda r: {"reviewed_on": D, "decision": "continue_premedicated"},
    "relapse-retreat": lambda r: {"started_on": D},
    "medication-stop": lambda r: {"stopped_on": D, "reason": "inefficacy"},
    "alert-acknowledge": lambda r: {"note": "Booked for Friday"},
    "alert-dismiss": lambda r: {"reason": "Transferred to another centre"},
    "export-list": lambda r: {"sites": [r.site.code], "format": "csv"},
    "adverseevent-list": lambda r: {
        "patient": r.patient.pk,
        "course": r.course.pk,
        "onset_on": D,
        "term": "herpes_zoster",
        "grade": 2,
        "relation_to_infliximab": "possibly_related",
        "action_taken": "infusion_delayed",
        "outcome": "recovering",
    },
    "adverseevent-review": lambda r: {"reviewed_on": D, "decision": "continue"},
    "screeningresult-list": lambda r: {
        "patient": r.patient.pk,
        "test": "hbv_hbsag",
        "tested_on": D,
        "result": "negative",
    },
    "screeningresult-review": lambda r: {"reviewed_on": D},
    "vaccination-review": lambda r: {"reviewed_on": D, "decision": "risk_accepted"},
    "vaccination-list": lambda r: {"patient": r.patient.pk, "vaccine": "hpv", "given_on": D},
    "consent-list": lambda r: {
        "patient": r.patient.pk,
        "document": "parent-guardian-consent@1",
        "consented_by": "parent_guardian",
        "research_given": True,
        "given_on": D,
    },
    "consent-withdraw": lambda r: {"withdrawn_on": D, "scopes": ["contact"]},
    # One phenotype per patient: the new patient has none yet.
    "phenotype-list": lambda r: {"patient": r.new_patient.pk, "first_symptoms_on": "2022-11-01"},
    "comorbidity-list": lambda r: {"patient": r.patient.pk, "condition": "ibd", "onset_on": D},
}


def as_written(route: Route, instance: Any) -> dict[str, Any]:
    """The record's writable fields as the API shows them: a PUT that changes nothing."""
    serializer = route.view.serializer_class(instance)
    fields = serializer.fields
    return {k: v for k, v in serializer.data.items() if not fields[k].read_only}


def send(
    client: APIClient, route: Route, method: str, record: Record
) -> tuple[Any, dict[str, Any]]:
    """The request of this case, and what it needs to be checked."""
    target = (
        ROUTE_TARGETS.get(route.name, TARGETS[route.basename])(record) if route.detail else None
    )
    url = reverse(f"api:{route.name}", kwargs={"pk": target.pk} if target else None)
    headers: dict[str, str] = {}
    body: Any = None
    if method == "POST" and route.name in CREATE:
        body = CREATE[route.name](record)
    elif method in ("PUT", "PATCH") and "partial_update" in route.actions:
        body = as_written(route, target)
        headers["If-Match"] = etag_of(target)
    response = client.generic(
        method,
        url,
        data=None if body is None else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
    return response, {"url": url, "body": body}


# --- What each request should get -----------------------------------------------------------------


def expected(route: Route, role: str, site: str, method: str) -> int:
    """The status TABLE implies (2 stands for any 2xx)."""
    allowed = TABLE[route.name]
    gate = GATES.get(route.name) or frozenset().union(*allowed.values())
    if role == ANONYMOUS and ANONYMOUS not in gate:
        return 302 if route.name in SIGN_IN_FIRST else 401
    if method not in allowed:
        return 405 if role in gate else 403
    if role not in gate and route.name not in HIDDEN:
        return 403  # e.g. researchers: no identified data, whatever the endpoint
    if role not in allowed[method]:
        return 404 if route.name in HIDDEN else 403
    if site == OTHER and route.detail:
        return 404  # another site's record does not exist for you
    if site == OTHER and method == "POST":
        return 400  # another site's record named in the body: no such choice
    return 2


def leaked(route: Route, response: Any, other: Record) -> bool:
    """Whether a list answer shows the other site's record."""
    if "list" not in route.actions or response.status_code != 200:
        return False
    data = response.json()
    rows = data["results"] if isinstance(data, dict) else data
    return TARGETS[route.basename](other).pk in {row["id"] for row in rows}


@pytest.fixture
def exports(record_a, record_b, researcher_a, site_b, tmp_path) -> None:
    """A built export of each site: researcher_a's of site A, another researcher's of site B."""
    other = UserFactory(username="rosa", is_staff=False)
    MembershipFactory(user=other, site=site_b, role=Role.RESEARCHER)
    for record, by in ((record_a, researcher_a), (record_b, other)):
        record.export = built_export(record, by, tmp_path)


@pytest.fixture
def retreatable(record_a, record_b) -> None:
    """At each site, a relapse after a stopped course of a patient with no active course since."""
    for record in (record_a, record_b):
        patient = PatientFactory(site=record.site, mrn=f"{record.patient.mrn}-R")
        stopped = CourseFactory(
            patient=patient,
            started_on=dt.date(2025, 1, 6),
            stopped_on=dt.date(2026, 2, 1),
            stop_reason="remission",
        )
        record.retreatable = RelapseFactory(
            course=stopped, patient=patient, noted_on=dt.date(2026, 6, 1)
        )


@pytest.fixture
def clients(nurse_a, clinician_a, data_manager_a, researcher_a) -> dict[str, APIClient]:
    return {
        ANONYMOUS: token_client(None),
        RESEARCHER: token_client(researcher_a),
        NURSE: token_client(nurse_a),
        CLINICIAN: token_client(clinician_a),
        DATA_MANAGER: token_client(data_manager_a),
    }


@pytest.mark.usefixtures("exports", "retreatable")
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_access_matrix(route: Route, clients, record_a, record_b):
    assert route.name in TABLE, f"{route.pattern} has no entry in TABLE: say who may call it"
    mismatches = []
    for role in ROLES:
        for site, record in ((OWN, record_a), (OTHER, record_b)):
            for method in METHODS:
                if site == OTHER and not (route.detail or method in ("POST", "PUT", "PATCH")):
                    continue  # the same request as for one's own site
                want = expected(route, role, site, method)
                with transaction.atomic():
                    response, sent = send(clients[role], route, method, record)
                    transaction.set_rollback(True)
                got = response.status_code
                # A file is read to the end: the test client then closes it.
                content = (
                    b"".join(response.streaming_content) if response.streaming else response.content
                )
                if (got // 100 if want == 2 else got) != want or leaked(route, response, record_b):
                    mismatches.append(
                        f"{role:12} {site:5} {method:6} {sent['url']}: expected "
                        f"{'2xx' if want == 2 else want}, got {got} {content[:300]!r}"
                    )
    assert not mismatches, "\n" + "\n".join(mismatches)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.detail], ids=lambda route: route.name)
def test_an_id_that_is_no_record_is_404(route: Route, superuser, site_a):
    """Whatever the path holds where an id goes: not found (or forbidden), never a crash; and
    not a refusal of the body, which is read only for a record that exists. (With a site in the
    database: without one, the superuser would be refused before any lookup.)"""
    client = token_client(superuser)
    method = next(iter(TABLE[route.name]))
    for pk in ("abc", "-1", "0", "1.5", "99999999999999999999", "%C3%A9"):
        url = reverse(f"api:{route.name}", kwargs={"pk": 12345}).replace("12345", pk)
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code in (403, 404), f"{method} {url}: {response.status_code}"
