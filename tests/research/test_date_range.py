"""A date range keeps the rows dated within it; day 0 stays the first course start."""

from __future__ import annotations

import datetime as dt

from research.dictionary import (
    ADVERSE_EVENTS,
    INFUSIONS,
    LABS,
    MEDICATIONS,
    SCREENING_RESULTS,
    VACCINATIONS,
)
from tests.factories import (
    AdverseEventFactory,
    InfusionFactory,
    LabResultFactory,
    MedicationFactory,
    ScreeningResultFactory,
    VaccinationFactory,
)
from tests.research.support import EXACT, build, csv_rows, entries

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


def test_the_safety_record_s_rows_are_kept_by_their_own_dates(consenting_course):
    start = consenting_course.started_on
    patient = consenting_course.patient
    MedicationFactory(patient=patient, started_on=start - 30 * DAY)  # before the range
    MedicationFactory(patient=patient, drug="methotrexate", started_on=start + 7 * DAY)
    AdverseEventFactory(patient=patient, onset_on=start + 14 * DAY)
    AdverseEventFactory(patient=patient, onset_on=start + 50 * DAY)  # after it
    ScreeningResultFactory(patient=patient, tested_on=start - 14 * DAY)  # before it
    VaccinationFactory(patient=patient, given_on=start + 21 * DAY)
    export = build("csv", date_from=start, date_to=start + 42 * DAY, **EXACT)
    files = entries(export)
    medications = csv_rows(files["medications.csv"], MEDICATIONS)
    assert [(row[1], row[8]) for row in medications] == [("methotrexate", 7)]
    assert [row[2] for row in csv_rows(files["adverse_events.csv"], ADVERSE_EVENTS)] == [14]
    assert csv_rows(files["screening_results.csv"], SCREENING_RESULTS) == []
    assert [row[1] for row in csv_rows(files["vaccinations.csv"], VACCINATIONS)] == [21]
