"""A date range keeps the rows dated within it; day 0 stays the first course start."""

from __future__ import annotations

import datetime as dt

from research.dictionary import INFUSIONS, LABS
from tests.factories import InfusionFactory, LabResultFactory
from tests.research.support import build, csv_rows, entries

DAY = dt.timedelta(days=1)


def test_it_keeps_only_rows_dated_within_the_range(consenting_course):
    start = consenting_course.started_on  # the fixture's infusion is on day 0
    InfusionFactory(course=consenting_course, given_on=start + 14 * DAY)
    InfusionFactory(course=consenting_course, given_on=start + 42 * DAY)
    LabResultFactory(patient=consenting_course.patient, collected_on=start + 43 * DAY)
    export = build("csv", date_from=start + DAY, date_to=start + 42 * DAY)
    files = entries(export)
    assert [row[3] for row in csv_rows(files["infusions.csv"], INFUSIONS)] == [14, 42]
    assert [row[2] for row in csv_rows(files["infusions.csv"], INFUSIONS)] == [2, 3]
    assert csv_rows(files["labs.csv"], LABS) == []
