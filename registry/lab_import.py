"""Lab results in bulk (a lab interface's file, a data manager's upload): all or none, idempotent.

`lab_results_import(rows=…, by=…)` takes rows of named cells (a JSON list, CSV rows) and either
stores every new result or nothing:

- **Refusals are an exception.** Any invalid row refuses the whole import with
  `LabImportRefused`, whose `errors` list every invalid row (rows count from 1; row 0 is the import
  as a whole) with field-specific messages. A caller cannot mistake a refusal for a success, and
  the transaction rolls back on the way out. More than `settings.LAB_IMPORT_MAX_ROWS` rows raise
  `LabImportTooLarge`, after reading one row past the limit and no further.
- **Patients** are named by `registry_code` (CRMO-000042), by id (`patient`), or both (then they
  must agree). A patient outside the caller's sites is "unknown", whether or not it exists.
- **Permission per site, as row errors**: each row's patient's site must allow recording lab
  results for the caller (`roles.may`, by their role at that site); a row that does not is refused
  by number, like any other invalid row, rather than the whole import with PermissionDenied.
- **Idempotent**: a row that is the same result as a stored one (`LAB_RESULT_IDENTITY`: patient,
  analyte, analyte name, date, value, antibody result) is reported as already recorded and not
  stored again; a row repeating an earlier row of the same import is reported as its duplicate.
  The database's unique constraint backs this; a result stored by someone else between the check
  and the insert refuses the import (send it again: that result is then already recorded).
- **Units** are managed codes (`ANALYTE_LAB_UNITS`): a row's unit in any usual spelling (mg/l,
  ug/mL, μg/mL, mcg/mL, mm/hr, au/ml, 10^9/l) is stored as its code. CRP, ESR, the trough level,
  the neutrophil and platelet counts and ALT have fixed units (mg/L, mm/h, µg/mL, ×10⁹/L, ×10⁹/L,
  U/L; `ANALYTE_UNITS`): a row may name the unit it was measured in, and one that is not the
  test's unit refuses the row (a CRP in mg/dL would otherwise be stored ten times too low).
  Antibody and other tests take one of their units, or none; any other refuses the row, naming
  the units the test takes.
- **Preview**: `lab_results_preview(rows=…, by=…)` validates the same rows the same way and stores
  nothing: each row's outcome (new, already recorded, repeating an earlier row, or its errors), for
  a person to check before they import the file (the clinic's upload page).
- **CSV**: `csv_rows(text)` reads the rows of a comma-separated UTF-8 text under its header line,
  for every door that takes a file.
- **In bulk**: the named patients are read in one query (locked, so two imports for the same
  patients take turns and the second sees the first's results), the stored candidates in another;
  each row is validated in Python by the model's own field validation and `clean()`; the new rows
  and their history are written with `bulk_create`. Queries do not grow with the rows (but for
  one insert per `BATCH` rows), and one import asks once for the re-evaluation of each patient.
"""

from __future__ import annotations

import csv
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from simple_history.utils import bulk_create_with_history

from registry.models import LAB_RESULT_IDENTITY, LabResult, LabUnit, Patient
from registry.reevaluation import one_reevaluation, patient_changed
from registry.roles import may
from registry.selectors import patients_for

Cell = str | int | float | bool | None
Row = Mapping[str, Cell]
Errors = dict[str, list[str]]

ADD_LAB_RESULT = "registry.add_labresult"
# The columns a row may have; every other one is refused.
PATIENT_COLUMNS = ("registry_code", "patient")
RESULT_COLUMNS = (
    "collected_on",
    "analyte",
    "analyte_name",
    "value",
    "unit",
    "antibodies_positive",
    "assay_name",
    "reference_low",
    "reference_high",
)
COLUMNS = (*PATIENT_COLUMNS, *RESULT_COLUMNS)
REQUIRED = ("collected_on", "analyte")
# Rows per INSERT: the history rows have 16 columns, and one statement stays well below
# PostgreSQL's 65,535 parameters.
BATCH = 1000
NOTHING_TO_IMPORT = "Send a non-empty JSON list of results, or CSV rows."
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_MAX_ID = 2**63 - 1  # a larger number is no id (and no bigint for the database)
_ATTNAMES = {field.name: field.attname for field in LabResult._meta.concrete_fields}
_IDENTITY = tuple(_ATTNAMES[name] for name in LAB_RESULT_IDENTITY)
_Identity = tuple[object, ...]
K = TypeVar("K", int, str)


@dataclass(frozen=True)
class RowError:
    row: int  # from 1; 0 for the import as a whole
    errors: Mapping[str, list[str]]  # column -> messages


@dataclass(frozen=True)
class Duplicate:
    row: int
    of_row: int  # the earlier row of the same import it repeats


@dataclass(frozen=True)
class LabImportResult:
    created_ids: tuple[int, ...]
    already_recorded_rows: tuple[int, ...]  # the same result is stored already
    duplicate_rows: tuple[Duplicate, ...] = ()

    @property
    def created(self) -> int:
        return len(self.created_ids)


class LabImportRefused(Exception):
    """Nothing was stored: `errors` lists the invalid rows."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        super().__init__(f"{len(self.errors)} invalid row(s): nothing was saved")


class LabImportTooLarge(Exception):
    """More rows than one import may have (`settings.LAB_IMPORT_MAX_ROWS`)."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        super().__init__(f"more than {max_rows} rows")


def lab_results_import(*, rows: Iterable[Row], by: User) -> LabImportResult:
    """Validate every row, then store the new results (with their history) or nothing."""
    taken = _taken(rows)
    try:
        with transaction.atomic(), one_reevaluation():
            plan = _Plan.of(_validated_rows(taken, _Directory.load(taken, by)))
            created = _store(plan.new, by)
    except IntegrityError as error:
        if "lab_result_no_duplicates" not in str(error):
            raise
        raise LabImportRefused([RowError(0, {"non_field_errors": [RECORDED_MEANWHILE]})]) from error
    return LabImportResult(
        created_ids=tuple(record.pk for record in created),
        already_recorded_rows=tuple(plan.already_recorded),
        duplicate_rows=tuple(plan.duplicates),
    )


class Outcome(StrEnum):
    """What importing a row would do."""

    NEW = "new"
    ALREADY_RECORDED = "already_recorded"
    DUPLICATE = "duplicate"  # repeats an earlier row of the same import
    INVALID = "invalid"


@dataclass(frozen=True)
class RowPreview:
    row: int  # from 1
    outcome: Outcome
    cells: Row  # the row as sent
    result: LabResult | None = None  # validated, unsaved, with its patient; None when invalid
    errors: Mapping[str, list[str]] = field(default_factory=dict)
    of_row: int | None = None  # a duplicate's earlier row


@dataclass(frozen=True)
class LabImportPreview:
    rows: tuple[RowPreview, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome is outcome)

    @property
    def importable(self) -> bool:
        """Whether importing would store something: no invalid row (all or none), one new."""
        return not self.count(Outcome.INVALID) and bool(self.count(Outcome.NEW))


def lab_results_preview(*, rows: Iterable[Row], by: User) -> LabImportPreview:
    """What `lab_results_import` would do with these rows, row by row; stores nothing. The same
    checks (and refusals of the import as a whole: no rows, too many); the patients are not
    locked, so the import itself may still find a result recorded meanwhile."""
    taken = _taken(rows)
    checked = _checked_rows(taken, _Directory.load(taken, by, lock=False))
    plan = _Plan.of([(n, entry) for n, entry in checked if isinstance(entry, LabResult)])
    already = set(plan.already_recorded)
    repeated = {duplicate.row: duplicate.of_row for duplicate in plan.duplicates}
    previews = []
    for (number, entry), cells in zip(checked, taken, strict=True):
        sent = cells if isinstance(cells, Mapping) else {}
        if isinstance(entry, RowError):
            previews.append(RowPreview(number, Outcome.INVALID, sent, errors=entry.errors))
        elif number in repeated:
            previews.append(
                RowPreview(number, Outcome.DUPLICATE, sent, entry, of_row=repeated[number])
            )
        else:
            outcome = Outcome.ALREADY_RECORDED if number in already else Outcome.NEW
            previews.append(RowPreview(number, outcome, sent, entry))
    return LabImportPreview(tuple(previews))


RECORDED_MEANWHILE = (
    "One of these results was recorded by someone else while this import ran, so nothing was "
    "saved. Send the file again: that result will be reported as already recorded."
)


def _taken(rows: Iterable[Row]) -> list[Row]:
    """The rows of one import: at most the limit, and at least one."""
    taken = _at_most(rows, settings.LAB_IMPORT_MAX_ROWS)
    if not taken:
        raise LabImportRefused([RowError(0, {"non_field_errors": [NOTHING_TO_IMPORT]})])
    return taken


def _checked_rows(
    rows: Sequence[Row], directory: _Directory
) -> list[tuple[int, LabResult | RowError]]:
    """Each row's number and its validated result or its errors."""
    return [(number, _checked(number, row, directory)) for number, row in enumerate(rows, 1)]


def _validated_rows(rows: Sequence[Row], directory: _Directory) -> list[tuple[int, LabResult]]:
    """Each row's number and validated result; or LabImportRefused, listing every invalid row."""
    checked = _checked_rows(rows, directory)
    errors = [entry for _number, entry in checked if isinstance(entry, RowError)]
    if errors:
        raise LabImportRefused(errors)
    return [(number, entry) for number, entry in checked if isinstance(entry, LabResult)]


def _store(records: list[LabResult], by: User) -> list[LabResult]:
    """The results and their history rows, in bulk; each patient's re-evaluation asked for."""
    created: list[LabResult] = bulk_create_with_history(
        records, LabResult, batch_size=BATCH, default_user=by
    )
    for patient_id in sorted({record.patient_id for record in created}):
        patient_changed(patient_id, actor_id=by.pk)
    return created


def _at_most(rows: Iterable[Row], limit: int) -> list[Row]:
    """The rows, reading one past the limit at most (a lazy source is not read to its end)."""
    taken = list(itertools.islice(rows, limit + 1))
    if len(taken) > limit:
        raise LabImportTooLarge(limit)
    return taken


# --- The patients named ---------------------------------------------------------------------------


class _CellError(ValueError):
    """A cell that is not of its column's kind; the message is for the sender."""


@dataclass(frozen=True)
class _Directory:
    """The caller's patients the rows name, and whether the caller may record results at each
    patient's site."""

    by_id: dict[int, Patient]
    by_code: dict[str, Patient]
    may_record: dict[int, bool]  # site id -> may the caller record lab results there

    @classmethod
    def load(cls, rows: Sequence[Row], by: User, *, lock: bool = True) -> _Directory:
        named = [row for row in rows if isinstance(row, Mapping)]
        ids = {pk for row in named if (pk := _safe(_patient_id, row.get("patient")))}
        codes = {code for row in named if (code := _safe(_registry_code, row.get("registry_code")))}
        found = patients_for(by).filter(Q(pk__in=ids) | Q(registry_code__in=codes))
        if lock:
            # FOR NO KEY UPDATE (other writers' foreign keys to these patients still pass): a
            # concurrent import for the same patients waits, then sees this one's results.
            found = found.select_for_update(no_key=True, of=("self",))
        patients = list(found.select_related("site"))
        sites = {patient.site_id for patient in patients}
        return cls(
            by_id={patient.pk: patient for patient in patients},
            by_code={patient.registry_code: patient for patient in patients},
            may_record={site: may(by, ADD_LAB_RESULT, site) for site in sites},
        )

    def patient_of(self, row: Row, errors: Errors) -> Patient | None:
        """The row's patient (by id, by registry code or both); their errors go into `errors`."""
        by_id = by_code = None
        if _given(row.get("patient")):
            by_id = self._lookup("patient", row["patient"], _patient_id, self.by_id, errors)
        if _given(row.get("registry_code")):
            by_code = self._lookup(
                "registry_code", row["registry_code"], _registry_code, self.by_code, errors
            )
        if not _given(row.get("patient")) and not _given(row.get("registry_code")):
            _add(errors, "patient", "Name the patient: a registry_code, or a patient id.")
        if by_id is not None and by_code is not None and by_id != by_code:
            _add(
                errors,
                "registry_code",
                f"{by_code.registry_code} is not patient {by_id.pk}: send one of the two, or "
                "both for the same patient.",
            )
            return None
        patient = by_id or by_code
        if patient is not None and not self.may_record[patient.site_id]:
            _add(
                errors,
                "patient" if by_id else "registry_code",
                f"Your role at {patient.site.code} does not allow recording lab results.",
            )
        return patient

    @staticmethod
    def _lookup(
        column: str,
        cell: Cell,
        parse: Callable[[Cell], K],
        patients: Mapping[K, Patient],
        errors: Errors,
    ) -> Patient | None:
        try:
            key = parse(cell)
        except _CellError as error:
            _add(errors, column, str(error))
            return None
        patient = patients.get(key)
        if patient is None:
            # The same words whether the patient exists at another site or not at all.
            _add(errors, column, f"Unknown patient: {key} is none of your sites' patients.")
        return patient


# --- One row ------------------------------------------------------------------------------------


def _checked(number: int, row: object, directory: _Directory) -> LabResult | RowError:
    """The row as an unsaved, validated LabResult with its patient, or its errors."""
    if not isinstance(row, Mapping):
        message = f"Invalid data. Expected a dictionary, but got {type(row).__name__}."
        return RowError(number, {"non_field_errors": [message]})
    errors: Errors = {}
    for column in row:
        if column not in COLUMNS:
            _add(errors, str(column), "Unknown column.")
    patient = directory.patient_of(row, errors)
    record = _validated(row, patient, errors)
    return RowError(number, errors) if errors else record


def _validated(row: Row, patient: Patient | None, errors: Errors) -> LabResult:
    """The row's result, validated as the model validates it, without a query: the patient
    comes from the directory, attached for `clean()`, and is left out of the field validation
    (which would look it up again)."""
    values, failed = _cells(row, errors)
    record = LabResult(**values) if patient is None else LabResult(patient=patient, **values)
    try:
        record.clean_fields(exclude=["patient", *failed])
    except ValidationError as error:
        _merge(errors, error)
        return record
    if failed:
        return record  # clean() compares values that did not convert
    try:
        record.clean()
    except ValidationError as error:
        _merge(errors, error)
    return record


def lab_unit_code(text: str) -> str:
    """The managed unit a lab's spelling of it names (" MG/L ", "ug/ml", "μg/mL", "mcg/mL",
    "mm/hr", "10^9/l"), or the text itself when it names none (for clean() to refuse)."""
    return _UNIT_CODES.get(_unit_spelling(text), text)


def _unit_spelling(text: str) -> str:
    """One spelling of a unit's usual ones: case, spaces, µ/μ/u/mcg, superscripts, ×/x/^/*."""
    key = unicodedata.normalize("NFKC", text).casefold()  # µ → μ, ⁹ → 9, ² → 2
    key = re.sub(r"[\s^*]", "", key).replace("\u03bc", "u").replace("mcg", "ug")
    key = re.sub(r"^[x×]", "", key).replace("10e", "10").replace("titer", "titre")
    return re.sub(r"/hr$", "/h", key)


_UNIT_CODES = {_unit_spelling(code): code for code in LabUnit.values}


def _cells(row: Row, errors: Errors) -> tuple[dict[str, Cell], list[str]]:
    """Each result column's cell, in the kind its field converts from (text, number as text,
    true/false); the columns that are missing or of the wrong kind are named in `failed`."""
    values: dict[str, Cell] = {}
    failed: list[str] = []
    for column in RESULT_COLUMNS:
        cell = row.get(column)
        if column in REQUIRED and not _given(cell):
            _add(errors, column, "This field is required.")
            failed.append(column)
            continue
        try:
            values[column] = _CONVERTERS[column](cell)
        except _CellError as error:
            _add(errors, column, str(error))
            failed.append(column)
    return values, failed


# --- Cells --------------------------------------------------------------------------------------


def _given(cell: Cell) -> bool:
    return cell is not None and cell != ""


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return _printable(cell).strip()
    raise _CellError("Enter text.")


def _unit(cell: Cell) -> str:
    return lab_unit_code(_text(cell))


def _printable(text: str) -> str:
    # PostgreSQL cannot store NUL in text (and would fail the query rather than refuse the row).
    if "\x00" in text:
        raise _CellError("Null characters are not allowed.")
    return text


def _number(cell: Cell) -> str | None:
    """A decimal as text, for the field to parse: a float's shortest form (3.2, not
    3.20000000000000017763568394002504646778106689453125)."""
    if isinstance(cell, bool):
        raise _CellError("Enter a number.")
    if isinstance(cell, int | float):
        return str(cell)
    if cell is None or isinstance(cell, str):
        return _stripped(cell)
    raise _CellError("Enter a number.")


def _date(cell: Cell) -> str | None:
    if cell is None or isinstance(cell, str):
        return _stripped(cell)
    raise _CellError("Enter a date as YYYY-MM-DD.")


def _stripped(cell: str | None) -> str | None:
    """The text without surrounding blanks; None when nothing is left."""
    return _printable(cell or "").strip() or None


def _flag(cell: Cell) -> bool | None:
    if cell is None or isinstance(cell, bool):
        return cell
    if isinstance(cell, str):
        word = cell.strip().lower()
        if not word:
            return None
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _CellError("Enter true or false.")


def _patient_id(cell: Cell) -> int:
    text = str(cell).strip() if isinstance(cell, int | str) and not isinstance(cell, bool) else ""
    if not (text.isascii() and text.isdigit()):
        raise _CellError("Enter the patient's id (a whole number).")
    number = int(text)
    if not 0 < number <= _MAX_ID:
        raise _CellError(f"Unknown patient: {number} is none of your sites' patients.")
    return number


def _registry_code(cell: Cell) -> str:
    if not isinstance(cell, str) or not cell.strip():
        raise _CellError("Enter the registry code, e.g. CRMO-000042.")
    return _printable(cell).strip().upper()


def _safe(parse: Callable[[Cell], K], cell: Cell) -> K | None:
    try:
        return parse(cell) if _given(cell) else None
    except _CellError:
        return None


_CONVERTERS: dict[str, Callable[[Cell], Cell]] = {
    "collected_on": _date,
    "analyte": _text,
    "analyte_name": _text,
    "value": _number,
    "unit": _unit,
    "antibodies_positive": _flag,
    "assay_name": _text,
    "reference_low": _number,
    "reference_high": _number,
}


def _add(errors: Errors, column: str, message: str) -> None:
    errors.setdefault(column, []).append(message)


def _merge(errors: Errors, error: ValidationError) -> None:
    for column, messages in error.message_dict.items():
        for message in messages:
            _add(errors, column, message)


# --- What to store ------------------------------------------------------------------------------


@dataclass
class _Plan:
    """The valid rows sorted out: new results, results already stored, repeats within the import."""

    new: list[LabResult] = field(default_factory=list)
    already_recorded: list[int] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @classmethod
    def of(cls, records: Sequence[tuple[int, LabResult]]) -> _Plan:
        """`records`: each valid row's number and result, in the import's order."""
        stored = _stored_identities([record for _number, record in records])
        plan = cls()
        first_row: dict[_Identity, int] = {}
        for number, record in records:
            identity = _identity(record)
            if identity in first_row:
                plan.duplicates.append(Duplicate(row=number, of_row=first_row[identity]))
                continue
            first_row[identity] = number
            if identity in stored:
                plan.already_recorded.append(number)
            else:
                plan.new.append(record)
        return plan


def _identity(record: LabResult) -> _Identity:
    # Decimals compare by value (3.2 == 3.200), as the database's numeric index does.
    return tuple(getattr(record, attname) for attname in _IDENTITY)


def _stored_identities(records: Sequence[LabResult]) -> set[_Identity]:
    """The identities of the stored results that these rows could repeat, in one query."""
    candidates = LabResult.objects.filter(
        patient_id__in={record.patient_id for record in records},
        collected_on__in={record.collected_on for record in records},
    )
    return set(candidates.values_list(*_IDENTITY))


# --- CSV ----------------------------------------------------------------------------------------


class LabImportUnreadable(ValueError):
    """A file that is no CSV of rows under a header; the message is for the sender."""


NOT_UTF8 = "Send CSV as UTF-8 text"
# PostgreSQL text cannot hold a NUL character; a file with one is no CSV text (UTF-16 saved as
# bytes, a binary file renamed .csv).
HOLDS_NUL = "holds a NUL character, which no field can store: send CSV as UTF-8 text"


def csv_rows(text: Iterable[str]) -> Iterator[dict[str, str]]:
    """The rows under the header line of comma-separated text (lines as read with newline=""),
    lazily; empty cells and blank lines are left out. Text that does not decode, or a row with a
    value in a column the header does not name, raises LabImportUnreadable."""
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        columns = _header(header)
        for number, cells in enumerate((cells for cells in reader if any(cells)), start=1):
            yield _csv_row(number, columns, cells)
    except (UnicodeDecodeError, csv.Error) as error:
        raise LabImportUnreadable(f"{NOT_UTF8} ({error}).") from error


def _header(header: list[str]) -> list[str]:
    if any("\x00" in name for name in header):
        raise LabImportUnreadable(f"The header {HOLDS_NUL}.")
    columns = [name.strip() for name in header]
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise LabImportUnreadable(f"The header names {', '.join(repeated)} more than once.")
    return columns


def _csv_row(number: int, columns: list[str], cells: list[str]) -> dict[str, str]:
    extra = [cell for cell in cells[len(columns) :] if cell.strip()]
    unnamed = [cell for name, cell in zip(columns, cells, strict=False) if not name and cell]
    if extra or unnamed:
        raise LabImportUnreadable(f"Row {number} has a value in a column the header does not name.")
    if any("\x00" in cell for cell in cells):
        raise LabImportUnreadable(f"Row {number} {HOLDS_NUL}.")
    return {name: cell for name, cell in zip(columns, cells, strict=False) if name and cell}
