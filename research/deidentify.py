"""De-identification and the consent gate.

Who is in: patients of the export's sites with the consent scope "research exports" in force on the
export date (a consent record giving it on or before that date, not withdrawn by then:
`registry.selectors.consent_in_force`), who have had at least one course. What they become: a
random pseudonym (`research.models.new_pseudonym`), day offsets instead of dates (day 0 = the start
of their first course; rounded down to weeks or months unless a data manager asked for days), age
in whole years or 5-year bands with every age above 89 reported as "90+". Names, MRNs, dates of
birth and free text never leave the database: the exporters do not even select them, except the
date of birth, which is read only to compute the age. Small cells are suppressed
(`suppression_plan`): where fewer than five patients share their quasi-identifiers, values are
blanked until they do.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field, replace
from typing import TypeVar, overload

from django.db.models import Min, QuerySet

from registry.models import ConsentScope, Patient
from registry.selectors import with_consent_in_force
from research.dictionary import AGE_CAP
from research.models import (
    DATE_PRECISION_DAYS,
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    AgePrecision,
)

K = TypeVar("K")  # what identifies a patient in a suppression plan
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


# The consent scope that gates every export (named in each export's manifest and README).
GATING_SCOPE = ConsentScope.RESEARCH


def consenting_patients(*, site_ids: Iterable[int], on: dt.date) -> QuerySet[Patient]:
    """Patients with consent to research exports in force on `on` (given by then, that scope not
    withdrawn by then), with at least one course."""
    patients = Patient.objects.filter(site_id__in=list(site_ids), courses__isnull=False)
    return with_consent_in_force(patients, GATING_SCOPE, on).distinct()


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


@overload
def coarsen(days: int, step: int) -> int: ...
@overload
def coarsen(days: None, step: int) -> None: ...
@overload
def coarsen(days: int | None, step: int) -> int | None: ...
def coarsen(days: int | None, step: int) -> int | None:
    """Days rounded down to a multiple of `step` (7: weeks, 30: months); -3 in weeks is -7."""
    return None if days is None else days // step * step


def displayed_age(age: str, precision: str) -> str:
    return age_band(age) if precision == AgePrecision.BANDS else age


# Blanked in this order until a patient is like at least SMALL_CELL_PATIENTS others: the least
# useful to research first, the treating site last.
QUASI_IDENTIFIERS = ("diagnosed_day", "age", "sex", "site_code")


@dataclass(frozen=True)
class QuasiIdentifiers:
    """What someone who knows a patient could match in the patients table (as exported)."""

    diagnosed_day: int | None
    age: str | None
    sex: str | None
    site_code: str | None

    def blanked(self, count: int) -> QuasiIdentifiers:
        """These values with the first `count` of QUASI_IDENTIFIERS blanked."""
        return replace(self, **dict.fromkeys(QUASI_IDENTIFIERS[:count]))


def suppression_plan(
    patients: Mapping[K, QuasiIdentifiers], threshold: int = SMALL_CELL_PATIENTS
) -> dict[K, int]:
    """How many quasi-identifiers to blank per patient so that every combination shown is
    shared by at least `threshold` patients (k-anonymity by local suppression).

    Patients of a combination shown fewer than `threshold` times lose one more value; repeat.
    A combination already shared widely enough only ever gains patients, so at most one round
    per quasi-identifier is needed. Only a fully blanked group smaller than the threshold (a
    tiny export) can remain small. Deterministic: the same registry gives the same plan, so two
    exports of it show the same groups.
    """
    blanked = dict.fromkeys(patients, 0)
    for _ in QUASI_IDENTIFIERS:
        shown = {key: values.blanked(blanked[key]) for key, values in patients.items()}
        sharing = Counter(shown.values())
        small = [key for key, values in shown.items() if sharing[values] < threshold]
        if not small:
            break
        for key in small:
            blanked[key] += 1
    _fill_the_fully_blanked_group(patients, blanked, threshold)
    return blanked


def _fill_the_fully_blanked_group(
    patients: Mapping[K, QuasiIdentifiers], blanked: dict[K, int], threshold: int
) -> None:
    """Patients left with every value blanked are alike only among themselves: fewer than the
    threshold would stand out. Others join them, taken from the groups that can spare patients
    (largest surplus first), else a whole smallest group; each time the patients whose real
    values sort first, so that the same registry gives the same choice."""
    everything = len(QUASI_IDENTIFIERS)
    while 0 < (full := sum(n == everything for n in blanked.values())) < threshold:
        groups: dict[QuasiIdentifiers, list[K]] = {}
        for key, values in patients.items():
            if blanked[key] < everything:
                groups.setdefault(values.blanked(blanked[key]), []).append(key)
        if not groups:
            return  # fewer patients than the threshold in the whole export
        _, members = max(groups.items(), key=lambda g: (len(g[1]), _order(g[0])))
        joining = sorted(members, key=lambda key: _order(patients[key]))
        joining = joining[: min(len(members) - threshold, threshold - full)]
        if not joining:  # no group can spare anyone: the smallest one joins whole
            _, joining = min(groups.items(), key=lambda g: (len(g[1]), _order(g[0])))
        for key in joining:
            blanked[key] = everything


def _order(values: QuasiIdentifiers) -> tuple[str, ...]:
    return tuple("" if value is None else str(value) for value in astuple(values))


@dataclass
class SmallCells:
    """Patients per site × sex × age band (at day 0, as shown); cells under the threshold are
    reported. A blanked value counts as its own category ("suppressed")."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, *, site_code: str | None, sex: str | None, age: str | None) -> None:
        """`age`: whole years (or "90+"), None when it is not shown."""
        band = age_band(age) if age else SUPPRESSED
        self.counts[(site_code or SUPPRESSED, sex or SUPPRESSED, band)] += 1

    def warnings(self) -> list[dict[str, object]]:
        return [
            {"site_code": site, "sex": sex, "age_band": band, "patients": patients}
            for (site, sex, band), patients in sorted(self.counts.items())
            if patients < SMALL_CELL_PATIENTS
        ]


SUPPRESSED = "suppressed"
