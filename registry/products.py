"""Which infliximab product an infusion is given with: the previous infusion's, else the course's;
and where the product changed (a switch, which pharmacovigilance asks about)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from registry.models import InfliximabProduct, Infusion, TreatmentCourse


def product_to_give(
    course: TreatmentCourse, *, before: dt.date | None = None
) -> InfliximabProduct | None:
    """The product of the course's latest infusion (before `before`, if given) that records one;
    else the course's planned product; else none known."""
    earlier = course.infusions.filter(product__isnull=False)
    if before is not None:
        earlier = earlier.filter(given_on__lt=before)
    latest = earlier.select_related("product").order_by("-given_on").first()
    if latest is not None:
        return latest.product
    return course.product


@dataclass(frozen=True)
class ProductSwitch:
    """An infusion given with another product than the patient's previous infusion."""

    infusion: Infusion
    switched_from: InfliximabProduct
    switched_to: InfliximabProduct

    @property
    def words(self) -> str:
        return f"Product switch: {self.switched_from} → {self.switched_to}"


def product_switches(infusions: Iterable[Infusion]) -> list[ProductSwitch]:
    """The switches among a patient's infusions (oldest first, across courses: a retreatment with
    another product is a switch too). An infusion that records no product changes nothing."""
    switches = []
    previous: InfliximabProduct | None = None
    for infusion in infusions:
        product = infusion.product
        if product is None:
            continue
        if previous is not None and product.pk != previous.pk:
            switches.append(ProductSwitch(infusion, previous, product))
        previous = product
    return switches
