"""The managed lists of the safety record, and what each entry means: adverse-event terms (aligned
with CTCAE v5.0, which is public domain), the screening tests a biologic needs, and vaccines with
whether each is live.

A term's code is the MedDRA lowest level term (LLT) of its CTCAE v5.0 term where the registry is
sure of it (CTCAE v5.0 terms are MedDRA LLTs; the codes below are those CTCAE publishes). Events
CTCAE v5.0 has no term of its own for — tuberculosis, herpes zoster, psoriasis, lupus-like
syndrome, demyelination, the malignancies — are coded as CTCAE codes them, "<SOC> - Other,
specify", with the registry's name as what is specified; their code is that text, never a guessed
MedDRA number. (CTCAE v5.0 has no "Lupus-like syndrome": its nearest term, "Autoimmune disorder",
would lose the one distinction a TNF-inhibitor registry follows.)
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class SpecialInterest(models.TextChoices):
    """Adverse events of special interest of TNF inhibitors (the labels' warnings; the drug-safety
    registries' lists). Derived from the term (and seriousness), never typed: see `coding`."""

    SERIOUS_INFECTION = "serious_infection", "Serious infection"
    TUBERCULOSIS = "tuberculosis", "Tuberculosis"
    PARADOXICAL_PSORIASIS = "paradoxical_psoriasis", "Paradoxical psoriasis"
    LUPUS_LIKE_SYNDROME = "lupus_like_syndrome", "Lupus-like syndrome"
    DEMYELINATION = "demyelination", "Demyelination or peripheral neuropathy"
    MALIGNANCY = "malignancy", "Malignancy"


class AdverseEventTerm(models.TextChoices):
    UPPER_RESPIRATORY_INFECTION = "upper_respiratory_infection", "Upper respiratory infection"
    LUNG_INFECTION = "lung_infection", "Lung infection (pneumonia)"
    SEPSIS = "sepsis", "Sepsis"
    SKIN_INFECTION = "skin_infection", "Skin infection"
    URINARY_TRACT_INFECTION = "urinary_tract_infection", "Urinary tract infection"
    HERPES_ZOSTER = "herpes_zoster", "Herpes zoster"
    TUBERCULOSIS = "tuberculosis", "Tuberculosis"
    OTHER_INFECTION = "other_infection", "Other infection (name it)"
    PSORIASIS = "psoriasis", "Psoriasis (paradoxical)"
    LUPUS_LIKE_SYNDROME = "lupus_like_syndrome", "Lupus-like syndrome"
    DEMYELINATION = "demyelination", "Demyelination (central)"
    PERIPHERAL_SENSORY_NEUROPATHY = "peripheral_sensory_neuropathy", "Peripheral sensory neuropathy"
    PERIPHERAL_MOTOR_NEUROPATHY = "peripheral_motor_neuropathy", "Peripheral motor neuropathy"
    LYMPHOMA = "lymphoma", "Lymphoma"
    LEUKAEMIA = "leukaemia", "Leukaemia"
    MELANOMA = "melanoma", "Melanoma"
    SKIN_CANCER = "skin_cancer", "Skin cancer other than melanoma"
    OTHER_MALIGNANCY = "other_malignancy", "Other malignancy (name it)"
    ALT_INCREASED = "alt_increased", "Alanine aminotransferase (ALT) increased"
    NEUTROPHIL_COUNT_DECREASED = "neutrophil_count_decreased", "Neutrophil count decreased"
    # An infusion reaction is an InfusionReaction (its infusion, onset, review and the infusion
    # hold); the term is here so that reactions are coded like every other adverse event.
    INFUSION_RELATED_REACTION = "infusion_related_reaction", "Infusion related reaction"
    OTHER = "other", "Other (name it)"


@dataclass(frozen=True)
class Coding:
    """What a term is: its CTCAE v5.0 term and code, and what kind of event it is."""

    ctcae_term: str  # the CTCAE v5.0 term, or "<SOC> - Other, specify: <what>"
    meddra_llt: str  # the CTCAE term's MedDRA LLT code; "" for an "Other, specify" term
    infection: bool = False  # serious infections are events of special interest
    special_interest: str = ""  # a SpecialInterest, whatever the seriousness
    named: bool = False  # the person names the event (the "specify" of "Other, specify")

    @property
    def code(self) -> str:
        """The term's code: the MedDRA LLT, or the CTCAE term text where there is none."""
        return self.meddra_llt or self.ctcae_term


_INFECTIONS = "Infections and infestations - Other, specify"
_NEOPLASMS = "Neoplasms benign, malignant and unspecified (incl cysts and polyps) - Other, specify"
_T = AdverseEventTerm
_S = SpecialInterest

CODINGS: dict[str, Coding] = {
    _T.UPPER_RESPIRATORY_INFECTION: Coding("Upper respiratory infection", "10046300", True),
    _T.LUNG_INFECTION: Coding("Lung infection", "10061229", True),
    _T.SEPSIS: Coding("Sepsis", "10040047", True),
    _T.SKIN_INFECTION: Coding("Skin infection", "10040872", True),
    _T.URINARY_TRACT_INFECTION: Coding("Urinary tract infection", "10046571", True),
    _T.HERPES_ZOSTER: Coding(f"{_INFECTIONS}: Herpes zoster", "", True),
    _T.TUBERCULOSIS: Coding(f"{_INFECTIONS}: Tuberculosis", "", True, _S.TUBERCULOSIS),
    _T.OTHER_INFECTION: Coding(_INFECTIONS, "", True, named=True),
    _T.PSORIASIS: Coding(
        "Skin and subcutaneous tissue disorders - Other, specify: Psoriasis",
        "",
        special_interest=_S.PARADOXICAL_PSORIASIS,
    ),
    _T.LUPUS_LIKE_SYNDROME: Coding(
        "Immune system disorders - Other, specify: Lupus-like syndrome",
        "",
        special_interest=_S.LUPUS_LIKE_SYNDROME,
    ),
    _T.DEMYELINATION: Coding(
        "Nervous system disorders - Other, specify: Demyelination",
        "",
        special_interest=_S.DEMYELINATION,
    ),
    # TNF inhibitors' labels warn of peripheral demyelination too (Guillain-Barré, CIDP); a
    # registry cannot tell it from another neuropathy, so each neuropathy is of special interest.
    _T.PERIPHERAL_SENSORY_NEUROPATHY: Coding(
        "Peripheral sensory neuropathy", "10034620", special_interest=_S.DEMYELINATION
    ),
    _T.PERIPHERAL_MOTOR_NEUROPATHY: Coding(
        "Peripheral motor neuropathy", "10034580", special_interest=_S.DEMYELINATION
    ),
    _T.LYMPHOMA: Coding(f"{_NEOPLASMS}: Lymphoma", "", special_interest=_S.MALIGNANCY),
    _T.LEUKAEMIA: Coding(f"{_NEOPLASMS}: Leukaemia", "", special_interest=_S.MALIGNANCY),
    _T.MELANOMA: Coding(f"{_NEOPLASMS}: Melanoma", "", special_interest=_S.MALIGNANCY),
    _T.SKIN_CANCER: Coding(
        f"{_NEOPLASMS}: Skin cancer other than melanoma", "", special_interest=_S.MALIGNANCY
    ),
    _T.OTHER_MALIGNANCY: Coding(_NEOPLASMS, "", special_interest=_S.MALIGNANCY, named=True),
    _T.ALT_INCREASED: Coding("Alanine aminotransferase increased", "10001551"),
    _T.NEUTROPHIL_COUNT_DECREASED: Coding("Neutrophil count decreased", "10029366"),
    _T.INFUSION_RELATED_REACTION: Coding("Infusion related reaction", "10051792"),
    _T.OTHER: Coding("Other, specify", "", named=True),
}

# What an AdverseEvent may be: every term but the infusion reaction's (an InfusionReaction).
RECORDED_TERMS: tuple[str, ...] = tuple(
    term for term in AdverseEventTerm.values if term != AdverseEventTerm.INFUSION_RELATED_REACTION
)
NAMED_TERMS: tuple[str, ...] = tuple(term for term, c in CODINGS.items() if c.named)
INFECTION_TERMS: tuple[str, ...] = tuple(term for term, c in CODINGS.items() if c.infection)
SPECIAL_INTEREST_TERMS: tuple[str, ...] = tuple(
    term for term, c in CODINGS.items() if c.special_interest
)


def special_interest(term: str, *, serious: bool) -> list[str]:
    """The events of special interest an event of this term is (serious infections by their
    seriousness): derived, so a flag can never disagree with the term."""
    coding = CODINGS[term]
    found = [coding.special_interest] if coding.special_interest else []
    if coding.infection and serious:
        found.insert(0, SpecialInterest.SERIOUS_INFECTION)
    return found


# --- Screening -----------------------------------------------------------------------------------


class ScreeningTest(models.TextChoices):
    TB_IGRA = "tb_igra", "TB: interferon-gamma release assay (IGRA)"
    TB_SKIN_TEST = "tb_skin_test", "TB: tuberculin skin test"
    TB_CHEST_XRAY = "tb_chest_xray", "TB: chest X-ray"
    HBV_SURFACE_ANTIGEN = "hbv_hbsag", "Hepatitis B surface antigen (HBsAg)"
    HBV_CORE_ANTIBODY = "hbv_anti_hbc", "Hepatitis B core antibody (anti-HBc)"
    HBV_SURFACE_ANTIBODY = "hbv_anti_hbs", "Hepatitis B surface antibody (anti-HBs)"
    HCV_ANTIBODY = "hcv_antibody", "Hepatitis C antibody"
    HIV = "hiv", "HIV antigen/antibody"
    VARICELLA_IGG = "varicella_igg", "Varicella zoster IgG"


class ScreeningOutcome(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    INDETERMINATE = "indeterminate", "Indeterminate"


TB_TESTS: tuple[str, ...] = (
    ScreeningTest.TB_IGRA,
    ScreeningTest.TB_SKIN_TEST,
    ScreeningTest.TB_CHEST_XRAY,
)
HBV_TESTS: tuple[str, ...] = (
    ScreeningTest.HBV_SURFACE_ANTIGEN,
    ScreeningTest.HBV_CORE_ANTIBODY,
    ScreeningTest.HBV_SURFACE_ANTIBODY,
)
# Tests of immunity: positive means protected (vaccinated, or past infection for varicella), which
# needs no specialist; negative means a vaccine may be due.
IMMUNITY_TESTS: tuple[str, ...] = (
    ScreeningTest.HBV_SURFACE_ANTIBODY,
    ScreeningTest.VARICELLA_IGG,
)
# A result that is not clearly negative calls for a specialist's review before the next infusion
# (latent TB, hepatitis B reactivation): every test but the tests of immunity.
NOT_NEGATIVE: tuple[str, ...] = (ScreeningOutcome.POSITIVE, ScreeningOutcome.INDETERMINATE)
# The tests whose result, not negative and not yet reviewed, holds every infusion (GUIDELINE:
# screening_positive): latent TB and hepatitis B, as the label warns of them. Hepatitis C and HIV
# wait on their review in the record ("awaiting review") without holding infusions.
HOLDING_TESTS: tuple[str, ...] = (
    *TB_TESTS,
    ScreeningTest.HBV_SURFACE_ANTIGEN,
    ScreeningTest.HBV_CORE_ANTIBODY,
)


def needs_specialist(test: str, result: str) -> bool:
    return test not in IMMUNITY_TESTS and result in NOT_NEGATIVE


# --- Vaccines ------------------------------------------------------------------------------------


class Vaccine(models.TextChoices):
    MMR = "mmr", "Measles, mumps and rubella (MMR)"
    MMRV = "mmrv", "Measles, mumps, rubella and varicella (MMRV)"
    VARICELLA = "varicella", "Varicella"
    BCG = "bcg", "BCG (tuberculosis)"
    ROTAVIRUS = "rotavirus", "Rotavirus"
    YELLOW_FEVER = "yellow_fever", "Yellow fever"
    INFLUENZA_LIVE = "influenza_live", "Influenza, live attenuated (nasal, LAIV)"
    TYPHOID_ORAL = "typhoid_oral", "Typhoid, oral (Ty21a)"
    INFLUENZA_INACTIVATED = "influenza_inactivated", "Influenza, inactivated (injected)"
    PNEUMOCOCCAL_CONJUGATE = "pneumococcal_conjugate", "Pneumococcal conjugate (PCV)"
    PNEUMOCOCCAL_POLYSACCHARIDE = "pneumococcal_polysaccharide", "Pneumococcal polysaccharide"
    HEPATITIS_A = "hepatitis_a", "Hepatitis A"
    HEPATITIS_B = "hepatitis_b", "Hepatitis B"
    DTAP_IPV = "dtap_ipv", "Diphtheria, tetanus, pertussis, polio (combined, with or without Hib)"
    MENINGOCOCCAL_ACWY = "meningococcal_acwy", "Meningococcal ACWY"
    MENINGOCOCCAL_B = "meningococcal_b", "Meningococcal B"
    HPV = "hpv", "Human papillomavirus (HPV)"
    COVID_19 = "covid_19", "COVID-19"
    ZOSTER_RECOMBINANT = "zoster_recombinant", "Herpes zoster, recombinant (not live)"
    TYPHOID_INJECTED = "typhoid_injected", "Typhoid, injected (Vi polysaccharide)"


# Live attenuated vaccines: contraindicated on infliximab (the label; BSPAR and ACR guidance).
LIVE_VACCINES: frozenset[str] = frozenset(
    {
        Vaccine.MMR,
        Vaccine.MMRV,
        Vaccine.VARICELLA,
        Vaccine.BCG,
        Vaccine.ROTAVIRUS,
        Vaccine.YELLOW_FEVER,
        Vaccine.INFLUENZA_LIVE,
        Vaccine.TYPHOID_ORAL,
    }
)


# --- Codes of other code systems, only where the registry is certain of them ---------------------

# LOINC codes of the screening tests. Only HBsAg has one the registry is certain of: the others
# have several LOINC codes (by method, specimen, qualitative or quantitative), and the registry
# records no method, so it chooses none rather than guess one (the exports say so).
SCREENING_LOINC: dict[str, str] = {
    ScreeningTest.HBV_SURFACE_ANTIGEN: "5196-1",  # Hepatitis B virus surface Ag [Presence]
}
# CDC CVX codes (HL7 table 0292) of the vaccines where one code is certainly this vaccine (checked
# against the CDC's CVX table); the rest are coded in the registry's own code system only: their
# CVX code depends on a formulation the registry does not record (rotavirus RV1 or RV5, a
# trivalent or quadrivalent influenza, …).
VACCINE_CVX: dict[str, str] = {
    Vaccine.MMR: "03",
    Vaccine.VARICELLA: "21",
    Vaccine.YELLOW_FEVER: "37",
    Vaccine.TYPHOID_INJECTED: "101",  # typhoid Vi capsular polysaccharide
}
