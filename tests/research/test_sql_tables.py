"""On PostgreSQL the plain tables are read by one SQL statement each (research.sql_tables) and the
CSV comes straight out of COPY; the ORM readers are the portable path (SQLite). Both give the
same archive: byte-identical CSV files, equal Parquet tables, equal FHIR resources — on the demo
registry and on one made of the cases that numbering and rounding get wrong."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from django.db import connection

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert, AlertStatus
from registry.models import InfliximabProduct, Site, TreatmentCourse
from research.dictionary import TABLES
from research.exporters import ExportScope, build_archive
from research.models import ExportFormat, ExportRequest
from research.sql_tables import SQL_TABLES
from tests.conftest import TODAY
from tests.factories import (
    AssessmentFactory,
    ConsentFactory,
    CourseFactory,
    ImagingStudyFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
    ReactionFactory,
    RegimenChangeFactory,
    RelapseFactory,
    SiteFactory,
)
from tests.research.support import EXACT, build, entries

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the SQL tables are PostgreSQL's"
)
DAY = dt.timedelta(days=1)


def portable_entries(export: ExportRequest, tmp_path: Path) -> dict[str, bytes]:
    """The export's archive built again from the same pseudonyms, through the ORM readers."""
    path = tmp_path / f"portable-{export.pk}.zip"
    build_archive(ExportScope(export, sql_tables=False), path, lambda _percent: None)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_same_archive(export: ExportRequest, tmp_path: Path) -> None:
    assert ExportScope(export).sql_tables  # the build took the SQL path
    fast, portable = entries(export), portable_entries(export, tmp_path)
    assert list(fast) == list(portable)
    for name, data in fast.items():
        if name.endswith(".parquet"):
            assert pq.read_table(io.BytesIO(data)).equals(
                pq.read_table(io.BytesIO(portable[name]))
            ), name
        elif name.endswith(".ndjson"):
            lines = [json.loads(line) for line in data.splitlines()]
            assert lines == [json.loads(line) for line in portable[name].splitlines()], name
        elif name == "manifest.json" and export.format == ExportFormat.PARQUET:
            # A Parquet file's bytes (so its checksum) follow its writer's batches: not its rows.
            assert without_checksums(data) == without_checksums(portable[name])
        else:
            assert data == portable[name], name


def without_checksums(manifest: bytes) -> dict[str, object]:
    tables = json.loads(manifest)
    for table in tables["tables"].values():
        del table["sha256"]
    return tables


def tricky_registry() -> None:
    """Several courses, two started the same day, same-day infusions in two courses, a
    retreatment after a relapse, regimen changes (taper, then intensification), doses whose
    mg/kg is a tie to round, reactions, results without units, a withdrawn consent, a consent
    withdrawn after the export's consent date, a site whose code a spreadsheet would run, and
    free text that stays in the registry."""
    formula_site = SiteFactory(code="-lab")
    product = InfliximabProduct.objects.order_by("pk").first()
    retreated = PatientFactory(site=formula_site, research_consent_given_on=TODAY - 900 * DAY)
    first_start = TODAY - 700 * DAY
    first = CourseFactory(
        patient=retreated,
        started_on=first_start,
        stopped_on=first_start + 300 * DAY,
        stop_reason="remission",
        product=product,
    )
    for week, dose in ((0, "45"), (2, "47"), (6, "200"), (14, "201")):
        infusion = InfusionFactory(
            course=first,
            given_on=first_start + 7 * week * DAY,
            dose_mg=Decimal(dose),
            product=product if week else None,
            notes="zq-free-text",
        )
    ReactionFactory(infusion=infusion)
    RegimenChangeFactory(course=first, effective_on=first_start + 98 * DAY, reason="taper")
    RegimenChangeFactory(
        course=first,
        effective_on=first_start + 150 * DAY,
        reason="intensification",
        interval_weeks=6,
    )
    second = CourseFactory(patient=retreated, started_on=first_start + 400 * DAY)
    RelapseFactory(course=first, noted_on=first_start + 380 * DAY, retreatment_course=second)
    InfusionFactory(course=second, given_on=second.started_on)
    for analyte, value, days in (("esr", "30", -3), ("crp", "12.5", -3), ("esr", "6", 88)):
        LabResultFactory(
            patient=retreated,
            analyte=analyte,
            value=Decimal(value),
            collected_on=first_start + days * DAY,
        )
    LabResultFactory(
        patient=retreated,
        analyte="anti_ifx",
        value=None,
        unit="",
        antibodies_positive=True,
        collected_on=first_start + 200 * DAY,
    )
    for days in (-10, -10, 91):
        ImagingStudyFactory(patient=retreated, performed_on=first_start + days * DAY)
        AssessmentFactory(
            patient=retreated, assessed_on=first_start + days * DAY, disease_state="active"
        )

    same_day = PatientFactory(research_consent_given_on=TODAY - 500 * DAY, sex="male")
    start = TODAY - 400 * DAY
    # A course stopped the day it started (the wrong product, say), and the one that replaced it.
    stopped = CourseFactory(
        patient=same_day, started_on=start, stopped_on=start, stop_reason="other"
    )
    InfusionFactory(course=stopped, given_on=start)
    course = CourseFactory(patient=same_day, started_on=start)
    InfusionFactory(course=course, given_on=start)
    InfusionFactory(course=course, given_on=start + 14 * DAY, weight_kg=Decimal("41.60"))
    ConsentFactory(
        patient=same_day, given_on=TODAY - 100 * DAY, research_withdrawn_on=TODAY + 10 * DAY
    )

    withdrawn = PatientFactory(
        research_consent_given_on=TODAY - 500 * DAY,
        research_consent_withdrawn_on=TODAY - 20 * DAY,
    )
    CourseFactory(patient=withdrawn, started_on=start)
    courses = list(TreatmentCourse.objects.values_list("pk", flat=True))
    evaluate_courses(courses, TODAY)
    # Raised late in the evening of a summer day (the next day in London), resolved 18.9 days on.
    Alert.objects.filter(pk=Alert.objects.order_by("pk").values("pk")[:1]).update(
        status=AlertStatus.RESOLVED,
        first_raised_at=dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC),
        resolved_at=dt.datetime(2026, 7, 19, 21, 0, tzinfo=dt.UTC),
    )


def test_every_plain_table_with_a_statement_is_one_of_the_dictionary():
    assert set(SQL_TABLES) <= {table.name for table in TABLES}


@pytest.mark.parametrize("fmt", ExportFormat.values)
def test_the_demo_exports_are_the_same_by_sql_and_by_the_orm(demo, fmt, tmp_path):
    assert_same_archive(demo[fmt], tmp_path)
    assert_same_archive(demo[f"{fmt}/default"], tmp_path)


@pytest.mark.parametrize("fmt", ExportFormat.values)
@pytest.mark.parametrize(
    "options",
    [
        EXACT,
        {},  # a researcher's defaults: weeks, age bands, small cells suppressed
        {
            "date_precision": "month",
            "date_from": TODAY - 650 * DAY,
            "date_to": TODAY - 5 * DAY,
        },
    ],
    ids=["exact", "defaults", "months-in-a-range"],
)
def test_tricky_exports_are_the_same_by_sql_and_by_the_orm(db, fmt, options, tmp_path):
    tricky_registry()
    assert_same_archive(build(fmt, sites=Site.objects.all(), **options), tmp_path)


def test_the_sql_tables_round_mg_per_kg_half_to_even_as_decimal_does(db, tmp_path):
    tricky_registry()
    infusions = entries(build("csv", **EXACT))["infusions.csv"].decode().splitlines()[1:]
    per_kg = {
        cells[7]: cells[8]
        for cells in (line.split(",") for line in infusions)
        if cells[5] == "40.00"
    }
    assert per_kg == {"45.0": "1.12", "47.0": "1.18", "200.0": "5.00", "201.0": "5.02"}
