"""Every admin page is scoped by site, read from the admin's own URL conf.

Each registered model is either scoped (built here at two sites) or superuser-only; a model
registered without an entry in one of the two tables fails, as the API's access matrix does. For
every URL of a scoped model's admin that takes an object (change, history, delete, a history
version...), a staff user of site A who holds *every* model permission gets nothing of site B's
object, and site B's object never appears in the changelist; site A's does. The superuser-only
admins refuse such a user outright.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.test import Client
from django.urls import URLPattern, reverse

from monitoring.models import (
    Alert,
    DigestDelivery,
    EvaluationRun,
    NotificationPreference,
    SiteGuideline,
)
from registry.models import ConsentDocument, Membership, Role, Site
from research.models import ExportRequest, PseudonymMapping
from tests.conftest import TODAY
from tests.factories import MembershipFactory, ProductFactory, UserFactory
from tests.registry.test_admin import SiteRecords, make_site_records

pytestmark = pytest.mark.django_db


@dataclass
class AtSite:
    site: Site
    records: SiteRecords
    member: Any  # a user with a membership at the site


def _alert(at: AtSite) -> Alert:
    now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    return Alert.objects.create(
        course=at.records.course,
        rule="trough_due",
        key=f"scope-{at.site.code}",
        severity="info",
        title=f"Alert of {at.site.code}",
        explanation="For the scope test.",
        due_on=TODAY,
        first_raised_at=now,
        last_seen_at=now,
        guideline_version="2026.11",
    )


def _export(at: AtSite) -> ExportRequest:
    export = ExportRequest.objects.create(
        requested_by=at.member, format="csv", status="done", consent_checked_on=TODAY
    )
    export.sites.set([at.site])
    return export


def _pseudonym(at: AtSite) -> PseudonymMapping:
    return PseudonymMapping.objects.create(
        export=_export(at),
        patient=at.records.patient,
        first_course_started_on=at.records.course.started_on,
    )


# A scoped model: how to build one of its objects at a site.
SCOPED: dict[str, Callable[[AtSite], models.Model]] = {
    "registry.site": lambda at: at.site,
    "registry.membership": lambda at: Membership.objects.get(user=at.member),
    "registry.patient": lambda at: at.records.patient,
    "registry.treatmentcourse": lambda at: at.records.course,
    "registry.regimenchange": lambda at: at.records.regimen_change,
    "registry.infusion": lambda at: at.records.infusions[2],
    "registry.infusionreaction": lambda at: at.records.reaction,
    "registry.labresult": lambda at: at.records.lab_result,
    "registry.imagingstudy": lambda at: at.records.imaging,
    "registry.clinicalassessment": lambda at: at.records.assessment,
    "registry.relapse": lambda at: at.records.relapse,
    "registry.medication": lambda at: at.records.medication,
    "registry.adverseevent": lambda at: at.records.adverse_event,
    "registry.screeningresult": lambda at: at.records.screening_result,
    "registry.vaccination": lambda at: at.records.vaccination,
    "registry.consent": lambda at: at.records.consent,
    "registry.phenotype": lambda at: at.records.phenotype,
    "registry.comorbidity": lambda at: at.records.comorbidity,
    "monitoring.alert": _alert,
    "monitoring.evaluationrun": lambda at: EvaluationRun.objects.create(
        kind="command", as_of=TODAY, site=at.site, status="done", courses=7
    ),
    "monitoring.siteguideline": lambda at: SiteGuideline.objects.create(site=at.site),
    "research.exportrequest": _export,
    "research.pseudonymmapping": _pseudonym,
}

# Admins of models with no site to scope by: for superusers only (config.admin_scope), whatever
# permissions a staff user holds. A row of each, to ask for its pages.
SUPERUSER_ONLY: dict[str, Callable[[AtSite], models.Model]] = {
    "auth.user": lambda at: at.member,
    "auth.group": lambda at: Group.objects.create(name=f"group-{at.site.code}"),
    "registry.infliximabproduct": lambda at: ProductFactory.create(code=f"product-{at.site.code}"),
    "registry.consentdocument": lambda at: ConsentDocument.objects.create(
        code=f"consent-{at.site.code}",
        title="Consent",
        version="1",
        signed_by="patient",
        covers_research=True,
    ),
    "api.apitoken": lambda at: _token(at),
    "audit.accesslogentry": lambda at: _access_log_entry(at),
    "axes.accessattempt": lambda at: _axes(at, "AccessAttempt"),
    "axes.accessfailurelog": lambda at: _axes(at, "AccessFailureLog"),
    "axes.accesslog": lambda at: _axes(at, "AccessLog"),
    "otp_static.staticdevice": lambda at: _device(at, "static"),
    "otp_totp.totpdevice": lambda at: _device(at, "totp"),
    "monitoring.notificationpreference": lambda at: NotificationPreference.objects.create(
        user=at.member
    ),
    "monitoring.digestdelivery": lambda at: DigestDelivery.objects.create(
        user=at.member, digest_on=TODAY
    ),
}


def _token(at: AtSite) -> models.Model:
    from api.models import ApiToken

    token, _secret = ApiToken.objects.issue(user=at.member, name="lab interface")
    return token


def _access_log_entry(at: AtSite) -> models.Model:
    from audit.models import AccessKind, AccessLogEntry

    return AccessLogEntry.objects.create(
        kind=AccessKind.SIGN_IN, user=at.member, username=at.member.username
    )


def _axes(at: AtSite, model_name: str) -> models.Model:
    from axes import models as axes_models

    model = getattr(axes_models, model_name)
    fields = {"username": at.member.username, "ip_address": "192.0.2.1", "user_agent": "test"}
    if model_name == "AccessAttempt":
        fields |= {"failures_since_start": 1, "get_data": "", "post_data": ""}
    return model.objects.create(**fields)


def _device(at: AtSite, kind: str) -> models.Model:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    model = TOTPDevice if kind == "totp" else StaticDevice
    return model.objects.create(user=at.member, name=f"{kind} device", confirmed=True)


REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def test_every_registered_admin_is_scoped_or_superuser_only():
    unclassified = set(REGISTERED) - set(SCOPED) - set(SUPERUSER_ONLY)
    assert not unclassified, f"add these admins to SCOPED or SUPERUSER_ONLY: {unclassified}"
    assert not (set(SCOPED) | set(SUPERUSER_ONLY)) - set(REGISTERED), "stale entries"


def test_every_scoped_admin_says_so_and_every_other_is_closed():
    from config.admin_scope import SuperuserOnly

    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if label in SCOPED:
            assert getattr(model_admin, "site_scoped", False), label
        else:
            assert isinstance(model_admin, SuperuserOnly), label


# --- Data -----------------------------------------------------------------------------------------


@pytest.fixture
def world(site_a, site_b) -> dict[str, AtSite]:
    sites = {}
    for site, family_name, mrn in ((site_a, "Abelard", "A-1001"), (site_b, "Bertrand", "B-2002")):
        member = UserFactory(username=f"member-{site.code}")
        MembershipFactory(user=member, site=site, role=Role.CLINICIAN)
        sites[site.code] = AtSite(site, make_site_records(site, family_name, mrn), member)
    return sites


@pytest.fixture
def all_powerful_a(site_a):
    """A data manager of site A holding every model permission there is, explicitly: scoping
    must hold whatever the permissions say."""
    user = UserFactory(username="dana", is_staff=True)
    MembershipFactory(user=user, site=site_a, role=Role.DATA_MANAGER)
    user.user_permissions.set(Permission.objects.all())
    return user


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def model_of(label: str) -> type[models.Model]:
    return next(model for model in admin.site._registry if model._meta.label_lower == label)


def object_urls(model: type[models.Model], obj: models.Model) -> Iterator[tuple[str, str]]:
    """(name, URL) of every admin URL of the model that takes an object, filled in for `obj`."""
    model_admin = admin.site._registry[model]
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or "object_id" not in str(pattern.pattern):
            continue
        if pattern.name is None:  # <object_id>/ redirects to .../change/, asked for below
            continue
        kwargs: dict[str, Any] = {"object_id": obj.pk}
        if "version_id" in str(pattern.pattern):
            kwargs["version_id"] = obj.history.latest().history_id
        yield pattern.name, reverse(f"admin:{pattern.name}", kwargs=kwargs)


def change_url(obj: models.Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist_url(model: type[models.Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _not_shown(response: Any) -> bool:
    """Refused (403/404) or sent away as the admin does for an object it cannot find."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and response["Location"] == reverse("admin:index")


# --- Scoped admins ----------------------------------------------------------------------------


@pytest.mark.parametrize("label", sorted(SCOPED))
def test_a_staff_user_of_site_a_sees_only_site_as_objects(label, world, all_powerful_a):
    model = model_of(label)
    own, other = SCOPED[label](world["north"]), SCOPED[label](world["south"])
    client = client_of(all_powerful_a)

    changelist = client.get(changelist_url(model))
    assert changelist.status_code == 200
    assert change_url(own) in changelist.content.decode()
    assert change_url(other) not in changelist.content.decode()

    assert client.get(change_url(own)).status_code == 200
    urls = dict(object_urls(model, other))
    assert {name.rsplit("_", 1)[-1] for name in urls} >= {"change", "history", "delete"}
    for name, url in urls.items():
        response = client.get(url)
        assert _not_shown(response), f"{name} of site B's object: {response.status_code}"
        assert response.status_code != 200


@pytest.mark.parametrize("label", sorted(SCOPED))
def test_a_staff_user_of_site_a_cannot_delete_site_bs_object(label, world, all_powerful_a):
    model = model_of(label)
    other = SCOPED[label](world["south"])
    delete = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[other.pk]
    )
    response = client_of(all_powerful_a).post(delete, {"post": "yes"})
    assert _not_shown(response), response.status_code
    assert model._default_manager.filter(pk=other.pk).exists()


@pytest.mark.parametrize("label", sorted(SCOPED))
def test_a_superuser_sees_every_sites_objects(label, world, superuser):
    model = model_of(label)
    objects = [SCOPED[label](world[code]) for code in ("north", "south")]
    page = client_of(superuser).get(changelist_url(model)).content.decode()
    assert all(change_url(obj) in page for obj in objects)


# --- Superuser-only admins ------------------------------------------------------------------------


@pytest.mark.parametrize("label", sorted(SUPERUSER_ONLY))
def test_a_superuser_only_admin_refuses_staff_with_every_permission(label, world, all_powerful_a):
    model = model_of(label)
    row = SUPERUSER_ONLY[label](world["north"])  # even a row of the user's own site
    client = client_of(all_powerful_a)
    assert client.get(changelist_url(model)).status_code == 403
    for name, url in object_urls(model, row):
        assert client.get(url).status_code == 403, name
    index = client.get(reverse("admin:index")).content.decode()
    assert changelist_url(model) not in index


@pytest.mark.parametrize("label", sorted(SUPERUSER_ONLY))
def test_a_superuser_only_admin_opens_for_a_superuser(label, world, superuser):
    model = model_of(label)
    row = SUPERUSER_ONLY[label](world["north"])
    client = client_of(superuser)
    assert client.get(changelist_url(model)).status_code == 200
    assert client.get(change_url(row)).status_code == 200


# --- Evaluation runs ------------------------------------------------------------------------------


def test_a_data_manager_sees_that_the_nightly_run_finished_but_not_its_every_site_figures(
    data_manager_a, superuser, site_a, site_b
):
    nightly = EvaluationRun.objects.create(
        kind="nightly", as_of=TODAY, status="done", courses=4321, findings=987, opened=65
    )
    own = EvaluationRun.objects.create(
        kind="command", as_of=TODAY, site=site_a, status="done", courses=1234
    )
    other = EvaluationRun.objects.create(
        kind="command", as_of=TODAY, site=site_b, status="done", courses=5678
    )
    client = client_of(data_manager_a)

    changelist = client.get(changelist_url(EvaluationRun)).content.decode()
    assert change_url(nightly) in changelist
    assert change_url(own) in changelist
    assert change_url(other) not in changelist
    assert "1234" in changelist
    assert "4321" not in changelist
    assert "987" not in changelist
    assert "5678" not in changelist

    page = client.get(change_url(nightly))
    assert page.status_code == 200
    assert "Done" in page.content.decode() or "done" in page.content.decode()
    assert "4321" not in page.content.decode()

    everything = client_of(superuser).get(changelist_url(EvaluationRun)).content.decode()
    assert "4321" in everything
    assert "5678" in everything
