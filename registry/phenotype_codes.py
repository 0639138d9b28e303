"""The managed lists of the CRMO phenotype: the bones a lesion site names (with vertebral levels and
laterality), comorbidities, family history, and the two diagnosis instruments whose items the
registry stores — the Bristol criteria (Roderick et al. 2016) and the Jansson clinical score
(Jansson et al. 2009) — with the derivation of "met" and of the score from those items.

A bone's code is the registry's own (`lesion_site` in the research dictionary). A SNOMED CT body
structure code is given only where it was checked against a published source (see `SNOMED_BODY`);
the others are left uncoded rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import models


class Bone(models.TextChoices):
    VERTEBRA = "vertebra", "Vertebra"
    CLAVICLE = "clavicle", "Clavicle"
    MANDIBLE = "mandible", "Mandible"
    STERNUM = "sternum", "Sternum"
    PELVIS = "pelvis", "Pelvis"
    FEMUR = "femur", "Femur"
    TIBIA = "tibia", "Tibia"
    FIBULA = "fibula", "Fibula"
    CALCANEUS = "calcaneus", "Calcaneus"
    HUMERUS = "humerus", "Humerus"
    RADIUS = "radius", "Radius"
    ULNA = "ulna", "Ulna"
    METATARSAL = "metatarsal", "Metatarsal"
    OTHER = "other", "Other bone"


# Bones on the body's midline: laterality "midline" only. (The pelvis is paired for a lesion's
# purposes: an ilium, ischium or pubis is left or right; a sacral lesion is a vertebra, S1–S5.)
MIDLINE_BONES = frozenset({Bone.VERTEBRA, Bone.STERNUM})
# Bones that may be either: the mandible (symphysis midline, body/ramus a side) and "other".
EITHER_BONES = frozenset({Bone.MANDIBLE, Bone.OTHER})
PAIRED_BONES = frozenset(set(Bone) - MIDLINE_BONES - EITHER_BONES)


class Laterality(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    MIDLINE = "midline", "Midline"


VERTEBRAL_LEVELS: tuple[str, ...] = (
    *(f"C{n}" for n in range(1, 8)),
    *(f"T{n}" for n in range(1, 13)),
    *(f"L{n}" for n in range(1, 6)),
    *(f"S{n}" for n in range(1, 6)),
)
VERTEBRAL_LEVEL_CHOICES: tuple[tuple[str, str], ...] = tuple((lv, lv) for lv in VERTEBRAL_LEVELS)


@dataclass(frozen=True)
class BodyStructure:
    code: str
    display: str
    source: str


SNOMED_SYSTEM = "http://snomed.info/sct"
# Only codes checked against a published source, named beside each: the HL7 mCODE implementation
# guide's TG263-to-SNOMED CT concept map (mCODE), the German Medical Informatics Initiative's
# oncology module concept map of radiotherapy target sites to SNOMED CT (MII), the SNOMED CT
# Compositional Grammar and Expression Constraint Language guides (SNOMED CG/ECL), and bone-site
# value sets of published FHIR implementation guides (FHIR IG). A vertebra is coded by its
# region (cervical, thoracic, lumbar, sacral) from its level. The metatarsal and "other" keep
# only the registry's code: a wrong SNOMED code would mislead a pooled analysis silently.
SNOMED_BODY: Mapping[str, BodyStructure] = {
    Bone.CLAVICLE: BodyStructure("51299004", "Bone structure of clavicle", "mCODE"),
    Bone.MANDIBLE: BodyStructure("91609006", "Bone structure of mandible", "mCODE"),
    Bone.STERNUM: BodyStructure("56873002", "Bone structure of sternum", "MII"),
    Bone.PELVIS: BodyStructure("28254004", "Innominate bone structure", "MII"),
    Bone.FEMUR: BodyStructure("71341001", "Bone structure of femur", "mCODE"),
    Bone.TIBIA: BodyStructure("12611008", "Bone structure of tibia", "SNOMED CG"),
    Bone.FIBULA: BodyStructure("87342007", "Bone structure of fibula", "mCODE"),
    Bone.CALCANEUS: BodyStructure("80144004", "Bone structure of calcaneum", "FHIR IG"),
    Bone.HUMERUS: BodyStructure("85050009", "Bone structure of humerus", "mCODE"),
    Bone.RADIUS: BodyStructure("62413002", "Bone structure of radius", "mCODE"),
    Bone.ULNA: BodyStructure("23416004", "Bone structure of ulna", "SNOMED ECL"),
}
SNOMED_VERTEBRA: Mapping[str, BodyStructure] = {
    "C": BodyStructure("84667006", "Bone structure of cervical vertebra", "MII"),
    "T": BodyStructure("35769007", "Bone structure of thoracic vertebra", "MII"),
    "L": BodyStructure("73903008", "Bone structure of lumbar vertebra", "MII"),
    "S": BodyStructure("699698002", "Structure of sacral vertebral column", "MII"),
}


def snomed_body_structure(bone: str, level: str | None = None) -> BodyStructure | None:
    """The checked SNOMED CT body structure of a site, if there is one (a vertebra: by the region
    of its level; a vertebra whose level is not given stays uncoded)."""
    if bone == Bone.VERTEBRA:
        return SNOMED_VERTEBRA.get(level[:1]) if level else None
    return SNOMED_BODY.get(bone)


SNOMED_DISPLAY: Mapping[str, str] = {
    body.code: body.display for body in (*SNOMED_BODY.values(), *SNOMED_VERTEBRA.values())
}


def site_words(bone: str, level: str = "", laterality: str = "") -> str:
    """ "Vertebra T7", "Left tibia", "Sternum"."""
    name = Bone(bone).label if bone in Bone.values else bone
    if level:
        return f"{name} {level}"
    if laterality in (Laterality.LEFT, Laterality.RIGHT):
        return f"{Laterality(laterality).label} {name.lower()}"
    return name


# --- Comorbidities and family history ----------------------------------------------------------


class ComorbidityCondition(models.TextChoices):
    INFLAMMATORY_BOWEL_DISEASE = "ibd", "Inflammatory bowel disease"
    PSORIASIS = "psoriasis", "Psoriasis"
    PALMOPLANTAR_PUSTULOSIS = "ppp", "Palmoplantar pustulosis"
    SEVERE_ACNE = "severe_acne", "Severe acne"
    SAPHO = "sapho", "SAPHO syndrome"
    OTHER = "other", "Other (not named in the registry)"


class FamilyHistory(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


# The managed list of conditions a relative has (one boolean column each on the phenotype, so the
# database refuses anything else and an export needs no free text). The names are the column's
# suffix: `family_<name>`.
FAMILY_CONDITIONS: Mapping[str, str] = {
    "crmo": "CRMO / chronic nonbacterial osteomyelitis",
    "psoriasis": "Psoriasis",
    "ibd": "Inflammatory bowel disease",
    "spondyloarthritis": "Spondyloarthritis (incl. ankylosing spondylitis)",
    "arthritis": "Juvenile idiopathic or rheumatoid arthritis",
    "ppp": "Palmoplantar pustulosis",
    "coeliac": "Coeliac disease",
    "thyroid": "Autoimmune thyroid disease",
    "type1_diabetes": "Type 1 diabetes",
    "other": "Other autoimmune or inflammatory disease (not named)",
}


# --- Diagnosis instruments --------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    name: str
    words: str
    points: int = 0


# Bristol diagnostic criteria for CRMO (Roderick MR, Shah R, Rogers V, Finn A, Ramanan AV.
# Pediatr Rheumatol 2016;14:47): typical clinical findings AND typical radiological findings AND
# either (1) more than one bone, or the clavicle alone, without significantly raised CRP
# (< 30 mg/L; the paper prints "g/L"), or (2) if unifocal (other than the clavicle) or CRP > 30,
# a bone biopsy with inflammatory changes and no bacterial growth while off antibiotics.
BRISTOL_ITEMS: tuple[Item, ...] = (
    Item("bristol_clinical", "Typical clinical findings: bone pain ± localised swelling without "
         "significant local or systemic features of inflammation or infection"),
    Item("bristol_radiological", "Typical radiological findings: X-ray lytic areas, sclerosis and "
         "new bone formation, or (preferably) STIR MRI bone-marrow oedema ± bone expansion, "
         "lytic areas, periosteal reaction"),
    Item("bristol_multifocal", "More than one bone involved, or the clavicle alone"),
    Item("bristol_crp_below_30", "CRP below 30 mg/L"),
    Item("bristol_biopsy", "Bone biopsy: inflammatory changes (plasma cells, osteoclasts, fibrosis "
         "or sclerosis), no bacterial growth, taken off antibiotics"),
)  # fmt: skip


def _and(*values: bool | None) -> bool | None:
    if any(value is False for value in values):
        return False
    return None if any(value is None for value in values) else True


def _or(*values: bool | None) -> bool | None:
    if any(value is True for value in values):
        return True
    return None if any(value is None for value in values) else False


def bristol_met(items: Mapping[str, bool | None]) -> bool | None:
    """Met, not met, or None when an unrecorded item (None) could still decide it."""
    return _and(
        items["bristol_clinical"],
        items["bristol_radiological"],
        _or(_and(items["bristol_multifocal"], items["bristol_crp_below_30"]),
            items["bristol_biopsy"]),
    )  # fmt: skip


# Jansson clinical score for nonbacterial osteitis (Jansson AF et al. Arthritis Rheum
# 2009;60:1152–9), seven predictors, 0–63 points. The abstract states the predictors in this order
# of odds ratio (81.5, 30.0, 26.8, 20.3, 13.9, 10.9, 6.9) and the 0–63 range; the points per item
# are those of the paper's score table as the registry's authors know them, not checked against
# the table itself: they sum to 63 and equal round(3 × ln OR) for every item.
# The registry derives the score only; it does not classify (the paper's ≥ 39 is not applied).
JANSSON_ITEMS: tuple[Item, ...] = (
    Item("jansson_normal_blood_count", "Normal blood cell count", 13),
    Item("jansson_symmetric_lesions", "Symmetric lesions", 10),
    Item("jansson_marginal_sclerosis", "Lesions with marginal sclerosis", 10),
    Item("jansson_normal_temperature", "Normal body temperature", 9),
    Item("jansson_vertebral_clavicular_sternal", "Vertebral, clavicular or sternal lesions", 8),
    Item("jansson_two_or_more_lesions", "Radiologically proven lesions ≥ 2", 7),
    Item("jansson_crp_1_mg_dl", "CRP ≥ 1 mg/dL", 6),
)
JANSSON_MAX = sum(item.points for item in JANSSON_ITEMS)


def jansson_score(items: Mapping[str, bool | None]) -> int | None:
    """The score when every item is recorded (present or absent); None when one is not."""
    values = [items[item.name] for item in JANSSON_ITEMS]
    if any(value is None for value in values):
        return None
    return sum(item.points for item, value in zip(JANSSON_ITEMS, values, strict=True) if value)
