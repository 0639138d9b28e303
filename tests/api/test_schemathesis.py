"""Property-based tests of every operation of the live schema (schemathesis, in-process WSGI).

A clinician of site A calls each operation with generated input, valid and invalid, against a
record at site A and one at site B: no answer may be a server error, every documented answer must
match its schema and content type. Generated ids (in the path and in bodies) are steered to real
records of either site for most cases, and most updates get the record's current ETag, so that the
success paths (a saved correction, a re-evaluated course) are exercised, not only the refusals.

Bounded for CI: the schema's examples, then MAX_EXAMPLES cases per operation, derandomized (the
same cases on every run; a failure reproduces). Run only these with `-m schemathesis`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.urls import router
from api.views import etag_of
from config.wsgi import application
from tests.api.conftest import Record, api_token

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis]

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
MAX_EXAMPLES = 20


@pytest.fixture
def in_process_db(db) -> Iterator[None]:
    """Keep the test's transaction open across requests, as Django's test client does: the WSGI
    handler would otherwise close the connection (and lose the test's data) after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(clinician_a) -> str:
    return f"Token {api_token(clinician_a)}"


@pytest.fixture
def records(record_a: Record, record_b: Record) -> dict[str, list[Any]]:
    """The records of each resource (by URL prefix), own site first, for the path ids."""
    models = {
        prefix: viewset.serializer_class.Meta.model
        for prefix, viewset, _basename in router.registry
    }
    return {prefix: list(model._default_manager.order_by("pk")) for prefix, model in models.items()}


# Body fields that name a record, and the resource (URL prefix) of that record.
LINKS = {
    "patient": "patients",
    "course": "courses",
    "retreatment_course": "courses",
    "infusion": "infusions",
}


def pick(rows: list[Any], number: int) -> Any:
    return rows[number % len(rows)] if rows else None


def as_number(value: Any) -> int | None:
    """A generated id as a number (ids may come as text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def steer(case: Any, records: dict[str, list[Any]]) -> None:
    """Point most generated ids, in the path and in the body, at real records (of either site),
    and give most updates of a real record its current ETag: the success paths get exercised,
    not only the refusals. One id in five stays made up (a 404, or a 400 in a body)."""
    number = as_number((case.path_parameters or {}).get("id"))
    target = None
    if number is not None and number % 5 != 1:
        target = pick(records[case.path.split("/")[3]], number)
        if target is not None:
            case.path_parameters["id"] = target.pk
    bodies = case.body if isinstance(case.body, list) else [case.body]
    for body in bodies:
        if not isinstance(body, dict):
            continue
        for field, prefix in LINKS.items():
            value = as_number(body.get(field))
            if value is not None and value % 5 != 1:
                body[field] = pick(records[prefix], value).pk
    updating = case.method.upper() in ("PUT", "PATCH")
    if target is not None and number is not None and updating and number % 3 != 2:
        target.refresh_from_db()
        case.headers = {**(case.headers or {}), "If-Match": etag_of(target)}


def live_schema() -> Any:
    """The schema /api/schema/ serves (generated without a request: no database needed at
    collection), bound to the WSGI application for in-process calls."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    # The schema's own examples, then MAX_EXAMPLES generated cases per operation (valid and
    # invalid input); not the coverage phase (hundreds of boundary cases per write: minutes).
    config = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
    loaded = schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(document)), config=config
    )
    loaded.app = application
    return loaded


schema = live_schema()


@pytest.mark.usefixtures("in_process_db")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_within_its_schema(case, token, records):
    steer(case, records)
    case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)
