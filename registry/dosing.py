"""Dose arithmetic, in one place: the dose a weight and a regimen give, and the vials it takes.

Infliximab comes in 100 mg vials (`limits.VIAL_MG`); a vial is not shared between patients, so each
dose takes whole vials, the last one perhaps in part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from registry import limits

# Pharmacy rounding: whole vials when that stays within 10 % of weight x mg/kg (the guideline's
# default dose tolerance, so such a dose raises no dose mismatch).
WHOLE_VIAL_TOLERANCE = Decimal("0.10")


@dataclass(frozen=True)
class ExpectedDose:
    """mg/kg x weight, to the mg, as the infusion form suggests it."""

    weight_kg: Decimal
    mg_per_kg: Decimal
    dose_mg: Decimal

    @property
    def vials(self) -> int:
        return vials_for(self.dose_mg)


def expected_dose(weight_kg: Decimal, mg_per_kg: Decimal) -> ExpectedDose:
    dose_mg = (weight_kg * mg_per_kg).quantize(Decimal(1), ROUND_HALF_UP)
    return ExpectedDose(weight_kg=weight_kg, mg_per_kg=mg_per_kg, dose_mg=dose_mg)


def vials_for(dose_mg: Decimal) -> int:
    """The vials a dose is made up from: a part vial is a vial opened."""
    return max(1, math.ceil(dose_mg / limits.VIAL_MG))


def whole_vial_dose_mg(weight_kg: Decimal, mg_per_kg: Decimal) -> Decimal:
    """The dose a pharmacy makes up: whole vials when within tolerance of weight x mg/kg and not
    above the labelled maximum, otherwise the exact dose to 10 mg (from part vials, as small
    children need). The demo's nurses give these."""
    exact = weight_kg * mg_per_kg
    vials = max(1, int((exact / limits.VIAL_MG).quantize(Decimal(1), ROUND_HALF_UP)))
    whole_vials = Decimal(vials * limits.VIAL_MG)
    within_tolerance = abs(whole_vials - exact) <= exact * WHOLE_VIAL_TOLERANCE
    if within_tolerance and whole_vials <= weight_kg * limits.LABELLED_MAX_DOSE_MG_PER_KG:
        return whole_vials
    # Rounding down keeps a 10 mg/kg dose at or below the labelled maximum.
    return (exact / 10).quantize(Decimal(1), ROUND_DOWN) * 10
