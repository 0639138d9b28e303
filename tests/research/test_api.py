"""/api/v1/exports/: researchers create, list and follow their exports, and download them."""

from __future__ import annotations

from research import services
from research.models import ExportEvent, ExportRequest

URL = "/api/v1/exports/"


def test_a_researcher_creates_follows_and_downloads_an_export(
    client, researcher_a, consenting_course, eager, django_capture_on_commit_callbacks
):
    client.force_login(researcher_a)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            URL, {"sites": ["north"], "format": "csv"}, content_type="application/json"
        )
    assert created.status_code == 201, created.content
    export_id = created.json()["id"]
    detail = client.get(f"{URL}{export_id}/").json()
    assert (detail["status"], detail["progress"]) == ("done", 100)
    assert detail["row_counts"]["patients"] == 1
    assert detail["download_url"].endswith(f"/api/v1/exports/{export_id}/download/")
    assert [e["id"] for e in client.get(URL).json()["results"]] == [export_id]
    download = client.get(f"{URL}{export_id}/download/")
    assert download.status_code == 200
    assert ExportEvent.objects.filter(kind="downloaded", actor=researcher_a).count() == 1


def test_it_refuses_sites_where_the_caller_is_not_a_researcher(client, researcher_a, site_b):
    client.force_login(researcher_a)
    response = client.post(
        URL, {"sites": ["south"], "format": "csv"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert not ExportRequest.objects.exists()


def test_staff_without_a_researcher_role_are_refused(client, clinician_a):
    client.force_login(clinician_a)
    assert client.get(URL).status_code == 403


def test_others_see_neither_the_export_nor_its_file(
    client, researcher_a, other_researcher, nurse_a, data_manager_a, site_a, consenting_course
):
    export = services.export_build(
        export=services.export_request(by=researcher_a, sites=[site_a], format="csv")
    )
    client.force_login(other_researcher)
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}{export.pk}/").status_code == 404
    for user in (other_researcher, nurse_a):
        client.force_login(user)
        assert client.get(f"{URL}{export.pk}/download/").status_code == 404
    client.force_login(data_manager_a)
    assert client.get(f"{URL}{export.pk}/download/").status_code == 200


def test_a_malformed_export_id_is_not_found(client, researcher_a):
    client.force_login(researcher_a)
    assert client.get(f"{URL}abc/download/").status_code == 404
    assert client.get(f"{URL}abc/").status_code == 404
