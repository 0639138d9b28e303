"""Building exports in tests and reading their archives back."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from registry.models import Site
from research import services
from research.dictionary import Table
from research.models import ExportRequest

# A data manager's exact export: days, whole years, small cells only reported.
EXACT = {"date_precision": "day", "age_precision": "years", "suppress_small_cells": False}


def build(fmt: str, sites: Any = None, **fields: Any) -> ExportRequest:
    """An operator's export, built in-process (no Celery)."""
    export = services.export_request_as_operator(
        sites=sites if sites is not None else Site.objects.all(), format=fmt
    )
    if fields:
        ExportRequest.objects.filter(pk=export.pk).update(**fields)
        export.refresh_from_db()
    return services.export_build(export=export)


def entries(export: ExportRequest) -> dict[str, bytes]:
    with zipfile.ZipFile(export.file) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def readable(name: str, data: bytes) -> str:
    """An archive's file as the text a reader gets from it: a Parquet file decoded (its column
    names, metadata and every value of every column as text; its raw bytes are compressed, so
    scanning them finds nothing real and, now and then, a short word by chance), any other file
    decoded as UTF-8 (zip entries come decompressed)."""
    if not name.endswith(".parquet"):
        return data.decode()
    table = pq.read_table(io.BytesIO(data))
    metadata = table.schema.metadata or {}
    parts = [*table.column_names, *(f"{k!r}: {v!r}" for k, v in metadata.items())]
    for column in table.columns:
        parts.extend(str(value) for value in column.to_pylist())
    return "\n".join(parts)


def archive_text(export: ExportRequest) -> dict[str, str]:
    """Every file of the export's archive, by name, as `readable` text."""
    return {name: readable(name, data) for name, data in entries(export).items()}


def csv_rows(data: bytes, table: Table) -> list[tuple[Any, ...]]:
    reader = csv.reader(io.StringIO(data.decode()))
    assert next(reader) == table.header
    return [
        tuple(column.parse(cell) for column, cell in zip(table.columns, row, strict=True))
        for row in reader
    ]


def manifest(export: ExportRequest) -> dict[str, Any]:
    return json.loads(entries(export)["manifest.json"])


def write_to(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path
