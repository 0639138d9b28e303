"""The OpenAPI schema: valid without warnings, with examples; the docs page works offline."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.renderers import OpenApiJsonRenderer

from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates_without_warnings(tmp_path: Path):
    out = tmp_path / "schema.yaml"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=io.StringIO()
    )
    assert out.read_text().startswith("openapi: 3.0.3")


@pytest.fixture
def signed_in(client: Client, researcher_a) -> Client:
    """Any signed-in person may read the schema (it holds no record): a researcher too."""
    client.force_login(researcher_a)
    return client


def test_the_schema_is_served_to_signed_in_people(signed_in: Client):
    response = signed_in.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "CRMO infliximab registry API"


def test_the_schema_is_served_to_a_token(nurse_a):
    response = token_client(nurse_a).get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200


def test_the_schema_is_not_served_to_anonymous_callers(client: Client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert "paths" not in response.content.decode()


def test_the_docs_page_sends_anonymous_browsers_to_sign_in(client: Client):
    for url in ("/api/docs/", "/api/docs/?script="):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=/api/docs/")


def test_every_write_documents_an_example(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or path.endswith(
                ("/acknowledge/", "/dismiss/")
            ):
                continue
            content = operation["requestBody"]["content"]["application/json"]
            if not content.get("examples"):
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_the_examples_are_valid_requests(schema):
    example = schema["paths"]["/api/v1/infusions/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    [(_name, body)] = example.items()
    assert set(body["value"]) >= {
        "course",
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "dose_mg",
    }
    imported = schema["paths"]["/api/v1/lab-results/import/"]["post"]["requestBody"]["content"]
    assert set(imported) == {"application/json", "text/csv", "multipart/form-data"}
    assert imported["application/json"]["examples"]


def test_updates_document_if_match(schema):
    for path, operations in schema["paths"].items():
        for method in ("put", "patch"):
            if method in operations:
                headers = {
                    p["name"]: p["required"]
                    for p in operations[method]["parameters"]
                    if p["in"] == "header"
                }
                assert headers == {"If-Match": True}, f"{method} {path}"


def test_no_delete_is_documented(schema):
    assert not [path for path, operations in schema["paths"].items() if "delete" in operations]


def test_the_docs_page_is_served_from_the_app_itself(signed_in: Client):
    client = signed_in
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in a for a in assets), html
    assert not [a for a in assets if re.match(r"(https?:)?//", a)], "an asset from another host"
    assert not re.search(r"https?://(?!localhost|testserver)[\w.-]+/", html.replace("\\/", "/"))
    for asset in {a for a in assets if a.startswith("/static/")}:
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()


def test_the_docs_page_has_no_inline_script(signed_in: Client):
    """A strict Content-Security-Policy (no 'unsafe-inline') would block an inline script: the
    page's start-up script is a file of its own (the split view), served as JavaScript."""
    html = signed_in.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert [body for _attrs, body in scripts if body.strip()] == []
    assert not re.search(r"\son\w+=", html), "an inline event handler"
    assert not re.search(r"<style\b", html), "an inline style sheet"
    [init] = [
        src.replace("&amp;", "&")
        for attrs, _body in scripts
        for src in re.findall(r'src="([^"]+)"', attrs)
        if "script" in src.split("?", 1)[-1]
    ]
    served = signed_in.get(init)
    assert served.status_code == 200
    assert served["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in served.content.decode()


def test_a_course_s_alerts_are_documented_as_the_plain_list_they_are(schema):
    operation = schema["paths"]["/api/v1/courses/{id}/alerts/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["id"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}


def test_people_who_may_be_nobody_are_documented_as_nullable(schema):
    components = schema["components"]["schemas"]
    assert components["AlertEvent"]["properties"]["actor"]["nullable"] is True
    assert components["Reaction"]["properties"]["reviewed_by"]["nullable"] is True


def test_the_schema_tested_is_the_schema_served(signed_in: Client, schema):
    """test_schemathesis generates the schema in-process: the same document /api/schema/ serves."""
    served = signed_in.get("/api/schema/", headers={"Accept": "application/json"}).json()
    assert served == json.loads(OpenApiJsonRenderer().render(schema))
