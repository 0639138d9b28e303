"""Fixtures of the access log's tests: a clinical record at each site (the API tests' builder),
an export of site A's patient, and a way to read the one row a request wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AccessLogEntry
from research.models import ExportRequest, PseudonymMapping
from tests.api.conftest import Record, build_record, built_export

AUDIT_INSERT = f'INSERT INTO "{AccessLogEntry._meta.db_table}"'


@pytest.fixture
def record_a(site_a) -> Record:
    return build_record(site_a, mrn="MRN-A1")


@pytest.fixture
def record_b(site_b) -> Record:
    return build_record(site_b, mrn="MRN-B1")


@pytest.fixture
def export_a(record_a, researcher_a, tmp_path) -> ExportRequest:
    """A built export of site A, holding record_a's patient under a pseudonym."""
    export = built_export(record_a, researcher_a, tmp_path)
    PseudonymMapping.objects.create(
        export=export, patient=record_a.patient, first_course_started_on=dt.date(2025, 1, 6)
    )
    return export


@dataclass
class Written:
    """The access log rows one request wrote, and how many INSERTs it sent to the log."""

    entries: list[AccessLogEntry] = field(default_factory=list)
    inserts: int = 0

    @property
    def entry(self) -> AccessLogEntry:
        assert len(self.entries) == 1, f"expected one row, got {self.entries}"
        return self.entries[0]


@pytest.fixture
def written() -> Callable[[], AbstractContextManager[Written]]:
    @contextmanager
    def capture() -> Iterator[Written]:
        before = AccessLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        result = Written()
        with CaptureQueriesContext(connection) as queries:
            yield result
        result.inserts = sum(q["sql"].startswith(AUDIT_INSERT) for q in queries.captured_queries)
        result.entries = list(AccessLogEntry.objects.filter(pk__gt=before).order_by("pk"))

    return capture
