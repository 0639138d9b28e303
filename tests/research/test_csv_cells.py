"""CSV cells a spreadsheet would run as formulas (OWASP "CSV injection") are neutralised: text that
begins with =, +, -, @, a tab or a carriage return gets one ' in front, in every CSV of the
archive; numbers are never touched; parsing a cell gives the value back exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from research.dictionary import (
    FORMULA_STARTS,
    PATIENTS,
    TABLES,
    Column,
    ColumnType,
    dictionary_rows,
    text_cell,
)
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, PatientFactory, SiteFactory
from tests.research.support import EXACT, build, csv_rows, entries

FORMULAS = ('=HYPERLINK("x",1)', "@SUM(1)", "+1", "-1+1", "\t=1", "\r=1")
STARTED_ON = dt.date(2025, 5, 1)
TEXT = Column("site_code", ColumnType.TEXT, "A text column")


@pytest.mark.parametrize("value", FORMULAS)
def test_a_text_cell_that_a_spreadsheet_would_run_gets_a_quote_in_front(value):
    assert TEXT.format(value) == "'" + value
    assert text_cell(value) == "'" + value


@pytest.mark.parametrize("value", [*FORMULAS, "'quoted", "''", "north", "CRMO/CNO", "90+", ""])
def test_parsing_a_text_cell_gives_the_value_back_exactly(value):
    assert TEXT.parse(TEXT.format(value)) == (value or None)


def test_plain_text_is_written_as_it_is():
    assert [text_cell(v) for v in ("north", "PedCNO50", "0;2;6", "90+")] == [
        "north",
        "PedCNO50",
        "0;2;6",
        "90+",
    ]
    assert text_cell("'quoted") == "''quoted"  # so that one quote off is always the value


@pytest.mark.parametrize(
    ("column", "value", "cell"),
    [
        (Column("diagnosed_day", ColumnType.INTEGER, "Days"), -120, "-120"),
        (Column("value", ColumnType.DECIMAL, "A value", precision=6, scale=2), Decimal("-1.50"),
         "-1.50"),
        (Column("share", ColumnType.PROPORTION, "A proportion"), -0.5, "-0.5"),
        (Column("done", ColumnType.BOOLEAN, "A flag"), True, "true"),
    ],
)  # fmt: skip
def test_numbers_are_never_touched(column, value, cell):
    assert column.format(value) == cell
    assert column.parse(cell) == value


@pytest.fixture
def formula_sites(db):
    """A consenting patient, with a course, at each of four sites coded as formulas."""
    for code in FORMULAS[:4]:
        patient = PatientFactory(
            site=SiteFactory(code=code),
            research_consent_given_on=TODAY - dt.timedelta(days=30),
            diagnosed_on=STARTED_ON - dt.timedelta(days=120),
        )
        InfusionFactory(course=CourseFactory(patient=patient, started_on=STARTED_ON))


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_every_csv_of_the_archive_neutralises_its_text_cells(formula_sites):
    files = entries(build("csv", **EXACT))  # exact: the sites of single patients are shown

    patients = _cells(files["patients.csv"])
    site, diagnosed = PATIENTS.header.index("site_code"), PATIENTS.header.index("diagnosed_day")
    assert sorted(row[site] for row in patients[1:]) == sorted("'" + c for c in FORMULAS[:4])
    assert {row[diagnosed] for row in patients[1:]} == {"-120"}  # a number, as it is
    parsed = csv_rows(files["patients.csv"], PATIENTS)
    assert sorted(row[1] for row in parsed) == sorted(FORMULAS[:4])
    assert {row[5] for row in parsed} == {-120}
    for table in TABLES:
        for row in _cells(files[f"{table.name}.csv"])[1:]:
            for column, cell in zip(table.columns, row, strict=True):
                if column.type is ColumnType.TEXT:
                    assert not cell.startswith(FORMULA_STARTS), (table.name, column.name, cell)
    dictionary = _cells(files["data_dictionary.csv"])
    assert [[TEXT.parse(cell) or "" for cell in row] for row in dictionary[1:]] == [
        list(row) for row in dictionary_rows()
    ]
    assert not [cell for row in dictionary for cell in row if cell.startswith(FORMULA_STARTS)]


def test_the_readme_and_the_dictionary_say_how(formula_sites):
    files = entries(build("csv", **EXACT))  # exact: the sites of single patients are shown
    readme = files["README.txt"].decode()
    assert "has one ' put in front" in " ".join(readme.split())
    assert "(text cells)" in files["data_dictionary.csv"].decode()
