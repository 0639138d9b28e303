"""The access log of a data manager's sites: who read which patient's record, who signed in.

Scoped like everything else: a data manager sees the rows naming patients of their sites (and of
those patients only: a list that also showed another site's patients says how many), and the
sign-in events of the people of their sites. Opening the page, or its CSV, is itself recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit import selectors
from audit.models import AccessKind, AccessLogEntry
from audit.recording import PatientRef, record_read
from clinic.access import AuthenticatedHttpRequest
from registry import roles
from registry.models import Patient

PER_PAGE = 50
CSV_BATCH = 2000
CSV_COLUMNS = (
    "at",
    "username",
    "kind",
    "method",
    "path",
    "url_name",
    "status_code",
    "ip_address",
    "user_agent",
    "patients",
    "patients_at_other_sites",
)
# A spreadsheet runs a cell that starts with these as a formula (a typed username can).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AccessLogFilter(forms.Form):
    user = forms.CharField(label="Person (username)", required=False, max_length=150)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    patient = forms.CharField(
        label="Patient (registry code)", required=False, max_length=20, help_text="CRMO-000042"
    )
    kind = forms.ChoiceField(
        label="Event", required=False, choices=[("", "Any"), *AccessKind.choices]
    )

    def __init__(self, data: QueryDict, *, patients: QuerySet[Patient]) -> None:
        super().__init__(data)
        self.patients = patients

    def clean_patient(self) -> Patient | None:
        code = self.cleaned_data["patient"].strip()
        if not code:
            return None
        patient = self.patients.filter(registry_code__iexact=code).first()
        if patient is None:
            raise forms.ValidationError(f"No patient {code} at your sites.")
        return patient

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if isinstance(since, dt.date) and isinstance(until, dt.date) and until < since:
            self.add_error("until", "The end of the range is before its start.")
        return cleaned


@dataclass(frozen=True)
class Row:
    entry: AccessLogEntry
    patients: list[tuple[int, str]]  # (id, registry code) of the viewer's sites
    others: int  # patients of other sites the same read showed


class Scope:
    """The sites whose access log the person may read (None: all, a superuser)."""

    def __init__(self, request: AuthenticatedHttpRequest) -> None:
        user = request.user
        if user.is_superuser:
            self.site_ids: set[int] | None = None
        else:
            self.site_ids = roles.sites_where(user, roles.VIEW_ACCESS_LOG)
            if not self.site_ids:
                raise PermissionDenied("The access log is for data managers of a site.")

    def patients(self) -> QuerySet[Patient]:
        rows = Patient.objects.all()
        return rows if self.site_ids is None else rows.filter(site_id__in=self.site_ids)

    def rows(self, entries: Iterable[AccessLogEntry]) -> list[Row]:
        entries = list(entries)
        named = {pk for entry in entries for pk in entry.patient_ids}
        codes = dict(self.patients().filter(pk__in=named).values_list("pk", "registry_code"))
        rows = []
        for entry in entries:
            mine = sorted(((pk, codes[pk]) for pk in entry.patient_ids if pk in codes), key=_code)
            rows.append(Row(entry, mine, len(entry.patient_ids) - len(mine)))
        return rows


def _code(patient: tuple[int, str]) -> str:
    return patient[1]


def _filtered(
    request: AuthenticatedHttpRequest, scope: Scope
) -> tuple[AccessLogFilter, QuerySet[AccessLogEntry]]:
    form = AccessLogFilter(request.GET, patients=scope.patients())
    entries = selectors.entries_of_sites(scope.site_ids)
    if not form.is_valid():
        return form, entries.none()
    data = form.cleaned_data
    patient = data["patient"]
    return form, selectors.filtered(
        entries,
        username=data["user"].strip(),
        since=data["since"],
        until=data["until"],
        patient_id=patient.pk if patient else None,
        kind=data["kind"],
    )


@login_required
def access_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    scope = Scope(request)
    form, entries = _filtered(request, scope)
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    rows = scope.rows(page.object_list)
    shown = {pk for row in rows for pk, _code in row.patients}
    _record(request, scope, shown)
    return render(request, "clinic/access_log.html", {"form": form, "page": page, "rows": rows})


@login_required
def access_log_csv(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Every row the filters select, streamed (memory stays flat however long the log)."""
    scope = Scope(request)
    form, entries = _filtered(request, scope)
    patient = form.cleaned_data.get("patient") if form.is_valid() else None
    _record(request, scope, {patient.pk} if patient else set())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return StreamingHttpResponse(
        _csv_lines(scope, entries),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="access-log-{stamp}.csv"'},
    )


def _record(request: AuthenticatedHttpRequest, scope: Scope, patient_ids: set[int]) -> None:
    patients = scope.patients().filter(pk__in=patient_ids).values_list("pk", "site_id")
    record_read(
        request,
        kind=AccessKind.ACCESS_LOG,
        patients=[PatientRef(*ref) for ref in patients],
        site_ids=scope.site_ids or (),
    )


class _Echo:
    """csv.writer's file: hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_lines(scope: Scope, entries: QuerySet[AccessLogEntry]) -> Iterator[str]:
    line = csv.writer(_Echo()).writerow
    yield line(CSV_COLUMNS)
    batch: list[AccessLogEntry] = []
    for entry in entries.iterator(chunk_size=CSV_BATCH):
        batch.append(entry)
        if len(batch) == CSV_BATCH:
            yield from _csv_batch(line, scope, batch)
            batch = []
    yield from _csv_batch(line, scope, batch)


def _csv_batch(
    line: Callable[[Iterable[object]], object], scope: Scope, batch: list[AccessLogEntry]
) -> Iterator[str]:
    """One query for the batch's registry codes, then its lines."""
    for row in scope.rows(batch):
        entry = row.entry
        cells = (
            timezone.localtime(entry.at).isoformat(),
            entry.username,
            entry.get_kind_display(),
            entry.method,
            entry.path,
            entry.url_name,
            entry.status_code,
            entry.ip_address,
            entry.user_agent,
            " ".join(code for _pk, code in row.patients),
            row.others,
        )
        yield str(line([_cell(cell) for cell in cells]))
