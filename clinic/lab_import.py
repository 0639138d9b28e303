"""Lab import in the clinic: upload a CSV of lab results, see what importing it would do row by
row, then import exactly that file.

Through `registry.lab_import`, the import the API uses: its preview is the dry run, its import
the confirm, with the same rules (every row or none, a result already stored is not stored again,
patients named by registry code and only of the person's sites, permission by their role at each
row's patient's site). Who may open the pages follows the same permission: recording lab results
at some site (data managers, clinicians and nurses; not researchers).

Between the preview and the confirm the uploaded text waits in the person's session (server-side;
at most LAB_IMPORT_MAX_BYTES), under a random token that the preview's confirm form posts back: the
confirm imports the file the session holds, never a re-posted table, and a confirm from an older
preview's page (another file uploaded since, or this one imported already) imports nothing.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from audit.recording import PatientRef, record_read, web_kind
from clinic.access import AuthenticatedHttpRequest, View, staff_required
from clinic.lab_import_selectors import imported_results
from registry import roles
from registry.lab_import import (
    ADD_LAB_RESULT,
    LabImportPreview,
    LabImportRefused,
    LabImportTooLarge,
    LabImportUnreadable,
    Outcome,
    RowPreview,
    csv_rows,
    lab_results_import,
    lab_results_preview,
)
from registry.models import Analyte, fixed_units_listed, lab_units_listed

SESSION_KEY = "clinic_lab_import"
UPLOAD_FIELD = "file"
# The template's columns: the import's own names (as the API takes them), in the order a lab
# report gives them. A reference range is two columns, low and high, as the record stores it.
TEMPLATE_COLUMNS = (
    "registry_code",
    "analyte",
    "collected_on",
    "value",
    "unit",
    "reference_low",
    "reference_high",
    "assay_name",
    "antibodies_positive",
    "analyte_name",
)
# CRMO-000000 is no patient's code (codes count from 1): an example row left in is refused.
EXAMPLE_CODE = "CRMO-000000"
# The preview lists every row with errors, and the others up to this row.
PREVIEW_ROWS_SHOWN = 500
# A multipart body is the file plus its boundaries, headers and the CSRF token.
FORM_OVERHEAD_BYTES = 64 * 1024
ANALYTE_LABELS: dict[str, str] = dict(Analyte.choices)
OUTCOME_LABELS = {
    Outcome.NEW: "Will be added",
    Outcome.ALREADY_RECORDED: "Already recorded",
    Outcome.DUPLICATE: "Repeats row",
    Outcome.INVALID: "Error",
}


def max_bytes() -> int:
    return int(settings.LAB_IMPORT_MAX_BYTES)


def importer_required(view: View) -> View:
    """Staff who may record lab results at one of their sites at least; else 403. Each row is
    checked again at its patient's site by the import."""

    @staff_required
    def wrapper(request: AuthenticatedHttpRequest) -> HttpResponse:
        if not roles.sites_where(request.user, ADD_LAB_RESULT):
            raise PermissionDenied("Your roles do not record lab results.")
        return view(request)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


# --- The upload ---------------------------------------------------------------------------------


class _FileTooLarge(Exception):
    pass


class _UploadLimit(FileUploadHandler):
    """Counts the file's bytes as they arrive, before another handler keeps them (in memory or in
    a temporary file), and stops the upload past the limit."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_bytes():
            raise _FileTooLarge
        return raw_data  # the next handler stores it

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


@csrf_exempt  # checked below, once the upload limit is in place: the check reads the body
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload form (GET); a file's preview, or why it cannot be read (POST)."""
    return _upload(request)


@importer_required
def _upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _upload_page(request)
    too_large = (
        f"The file is larger than {max_bytes():,} bytes: one import takes at most "
        f"{max_bytes():,} bytes and {settings.LAB_IMPORT_MAX_ROWS:,} rows. Split the file."
    )
    if _declared_length(request) > max_bytes() + FORM_OVERHEAD_BYTES:
        return _upload_page(request, too_large, status=413)
    request.upload_handlers.insert(0, _UploadLimit(request))
    try:
        refused = CsrfViewMiddleware(lambda _request: HttpResponse()).process_view(
            request, lambda _request: HttpResponse(), (), {}
        )
        sent = request.FILES.get(UPLOAD_FIELD)
    except _FileTooLarge:
        return _upload_page(request, too_large, status=413)
    if refused is not None:
        return refused
    if sent is None or not sent.size:
        return _upload_page(request, "Choose a CSV file to upload.", status=400)
    text, problem = _text_of(sent.read())
    if problem:
        return _upload_page(request, problem, status=400)
    try:
        previewed = _previewed(text, request.user)
    except (LabImportTooLarge, LabImportUnreadable, LabImportRefused) as refusal:
        return _upload_page(request, _refusal_message(refusal), status=400)
    pending = {
        "token": secrets.token_urlsafe(16),
        "name": (sent.name or "upload.csv")[:200],
        "text": text,
        "uploaded_at": timezone.now().isoformat(),
    }
    request.session[SESSION_KEY] = pending
    # The preview in this response (a large file's takes seconds: computed once, not again after
    # a redirect); the preview page shows it again later, from the session.
    return _preview_page(request, pending, previewed)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _text_of(content: bytes) -> tuple[str, str]:
    """The file's text, or why it is not text this import reads (UTF-8, comma-separated)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "", (
            "The file is not UTF-8 text. In a spreadsheet, save it as “CSV UTF-8 (comma "
            "delimited)” and upload that file."
        )
    header = text.lstrip().split("\n", 1)[0]
    if ";" in header and "," not in header:
        return "", (
            "The file's columns are separated by semicolons; this import reads commas. In a "
            "spreadsheet, save it as “CSV UTF-8 (comma delimited)”, with a point as the "
            "decimal separator."
        )
    return text, ""


def _previewed(text: str, user: User) -> LabImportPreview:
    return lab_results_preview(rows=csv_rows(io.StringIO(text, newline="")), by=user)


def _refusal_message(
    refusal: LabImportTooLarge | LabImportUnreadable | LabImportRefused,
) -> str:
    if isinstance(refusal, LabImportTooLarge):
        return (
            f"The file has more than {refusal.max_rows:,} rows: one import takes at most "
            f"{refusal.max_rows:,}. Split the file."
        )
    if isinstance(refusal, LabImportRefused):  # the file as a whole: it has no rows
        return "The file has no results under its header line."
    return f"The file cannot be read as CSV: {refusal}"


def _upload_page(
    request: AuthenticatedHttpRequest, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "clinic/lab_import.html",
        {
            "error": error,
            "pending": request.session.get(SESSION_KEY),
            "max_rows": f"{settings.LAB_IMPORT_MAX_ROWS:,}",
            "max_bytes": max_bytes(),
            "analytes": Analyte.choices,
            "fixed_units": fixed_units_listed(),
            "antibody_units": lab_units_listed(Analyte.ANTI_INFLIXIMAB_ANTIBODIES),
            "other_units": lab_units_listed(Analyte.OTHER),
            "example_code": EXAMPLE_CODE,
        },
        status=status,
    )


@require_GET
@importer_required
def template_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The CSV template: the header and one example row. With a byte order mark, so that a
    spreadsheet opens it as UTF-8 (the import accepts the mark)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="lab-import-template.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    example = {
        "registry_code": EXAMPLE_CODE,
        "analyte": Analyte.CRP.value,
        "collected_on": timezone.localdate().isoformat(),
        "value": "3.2",
        "unit": "mg/L",
        "reference_low": "0",
        "reference_high": "5",
    }
    writer.writerow([example.get(column, "") for column in TEMPLATE_COLUMNS])
    return response


# --- The preview and the confirm ----------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    """One row of the preview table, as the page shows it."""

    row: int
    registry_code: str
    patient: str  # the patient's name, for a row whose patient was found
    patient_id: int | None
    test: str
    collected_on: str
    value: str
    outcome: str  # an Outcome's value, for the row's style
    outcome_label: str
    problems: tuple[tuple[str, str], ...]  # (column, message); the column empty for the row


@require_http_methods(["GET", "POST"])
@importer_required
def preview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The waiting file's preview (GET); its import or its cancellation (POST)."""
    pending = request.session.get(SESSION_KEY)
    if request.method == "POST" and (
        not pending or request.POST.get("token") != pending.get("token")
    ):
        messages.error(
            request,
            "This preview is no longer current (another file was uploaded, or this one was "
            "imported or cancelled): nothing was saved. Upload the file again.",
        )
        return redirect("clinic:lab_import")
    if not pending:
        messages.info(request, "No file is waiting to be imported: upload one.")
        return redirect("clinic:lab_import")
    if request.method == "POST" and "cancel" in request.POST:
        del request.session[SESSION_KEY]
        messages.info(request, f"{pending['name']}: import cancelled, nothing was saved.")
        return redirect("clinic:lab_import")
    if request.method == "POST":
        return _confirm(request, pending)
    try:
        previewed = _previewed(pending["text"], request.user)
    except (LabImportTooLarge, LabImportUnreadable, LabImportRefused) as refusal:
        del request.session[SESSION_KEY]  # the limits changed since the upload
        messages.error(request, _refusal_message(refusal))
        return redirect("clinic:lab_import")
    return _preview_page(request, pending, previewed)


def _confirm(request: AuthenticatedHttpRequest, pending: dict[str, str]) -> HttpResponse:
    rows = csv_rows(io.StringIO(pending["text"], newline=""))
    try:
        result = lab_results_import(rows=rows, by=request.user)
    except LabImportRefused:
        # Something changed since the preview (a role, a patient, a result recorded meanwhile):
        # the preview, computed again, shows what.
        messages.error(request, "Nothing was saved: the file has errors now. See the rows below.")
        return redirect("clinic:lab_import_preview")
    except (LabImportTooLarge, LabImportUnreadable) as refusal:
        del request.session[SESSION_KEY]
        messages.error(request, _refusal_message(refusal))
        return redirect("clinic:lab_import")
    del request.session[SESSION_KEY]
    added = imported_results(request.user, result.created_ids)
    record_read(
        request,
        kind=web_kind(request),
        patients=[PatientRef(row.patient_id, row.site_id) for row in added],
    )
    return render(
        request,
        "clinic/lab_import_done.html",
        {"name": pending["name"], "result": result, "added": added},
    )


def _preview_page(
    request: AuthenticatedHttpRequest, pending: dict[str, str], previewed: LabImportPreview
) -> HttpResponse:
    # Every row with errors (what the person must fix), and the others up to a page's worth.
    shown = [
        row
        for row in previewed.rows
        if row.outcome is Outcome.INVALID or row.row <= PREVIEW_ROWS_SHOWN
    ]
    lines = [_line(row) for row in shown]
    named = [row.result.patient for row in shown if row.result is not None]
    record_read(request, kind=web_kind(request), patients=named)
    return render(
        request,
        "clinic/lab_import_preview.html",
        {
            "pending": pending,
            "lines": lines,
            "importable": previewed.importable,
            "to_add": previewed.count(Outcome.NEW),
            "already_recorded": previewed.count(Outcome.ALREADY_RECORDED),
            "repeated": previewed.count(Outcome.DUPLICATE),
            "invalid": previewed.count(Outcome.INVALID),
            "not_shown": len(previewed.rows) - len(shown),
        },
    )


def _line(row: RowPreview) -> PreviewLine:
    cells = row.cells
    result = row.result
    patient = result.patient if result is not None else None
    if result is not None:
        test = result.analyte_name or result.get_analyte_display()
        value = _value_of(result.value, result.unit, result.antibodies_positive)
    else:
        analyte = _cell(cells.get("analyte"))
        test = ANALYTE_LABELS.get(analyte, analyte) or _cell(cells.get("analyte_name"))
        value = " ".join(filter(None, [_cell(cells.get("value")), _cell(cells.get("unit"))]))
    label = OUTCOME_LABELS[row.outcome]
    if row.outcome is Outcome.DUPLICATE:
        label = f"Repeats row {row.of_row}: not added twice"
    return PreviewLine(
        row=row.row,
        registry_code=_cell(cells.get("registry_code")) or _cell(cells.get("patient")),
        patient=f"{patient.family_name}, {patient.given_name}" if patient else "",
        patient_id=patient.pk if patient else None,
        test=test,
        collected_on=_cell(cells.get("collected_on")),
        value=value,
        outcome=row.outcome.value,
        outcome_label=label,
        problems=tuple(
            ("" if column in ("__all__", "non_field_errors") else column, message)
            for column, column_messages in row.errors.items()
            for message in column_messages
        ),
    )


def _cell(cell: object) -> str:
    return "" if cell is None else str(cell).strip()


def _value_of(value: object, unit: str, antibodies_positive: bool | None) -> str:
    parts = []
    if antibodies_positive is not None:
        parts.append("positive" if antibodies_positive else "negative")
    if value is not None:
        parts.append(f"{value} {unit}".strip())
    return ", ".join(parts)


# Included by clinic/urls.py under lab-import/.
urlpatterns = [
    path("", upload, name="lab_import"),
    path("template.csv", template_csv, name="lab_import_template"),
    path("preview/", preview, name="lab_import_preview"),
]
