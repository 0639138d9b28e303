"""Data-entry limits: what a value must be to be physically plausible.

These are not guideline parameters (those live in `monitoring.guideline.parameters` and only raise
alerts); a value outside these limits is a typing error and is refused at entry.
"""

from decimal import Decimal

WEIGHT_MIN_KG = Decimal("0.5")
WEIGHT_MAX_KG = Decimal("250")

# Infliximab's labelled maximum: a course's planned dose never exceeds it (only a clinician's
# intensification, a regimen change, may prescribe more).
LABELLED_MAX_DOSE_MG_PER_KG = Decimal("10")
# No dose above this is physically plausible, whatever a site's guideline says: the database's
# backstop behind the guideline's (site-adjustable, never higher) implausible_dose_mg_per_kg.
DOSE_CEILING_MG_PER_KG = Decimal("20")
VIAL_MG = 100

CRP_MAX_MG_L = Decimal("1000")
ESR_MAX_MM_H = Decimal("200")
TROUGH_MAX_UG_ML = Decimal("500")
# Methotrexate's safety bloods. Far above any count or enzyme level a patient survives with, and
# low enough to refuse a count typed per µL (4500 neutrophils/µL is 4.5 ×10⁹/L) or a unit slip.
NEUTROPHILS_MAX_10E9_L = Decimal("300")
PLATELETS_MAX_10E9_L = Decimal("5000")
ALT_MAX_U_L = Decimal("50000")

SCORE_MAX = Decimal("10")
CHAQ_MAX = Decimal("3")

MAX_INTERVAL_WEEKS = 52
MAX_INDUCTION_WEEK = 52
# "Delayed" infusion reactions occur 1-14 days after the infusion (Cheifetz 2003).
DELAYED_REACTION_MAX_DAYS = 14
