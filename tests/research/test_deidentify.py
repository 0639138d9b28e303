"""Ages, day offsets and small cells."""

from __future__ import annotations

import datetime as dt

from research.deidentify import SmallCells, age_band, age_in_years, day_offset


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
