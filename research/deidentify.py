"""De-identification (HIPAA Safe Harbor) and the consent gate.

Who is in: patients of the export's sites with research consent given on or before the export date
and not withdrawn on it, who have had at least one course. What they become: a random pseudonym
(`research.models.new_pseudonym`), day offsets instead of dates (day 0 = the start of their first
course), age in whole years with every age above 89 reported as "90+". Names, MRNs, dates of birth
and free text never leave the database: the exporters do not even select them, except the date of
birth, which is read only to compute the age.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Min, Q, QuerySet

from registry.models import Patient
from research.dictionary import AGE_CAP
from research.models import (
    DATE_PRECISION_DAYS,
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    AgePrecision,
)

OLDEST_REPORTED_AGE = 89
AGE_BAND_YEARS = 5
SMALL_CELL_PATIENTS = 5  # fewer patients than this in a site × sex × age band is a small cell


def loosened_options(
    *, date_precision: str, age_precision: str, suppress_small_cells: bool
) -> dict[str, str]:
    """The options finer than a researcher's defaults, each with why it needs a data manager."""
    loosened = {}
    if DATE_PRECISION_DAYS[date_precision] < DATE_PRECISION_DAYS[DEFAULT_DATE_PRECISION]:
        loosened["date_precision"] = (
            f"Only a data manager of every site exported can choose dates finer than "
            f"{DEFAULT_DATE_PRECISION.label.split(' ')[0].lower()}."
        )
    if age_precision == AgePrecision.YEARS and DEFAULT_AGE_PRECISION == AgePrecision.BANDS:
        loosened["age_precision"] = (
            "Only a data manager of every site exported can choose ages in whole years."
        )
    if not suppress_small_cells:
        loosened["suppress_small_cells"] = (
            "Only a data manager of every site exported can keep small cells unsuppressed."
        )
    return loosened


def consenting_patients(*, site_ids: Iterable[int], on: dt.date) -> QuerySet[Patient]:
    """Patients whose research consent holds on `on` (given by then, not withdrawn by then)."""
    return (
        Patient.objects.filter(site_id__in=list(site_ids), research_consent_given_on__lte=on)
        .filter(
            Q(research_consent_withdrawn_on__isnull=True) | Q(research_consent_withdrawn_on__gt=on)
        )
        .filter(courses__isnull=False)
        .distinct()
    )


def patient_day_zeros(patients: QuerySet[Patient]) -> QuerySet[Patient, tuple[int, dt.date]]:
    """(patient id, start of their first course): day 0 of every date exported for them."""
    return patients.annotate(day_zero=Min("courses__started_on")).values_list("pk", "day_zero")


def day_offset(day: dt.date | None, day_zero: dt.date) -> int | None:
    return None if day is None else (day - day_zero).days


def age_in_years(born_on: dt.date, on: dt.date) -> str:
    years = on.year - born_on.year - ((on.month, on.day) < (born_on.month, born_on.day))
    return AGE_CAP if years > OLDEST_REPORTED_AGE else str(years)


def age_band(age: str) -> str:
    if age == AGE_CAP:
        return AGE_CAP
    low = int(age) // AGE_BAND_YEARS * AGE_BAND_YEARS
    return f"{low}–{low + AGE_BAND_YEARS - 1}"


@dataclass
class SmallCells:
    """Patients per site × sex × age band (at day 0); cells under the threshold are reported."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, *, site_code: str, sex: str, age: str) -> None:
        self.counts[(site_code, sex, age_band(age))] += 1

    def warnings(self) -> list[dict[str, object]]:
        return [
            {"site_code": site, "sex": sex, "age_band": band, "patients": patients}
            for (site, sex, band), patients in sorted(self.counts.items())
            if patients < SMALL_CELL_PATIENTS
        ]
