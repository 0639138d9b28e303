"""Every table of an export is read in a number of queries that does not grow with its rows (no
query per row: the product, the course number and the codes come with the row's own query)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import InfliximabProduct
from research.dictionary import ADVERSE_EVENTS, INFUSIONS, MEDICATIONS, TABLES, Table
from research.exporters import ExportScope, table_rows
from tests.conftest import TODAY
from tests.factories import (
    AdverseEventFactory,
    CourseFactory,
    InfusionFactory,
    MedicationFactory,
    PatientFactory,
    ScreeningResultFactory,
    VaccinationFactory,
)
from tests.research.support import EXACT, build

DAY = dt.timedelta(days=1)


def _patient_with_a_safety_record(site, product: InfliximabProduct) -> None:
    patient = PatientFactory(site=site, research_consent_given_on=TODAY - 400 * DAY)
    started = TODAY - 300 * DAY
    course = CourseFactory(patient=patient, started_on=started, product=product)
    for week in (0, 2, 6):
        InfusionFactory(course=course, given_on=started + 7 * week * DAY, product=product)
    MedicationFactory(patient=patient, started_on=started - 60 * DAY)
    MedicationFactory(
        patient=patient,
        drug="methotrexate",
        dose="15",
        dose_unit="mg",
        frequency="weekly",
        started_on=started,
    )
    AdverseEventFactory(patient=patient, course=course, onset_on=started + 20 * DAY)
    AdverseEventFactory(patient=patient, onset_on=started - 20 * DAY)
    ScreeningResultFactory(patient=patient, tested_on=started - 14 * DAY)
    ScreeningResultFactory(patient=patient, test="hbv_hbsag", tested_on=started - 14 * DAY)
    VaccinationFactory(patient=patient, given_on=started - 100 * DAY)


def _queries(table: Table) -> tuple[int, int]:
    """(queries to read the table of a fresh exact export, rows read)."""
    export = build("csv", **EXACT)
    scope = ExportScope(export)
    with CaptureQueriesContext(connection) as queries:
        rows = list(table_rows(table, scope))
    return len(queries.captured_queries), len(rows)


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_a_table_is_read_in_the_same_queries_for_one_patient_and_for_five(
    table, site_a, django_assert_max_num_queries
):
    products = list(InfliximabProduct.objects.order_by("pk")[:2])
    _patient_with_a_safety_record(site_a, products[0])
    one, one_rows = _queries(table)
    for n in range(4):
        _patient_with_a_safety_record(site_a, products[n % 2])
    export = build("csv", **EXACT)
    with django_assert_max_num_queries(one):
        five_rows = len(list(table_rows(table, ExportScope(export))))
    if table in (INFUSIONS, MEDICATIONS, ADVERSE_EVENTS) or one_rows:
        assert five_rows == 5 * one_rows > 0
