"""Derived values of the record: mg/kg, week and dose number, age, consent on a date."""

import datetime as dt
from decimal import Decimal

import pytest

from registry import services
from registry.models import Consent, Infusion, Patient
from tests.factories import CourseFactory, InfusionFactory, PatientFactory, acting_superuser


def test_it_computes_mg_per_kg_to_two_decimals():
    assert Infusion(dose_mg=Decimal("300"), weight_kg=Decimal("41.7")).mg_per_kg == Decimal("7.19")
    assert Infusion(dose_mg=None, weight_kg=Decimal("41.7")).mg_per_kg is None


@pytest.mark.parametrize(
    ("day", "week"), [(0, 0), (13, 2), (14, 2), (15, 2), (42, 6), (45, 6), (98, 14)]
)
def test_it_rounds_the_week_of_a_dose(day, week):
    day_zero = dt.date(2025, 1, 6)
    assert Infusion.week_of(day_zero + dt.timedelta(days=day), day_zero) == week


@pytest.mark.django_db
def test_it_numbers_doses_within_their_course_whatever_the_filter():
    course = CourseFactory(started_on=dt.date(2025, 1, 6))
    for day in (0, 14, 42, 98):
        InfusionFactory(course=course, given_on=course.started_on + dt.timedelta(days=day))
    InfusionFactory()  # another course's infusion does not count
    late = Infusion.objects.filter(course=course, given_on__gte=dt.date(2025, 2, 1))
    numbered = late.with_course_position().order_by("given_on")
    assert [(i.dose_number, i.day_zero) for i in numbered] == [
        (3, dt.date(2025, 1, 6)),
        (4, dt.date(2025, 1, 6)),
    ]


@pytest.mark.parametrize(
    ("day", "age"),
    [(dt.date(2026, 3, 13), 13), (dt.date(2026, 3, 14), 14), (dt.date(2026, 12, 31), 14)],
)
def test_it_computes_age_in_whole_years(day, age):
    assert Patient(date_of_birth=dt.date(2012, 3, 14)).age_on(day) == age


def test_a_consent_knows_each_scope_in_force_on_a_date():
    consent = Consent(
        given_on=dt.date(2024, 1, 1),
        research_given=True,
        contact_given=True,
        research_withdrawn_on=dt.date(2025, 6, 1),
    )
    assert not consent.in_force("research", dt.date(2023, 12, 31))
    assert consent.in_force("research", dt.date(2024, 1, 1))
    assert consent.in_force("research", dt.date(2025, 5, 31))
    assert not consent.in_force("research", dt.date(2025, 6, 1))  # withdrawn that day
    assert consent.in_force("contact", dt.date(2025, 6, 1))  # not withdrawn with it
    assert not consent.in_force("care_data", dt.date(2025, 1, 1))  # never given
    assert consent.scopes_given() == ["research", "contact"]
    assert consent.scopes_withdrawn() == ["research"]


@pytest.mark.django_db
def test_it_sets_the_unit_of_a_lab_result_from_its_analyte():
    result = services.lab_result_record(
        patient=PatientFactory(),
        collected_on=dt.date(2025, 1, 6),
        analyte="ifx_trough",
        value=Decimal("4.2"),
        by=acting_superuser(),
    )
    assert (result.unit, result.loinc) == ("µg/mL", "39803-2")
