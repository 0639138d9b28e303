"""De-identification options at every door: a researcher gets the defaults and may ask for
coarser; finer (days, whole years, small cells only reported) needs a data manager of every site."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from registry.models import Role
from research import services
from research.models import ExportEvent, ExportRequest
from tests.factories import MembershipFactory

PAGE = "/research/"
URL = "/api/v1/exports/"
FINER = {"date_precision": "day", "age_precision": "years", "small_cells": "report"}


def test_a_researchers_request_gets_the_defaults(client, researcher_a, site_a):
    client.force_login(researcher_a)
    client.post(PAGE, {"sites": [site_a.pk], "format": "csv"})
    export = ExportRequest.objects.get()
    assert (export.date_precision, export.age_precision, export.suppress_small_cells) == (
        "week",
        "bands",
        True,
    )
    assert ExportEvent.objects.get().details["date_precision"] == "week"


def test_a_researcher_may_ask_for_coarser_dates(client, researcher_a, site_a):
    client.force_login(researcher_a)
    client.post(PAGE, {"sites": [site_a.pk], "format": "csv", "date_precision": "month"})
    assert ExportRequest.objects.get().date_precision == "month"


def test_the_page_refuses_finer_options_to_a_researcher_field_by_field(
    client, researcher_a, site_a
):
    client.force_login(researcher_a)
    page = client.post(PAGE, {"sites": [site_a.pk], "format": "csv", **FINER})
    assert page.status_code == 200
    form = page.context["form"]
    assert set(form.errors) == {"date_precision", "age_precision", "small_cells"}
    assert "data manager" in form.errors["date_precision"][0]
    assert not ExportRequest.objects.exists()


def test_a_data_manager_of_every_site_may_choose_finer_options(
    client, data_manager_a, site_a, site_b
):
    client.force_login(data_manager_a)
    assert client.get(PAGE).status_code == 200  # data managers may request exports too
    client.post(PAGE, {"sites": [site_a.pk], "format": "csv", **FINER})
    export = ExportRequest.objects.get()
    assert (export.date_precision, export.age_precision, export.suppress_small_cells) == (
        "day",
        "years",
        False,
    )
    # A researcher at site B but data manager only at A: finer options for A+B are refused.
    MembershipFactory(user=data_manager_a, site=site_b, role=Role.RESEARCHER)
    with pytest.raises(ValidationError) as refused:
        services.export_request(
            by=data_manager_a, sites=[site_a, site_b], format="csv", date_precision="day"
        )
    assert "date_precision" in refused.value.message_dict


def test_the_api_refuses_finer_options_to_a_researcher(client, researcher_a):
    client.force_login(researcher_a)
    response = client.post(
        URL,
        {
            "sites": ["north"],
            "format": "csv",
            "date_precision": "day",
            "suppress_small_cells": False,
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert set(errors) == {"date_precision", "suppress_small_cells"}
    assert not ExportRequest.objects.exists()
    accepted = client.post(
        URL,
        {"sites": ["north"], "format": "csv", "date_precision": "month"},
        content_type="application/json",
    )
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["date_precision"] == "month"
    assert accepted.json()["age_precision"] == "bands"


def test_the_api_takes_finer_options_from_a_data_manager(client, data_manager_a):
    client.force_login(data_manager_a)
    response = client.post(
        URL,
        {"sites": ["north"], "format": "csv", "date_precision": "day", "age_precision": "years"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert ExportRequest.objects.get().date_precision == "day"


def test_an_operators_export_gets_the_defaults_unless_told(site_a, consenting_course, tmp_path):
    out = tmp_path / "export.zip"
    call_command("export_registry", "--format", "csv", "--out", str(out), stdout=io.StringIO())
    assert ExportRequest.objects.get().date_precision == "week"
    call_command(
        "export_registry", "--format", "csv", "--out", str(out), "--date-precision", "day",
        "--age-precision", "years", "--report-small-cells", stdout=io.StringIO(),
    )  # fmt: skip
    latest = ExportRequest.objects.order_by("-pk").first()
    assert latest is not None
    assert (latest.date_precision, latest.age_precision, latest.suppress_small_cells) == (
        "day",
        "years",
        False,
    )
