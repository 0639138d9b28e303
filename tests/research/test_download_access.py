"""Who may download an export is decided when they ask (research.selectors.DownloadRights).

Its requester while they hold a researcher (or data manager) role at each of its sites, or a data
manager of every site it covers. A role removed since takes the files with it, at every door: the
web download, the API download, and the links the page and the API list offer. No superuser
bypass.
"""

from __future__ import annotations

import pytest

from registry.models import Role
from research import services
from research.models import ExportEvent, ExportRequest
from tests.factories import MembershipFactory, UserFactory

PAGE = "/research/"
API = "/api/v1/exports/"


def web_download(export: ExportRequest) -> str:
    return f"/research/exports/{export.pk}/download/"


def api_download(export: ExportRequest) -> str:
    return f"{API}{export.pk}/download/"


def built(by, sites, **options) -> ExportRequest:
    export = services.export_request(by=by, sites=sites, format="csv", **options)
    return services.export_build(export=export)


def downloads(client, export: ExportRequest) -> tuple[int, int]:
    """The status codes of the web and the API download."""
    return client.get(web_download(export)).status_code, client.get(
        api_download(export)
    ).status_code


def take_role(user, site) -> None:
    user.memberships.filter(site=site).delete()


@pytest.fixture
def researcher_ab(site_a, site_b):
    """A researcher at both sites."""
    user = UserFactory(username="rhea", is_staff=False)
    for site in (site_a, site_b):
        MembershipFactory(user=user, site=site, role=Role.RESEARCHER)
    return user


@pytest.fixture
def export_a(researcher_ab, site_a, consenting_course) -> ExportRequest:
    return built(researcher_ab, [site_a])


def test_a_researcher_whose_role_was_removed_cannot_download_their_earlier_exports(
    client, researcher_a, site_a, consenting_course
):
    export = built(researcher_a, [site_a])
    client.force_login(researcher_a)
    assert downloads(client, export) == (200, 200)
    take_role(researcher_a, site_a)
    assert downloads(client, export) == (404, 404)
    assert ExportEvent.objects.filter(export=export, kind="downloaded").count() == 2


def test_a_researcher_whose_role_changed_at_the_site_cannot_download(
    client, researcher_a, site_a, consenting_course
):
    export = built(researcher_a, [site_a])
    researcher_a.memberships.filter(site=site_a).update(role=Role.NURSE)
    client.force_login(researcher_a)
    assert downloads(client, export) == (404, 404)
    assert not ExportEvent.objects.filter(kind="downloaded").exists()


def test_the_page_and_the_api_list_stop_offering_the_link(client, researcher_ab, site_a, export_a):
    client.force_login(researcher_ab)
    assert web_download(export_a) in client.get(PAGE).content.decode()
    assert (
        client.get(f"{API}{export_a.pk}/").json()["download_url"].endswith(api_download(export_a))
    )
    take_role(researcher_ab, site_a)  # still a researcher at B: the page stays open
    page = client.get(PAGE).content.decode()
    assert f'id="export-{export_a.pk}"' in page  # the export is listed, as the requester's
    assert web_download(export_a) not in page
    row = client.get(f"/research/exports/{export_a.pk}/row/").content.decode()
    assert web_download(export_a) not in row
    [listed] = client.get(API).json()["results"]
    assert (listed["id"], listed["download_url"]) == (export_a.pk, None)
    assert client.get(f"{API}{export_a.pk}/").json()["download_url"] is None
    assert downloads(client, export_a) == (404, 404)


def test_an_export_of_two_sites_needs_a_role_at_both(
    client, researcher_ab, site_a, site_b, consenting_course
):
    export = built(researcher_ab, [site_a, site_b])
    take_role(researcher_ab, site_b)
    client.force_login(researcher_ab)
    assert downloads(client, export) == (404, 404)


def test_a_data_manager_needs_the_role_at_every_site_of_the_export(
    client, researcher_ab, data_manager_a, site_a, site_b, consenting_course
):
    export = built(researcher_ab, [site_a, site_b])
    client.force_login(data_manager_a)
    assert downloads(client, export) == (404, 404)
    MembershipFactory(user=data_manager_a, site=site_b, role=Role.DATA_MANAGER)
    assert downloads(client, export) == (200, 200)
    take_role(data_manager_a, site_a)
    assert downloads(client, export) == (404, 404)


def test_a_superuser_without_a_role_at_the_sites_cannot_download(
    client, superuser, researcher_a, site_a, consenting_course
):
    export = built(researcher_a, [site_a])
    client.force_login(superuser)
    assert downloads(client, export) == (404, 404)
    MembershipFactory(user=superuser, site=site_a, role=Role.DATA_MANAGER)
    assert downloads(client, export) == (200, 200)


def test_an_operators_export_is_for_data_managers_of_its_sites_only(
    client, superuser, data_manager_a, site_a, consenting_course
):
    export = services.export_build(
        export=services.export_request_as_operator(sites=[site_a], format="csv")
    )
    client.force_login(superuser)
    assert downloads(client, export) == (404, 404)
    client.force_login(data_manager_a)
    assert downloads(client, export) == (200, 200)


def test_finer_options_need_a_data_manager_of_every_site_even_for_their_requester(
    client, data_manager_a, site_a, consenting_course
):
    export = built(data_manager_a, [site_a], date_precision="day", age_precision="years")
    client.force_login(data_manager_a)
    assert downloads(client, export) == (200, 200)
    data_manager_a.memberships.filter(site=site_a).update(role=Role.RESEARCHER)
    assert downloads(client, export) == (404, 404)  # a researcher could not have asked for it


def test_a_requester_who_is_researcher_at_one_site_and_data_manager_at_the_other_can(
    client, site_a, site_b, consenting_course
):
    user = UserFactory(username="rory", is_staff=False)
    MembershipFactory(user=user, site=site_a, role=Role.RESEARCHER)
    MembershipFactory(user=user, site=site_b, role=Role.DATA_MANAGER)
    export = built(user, [site_a, site_b])
    client.force_login(user)
    assert downloads(client, export) == (200, 200)


def test_an_inactive_requester_cannot_download(client, researcher_a, site_a, consenting_course):
    export = built(researcher_a, [site_a])
    client.force_login(researcher_a)
    researcher_a.is_active = False
    researcher_a.save(update_fields=["is_active"])
    assert client.get(web_download(export)).status_code in (302, 404)  # signed out, or refused
    assert not ExportEvent.objects.filter(kind="downloaded").exists()
