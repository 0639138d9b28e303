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


def test_the_schema_is_served_to_anyone(client: Client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "CRMO infliximab registry API"


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


def test_the_docs_page_is_served_from_the_app_itself(client: Client):
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


def test_a_course_s_alerts_are_documented_as_the_plain_list_they_are(schema):
    operation = schema["paths"]["/api/v1/courses/{id}/alerts/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["id"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}


def test_people_who_may_be_nobody_are_documented_as_nullable(schema):
    components = schema["components"]["schemas"]
    assert components["AlertEvent"]["properties"]["actor"]["nullable"] is True
    assert components["Reaction"]["properties"]["reviewed_by"]["nullable"] is True


def test_the_schema_tested_is_the_schema_served(client: Client, schema):
    """test_schemathesis generates the schema in-process: the same document /api/schema/ serves."""
    served = client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    assert served == json.loads(OpenApiJsonRenderer().render(schema))
