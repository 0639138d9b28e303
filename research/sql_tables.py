"""The plain tables of an export as one SQL statement each, for PostgreSQL.

The consent gate and the pseudonyms are the export's PseudonymMapping rows (joined as `m`, with
each patient's day 0), course, dose and study numbers come from window functions, day offsets
from date arithmetic: so a table streams out of `COPY … TO STDOUT` (as CSV, straight into the
archive; or as values for Parquet and FHIR) without a Python step per row.

Each statement gives the values of the table's ORM reader in research.exporters (the portable
path, which SQLite runs), column by column by name, in the same order; the tests build both and
compare them (tests/research/test_sql_tables.py).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from registry.models import ANALYTE_LOINC, RegimenReason
from research.dictionary import (
    ALERTS,
    ASSESSMENTS,
    CONSENTS,
    FORMULA_STARTS,
    IMAGING,
    INFUSIONS,
    LABS,
    QUOTE,
    REACTIONS,
    REGIMEN_CHANGES,
    RELAPSES,
    Column,
    ColumnType,
    Table,
)

Row = tuple[Any, ...]
# Every CTE a statement may use; PostgreSQL computes only those a statement names. NOT
# MATERIALIZED: a CTE named twice would be materialized, and joins on it planned without
# statistics (nested loops over tens of thousands of infusions).
MAPPED = """
WITH m AS (
    SELECT patient_id, pseudonym, first_course_started_on AS day_zero
    FROM research_pseudonymmapping WHERE export_id = %(export)s
), course AS NOT MATERIALIZED (
    -- 1 + the patient's courses started earlier or the same day (all of them: a date range
    -- does not renumber), as research.exporters._course_number counts.
    SELECT c.id, c.patient_id, c.started_on,
           count(*) OVER (PARTITION BY c.patient_id ORDER BY c.started_on) AS number
    FROM registry_treatmentcourse c JOIN m ON m.patient_id = c.patient_id
), infusion AS NOT MATERIALIZED (
    -- Infusion.with_course_position: 1 + the course's infusions given earlier or the same day,
    -- and its first infusion, over every infusion of the course.
    SELECT i.*,
           count(*) OVER (PARTITION BY i.course_id ORDER BY i.given_on) AS dose_number,
           min(i.given_on) OVER (PARTITION BY i.course_id) AS first_given_on
    FROM registry_infusion i JOIN course c ON c.id = i.course_id
)
"""
REGIMEN_IN_FORCE = """(SELECT r.reason FROM registry_regimenchange r
    WHERE r.course_id = i.course_id AND r.effective_on <= i.given_on
    ORDER BY r.effective_on DESC LIMIT 1)"""
PRODUCT_COLUMNS = {
    "product_code": "p.code",
    "product_atc_code": "NULLIF(p.atc_code, '')",
    "product_biosimilar": "p.is_biosimilar",
    "product_ema_number": "NULLIF(p.ema_product_number, '')",
    "product_rxnorm_cui": "NULLIF(p.rxnorm_cui, '')",
}
# The exported cell of a text column that a spreadsheet would run as a formula (text_cell).
FORMULA_PREFIXES = ", ".join(
    f"chr({ord(start)})" if not start.isprintable() else "'" + start.replace("'", "''") + "'"
    for start in (*FORMULA_STARTS, QUOTE)
)


def _code_of(expression: str, codes: Mapping[str, str]) -> str:
    """A code looked up in a mapping (None where it has none), as SQL."""
    arms = " ".join(f"WHEN '{key}' THEN '{code}'" for key, code in codes.items())
    return f"CASE {expression} {arms} END"


def _rounded_half_even(quotient: str) -> str:
    """A positive quotient rounded to 2 places as Decimal.quantize does (ties to even):
    PostgreSQL's round() takes ties away from zero."""
    return (
        f"CASE WHEN ({quotient}) * 1000 = trunc(({quotient}) * 1000)"
        f" AND mod(trunc(({quotient}) * 1000), 10) = 5 AND mod(trunc(({quotient}) * 100), 2) = 0"
        f" THEN trunc({quotient}, 2) ELSE round({quotient}, 2) END"
    )


@dataclass(frozen=True)
class SqlTable:
    """One table's statement: its columns (name → SQL value, days uncoarsened: every column the
    dictionary measures in days is rounded down to the export's precision here, as
    ExportScope.day and .days round), the rows it reads, the date the export's range applies to
    and the order of the ORM reader."""

    table: Table
    columns: Mapping[str, str]
    source: str
    dated: str | None
    order: str
    where: str = "TRUE"

    def __post_init__(self) -> None:
        if list(self.columns) != self.table.header:
            raise ValueError(f"{self.table.name}: columns are not the dictionary's")


SQL_TABLES: dict[str, SqlTable] = {
    spec.table.name: spec
    for spec in (
        SqlTable(
            REGIMEN_CHANGES,
            {
                "patient_pseudonym": "m.pseudonym",
                "course_number": "c.number",
                "effective_day": "r.effective_on - m.day_zero",
                "dose_mg_per_kg": "r.dose_mg_per_kg",
                "interval_weeks": "r.interval_weeks",
                "reason": "r.reason",
            },
            "registry_regimenchange r JOIN course c ON c.id = r.course_id"
            " JOIN m ON m.patient_id = c.patient_id",
            dated="r.effective_on",
            order="m.pseudonym, r.effective_on, r.id",
        ),
        SqlTable(
            INFUSIONS,
            {
                "patient_pseudonym": "m.pseudonym",
                "course_number": "c.number",
                "dose_number": "i.dose_number",
                "given_day": "i.given_on - m.day_zero",
                # Infusion.week_of: never a tie (a day count over 7 is never k + 0.5).
                "week_of_course": "round((i.given_on - i.first_given_on) / 7.0)::int",
                "weight_kg": "i.weight_kg",
                "weight_measured_day": "i.weight_measured_on - m.day_zero",
                "dose_mg": "i.dose_mg",
                "dose_mg_per_kg": _rounded_half_even("i.dose_mg / i.weight_kg"),
                "duration_minutes": "i.duration_minutes",
                "premedication_antihistamine": "i.premedication_antihistamine",
                "premedication_corticosteroid": "i.premedication_corticosteroid",
                "premedication_antipyretic": "i.premedication_antipyretic",
                # The regimen in force on the day (one change per course and day): a lookup in
                # the (course, effective_on) index, which no join plan beats.
                "intensified": f"{REGIMEN_IN_FORCE} IS NOT DISTINCT FROM"
                f" '{RegimenReason.INTENSIFICATION}'",
                **PRODUCT_COLUMNS,
            },
            "infusion i JOIN course c ON c.id = i.course_id JOIN m ON m.patient_id = c.patient_id"
            " LEFT JOIN registry_infliximabproduct p ON p.id = i.product_id",
            dated="i.given_on",
            order="m.pseudonym, i.given_on, i.id",
        ),
        SqlTable(
            LABS,
            {
                "patient_pseudonym": "m.pseudonym",
                "collected_day": "l.collected_on - m.day_zero",
                "analyte": "l.analyte",
                "loinc_code": _code_of("l.analyte", ANALYTE_LOINC),
                "value": "l.value",
                "unit": "NULLIF(l.unit, '')",
                "antibodies_positive": "l.antibodies_positive",
                "reference_low": "l.reference_low",
                "reference_high": "l.reference_high",
            },
            "registry_labresult l JOIN m ON m.patient_id = l.patient_id",
            dated="l.collected_on",
            order="m.pseudonym, l.collected_on, l.analyte, l.id",
        ),
        SqlTable(
            IMAGING,
            {
                "patient_pseudonym": "m.pseudonym",
                "imaging_number": "s.number",
                "performed_day": "s.performed_on - m.day_zero",
                "modality": "s.modality",
                "active_lesions": "s.active_lesions",
                "new_lesions": "s.new_lesions",
                "lesion_counts_from": "NULLIF(s.lesion_counts, '')",
                "impression": "NULLIF(s.impression, '')",
                "rinbo_total": "s.rinbo_total",
                "rai_cromris_total": "s.rai_cromris_total",
            },
            # Numbered over all of the patient's studies (a date range does not renumber them).
            "(SELECT s.*, row_number() OVER (PARTITION BY s.patient_id"
            " ORDER BY s.performed_on, s.id) AS number"
            " FROM registry_imagingstudy s JOIN m ON m.patient_id = s.patient_id) s"
            " JOIN m ON m.patient_id = s.patient_id",
            dated="s.performed_on",
            order="m.pseudonym, s.performed_on, s.id",
        ),
        SqlTable(
            ASSESSMENTS,
            {
                "patient_pseudonym": "m.pseudonym",
                "assessment_number": "a.number",
                "assessed_day": "a.assessed_on - m.day_zero",
                "pain_score": "a.pain_score",
                "physician_global": "a.physician_global",
                "patient_global": "a.patient_global",
                "chaq": "a.chaq",
                "clinically_active_lesions": "a.clinically_active_lesions",
                "lesion_counts_from": "NULLIF(a.lesion_counts, '')",
                "disease_state": "NULLIF(a.disease_state, '')",
            },
            "(SELECT a.*, row_number() OVER (PARTITION BY a.patient_id"
            " ORDER BY a.assessed_on, a.id) AS number"
            " FROM registry_clinicalassessment a JOIN m ON m.patient_id = a.patient_id) a"
            " JOIN m ON m.patient_id = a.patient_id",
            dated="a.assessed_on",
            order="m.pseudonym, a.assessed_on, a.id",
        ),
        SqlTable(
            REACTIONS,
            {
                "patient_pseudonym": "m.pseudonym",
                "course_number": "c.number",
                "dose_number": "i.dose_number",
                "infusion_given_day": "i.given_on - m.day_zero",
                "onset": "x.onset",
                "severity": "x.severity",
                "infusion_stopped": "x.infusion_stopped",
                "outcome": "x.outcome",
                "reviewed_day": "x.reviewed_on - m.day_zero",
            },
            "registry_infusionreaction x JOIN infusion i ON i.id = x.infusion_id"
            " JOIN course c ON c.id = i.course_id JOIN m ON m.patient_id = c.patient_id",
            dated="i.given_on",
            order="m.pseudonym, i.given_on, x.id",
        ),
        SqlTable(
            RELAPSES,
            {
                "patient_pseudonym": "m.pseudonym",
                "course_number": "c.number",
                "noted_day": "x.noted_on - m.day_zero",
                "retreatment_course_number": "t.number",
            },
            "registry_relapse x JOIN m ON m.patient_id = x.patient_id"
            " LEFT JOIN course c ON c.id = x.course_id"
            " LEFT JOIN course t ON t.id = x.retreatment_course_id",
            dated="x.noted_on",
            order="m.pseudonym, x.noted_on, x.id",
        ),
        SqlTable(
            ALERTS,
            {
                "patient_pseudonym": "m.pseudonym",
                "course_number": "c.number",
                "rule": "a.rule",
                "severity": "a.severity",
                "status": "a.status",
                "due_day": "a.due_on - m.day_zero",
                # timedelta.days: whole days, rounded down.
                "days_open": "floor(extract(epoch FROM a.resolved_at - a.first_raised_at)"
                + " / 86400)",
                "guideline_version": "a.guideline_version",
            },
            "monitoring_alert a JOIN course c ON c.id = a.course_id"
            " JOIN m ON m.patient_id = c.patient_id",
            # The day it was raised in the registry's time zone, as the ORM's __date reads it.
            dated="(a.first_raised_at AT TIME ZONE %(time_zone)s)::date",
            order="m.pseudonym, a.first_raised_at, a.id",
        ),
        SqlTable(
            CONSENTS,
            {
                "patient_pseudonym": "m.pseudonym",
                "document_code": "d.code",
                "document_version": "d.version",
                "consented_by": "k.consented_by",
                "assent": "k.assent",
                "given_day": "k.given_on - m.day_zero",
                "care_data_given": "k.care_data_given",
                # A withdrawal after the export's consent date is not known to it.
                "care_data_withdrawn_day": "CASE WHEN k.care_data_withdrawn_on <= %(as_of)s"
                " THEN k.care_data_withdrawn_on - m.day_zero END",
                "research_given": "k.research_given",
                "research_withdrawn_day": "CASE WHEN k.research_withdrawn_on <= %(as_of)s"
                " THEN k.research_withdrawn_on - m.day_zero END",
                "contact_given": "k.contact_given",
                "contact_withdrawn_day": "CASE WHEN k.contact_withdrawn_on <= %(as_of)s"
                " THEN k.contact_withdrawn_on - m.day_zero END",
            },
            "registry_consent k JOIN m ON m.patient_id = k.patient_id"
            " JOIN registry_consentdocument d ON d.id = k.document_id",
            dated="k.given_on",
            order="m.pseudonym, k.given_on, k.id",
            where="k.given_on <= %(as_of)s",
        ),
    )
}


@dataclass(frozen=True)
class Statement:
    """A table's SELECT for one export: its SQL and parameters."""

    sql: str
    params: dict[str, Any]


def _in_days(column: Column) -> bool:
    return column.unit == "days"


def _coarsened(expression: str, step: int) -> str:
    """Rounded down to a multiple of `step` days, as research.deidentify.coarsen rounds."""
    if step == 1:
        return f"({expression})::int"
    return f"(floor(({expression})::float8 / {step:d}) * {step:d})::int"


def _as_csv_cell(expression: str, column: Column) -> str:
    """The value as Column.format writes it: an empty text is an empty cell (not ""), a
    boolean true/false, text that a spreadsheet would run prefixed with a quote."""
    if column.type is ColumnType.BOOLEAN:
        return f"({expression})::text"
    if column.type is ColumnType.TEXT:
        text = f"NULLIF(({expression})::text, '')"
        guarded = f"left({text}, 1) IN ({FORMULA_PREFIXES})"
        return f"CASE WHEN {guarded} THEN '{QUOTE * 2}' || {text} ELSE {text} END"
    return expression


def statement(
    spec: SqlTable,
    *,
    export_id: int,
    as_of: dt.date,
    day_step: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    csv: bool,
) -> Statement:
    """The SELECT of a table for one export: values (`csv=False`) or CSV cells (`csv=True`)."""
    select = []
    for column in spec.table.columns:
        expression = spec.columns[column.name]
        if _in_days(column):
            expression = _coarsened(expression, day_step)
        if csv:
            expression = _as_csv_cell(expression, column)
        select.append(f'{expression} AS "{column.name}"')
    where = [spec.where]
    if spec.dated and date_from:
        where.append(f"{spec.dated} >= %(date_from)s")
    if spec.dated and date_to:
        where.append(f"{spec.dated} <= %(date_to)s")
    sql = (
        f"{MAPPED} SELECT {', '.join(select)} FROM {spec.source}"  # noqa: S608 - our own SQL
        f" WHERE {' AND '.join(where)} ORDER BY {spec.order}"
    )
    params = {
        "export": export_id,
        "as_of": as_of,
        "date_from": date_from,
        "date_to": date_to,
        "time_zone": timezone.get_current_timezone_name(),
    }
    return Statement(sql, params)


def csv_chunks(select: Statement, counted: list[int], *, header: bool = True) -> Iterator[bytes]:
    """The table as CSV (its header line first, unless not `header`), in the messages COPY
    sends (a row each); the rows copied are appended to `counted` at the end."""
    options = "FORMAT csv, HEADER true" if header else "FORMAT csv"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY ({select.sql}) TO STDOUT WITH ({options})", select.params) as copy:
            for data in copy:
                yield bytes(data)
        counted.append(raw.rowcount)


class ChunksFile(io.RawIOBase):
    """Chunks of bytes read as a binary file (pyarrow's CSV reader reads a file)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not len(self.rest):
            parts, size = [], 0
            for chunk in self.chunks:
                parts.append(chunk)
                size += len(chunk)
                if size >= len(buffer):
                    break
            self.rest = memoryview(b"".join(parts))
        size = min(len(buffer), len(self.rest))
        buffer[:size] = self.rest[:size]
        self.rest = self.rest[size:]
        return size


FETCHED_ROWS = 2000  # rows per round trip of a values cursor


def value_rows(select: Statement) -> Iterator[Row]:
    """The table's rows as Python values (int, Decimal, str, bool, None), streamed through a
    server-side cursor, as QuerySet.iterator() streams (COPY would send them one message, and
    one Python call, per row)."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(select.sql, select.params)
        while rows := cursor.fetchmany(FETCHED_ROWS):
            yield from rows
