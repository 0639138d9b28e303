"""Test data builders. They write rows directly (not through the services) so that a test can set
up any state, including ones the services would refuse; tests of the services call them."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from registry.models import (
    ANALYTE_UNITS,
    NO_UNIT,
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ConsentDocument,
    ImagingStudy,
    InfliximabProduct,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    Membership,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    Role,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
)


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.LazyAttribute(lambda o: f"Clinic {o.code}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = Role.CLINICIAN


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    registry_code = factory.Sequence(lambda n: f"CRMO-{900000 + n:06d}")
    mrn = factory.Sequence(lambda n: f"MRN{n:07d}")
    given_name = "Ada"
    family_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = dt.date(2012, 3, 14)
    sex = "female"
    diagnosed_on = dt.date(2023, 1, 10)

    @classmethod
    def _create(
        cls,
        model_class: type[Patient],
        *args: object,
        research_consent_given_on: dt.date | None = None,
        research_consent_withdrawn_on: dt.date | None = None,
        **kwargs: object,
    ) -> Patient:
        """`research_consent_given_on` (and `…_withdrawn_on`): a consent record giving research
        exports (a parent's, every scope), the shorthand of tests of the consent gate."""
        patient = super()._create(model_class, *args, **kwargs)
        if research_consent_given_on is not None:
            ConsentFactory(
                patient=patient,
                given_on=research_consent_given_on,
                research_withdrawn_on=research_consent_withdrawn_on,
            )
        return patient


class CourseFactory(factory.django.DjangoModelFactory[TreatmentCourse]):
    class Meta:
        model = TreatmentCourse

    patient = factory.SubFactory(PatientFactory)
    started_on = dt.date(2025, 1, 6)
    planned_dose_mg_per_kg = Decimal("5")
    induction_weeks = factory.LazyFunction(lambda: [0, 2, 6])
    maintenance_interval_weeks = 8


class RegimenChangeFactory(factory.django.DjangoModelFactory[RegimenChange]):
    class Meta:
        model = RegimenChange

    course = factory.SubFactory(CourseFactory)
    effective_on = dt.date(2026, 3, 1)
    dose_mg_per_kg = Decimal("5")
    interval_weeks = 10
    reason = "taper"


class InfusionFactory(factory.django.DjangoModelFactory[Infusion]):
    class Meta:
        model = Infusion

    course = factory.SubFactory(CourseFactory)
    given_on = factory.LazyAttribute(lambda o: o.course.started_on)
    weight_kg = Decimal("40")
    weight_measured_on = factory.LazyAttribute(lambda o: o.given_on)
    dose_mg = Decimal("200")
    duration_minutes = 120


class ReactionFactory(factory.django.DjangoModelFactory[InfusionReaction]):
    class Meta:
        model = InfusionReaction

    infusion = factory.SubFactory(InfusionFactory)
    onset = "acute"
    severity = "mild"
    symptoms = "Flushing and itch during the infusion"


class LabResultFactory(factory.django.DjangoModelFactory[LabResult]):
    class Meta:
        model = LabResult

    patient = factory.SubFactory(PatientFactory)
    collected_on = dt.date(2025, 1, 6)
    analyte = "crp"
    value = Decimal("3.2")
    # The test's fixed unit; none for antibodies and other tests (the database refuses others).
    unit = factory.LazyAttribute(lambda result: ANALYTE_UNITS.get(result.analyte, NO_UNIT))


class ImagingStudyFactory(factory.django.DjangoModelFactory[ImagingStudy]):
    class Meta:
        model = ImagingStudy

    patient = factory.SubFactory(PatientFactory)
    performed_on = dt.date(2025, 1, 2)
    modality = "wb_mri"
    active_lesions = 3
    new_lesions = 0
    # Counts written directly are counts recorded without sites (the services derive the rest).
    lesion_counts = factory.LazyAttribute(
        lambda s: "recorded" if (s.active_lesions, s.new_lesions) != (None, None) else ""
    )


class AssessmentFactory(factory.django.DjangoModelFactory[ClinicalAssessment]):
    class Meta:
        model = ClinicalAssessment

    patient = factory.SubFactory(PatientFactory)
    assessed_on = dt.date(2025, 3, 17)
    pain_score = Decimal("2")
    physician_global = Decimal("2")
    patient_global = Decimal("3")
    clinically_active_lesions = 1
    lesion_counts = factory.LazyAttribute(
        lambda a: "recorded" if a.clinically_active_lesions is not None else ""
    )


class RelapseFactory(factory.django.DjangoModelFactory[Relapse]):
    class Meta:
        model = Relapse

    course = factory.SubFactory(
        CourseFactory, stopped_on=dt.date(2026, 2, 1), stop_reason="remission"
    )
    patient = factory.LazyAttribute(lambda o: o.course.patient)
    noted_on = dt.date(2026, 6, 1)
    evidence = "New tibial lesion on whole-body MRI"


class ProductFactory(factory.django.DjangoModelFactory[InfliximabProduct]):
    """A product of the list (get or create by code: migration 0008 seeds the usual ones, which a
    transactional test's flush removes)."""

    class Meta:
        model = InfliximabProduct
        django_get_or_create = ("code",)

    code = "remicade"
    name = factory.LazyAttribute(lambda o: o.code.capitalize())
    manufacturer = "Janssen Biologics B.V."
    is_biosimilar = factory.LazyAttribute(lambda o: o.code != "remicade")


class MedicationFactory(factory.django.DjangoModelFactory[Medication]):
    class Meta:
        model = Medication

    patient = factory.SubFactory(PatientFactory)
    drug = "naproxen"
    dose = Decimal("5")
    dose_unit = "mg/kg"
    route = "oral"
    frequency = "twice_daily"
    started_on = dt.date(2024, 6, 3)


class AdverseEventFactory(factory.django.DjangoModelFactory[AdverseEvent]):
    """A mild, non-serious upper respiratory infection, recovered a week later."""

    class Meta:
        model = AdverseEvent

    patient = factory.SubFactory(PatientFactory)
    onset_on = dt.date(2026, 10, 5)
    term = "upper_respiratory_infection"
    grade = 1
    relation_to_infliximab = "unlikely_related"
    action_taken = "none"
    outcome = "recovered"
    resolved_on = factory.LazyAttribute(lambda o: o.onset_on + dt.timedelta(days=7))


class ScreeningResultFactory(factory.django.DjangoModelFactory[ScreeningResult]):
    class Meta:
        model = ScreeningResult

    patient = factory.SubFactory(PatientFactory)
    test = "tb_igra"
    tested_on = dt.date(2024, 12, 16)
    result = "negative"


def screen(patient: Patient, tested_on: dt.date, **results: str) -> list[ScreeningResult]:
    """The screening before a biologic on `tested_on`: IGRA, HBsAg and anti-HBc, negative unless
    `results` says otherwise (by test, e.g. hbv_anti_hbc="positive")."""
    tests = {"tb_igra": "negative", "hbv_hbsag": "negative", "hbv_anti_hbc": "negative"}
    return [
        ScreeningResultFactory(patient=patient, test=test, tested_on=tested_on, result=result)
        for test, result in (tests | results).items()
    ]


class VaccinationFactory(factory.django.DjangoModelFactory[Vaccination]):
    class Meta:
        model = Vaccination

    patient = factory.SubFactory(PatientFactory)
    vaccine = "influenza_inactivated"
    given_on = dt.date(2025, 10, 1)


def acting_superuser() -> User:
    """Someone every role check lets through: for tests about validation, not about roles."""
    return UserFactory(username="root", is_superuser=True)


# The documents migration registry.0017 seeds: who signs each, and the scopes it covers.
SEEDED_DOCUMENTS = {
    "legacy-research-consent": ("0", "not_recorded", False, True, False),
    "parent-guardian-consent": ("1", "parent_guardian", True, True, True),
    "young-person-consent": ("1", "patient", True, True, True),
}


def consent_document(code: str = "parent-guardian-consent") -> ConsentDocument:
    """A document seeded by migration registry.0017 (made again after a transactional test
    emptied the tables)."""
    version, signed_by, care, research, contact = SEEDED_DOCUMENTS[code]
    document, _created = ConsentDocument.objects.get_or_create(
        code=code,
        version=version,
        defaults={
            "title": code.replace("-", " ").capitalize(),
            "signed_by": signed_by,
            "covers_care_data": care,
            "covers_research": research,
            "covers_contact": contact,
        },
    )
    return document


class ConsentFactory(factory.django.DjangoModelFactory[Consent]):
    """A parent's consent to every scope, the child's assent not applicable."""

    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    document = factory.LazyFunction(consent_document)
    consented_by = "parent_guardian"
    assent = "not_applicable"
    care_data_given = True
    research_given = True
    contact_given = True
    given_on = dt.date(2024, 1, 10)


class PhenotypeFactory(factory.django.DjangoModelFactory[Phenotype]):
    class Meta:
        model = Phenotype

    patient = factory.SubFactory(PatientFactory)
    first_symptoms_on = dt.date(2022, 9, 1)
    family_history = "no"


class ComorbidityFactory(factory.django.DjangoModelFactory[Comorbidity]):
    class Meta:
        model = Comorbidity

    patient = factory.SubFactory(PatientFactory)
    condition = "psoriasis"
    onset_on = dt.date(2024, 5, 1)
