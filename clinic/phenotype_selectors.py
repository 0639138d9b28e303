"""What the patient page shows of the CRMO phenotype: the phenotype's derived readings (Bristol
met, the Jansson score, the family history in words) and the comorbidities."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry.models import Patient, Phenotype
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    FAMILY_CONDITIONS,
    JANSSON_ITEMS,
    JANSSON_MAX,
    Item,
)


@dataclass(frozen=True)
class PhenotypeSummary:
    phenotype: Phenotype
    bristol: str  # "met", "not met", "undetermined (…)"
    jansson: str  # "41 of 63", "incomplete (…)"
    family: str

    @property
    def first_symptoms_on(self) -> dt.date | None:
        return self.phenotype.first_symptoms_on


def _open_items(phenotype: Phenotype, items: tuple[Item, ...]) -> int:
    return sum(value is None for value in phenotype.items(items).values())


def summary(phenotype: Phenotype) -> PhenotypeSummary:
    met = phenotype.bristol_met
    open_bristol = _open_items(phenotype, BRISTOL_ITEMS)
    if met is None:
        bristol = f"undetermined ({open_bristol} item{'s' * (open_bristol != 1)} not recorded)"
    else:
        bristol = "met" if met else "not met"
    score = phenotype.jansson_score
    open_jansson = _open_items(phenotype, JANSSON_ITEMS)
    jansson = (
        f"{score} of {JANSSON_MAX}"
        if score is not None
        else f"incomplete ({open_jansson} item{'s' * (open_jansson != 1)} not recorded)"
    )
    family = phenotype.get_family_history_display() or "not recorded"
    if phenotype.family_conditions:
        names = ", ".join(FAMILY_CONDITIONS[name] for name in phenotype.family_conditions)
        family = f"{family}: {names}"
    return PhenotypeSummary(phenotype, bristol, jansson, family)


PATIENT_PAGE_ACTIONS = (
    "add_phenotype",
    "change_phenotype",
    "add_comorbidity",
    "change_comorbidity",
)


def patient_page_context(allowed: frozenset[str], patient: Patient) -> dict[str, object]:
    """The patient page's phenotype and comorbidities (two queries), and what this person may
    record there (`allowed`: their permissions at the patient's site, roles.permissions_at)."""
    phenotype = Phenotype.objects.filter(patient=patient).first()
    return {
        "phenotype": summary(phenotype) if phenotype else None,
        "comorbidities": list(patient.comorbidities.order_by("onset_on", "condition")),
        "can_phenotype": {name: f"registry.{name}" in allowed for name in PATIENT_PAGE_ACTIONS},
    }
