"""Ages, day offsets and small cells."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from research.deidentify import (
    QUASI_IDENTIFIERS,
    QuasiIdentifiers,
    SmallCells,
    age_band,
    age_in_years,
    coarsen,
    day_offset,
    loosened_options,
    suppression_plan,
)


def test_age_is_whole_years_at_the_day():
    assert age_in_years(dt.date(2012, 3, 14), dt.date(2025, 3, 13)) == "12"
    assert age_in_years(dt.date(2012, 3, 14), dt.date(2025, 3, 14)) == "13"


def test_ages_above_89_are_one_category():
    assert age_in_years(dt.date(1930, 1, 1), dt.date(2019, 12, 31)) == "89"
    assert age_in_years(dt.date(1930, 1, 1), dt.date(2020, 1, 1)) == "90+"
    assert age_band("90+") == "90+"
    assert age_band("12") == "10–14"


def test_dates_become_days_since_day_zero():
    assert day_offset(dt.date(2025, 1, 20), dt.date(2025, 1, 6)) == 14
    assert day_offset(dt.date(2024, 12, 31), dt.date(2025, 1, 6)) == -6
    assert day_offset(None, dt.date(2025, 1, 6)) is None


def test_cells_of_fewer_than_five_patients_are_reported():
    cells = SmallCells()
    for _ in range(5):
        cells.add(site_code="north", sex="female", age="12")
    cells.add(site_code="north", sex="male", age="12")
    assert cells.warnings() == [
        {"site_code": "north", "sex": "male", "age_band": "10–14", "patients": 1}
    ]


def test_day_offsets_are_rounded_down_to_the_precision():
    assert coarsen(13, 7) == 7
    assert coarsen(-3, 7) == -7  # three days before day 0 is in the week before it
    assert coarsen(59, 30) == 30
    assert coarsen(None, 7) is None
    assert coarsen(-120, 1) == -120


def _patient(day: int | None, age: str | None, sex: str | None, site: str | None):
    return QuasiIdentifiers(diagnosed_day=day, age=age, sex=sex, site_code=site)


def test_patients_alike_enough_keep_every_value_and_the_rare_lose_the_least_useful_first():
    patients = {n: _patient(-70, "10–14", "female", "north") for n in range(5)}
    patients |= {10 + n: _patient(-7 * n, "10–14", "male", "north") for n in range(5)}
    plan = suppression_plan(patients, 5)
    assert [plan[n] for n in range(5)] == [0] * 5  # five alike: nothing blanked
    assert [plan[10 + n] for n in range(5)] == [1] * 5  # only their diagnosis day goes


def test_a_tiny_fully_blanked_group_is_filled_from_a_group_that_can_spare_patients():
    patients: dict[object, QuasiIdentifiers] = {
        n: _patient(-70, "10–14", "female", "north") for n in range(9)
    }
    patients |= {"lone": _patient(-700, "90+", "male", "south")}
    plan = suppression_plan(patients, 5)
    shown = Counter(patients[key].blanked(count) for key, count in plan.items())
    assert min(shown.values()) >= 5
    assert plan["lone"] == len(QUASI_IDENTIFIERS)
    assert sum(count == len(QUASI_IDENTIFIERS) for count in plan.values()) == 5  # 4 spared


def test_when_no_group_can_spare_patients_the_smallest_joins_the_blanked_whole():
    patients: dict[object, QuasiIdentifiers] = {
        n: _patient(-70, "10–14", "female", "north") for n in range(7)
    }
    patients |= {"lone": _patient(-700, "90+", "male", "south")}
    plan = suppression_plan(patients, 5)
    assert set(plan.values()) == {len(QUASI_IDENTIFIERS)}  # 7 - 4 would leave 3: all eight go


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([-700, -70, -7, 0]),
            st.sampled_from(["5–9", "10–14", "15–19"]),
            st.sampled_from(["female", "male"]),
            st.sampled_from(["north", "south", "east"]),
        ),
        min_size=5,
        max_size=60,
    )
)
def test_every_combination_shown_is_shared_by_at_least_five_patients(rows):
    patients = {n: _patient(*row) for n, row in enumerate(rows)}
    plan = suppression_plan(patients, 5)
    shown = Counter(patients[key].blanked(count) for key, count in plan.items())
    assert min(shown.values()) >= 5
    assert suppression_plan(patients, 5) == plan  # the same registry, the same plan


def test_a_researcher_cannot_loosen_the_defaults():
    assert (
        loosened_options(date_precision="week", age_precision="bands", suppress_small_cells=True)
        == {}
    )
    assert (
        loosened_options(date_precision="month", age_precision="bands", suppress_small_cells=True)
        == {}
    )
    loosened = loosened_options(
        date_precision="day", age_precision="years", suppress_small_cells=False
    )
    assert set(loosened) == {"date_precision", "age_precision", "suppress_small_cells"}
    assert "data manager" in loosened["date_precision"]
