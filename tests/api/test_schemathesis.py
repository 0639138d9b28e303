"""Property-based tests of every operation of the live schema (schemathesis, in-process WSGI).

A clinician of site A calls each operation with generated input, positive and negative, against a
record at site A and one at site B: no answer may be a server error, and every documented answer
must match its schema. Path ids are steered to real records (own and other site) for most cases,
and updates get the record's real ETag half the time, so that the success paths are exercised too.
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
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.urls import router
from api.views import etag_of
from config.wsgi import application
from tests.api.conftest import Record

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis]

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
MAX_EXAMPLES = 15


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
    key = Token.objects.get_or_create(user=clinician_a)[0].key
    return f"Token {key}"


@pytest.fixture
def records(record_a: Record, record_b: Record) -> dict[str, list[Any]]:
    """The records of each resource (by URL prefix), own site first, for the path ids."""
    models = {
        prefix: viewset.serializer_class.Meta.model
        for prefix, viewset, _basename in router.registry
    }
    return {prefix: list(model._default_manager.order_by("pk")) for prefix, model in models.items()}


def steer(case: Any, records: dict[str, list[Any]]) -> None:
    """Point most generated ids at real records, and give half the updates the right ETag."""
    generated = (case.path_parameters or {}).get("id")
    if not isinstance(generated, int) or generated % 4 == 0:
        return  # a made-up id: should be a 404
    prefix = case.path.split("/")[3]
    rows = records[prefix]
    if not rows:
        return
    record = rows[generated % len(rows)]
    case.path_parameters["id"] = record.pk
    if case.method.upper() in ("PUT", "PATCH") and generated % 2:
        record.refresh_from_db()
        case.headers = {**(case.headers or {}), "If-Match": etag_of(record)}


def live_schema() -> Any:
    """The schema /api/schema/ serves (generated without a request: no database needed at
    collection), bound to the WSGI application for in-process calls."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    config = schemathesis.Config.from_dict(
        {
            # Boundary values of valid input (positive only: the fuzzing phase sends the invalid
            # input); not for PUT, whose body is POST's and whose fields PATCH covers one by one.
            "phases": {"coverage": {"generation": {"mode": "positive"}}},
            "operations": [{"include-method": "PUT", "phases": {"coverage": {"enabled": False}}}],
        }
    )
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
