"""Infliximab products: the list holds infliximab only, an infusion names a product of it (the
previous infusion's unless it says otherwise), a switch is found, and a lot is a printed code."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from registry import services
from registry.models import INFLIXIMAB_ATC, InfliximabProduct, Infusion
from registry.products import product_switches, product_to_give
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    ProductFactory,
    RelapseFactory,
    acting_superuser,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
START = dt.date(2026, 1, 5)


@pytest.fixture
def remicade():
    return ProductFactory(code="remicade")


@pytest.fixture
def remsima():
    return ProductFactory(code="remsima", manufacturer="Celltrion Healthcare Hungary Kft.")


def infuse(course, day, **kwargs):
    return services.infusion_record(
        course=course, given_on=day, weight_kg=Decimal("40"), weight_measured_on=day,
        dose_mg=Decimal("200"), by=acting_superuser(), **kwargs,
    )  # fmt: skip


# --- The list ---------------------------------------------------------------------------------


def test_the_migration_seeds_the_originator_and_four_biosimilars_with_their_ema_numbers():
    seeded = InfliximabProduct.objects.filter(
        code__in=["remicade", "inflectra", "remsima", "flixabi", "zessly"]
    )
    assert {p.code: (p.is_biosimilar, p.ema_product_number) for p in seeded} == {
        "remicade": (False, "EMEA/H/C/000240"),
        "inflectra": (True, "EMEA/H/C/002778"),
        "remsima": (True, "EMEA/H/C/002576"),
        "flixabi": (True, "EMEA/H/C/004020"),
        "zessly": (True, "EMEA/H/C/004647"),
    }
    assert {p.atc_code for p in seeded} == {INFLIXIMAB_ATC}


def test_it_refuses_a_product_of_another_substance_in_clean_and_in_the_database():
    adalimumab = InfliximabProduct(
        code="amgevita", name="Amgevita", manufacturer="Amgen", is_biosimilar=True,
        atc_code="L04AB04",
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        adalimumab.full_clean()
    assert "L04AB04 is not infliximab (L04AB02)" in refused.value.message_dict["atc_code"][0]
    with pytest.raises(IntegrityError, match="product_is_infliximab"), transaction.atomic():
        adalimumab.save()


def test_it_refuses_a_badly_written_ema_number(remicade):
    remicade.ema_product_number = "EMEA-H-C-240"
    with pytest.raises(ValidationError) as refused:
        remicade.full_clean()
    assert refused.value.message_dict["ema_product_number"] == [
        "Write it as the EMA does: EMEA/H/C/000240."
    ]


# --- An infusion's product --------------------------------------------------------------------


def test_an_infusion_takes_the_previous_infusions_product_else_the_courses(remicade, remsima):
    course = CourseFactory(started_on=START, product=remicade)

    first = infuse(course, START)
    assert first.product == remicade  # the course's planned product
    switched = infuse(course, START + 14 * DAY, product=remsima)
    after = infuse(course, START + 42 * DAY)

    assert (switched.product, after.product) == (remsima, remsima)  # the previous infusion's
    assert product_to_give(course) == remsima


def test_a_backdated_infusion_takes_the_product_of_the_infusion_before_it(remicade, remsima):
    course = CourseFactory(started_on=START, product=remicade)
    infuse(course, START)
    infuse(course, START + 42 * DAY, product=remsima)

    backdated = infuse(course, START + 14 * DAY)

    assert backdated.product == remicade


def test_an_infusion_with_no_product_known_records_none():
    assert infuse(CourseFactory(started_on=START), START).product is None


def test_it_refuses_an_infusion_naming_no_product_of_the_list_at_its_field():
    infusion = InfusionFactory.build(course=CourseFactory(started_on=START), product_id=987654)

    with pytest.raises(ValidationError) as refused:
        infusion.full_clean()

    assert refused.value.message_dict["product"] == [
        "Choose one of the registry's infliximab products."
    ]
    with transaction.atomic():
        infusion.save()
        # The foreign key, checked at the commit: no such product.
        with pytest.raises(IntegrityError, match="product_id"):
            connection.check_constraints()
        transaction.set_rollback(True)


def test_a_retreatment_plans_the_product_of_the_course_it_follows(remsima):
    relapse = RelapseFactory(course__product=remsima)

    course = services.retreatment_start(
        relapse=relapse, started_on=dt.date(2026, 6, 8), by=acting_superuser()
    )

    assert course.product == remsima


def test_the_product_of_an_infusion_and_of_a_course_can_be_corrected(remicade, remsima):
    course = CourseFactory(started_on=START, product=remicade)
    infusion = infuse(course, START)
    by = acting_superuser()

    services.infusion_correct(infusion=infusion, changes={"product": remsima}, by=by)
    services.course_correct(course=course, changes={"product": remsima}, by=by)

    infusion.refresh_from_db()
    course.refresh_from_db()
    assert (infusion.product, course.product) == (remsima, remsima)
    assert infusion.history.first().product_id == remsima.pk


# --- Switches ---------------------------------------------------------------------------------


def test_a_switch_is_an_infusion_with_another_product_than_the_one_before(remicade, remsima):
    first = CourseFactory(started_on=START, stopped_on=START + 60 * DAY, stop_reason="remission")
    given = [
        InfusionFactory(course=first, given_on=START, product=remicade),
        InfusionFactory(course=first, given_on=START + 14 * DAY, product=None),  # not known
        InfusionFactory(course=first, given_on=START + 42 * DAY, product=remsima),
        InfusionFactory(course=first, given_on=START + 56 * DAY, product=remsima),
    ]
    retreatment = CourseFactory(patient=first.patient, started_on=START + 200 * DAY)
    given.append(InfusionFactory(course=retreatment, given_on=START + 200 * DAY, product=remicade))

    switches = product_switches(given)

    assert [(s.infusion, s.switched_from, s.switched_to) for s in switches] == [
        (given[2], remicade, remsima),
        (given[4], remsima, remicade),  # a retreatment with another product is a switch too
    ]
    assert switches[0].words == "Product switch: Remicade → Remsima"


# --- Lots --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lot", ["21B04A", "IFX-2207", "AB12.3/4"])
def test_it_accepts_a_lot_as_printed(lot):
    infusion = infuse(CourseFactory(started_on=START), START, lot_number=lot)
    assert infusion.lot_number == lot


@pytest.mark.parametrize("lot", ["given by Anna", "-AB12", "AB 12"])
def test_it_refuses_a_lot_that_is_not_a_code(lot):
    course = CourseFactory(started_on=START)
    with pytest.raises(ValidationError) as refused:
        infuse(course, START, lot_number=lot)
    assert "the code printed on the vial" in refused.value.message_dict["lot_number"][0]
    assert not Infusion.objects.exists()
