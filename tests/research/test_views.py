"""The researchers' page: request, progress (htmx), download; who may do what."""

from __future__ import annotations

import pytest

from research import services
from research.models import ExportEvent, ExportRequest, ExportStatus

PAGE = "/research/"


def download_url(export: ExportRequest) -> str:
    return f"/research/exports/{export.pk}/download/"


@pytest.fixture
def built_export(consenting_course, researcher_a, site_a):
    export = services.export_request(by=researcher_a, sites=[site_a], format="csv")
    return services.export_build(export=export)


def test_it_lets_a_researcher_request_an_export_and_builds_it(
    client, researcher_a, consenting_course, eager, django_capture_on_commit_callbacks
):
    client.force_login(researcher_a)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Request an export" in page.content.decode()
    site = researcher_a.memberships.get().site
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE, {"sites": [site.pk], "format": "fhir"})
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert (export.requested_by, export.format, export.status) == (researcher_a, "fhir", "done")
    listing = client.get(PAGE).content.decode()
    assert download_url(export) in listing


def test_it_refuses_the_form_to_staff_without_a_researcher_role(client, clinician_a, nurse_a):
    for user in (clinician_a, nurse_a):
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, {"format": "csv"}).status_code == 403


def test_it_offers_only_the_researchers_sites(client, researcher_a, site_b):
    client.force_login(researcher_a)
    response = client.post(PAGE, {"sites": [site_b.pk], "format": "csv"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ExportRequest.objects.exists()


def test_the_progress_row_polls_while_building_and_stops_when_done(
    client, researcher_a, site_a, consenting_course
):
    export = services.export_request(by=researcher_a, sites=[site_a], format="csv")
    ExportRequest.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING, progress=40)
    client.force_login(researcher_a)
    row = client.get(f"/research/exports/{export.pk}/row/", HTTP_HX_REQUEST="true")
    html = row.content.decode()
    assert 'hx-trigger="every 2s"' in html  # every 2 s: a final state comes soon enough
    assert 'value="40"' in html
    ExportRequest.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED, progress=0)
    services.export_build(export=export)
    html = client.get(f"/research/exports/{export.pk}/row/").content.decode()
    assert "hx-trigger" not in html
    assert download_url(export) in html


def test_another_researchers_progress_row_does_not_exist(client, built_export, other_researcher):
    client.force_login(other_researcher)
    assert client.get(f"/research/exports/{built_export.pk}/row/").status_code == 404


def test_the_requester_and_a_data_manager_download_and_are_audited(
    client, built_export, researcher_a, data_manager_a
):
    for user in (researcher_a, data_manager_a):
        client.force_login(user)
        response = client.get(download_url(built_export))
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert b"".join(response.streaming_content)[:2] == b"PK"
    downloads = ExportEvent.objects.filter(export=built_export, kind="downloaded")
    assert [e.actor for e in downloads] == [researcher_a, data_manager_a]
    assert downloads[0].details["rows"]["patients"] == 1


def test_nobody_else_can_download(client, built_export, other_researcher, nurse_a, nurse_b):
    for user in (other_researcher, nurse_a, nurse_b):
        client.force_login(user)
        assert client.get(download_url(built_export)).status_code == 404
    assert not ExportEvent.objects.filter(kind="downloaded").exists()


def test_the_navigation_links_researchers_to_their_exports(client, researcher_a, clinician_a):
    client.force_login(researcher_a)
    assert 'href="/research/"' in client.get(PAGE).content.decode()
    client.force_login(clinician_a)
    assert 'href="/research/"' not in client.get("/guideline/").content.decode()
