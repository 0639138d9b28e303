"""Serializers: the clinical record as JSON. They validate with the model's own rules (so the API
refuses exactly what the UI refuses), refuse unknown fields, and offer only the caller's sites'
rows as related objects."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

from monitoring.models import Alert, AlertEvent
from registry.models import (
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    AdverseEventDecision,
    Analyte,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ConsentDocument,
    ConsentScope,
    ImagingStudy,
    InfliximabProduct,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    MedicationStopReason,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    ReviewDecision,
    ScreeningResult,
    Site,
    StopReason,
    TreatmentCourse,
    Vaccination,
    VaccinationReviewDecision,
    fixed_units_listed,
    lab_units_listed,
)
from registry.phenotype_codes import BRISTOL_ITEMS, FAMILY_CONDITIONS, JANSSON_ITEMS, JANSSON_MAX
from registry.safety_codes import SpecialInterest
from registry.selectors import staff_site_ids

# Where each model's site is, to scope the related objects a caller may name.
SITE_PATHS: dict[type[Model], str] = {
    Site: "pk",
    Patient: "site",
    TreatmentCourse: "patient__site",
    Infusion: "course__patient__site",
}


def scoped(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    path = SITE_PATHS[queryset.model]
    return queryset.filter(**{f"{path}__in": staff_site_ids(user)})


class RecordSerializer(serializers.ModelSerializer):
    clean_exclude: tuple[str, ...] = ()
    # Fields an action records: sending one names the action to use instead.
    owned_fields: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        for field in self.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and queryset.model in SITE_PATHS and request is not None:
                setattr(field, "queryset", scoped(queryset, request.user))  # noqa: B010

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [self.owned_fields.get(name, "Unknown or read-only field.")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The model's own validation (clean(), field checks) on the record as it would be."""
        model: Any = self.Meta.model
        record = copy.copy(self.instance) if self.instance else model()
        for name, value in attrs.items():
            setattr(record, name, value)
        try:
            record.full_clean(exclude=list(self.clean_exclude), validate_constraints=False)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs


TIMESTAMPS = ("created_at", "updated_at")


class ProductField(serializers.SlugRelatedField):
    """An infliximab product named by its code; anything else is refused naming the list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            slug_field="code",
            queryset=InfliximabProduct.objects.all(),
            required=False,
            allow_null=True,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as refused:
            codes = ", ".join(InfliximabProduct.objects.values_list("code", flat=True))
            raise serializers.ValidationError(
                f"“{data}” is not one of the registry's infliximab products ({codes})."
            ) from refused


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name"]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new patient",
            value={
                "site": "north",
                "mrn": "H1234567",
                "given_name": "Ada",
                "family_name": "Example",
                "date_of_birth": "2013-05-02",
                "sex": "female",
                "diagnosed_on": "2024-09-10",
            },
            request_only=True,
        )
    ]
)
class PatientSerializer(RecordSerializer):
    site = serializers.SlugRelatedField(slug_field="code", queryset=Site.objects.all())
    clean_exclude = ("registry_code",)

    class Meta:
        model = Patient
        fields = [
            "id",
            "site",
            "registry_code",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "diagnosed_on",
            *TIMESTAMPS,
        ]
        read_only_fields = ["registry_code", *TIMESTAMPS]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Start a course at the standard regimen",
            value={"patient": 1, "started_on": "2026-11-02"},
            request_only=True,
        )
    ]
)
class CourseSerializer(RecordSerializer):
    owned_fields = {"stopped_on": "Stop a course with POST /api/v1/courses/{id}/stop/."}
    product = ProductField(help_text="The infliximab product planned, by its code (e.g. remsima).")
    induction_weeks = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=52),
        required=False,
        help_text="Weeks after day 0 of the induction doses (default [0, 2, 6]).",
    )

    class Meta:
        model = TreatmentCourse
        fields = [
            "id",
            "patient",
            "drug",
            "started_on",
            "planned_dose_mg_per_kg",
            "induction_weeks",
            "maintenance_interval_weeks",
            "product",
            "stopped_on",
            "stop_reason",
            "notes",
            *TIMESTAMPS,
        ]
        # The stop is an action (POST …/courses/{id}/stop/); a stop reason may be corrected.
        read_only_fields = ["drug", "stopped_on", *TIMESTAMPS]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Taper to every 10 weeks",
            value={
                "course": 1,
                "effective_on": "2026-11-20",
                "dose_mg_per_kg": "5",
                "interval_weeks": 10,
                "reason": "taper",
            },
            request_only=True,
        )
    ]
)
class RegimenChangeSerializer(RecordSerializer):
    class Meta:
        model = RegimenChange
        fields = [
            "id",
            "course",
            "effective_on",
            "dose_mg_per_kg",
            "interval_weeks",
            "reason",
            "note",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An infusion of 5 mg/kg at 40 kg",
            value={
                "course": 1,
                "given_on": "2026-11-20",
                "weight_kg": "40.0",
                "weight_measured_on": "2026-11-20",
                "dose_mg": "200",
                "duration_minutes": 120,
                "premedication_antihistamine": True,
                "product": "remsima",
                "lot_number": "21B04A",
            },
            request_only=True,
        )
    ]
)
class InfusionSerializer(RecordSerializer):
    mg_per_kg = serializers.DecimalField(max_digits=6, decimal_places=2, read_only=True)
    weight_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send true to confirm a weight more than the guideline's weight_change_pct away "
        "from the patient's previous weight (within weight_change_window_days); without it such a "
        "weight is refused with both weights in the message.",
    )
    product = ProductField(
        help_text="The infliximab product given, by its code (e.g. remicade, remsima). Left out, "
        "it is the previous infusion's of the course (else the course's planned product)."
    )

    class Meta:
        model = Infusion
        fields = [
            "id",
            "course",
            "given_on",
            "weight_kg",
            "weight_measured_on",
            "weight_confirmed",
            "dose_mg",
            "mg_per_kg",
            "duration_minutes",
            "premedication_antihistamine",
            "premedication_corticosteroid",
            "premedication_antipyretic",
            "product",
            "lot_number",
            "notes",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A CRP result",
            value={"patient": 1, "collected_on": "2026-11-20", "analyte": "crp", "value": "3.2"},
            request_only=True,
        )
    ]
)
class LabResultSerializer(RecordSerializer):
    # Text, not the model's choices: clean() refuses a unit naming the units of the result's test
    # (a choice field's refusal could not say which those are).
    unit = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"{fixed_units_listed()} (set when empty); antibodies: "
        f"{lab_units_listed(Analyte.ANTI_INFLIXIMAB_ANTIBODIES)}; "
        f"other tests: {lab_units_listed(Analyte.OTHER)}.",
    )

    class Meta:
        model = LabResult
        fields = [
            "id",
            "patient",
            "collected_on",
            "analyte",
            "analyte_name",
            "value",
            "unit",
            "antibodies_positive",
            "assay_name",
            "reference_low",
            "reference_high",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


class LesionSiteSerializer(serializers.ModelSerializer):
    """One lesion site; validated by the model with its study or assessment (`lesion_sites_set`
    names a refused site by its number)."""

    class Meta:
        model = LesionSite
        fields = [
            "bone",
            "vertebral_level",
            "laterality",
            "active",
            "new",
            "resolved",
            "vertebral_fracture",
        ]


class WithLesionSites(RecordSerializer):
    """Nested `lesion_sites`: on a create the record's sites; on a correction, when sent, they
    replace the stored ones. The counts are then derived from them (`lesion_counts` says so)."""

    lesion_sites = LesionSiteSerializer(many=True, required=False)
    clean_exclude = ("lesion_sites",)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sites = attrs.pop("lesion_sites", None)
        attrs = super().validate(attrs)
        if sites is not None:
            attrs["lesion_sites"] = sites
        return attrs


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A whole-body MRI",
            value={
                "patient": 1,
                "performed_on": "2026-11-20",
                "modality": "wb_mri",
                "impression": "improved",
                "lesion_sites": [
                    {
                        "bone": "vertebra",
                        "vertebral_level": "T7",
                        "laterality": "midline",
                        "active": True,
                        "vertebral_fracture": True,
                    },
                    {"bone": "clavicle", "laterality": "right", "active": True},
                ],
            },
            request_only=True,
        )
    ]
)
class ImagingStudySerializer(WithLesionSites):
    class Meta:
        model = ImagingStudy
        fields = [
            "id",
            "patient",
            "performed_on",
            "modality",
            "active_lesions",
            "new_lesions",
            "lesion_counts",
            "lesion_sites",
            "impression",
            "rinbo_total",
            "rai_cromris_total",
            "report_text",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An assessment in remission",
            value={
                "patient": 1,
                "assessed_on": "2026-11-20",
                "pain_score": "0",
                "physician_global": "0.5",
                "clinically_active_lesions": 0,
                "disease_state": "inactive",
            },
            request_only=True,
        )
    ]
)
class AssessmentSerializer(WithLesionSites):
    class Meta:
        model = ClinicalAssessment
        fields = [
            "id",
            "patient",
            "assessed_on",
            "pain_score",
            "physician_global",
            "patient_global",
            "chaq",
            "clinically_active_lesions",
            "lesion_counts",
            "lesion_sites",
            "disease_state",
            "notes",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


_REVIEW = "A clinician records the review with POST /api/v1/reactions/{id}/review/."


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A mild acute reaction",
            value={
                "infusion": 1,
                "onset": "acute",
                "severity": "mild",
                "symptoms": "Flushing and itch at 90 minutes",
                "outcome": "resolved",
            },
            request_only=True,
        )
    ]
)
class ReactionSerializer(RecordSerializer):
    owned_fields = {
        "reviewed_on": _REVIEW,
        "reviewed_by": _REVIEW,
        "review_decision": _REVIEW,
        "review_note": _REVIEW,
    }
    # Blank until a clinician reviews it (DRF drops allow_blank on a read-only model field).
    review_decision = serializers.ChoiceField(
        choices=ReviewDecision.choices, allow_blank=True, read_only=True
    )
    reviewed_by: Any = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = InfusionReaction
        fields = [
            "id",
            "infusion",
            "onset",
            "severity",
            "symptoms",
            "management",
            "infusion_stopped",
            "outcome",
            "reviewed_on",
            "reviewed_by",
            "review_decision",
            "review_note",
            *TIMESTAMPS,
        ]
        # The review is an action (POST …/reactions/{id}/review/), recorded with its clinician.
        read_only_fields = [
            "reviewed_on",
            "review_decision",
            "review_note",
            *TIMESTAMPS,
        ]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A relapse after stopping",
            value={
                "course": 1,
                "noted_on": "2026-11-20",
                "evidence": "New active lesion of the left tibia on whole-body MRI",
            },
            request_only=True,
        )
    ]
)
class RelapseSerializer(RecordSerializer):
    owned_fields = {
        "retreatment_course": "Start a retreatment with POST /api/v1/relapses/{id}/retreat/."
    }

    class Meta:
        model = Relapse
        fields = [
            "id",
            "patient",
            "course",
            "noted_on",
            "evidence",
            "retreatment_course",
            *TIMESTAMPS,
        ]
        # Retreatment is an action (POST …/relapses/{id}/retreat/): the new course and the link.
        read_only_fields = ["patient", "retreatment_course", *TIMESTAMPS]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        course = attrs.get("course") or (self.instance.course if self.instance else None)
        if course is not None:
            attrs["patient"] = course.patient
        return super().validate(attrs)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Weekly methotrexate",
            value={
                "patient": 1,
                "drug": "methotrexate",
                "dose": "15",
                "dose_unit": "mg/m2",
                "route": "subcutaneous",
                "frequency": "weekly",
                "started_on": "2026-09-01",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Naproxen before infliximab, stopped",
            value={
                "patient": 1,
                "drug": "naproxen",
                "dose": "5",
                "dose_unit": "mg/kg",
                "route": "oral",
                "frequency": "twice_daily",
                "started_on": "2025-03-01",
                "stopped_on": "2025-09-01",
                "stop_reason": "inefficacy",
            },
            request_only=True,
        ),
    ]
)
class MedicationSerializer(RecordSerializer):
    atc_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="The drug's WHO ATC code (none for “other”)."
    )

    class Meta:
        model = Medication
        fields = [
            "id",
            "patient",
            "drug",
            "drug_name",
            "atc_code",
            "dose",
            "dose_unit",
            "route",
            "frequency",
            "started_on",
            "stopped_on",
            "stop_reason",
            *TIMESTAMPS,
        ]
        read_only_fields = list(TIMESTAMPS)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Stopped: ineffective",
            value={"stopped_on": "2026-11-20", "reason": "inefficacy"},
            request_only=True,
        )
    ]
)
class MedicationStopSerializer(serializers.Serializer):
    stopped_on = serializers.DateField(help_text="The day it was stopped (not in the future).")
    reason = serializers.ChoiceField(choices=MedicationStopReason.choices)


# --- Alerts and the schedule ---------------------------------------------------------------------


class AlertEventSerializer(serializers.ModelSerializer):
    actor: Any = serializers.SlugRelatedField(  # none: the registry's own events
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = AlertEvent
        fields = ["at", "kind", "from_status", "to_status", "actor", "note"]


class AlertSerializer(serializers.ModelSerializer):
    registry_code = serializers.CharField(source="course.patient.registry_code", read_only=True)
    patient = serializers.IntegerField(source="course.patient_id", read_only=True)
    site = serializers.CharField(source="course.patient.site.code", read_only=True)
    grade = serializers.CharField(source="rule_info.grade", read_only=True)
    guideline_source = serializers.CharField(source="rule_info.source", read_only=True)
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "course",
            "patient",
            "registry_code",
            "site",
            "rule",
            "key",
            "severity",
            "status",
            "title",
            "explanation",
            "evidence",
            "grade",
            "guideline_source",
            "due_on",
            "first_raised_at",
            "last_seen_at",
            "resolved_at",
            "resolution_reason",
            "guideline_version",
            "events",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Stop in remission",
            value={
                "stopped_on": "2026-11-20",
                "reason": "remission",
                "note": "Inactive for 9 months; MRI clear.",
            },
            request_only=True,
        )
    ]
)
class CourseStopSerializer(serializers.Serializer):
    stopped_on = serializers.DateField(help_text="The day the course stopped (not in the future).")
    reason = serializers.ChoiceField(choices=StopReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Continue with premedication",
            value={
                "reviewed_on": "2026-11-20",
                "decision": "continue_premedicated",
                "note": "Cetirizine and hydrocortisone before each infusion; half rate.",
            },
            request_only=True,
        )
    ]
)
class ReactionReviewSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField()
    decision = serializers.ChoiceField(
        choices=ReviewDecision.choices,
        help_text="On further infusions; “stop” also stops the course (reason: adverse event).",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Retreat at the standard regimen",
            value={"started_on": "2026-11-20"},
            request_only=True,
        )
    ]
)
class RetreatmentSerializer(serializers.Serializer):
    started_on = serializers.DateField()
    planned_dose_mg_per_kg = serializers.DecimalField(
        max_digits=4, decimal_places=2, required=False, default=Decimal("5")
    )
    induction_weeks = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=52), required=False, default=[0, 2, 6]
    )
    maintenance_interval_weeks = serializers.IntegerField(
        min_value=1, max_value=52, required=False, default=8
    )
    product = ProductField(
        help_text="The infliximab product planned, by its code; left out, the earlier course's."
    )


# The API's error format, for the schema only (a field named `errors` would shadow
# Serializer.errors on a declared class).
ErrorSerializer = inline_serializer(
    "Error",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.JSONField(),
            required=False,
            help_text="Field name (or non_field_errors) → its messages (nested for list items); "
            "on a 400 only.",
        ),
    },
)


class AlertActionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AlertDismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why this alert does not apply.")


class ScheduledDoseSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    phase = serializers.CharField()
    due_on = serializers.DateField()
    given_on = serializers.DateField(allow_null=True)
    infusion = serializers.IntegerField(allow_null=True)
    days_late = serializers.IntegerField()


class ScheduleSerializer(serializers.Serializer):
    course = serializers.IntegerField()
    as_of = serializers.DateField()
    dose_mg_per_kg = serializers.DecimalField(max_digits=5, decimal_places=2)
    interval_weeks = serializers.IntegerField()
    doses = ScheduledDoseSerializer(many=True)
    next_dose = ScheduledDoseSerializer(allow_null=True)


# --- Safety: adverse events, screening results, vaccinations ------------------------------------

_EVENT_REVIEW = "A clinician records the review with POST /api/v1/adverse-events/{id}/review/."


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A serious lung infection, in hospital",
            value={
                "patient": 1,
                "course": 1,
                "onset_on": "2026-11-02",
                "term": "lung_infection",
                "grade": 3,
                "serious": True,
                "seriousness_hospitalisation": True,
                "relation_to_infliximab": "possibly_related",
                "action_taken": "infusion_delayed",
                "outcome": "recovered",
                "resolved_on": "2026-11-16",
            },
            request_only=True,
        )
    ]
)
class AdverseEventSerializer(RecordSerializer):
    owned_fields = {
        "reviewed_on": _EVENT_REVIEW,
        "reviewed_by": _EVENT_REVIEW,
        "review_decision": _EVENT_REVIEW,
    }
    # A number, not the model's choices: clean() refuses a grade outside 1–5 saying what the
    # grades are (a choice field's refusal could not).
    grade = serializers.IntegerField(
        help_text="CTCAE v5.0 grade: 1 mild, 2 moderate, 3 severe or medically significant, "
        "4 life-threatening, 5 death related to the event."
    )
    special_interest = serializers.ListField(
        child=serializers.ChoiceField(choices=SpecialInterest.choices),
        read_only=True,
        help_text="The events of special interest it is, from its term (and seriousness).",
    )
    ctcae_term = serializers.CharField(source="coding.ctcae_term", read_only=True)
    code = serializers.CharField(
        source="coding.code",
        read_only=True,
        help_text="The MedDRA LLT code of its CTCAE v5.0 term, or the CTCAE term's text for an "
        "“Other, specify” term.",
    )
    review_decision = serializers.ChoiceField(
        choices=AdverseEventDecision.choices, allow_blank=True, read_only=True
    )
    reviewed_by: Any = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "patient",
            "course",
            "onset_on",
            "term",
            "specified_term",
            "ctcae_term",
            "code",
            "grade",
            "serious",
            *SERIOUSNESS_FIELDS,
            "special_interest",
            "relation_to_infliximab",
            "action_taken",
            "outcome",
            "resolved_on",
            "reviewed_on",
            "reviewed_by",
            "review_decision",
            *TIMESTAMPS,
        ]
        # The review is an action (POST …/adverse-events/{id}/review/), with its clinician.
        read_only_fields = ["reviewed_on", *TIMESTAMPS]


_VACCINATION_REVIEW = (
    "A clinician records the review of a live vaccine with POST /api/v1/vaccinations/{id}/review/."
)
_SCREENING_REVIEW = (
    "A clinician records the review with POST /api/v1/screening-results/{id}/review/."
)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A negative IGRA before the first dose",
            value={
                "patient": 1,
                "test": "tb_igra",
                "tested_on": "2026-07-20",
                "result": "negative",
            },
            request_only=True,
        )
    ]
)
class ScreeningResultSerializer(RecordSerializer):
    owned_fields = {"reviewed_on": _SCREENING_REVIEW, "reviewed_by": _SCREENING_REVIEW}
    needs_specialist = serializers.BooleanField(
        read_only=True,
        help_text="Not negative (and not a test of immunity): a specialist reviews it before the "
        "next infusion.",
    )
    reviewed_by: Any = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ScreeningResult
        fields = [
            "id",
            "patient",
            "test",
            "tested_on",
            "result",
            "needs_specialist",
            "reviewed_on",
            "reviewed_by",
            *TIMESTAMPS,
        ]
        read_only_fields = ["reviewed_on", *TIMESTAMPS]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An inactivated influenza vaccine",
            value={"patient": 1, "vaccine": "influenza_inactivated", "given_on": "2026-10-12"},
            request_only=True,
        )
    ]
)
class VaccinationSerializer(RecordSerializer):
    owned_fields = {
        "reviewed_on": _VACCINATION_REVIEW,
        "reviewed_by": _VACCINATION_REVIEW,
        "review_decision": _VACCINATION_REVIEW,
        "review_note": _VACCINATION_REVIEW,
    }
    live = serializers.BooleanField(
        read_only=True, help_text="A live vaccine (contraindicated on infliximab)."
    )
    # Blank until a clinician reviews it (DRF drops allow_blank on a read-only model field).
    review_decision = serializers.ChoiceField(
        choices=VaccinationReviewDecision.choices, allow_blank=True, read_only=True
    )
    reviewed_by: Any = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Vaccination
        fields = [
            "id",
            "patient",
            "vaccine",
            "given_on",
            "live",
            "reviewed_on",
            "reviewed_by",
            "review_decision",
            "review_note",
            *TIMESTAMPS,
        ]
        # The review is an action (POST …/vaccinations/{id}/review/), with its clinician.
        read_only_fields = ["reviewed_on", "review_note", *TIMESTAMPS]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Bristol criteria met on clinical and radiological findings, multifocal, CRP < 30",
            value={
                "patient": 1,
                "first_symptoms_on": "2025-09-01",
                "bristol_clinical": True,
                "bristol_radiological": True,
                "bristol_multifocal": True,
                "bristol_crp_below_30": True,
                "family_history": "yes",
                "family_psoriasis": True,
            },
            request_only=True,
        )
    ]
)
class PhenotypeSerializer(RecordSerializer):
    """The patient's phenotype (one per patient). An item is true (present), false (absent) or
    null (not recorded); `bristol_met` and `jansson_score` are derived from the items."""

    bristol_met = serializers.BooleanField(
        read_only=True,
        allow_null=True,
        help_text="Bristol criteria met (Roderick et al. 2016), from the items; null while an "
        "unrecorded item could decide it.",
    )
    jansson_score = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=f"Jansson clinical score (0–{JANSSON_MAX}), the sum of the items' points; null "
        "while an item is not recorded.",
    )

    class Meta:
        model = Phenotype
        fields = [
            "id",
            "patient",
            "first_symptoms_on",
            *(item.name for item in BRISTOL_ITEMS),
            "bristol_met",
            *(item.name for item in JANSSON_ITEMS),
            "jansson_score",
            "family_history",
            *(f"family_{name}" for name in FAMILY_CONDITIONS),
            *TIMESTAMPS,
        ]
        read_only_fields = [*TIMESTAMPS]
        extra_kwargs = {
            # One per patient: `validate` says where the stored one is.
            "patient": {"validators": []},
            **{item.name: {"help_text": item.words} for item in BRISTOL_ITEMS},
            **{
                item.name: {"help_text": f"{item.words} ({item.points} points)"}
                for item in JANSSON_ITEMS
            },
            **{f"family_{name}": {"help_text": words} for name, words in FAMILY_CONDITIONS.items()},
        }

    clean_exclude = ("patient",)  # its uniqueness is checked below, in the API's words

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        patient = attrs.get("patient")
        if self.instance is None and patient is not None:
            stored = Phenotype.objects.filter(patient=patient).first()
            if stored is not None:
                raise serializers.ValidationError(
                    {
                        "patient": "This patient's phenotype is already recorded: correct it "
                        f"with PATCH /api/v1/phenotypes/{stored.pk}/."
                    }
                )
        if self.instance is not None and patient not in (None, self.instance.patient):
            raise serializers.ValidationError({"patient": "A phenotype stays with its patient."})
        return super().validate(attrs)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Palmoplantar pustulosis",
            value={"patient": 1, "condition": "ppp", "onset_on": "2025-03-01"},
            request_only=True,
        )
    ]
)
class ComorbiditySerializer(RecordSerializer):
    class Meta:
        model = Comorbidity
        fields = ["id", "patient", "condition", "onset_on", *TIMESTAMPS]
        read_only_fields = [*TIMESTAMPS]


@extend_schema_field(OpenApiTypes.STR)
class ConsentDocumentField(serializers.RelatedField):
    """A consent document named by its code and version ("parent-guardian-consent@1")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=ConsentDocument.objects.all(), **kwargs)

    def to_representation(self, value: Any) -> str:
        return f"{value.code}@{value.version}"

    def to_internal_value(self, data: Any) -> Any:
        code, _at, version = str(data).partition("@")
        found = ConsentDocument.objects.filter(code=code, version=version).first()
        if found is None:
            known = ", ".join(
                f"{c}@{v}" for c, v in ConsentDocument.objects.values_list("code", "version")
            )
            raise serializers.ValidationError(
                f"“{data}” is not one of the registry's consent documents ({known})."
            )
        return found


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A parent's consent to every scope, with the child's assent",
            value={
                "patient": 1,
                "document": "parent-guardian-consent@1",
                "consented_by": "parent_guardian",
                "assent": "given",
                "care_data_given": True,
                "research_given": True,
                "contact_given": True,
                "given_on": "2026-10-12",
            },
            request_only=True,
        )
    ]
)
class ConsentSerializer(RecordSerializer):
    owned_fields = dict.fromkeys(
        ("care_data_withdrawn_on", "research_withdrawn_on", "contact_withdrawn_on"),
        "Record a withdrawal with POST /api/v1/consents/{id}/withdraw/.",
    )
    document = ConsentDocumentField(help_text="The document signed, as code@version.")

    class Meta:
        model = Consent
        fields = [
            "id",
            "patient",
            "document",
            "consented_by",
            "assent",
            "care_data_given",
            "research_given",
            "contact_given",
            "given_on",
            "care_data_withdrawn_on",
            "research_withdrawn_on",
            "contact_withdrawn_on",
            *TIMESTAMPS,
        ]
        read_only_fields = [
            "care_data_withdrawn_on",
            "research_withdrawn_on",
            "contact_withdrawn_on",
            *TIMESTAMPS,
        ]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Research use withdrawn",
            value={"withdrawn_on": "2026-11-20", "scopes": ["research"]},
            request_only=True,
        )
    ]
)
class ConsentWithdrawalSerializer(serializers.Serializer):
    withdrawn_on = serializers.DateField()
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ConsentScope.choices),
        allow_empty=True,
        help_text="The scopes withdrawn (at least one, each given and not yet withdrawn).",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Continue infliximab",
            value={"reviewed_on": "2026-11-20", "decision": "continue"},
            request_only=True,
        )
    ]
)
class AdverseEventReviewSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField()
    decision = serializers.ChoiceField(
        choices=AdverseEventDecision.choices,
        help_text="On infliximab; “stop” also stops the patient's active course (reason: adverse "
        "event).",
    )


@extend_schema_serializer(
    examples=[OpenApiExample("Reviewed", value={"reviewed_on": "2026-11-20"}, request_only=True)]
)
class ScreeningReviewSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField(help_text="When the specialist's review was recorded.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Infusion deferred",
            value={
                "reviewed_on": "2026-11-20",
                "decision": "infusion_deferred",
                "note": "MMR at the GP; next infusion after the 90 days",
            },
            request_only=True,
        )
    ]
)
class VaccinationReviewSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField()
    decision = serializers.ChoiceField(
        choices=VaccinationReviewDecision.choices,
        help_text="On the infusions after a live vaccine: deferred until the interval has passed, "
        "or the risk accepted.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
