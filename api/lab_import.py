"""POST /api/v1/lab-results/import/: lab results in bulk for lab interfaces, as a JSON list, a
`text/csv` body or a CSV file upload (multipart, field `file`), imported all or nothing by
`registry.lab_import.lab_results_import` (see there: registry codes, idempotence, permissions).

Bounded: more than `LAB_IMPORT_MAX_ROWS` rows or `LAB_IMPORT_MAX_BYTES` bytes (of the body, and of
the uploaded file) is refused with 413, whatever the content type. The declared Content-Length is
checked before anything reads the body (a session's CSRF check reads a form body during
authentication, hence in `initial()`), and the bytes are counted as they are read, so a missing or
false Content-Length cannot get a larger body through (Django's WSGI request stops at the declared
length; an ASGI request does not). CSV is parsed as a stream, a row at a time, and reading stops at
the row limit: memory does not grow with the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any, Protocol

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, parsers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import parsers as api_parsers
from api.errors import PayloadTooLarge
from registry.lab_import import (
    COLUMNS,
    NOTHING_TO_IMPORT,
    LabImportRefused,
    LabImportResult,
    LabImportTooLarge,
    LabImportUnreadable,
    RowError,
    lab_results_import,
)
from registry.lab_import import csv_rows as lab_csv_rows
from registry.models import Analyte, LabResult, fixed_units_listed, lab_units_listed

UPLOAD_FIELD = "file"


def max_bytes() -> int:
    return int(settings.LAB_IMPORT_MAX_BYTES)


def too_many_bytes() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"More than {max_bytes():,} bytes: one import takes at most {max_bytes():,} bytes and "
        f"{settings.LAB_IMPORT_MAX_ROWS:,} rows. Split the file and send the parts."
    )


def too_many_rows(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"More than {limit:,} rows: one import takes at most {limit:,} rows and "
        f"{max_bytes():,} bytes. Split the file and send the parts."
    )


# --- Counting bytes -------------------------------------------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Bounded(io.RawIOBase):
    """A binary stream that refuses (413) to deliver more than `limit` bytes of its source, and
    never reads more than one byte past it, whatever the source claims its length is."""

    def __init__(self, source: _Readable, limit: int) -> None:
        super().__init__()
        self._source = source
        self._limit = limit
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._limit + 1 - self._count)
        data = self._source.read(wanted) if wanted > 0 else b""
        self._count += len(data)
        if self._count > self._limit:
            raise too_many_bytes()
        buffer[: len(data)] = data
        return len(data)


def bounded(source: _Readable, limit: int) -> io.BufferedReader:
    return io.BufferedReader(_Bounded(source, limit))


class UploadBytesLimit(FileUploadHandler):
    """Counts an upload's file bytes as they arrive, before any other handler keeps them (in
    memory or in a temporary file), and refuses (413) past the limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_bytes():
            raise too_many_bytes()
        return raw_data  # the next handler stores it

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


def refuse_declared_size(request: Request) -> None:
    """413 before anything reads the body, when its declared length is over the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes():
        raise too_many_bytes()


# --- CSV as a stream --------------------------------------------------------------------------


def csv_rows(source: _Readable) -> Iterator[dict[str, str]]:
    """The rows under the header line, read lazily from a UTF-8 stream (a byte order mark is
    fine) by `registry.lab_import.csv_rows`; a CSV that is no UTF-8 text, or whose rows have more
    cells than its header, is a parse error (400)."""
    text = io.TextIOWrapper(bounded(source, max_bytes()), encoding="utf-8-sig", newline="")
    try:
        yield from lab_csv_rows(text)
    except LabImportUnreadable as error:
        raise exceptions.ParseError(str(error)) from error


class JSONRowsParser(api_parsers.JSONParser):
    """JSON, read to at most the byte limit (and, as every API body: no NUL, no deep nesting)."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        body = bounded(stream, max_bytes()).read()
        return super().parse(io.BytesIO(body), media_type, parser_context)


class CSVRowsParser(parsers.BaseParser):
    """A text/csv body: the rows, lazily (the import reads them up to its row limit)."""

    media_type = "text/csv"

    # DRF hands any parse result on as request.data; a lazy iterator is no Mapping, hence ignore.
    def parse(  # type: ignore[override]
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Iterator[dict[str, str]]:
        return csv_rows(stream)


# --- The endpoint ---------------------------------------------------------------------------------


class LabImportRowSerializer(serializers.Serializer[Any]):
    """One result (the schema of a row; the import validates rows itself, in bulk)."""

    registry_code = serializers.CharField(
        required=False, help_text="The patient's registry code, e.g. CRMO-000042."
    )
    patient = serializers.IntegerField(
        required=False, help_text="The patient's id (instead of, or as well as, registry_code)."
    )
    collected_on = serializers.DateField()
    analyte = serializers.ChoiceField(choices=Analyte.choices)
    analyte_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    value = serializers.DecimalField(
        max_digits=10, decimal_places=3, required=False, allow_null=True
    )
    unit = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="The unit measured in, in any usual spelling (ug/ml is µg/mL): for the tests "
        f"with a fixed unit that unit ({fixed_units_listed()}) or empty; for antibodies "
        f"{lab_units_listed(Analyte.ANTI_INFLIXIMAB_ANTIBODIES)}; for other tests "
        f"{lab_units_listed(Analyte.OTHER)}.",
    )
    antibodies_positive = serializers.BooleanField(required=False, allow_null=True)
    assay_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reference_low = serializers.DecimalField(
        max_digits=10, decimal_places=3, required=False, allow_null=True
    )
    reference_high = serializers.DecimalField(
        max_digits=10, decimal_places=3, required=False, allow_null=True
    )


# Not "many=True" of the row: drf-spectacular would wrap the list example in one more list.
@extend_schema_serializer(many=False)
class LabImportRowsSerializer(serializers.ListSerializer[Any]):
    child = LabImportRowSerializer()


class DuplicateRowSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField()
    of_row = serializers.IntegerField(help_text="The earlier row of the same import it repeats.")


class ImportResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    already_recorded = serializers.IntegerField(
        help_text="Rows whose result is stored already (not stored again)."
    )
    already_recorded_rows = serializers.ListField(child=serializers.IntegerField())
    duplicates = DuplicateRowSerializer(many=True)


# Inline: a serializer class cannot declare a field named `errors` (its own attribute).
IMPORT_REFUSED = inline_serializer(
    "ImportRefused",
    {
        "detail": serializers.CharField(),
        "errors": inline_serializer(
            "ImportRowErrors",
            {
                "rows": inline_serializer(
                    "ImportRowError",
                    {
                        "row": serializers.IntegerField(
                            help_text="From 1; 0 for the import as a whole."
                        ),
                        "errors": serializers.DictField(
                            child=serializers.ListField(child=serializers.CharField())
                        ),
                    },
                    many=True,
                    required=False,
                )
            },
        ),
    },
)


class DetailSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


EXAMPLE = [
    {
        "registry_code": "CRMO-000042",
        "collected_on": "2026-11-20",
        "analyte": "crp",
        "value": "3.2",
    },
    {"registry_code": "CRMO-000042", "collected_on": "2026-11-20", "analyte": "esr", "value": "12"},
]


class LabImportView(APIView):
    """Import lab results: all saved or none; a result already stored is not stored again."""

    parser_classes = [JSONRowsParser, CSVRowsParser, api_parsers.MultiPartParser]

    @classmethod
    def permission_model(cls) -> type[Model]:
        return LabResult  # recording lab results (RolePermissions: POST needs add_labresult)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: a session's CSRF check parses a multipart body.
        refuse_declared_size(request)
        request.upload_handlers.insert(0, UploadBytesLimit(request))
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request={
            "application/json": LabImportRowsSerializer(),
            "text/csv": OpenApiTypes.STR,
            "multipart/form-data": {
                "type": "object",
                "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary"}},
            },
        },
        responses={
            201: OpenApiResponse(ImportResultSerializer, "Results stored (and any already were)."),
            200: OpenApiResponse(
                ImportResultSerializer, "Nothing new: every result is stored already."
            ),
            400: OpenApiResponse(IMPORT_REFUSED, "Invalid rows: nothing was saved."),
            413: OpenApiResponse(DetailSerializer, "Too many rows or bytes: nothing was read."),
        },
        examples=[
            OpenApiExample("Two results from a lab interface", value=EXAMPLE, request_only=True)
        ],
        description=(
            "Import lab results: a JSON list, a CSV body (text/csv) or a CSV file upload (form "
            f"field `{UPLOAD_FIELD}`), with the columns {', '.join(COLUMNS)}; name the patient "
            "by registry_code, by id (patient) or both. Every row is validated; all are saved "
            "or none, and a refusal lists the errors row by row (rows count from 1, the CSV "
            "header not counted). A row whose result (patient, analyte, analyte_name, "
            "collected_on, value, antibodies_positive) is stored already is reported as already "
            "recorded and not stored again, so a file can be sent again safely. A unit is one of "
            "its test's (see the unit column); when sent for a test with a fixed unit, it must "
            f"be that unit ({fixed_units_listed()}). "
            "At most LAB_IMPORT_MAX_ROWS rows (default 5,000) and LAB_IMPORT_MAX_BYTES bytes "
            "(default 2 MB) per import: more is refused with 413."
        ),
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # noqa: S101 - RolePermissions let only staff users in
        try:
            rows = _rows_of(request)
            result = lab_results_import(rows=rows, by=user)
        except LabImportRefused as refused:
            return _refused(refused.errors)
        except LabImportTooLarge as too_large:
            raise too_many_rows(too_large.max_rows) from too_large
        return Response(_imported(result), status=201 if result.created else 200)


def _rows_of(request: Request) -> Any:
    """The rows the request carries: a JSON list, CSV rows (lazily), or a refusal."""
    if request.content_type.startswith("multipart/"):
        upload = request.FILES.get(UPLOAD_FIELD)
        if upload is None:
            message = f"Send the CSV file in the form field '{UPLOAD_FIELD}'."
            raise LabImportRefused([RowError(0, {UPLOAD_FIELD: [message]})])
        return csv_rows(upload)
    data = request.data
    if isinstance(data, list | Iterator):
        return data
    raise LabImportRefused([RowError(0, {"non_field_errors": [NOTHING_TO_IMPORT]})])


def _imported(result: LabImportResult) -> dict[str, Any]:
    return {
        "created": result.created,
        "ids": list(result.created_ids),
        "already_recorded": len(result.already_recorded_rows),
        "already_recorded_rows": list(result.already_recorded_rows),
        "duplicates": [{"row": d.row, "of_row": d.of_row} for d in result.duplicate_rows],
    }


def _refused(errors: tuple[RowError, ...]) -> Response:
    rows = [{"row": error.row, "errors": dict(error.errors)} for error in errors]
    return Response(
        {"detail": "Invalid rows: nothing was saved.", "errors": {"rows": rows}}, status=400
    )
