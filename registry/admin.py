"""Django admin for data managers: every list is scoped to the user's sites; whether a person may
change a record is decided by their role at the record's site; writes go through the same
actions as every other door (`registry.services.record_create` / `record_correct`).

A form is first tried through its action in a savepoint that is rolled back, so that what the
action refuses (an entry safeguard, a role, a field an action owns) shows as a form error rather
than an error page; saving then runs the action for real, once per page (one re-evaluation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from registry import roles, services
from registry.models import (
    AWAITING_REVIEW,
    GRADE_REFUSAL,
    SCREENING_AWAITING_REVIEW,
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    AdverseEventDecision,
    ClinicalAssessment,
    ClinicalRecord,
    Comorbidity,
    Consent,
    ConsentDocument,
    ConsentScope,
    ImagingStudy,
    InfliximabProduct,
    Infusion,
    InfusionQuerySet,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    Membership,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
    VaccinationReviewDecision,
    consent_in_force_q,
)
from registry.reevaluation import one_reevaluation
from registry.selectors import patient_prefix, staff_site_ids

SiteFilter = admin.RelatedOnlyFieldListFilter


def _scope(request: HttpRequest, queryset: QuerySet[Any], site_path: str) -> QuerySet[Any]:
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{site_path}__in": staff_site_ids(request.user)})


# Where each related model's site lives, to scope the choices of a foreign key.
_SITE_PATHS: dict[type, str] = {
    Site: "pk",
    Patient: "site",
    TreatmentCourse: "patient__site",
    Infusion: "course__patient__site",
}


class ScopedMixin:
    """Shows and offers only the rows of the user's sites; saves through the services."""

    site_scoped = True  # config.admin_scope makes every admin without this superuser-only
    site_path: str = "patient__site"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return _scope(request, super().get_queryset(request), self.site_path)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if related in _SITE_PATHS:
            kwargs["queryset"] = _scope(
                request, related._default_manager.all(), _SITE_PATHS[related]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class AuditedMixin(AuditedAdminMixin):
    """The admin's pages of patients' records are recorded in the access log (audit)."""

    site_path: str
    model: type[Any]

    def audit_patient_prefix(self) -> str | None:
        return patient_prefix(self.model, self.site_path)


class ScopedHistoryAdmin(ScopedMixin, SimpleHistoryAdmin):
    """Scoped, with its history pages scoped too.

    simple-history's history views look the object up in the historical table when it is not in
    `get_queryset` (to show deleted objects), which would show, and let a user revert, another
    site's records; and its revert view saves on POST with mere view permission.
    """

    def _out_of_scope(self, request: HttpRequest, object_id: str) -> HttpResponse | None:
        if request.user.is_superuser or self.get_object(request, unquote(object_id)):
            return None
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        refused = self._out_of_scope(request, object_id)
        return refused or super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        refused = self._out_of_scope(request, object_id)
        if refused:
            return refused
        if request.method == "POST" and not self.has_change_permission(
            request, self.get_object(request, unquote(object_id))
        ):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class _TriedOnly(Exception):
    """Rolls back the savepoint of a form's trial run through its action."""


def _through_action(form: ModelForm, by: User) -> ClinicalRecord:
    """Create or correct the form's record through its action (the changed fields only)."""
    instance = form.instance
    if instance.pk is None:
        return services.record_create(record=instance, by=by)
    stored = type(instance)._default_manager.get(pk=instance.pk)
    names = {f.name for f in instance._meta.concrete_fields}
    changes = {name: form.cleaned_data[name] for name in form.changed_data if name in names}
    return services.record_correct(record=stored, changes=changes, by=by)


def _as_form_errors(form: ModelForm, refused: ValidationError) -> None:
    """An action's refusal on the form: on its field when the form shows it, else on top."""
    errors = refused.message_dict if hasattr(refused, "error_dict") else {None: refused.messages}
    for name, messages_ in errors.items():
        form.add_error(name if name in form.fields else None, messages_)


def action_checked(form_class: type[ModelForm], by: User) -> type[ModelForm]:
    """The admin's form, validated by trying its action (then rolled back)."""

    class ActionCheckedForm(form_class):  # type: ignore[valid-type,misc]
        def _post_clean(self) -> None:
            super()._post_clean()
            if self.errors or (self.instance.pk is not None and not self.has_changed()):
                return
            try:
                with transaction.atomic():
                    _through_action(self, by)
                    raise _TriedOnly
            except _TriedOnly:
                pass
            except ValidationError as refused:
                _as_form_errors(self, refused)
            except PermissionDenied as refused:
                self.add_error(None, str(refused))

    return ActionCheckedForm


def _saved_into(obj: Any, saved: ClinicalRecord) -> None:
    """The admin goes on with its own object (logs, redirects): give it the saved values."""
    for model_field in saved._meta.concrete_fields:
        setattr(obj, model_field.attname, getattr(saved, model_field.attname))
    obj._state.adding = False


def _may_change(request: HttpRequest, model: type[Any], obj: Any) -> bool:
    """For a record of a site: the role at that site (a parent record's, for an inline)."""
    if not isinstance(obj, ClinicalRecord):
        return True
    permission = f"registry.change_{model._meta.model_name}"
    return roles.may(request.user, permission, services.site_id_of(obj))


class RecordAdmin(AuditedMixin, ScopedHistoryAdmin):
    """A clinical record: scoped, written through its action, never deleted (history keeps all)."""

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        return action_checked(super().get_form(request, obj, **kwargs), roles.acting(request.user))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        with one_reevaluation():  # the record and its inlines: one re-evaluation
            return super().changeform_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and _may_change(request, self.model, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        _saved_into(obj, _through_action(form, roles.acting(request.user)))

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            new = inline_form.instance.pk is None
            by = roles.acting(request.user)
            _saved_into(inline_form.instance, _through_action(inline_form, by))
            if new:
                formset.new_objects.append(inline_form.instance)
            else:
                formset.changed_objects.append((inline_form.instance, inline_form.changed_data))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecordInline(ScopedMixin, admin.TabularInline):
    """Rows of a stored record, checked and written through their actions like the page's own."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = action_checked(formset.form, roles.acting(request.user))
        return formset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows are added to a stored record, by a role that may add them at its site.
        if obj is None or not super().has_add_permission(request, obj):
            return False
        permission = f"registry.add_{self.model._meta.model_name}"
        return roles.may(request.user, permission, services.site_id_of(obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and _may_change(request, self.model, obj)


# --- Sites and people -----------------------------------------------------------------------------


@admin.register(Site)
class SiteAdmin(ScopedHistoryAdmin):
    site_path = "pk"
    ordering = ["code"]  # explicit: a Meta ordering is dropped from the annotated (grouped) query
    list_display = ["code", "name", "patient_count"]
    search_fields = ["code", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return super().get_queryset(request).annotate(n_patients=Count("patients"))

    @admin.display(description="patients", ordering="n_patients")
    def patient_count(self, site: Site) -> int:
        return site.n_patients  # type: ignore[attr-defined]


@admin.register(Membership)
class MembershipAdmin(ScopedHistoryAdmin):
    site_path = "site"
    list_display = ["user", "site", "role"]
    list_filter = ["role", ("site", SiteFilter)]
    search_fields = ["user__username", "user__email", "site__code"]
    autocomplete_fields = ["user", "site"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["site"]


UserModel = get_user_model()
admin.site.unregister(UserModel)


@admin.register(UserModel)
class RegistryUserAdmin(UserAdmin):
    inlines = [MembershipInline]


# --- Patients ------------------------------------------------------------------------------------


_COURSE_SUMMARY = (
    "started_on",
    "product",
    "planned_dose_mg_per_kg",
    "maintenance_interval_weeks",
    "stopped_on",
    "stop_reason",
)


class CourseInline(RecordInline):
    model = TreatmentCourse
    fields = _COURSE_SUMMARY
    readonly_fields = _COURSE_SUMMARY
    site_path = "patient__site"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a course is started from its own page, with its own validation


_MEDICATION_FIELDS = (
    "drug",
    "drug_name",
    "dose",
    "dose_unit",
    "route",
    "frequency",
    "started_on",
    "stopped_on",
    "stop_reason",
)


_CONSENT_SUMMARY = (
    "document",
    "consented_by",
    "assent",
    "given_on",
    "care_data_given",
    "research_given",
    "contact_given",
    "care_data_withdrawn_on",
    "research_withdrawn_on",
    "contact_withdrawn_on",
)


class ConsentInline(RecordInline):
    """The patient's consent records, shown; each is recorded and corrected on its own page."""

    model = Consent
    fields = _CONSENT_SUMMARY
    readonly_fields = _CONSENT_SUMMARY
    site_path = "patient__site"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MedicationInline(RecordInline):
    model = Medication
    fields = _MEDICATION_FIELDS
    site_path = "patient__site"


@admin.register(Patient)
class PatientAdmin(RecordAdmin):
    site_path = "site"
    list_display = [
        "registry_code",
        "site",
        "mrn",
        "family_name",
        "given_name",
        "date_of_birth",
        "sex",
        "on_treatment",
    ]
    list_display_links = ["registry_code", "mrn"]
    list_filter = [("site", SiteFilter), "sex"]
    search_fields = ["registry_code", "mrn", "given_name", "family_name"]
    readonly_fields = ["registry_code", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["registry_code", "site", "mrn"]}),
        ("Identity", {"fields": ["given_name", "family_name", "date_of_birth", "sex"]}),
        ("Diagnosis", {"fields": ["diagnosed_on"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [CourseInline, MedicationInline, ConsentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        active = TreatmentCourse.objects.filter(patient=OuterRef("pk"), stopped_on__isnull=True)
        return (
            super()
            .get_queryset(request)
            .select_related("site")
            .annotate(has_active_course=Exists(active))
        )

    @admin.display(boolean=True, description="on treatment", ordering="has_active_course")
    def on_treatment(self, patient: Patient) -> bool:
        return patient.has_active_course  # type: ignore[attr-defined]


# --- Courses ------------------------------------------------------------------------------------


class RegimenChangeInline(RecordInline):
    model = RegimenChange
    site_path = "course__patient__site"
    fields = ["effective_on", "dose_mg_per_kg", "interval_weeks", "reason", "note"]


class InfusionInline(RecordInline):
    model = Infusion
    site_path = "course__patient__site"
    fields = [
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "weight_confirmed",
        "dose_mg",
        "mg_per_kg",
        "week",
        "dose_number",
        "duration_minutes",
        "premedication_antihistamine",
        "premedication_corticosteroid",
        "premedication_antipyretic",
        "product",
        "lot_number",
    ]
    readonly_fields = ["mg_per_kg", "week", "dose_number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Infusion]:
        return cast(InfusionQuerySet, super().get_queryset(request)).with_course_position()

    @admin.display(description="mg/kg")
    def mg_per_kg(self, infusion: Infusion) -> Any:
        return infusion.mg_per_kg if infusion.pk else "—"

    @admin.display(description="week")
    def week(self, infusion: Infusion) -> Any:
        return infusion_week(infusion)

    @admin.display(description="dose no.")
    def dose_number(self, infusion: Infusion) -> Any:
        return getattr(infusion, "dose_number", None) or "—"


def infusion_week(infusion: Infusion) -> str:
    day_zero = getattr(infusion, "day_zero", None)
    if not infusion.pk or day_zero is None:
        return "—"
    days = (infusion.given_on - day_zero).days
    return f"{Infusion.week_of(infusion.given_on, day_zero)} (day {days})"


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(RecordAdmin):
    list_display = [
        "patient",
        "site",
        "started_on",
        "product",
        "regimen",
        "infusion_count",
        "last_infusion_on",
        "stopped_on",
        "stop_reason",
    ]
    list_filter = [("patient__site", SiteFilter), "stop_reason"]
    search_fields = [
        "patient__registry_code",
        "patient__mrn",
        "patient__given_name",
        "patient__family_name",
    ]
    date_hierarchy = "started_on"
    # Explicit: a Meta ordering is dropped from the annotated (grouped) query, and autocomplete
    # pages through `get_queryset` unordered.
    ordering = ["patient__registry_code", "started_on"]
    autocomplete_fields = ["patient"]
    inlines = [RegimenChangeInline, InfusionInline]
    # A course stops through its action (clinic page or API), which checks the last infusion.
    readonly_fields = ["stopped_on", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TreatmentCourse]:
        return (
            super()
            .get_queryset(request)
            .select_related("patient__site", "product")
            .annotate(n_infusions=Count("infusions"), last_given_on=Max("infusions__given_on"))
        )

    @admin.display(ordering="patient__site__code")
    def site(self, course: TreatmentCourse) -> str:
        return course.patient.site.code

    @admin.display(description="planned regimen")
    def regimen(self, course: TreatmentCourse) -> str:
        return f"{course.planned_dose_mg_per_kg} mg/kg q{course.maintenance_interval_weeks}w"

    @admin.display(description="infusions", ordering="n_infusions")
    def infusion_count(self, course: TreatmentCourse) -> int:
        return course.n_infusions  # type: ignore[attr-defined]

    @admin.display(description="last infusion", ordering="last_given_on")
    def last_infusion_on(self, course: TreatmentCourse) -> Any:
        return course.last_given_on  # type: ignore[attr-defined]


@admin.register(RegimenChange)
class RegimenChangeAdmin(RecordAdmin):
    site_path = "course__patient__site"
    list_display = ["course", "effective_on", "dose_mg_per_kg", "interval_weeks", "reason"]
    list_filter = [("course__patient__site", SiteFilter), "reason"]
    search_fields = ["course__patient__registry_code", "course__patient__mrn"]
    autocomplete_fields = ["course"]


# --- Infusions and reactions ----------------------------------------------------------------------


class ReactionInline(RecordInline):
    model = InfusionReaction
    site_path = "infusion__course__patient__site"
    fields = [
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
    ]
    # A review is a clinician's act, recorded with who did it (registry.services), not typed here.
    readonly_fields = ["reviewed_on", "reviewed_by", "review_decision", "review_note"]


@admin.register(Infusion)
class InfusionAdmin(RecordAdmin):
    site_path = "course__patient__site"
    list_display = [
        "patient_code",
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "weight_confirmed",
        "dose_mg",
        "mg_per_kg",
        "week",
        "dose_number",
        "premedicated",
        "product",
        "lot_number",
        "reaction_count",
    ]
    list_filter = [
        ("course__patient__site", SiteFilter),
        "product",
        "premedication_antihistamine",
        "premedication_corticosteroid",
    ]
    search_fields = [
        "course__patient__registry_code",
        "course__patient__mrn",
        "course__patient__family_name",
        "lot_number",
    ]
    date_hierarchy = "given_on"
    ordering = ["course__patient__registry_code", "course__started_on", "given_on"]  # as above
    autocomplete_fields = ["course"]
    readonly_fields = ["mg_per_kg", "week", "dose_number", "created_at", "updated_at"]
    inlines = [ReactionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Infusion]:
        infusions = cast(InfusionQuerySet, super().get_queryset(request))
        return (
            infusions.select_related("course__patient", "product")
            .with_course_position()
            .annotate(n_reactions=Count("reactions"))
        )

    @admin.display(description="patient", ordering="course__patient__registry_code")
    def patient_code(self, infusion: Infusion) -> str:
        return infusion.course.patient.registry_code

    @admin.display(description="mg/kg")
    def mg_per_kg(self, infusion: Infusion) -> Any:
        return infusion.mg_per_kg

    @admin.display(description="week")
    def week(self, infusion: Infusion) -> str:
        return infusion_week(infusion)

    @admin.display(description="dose no.", ordering="dose_number")
    def dose_number(self, infusion: Infusion) -> Any:
        return getattr(infusion, "dose_number", None) or "—"

    @admin.display(boolean=True)
    def premedicated(self, infusion: Infusion) -> bool:
        return infusion.premedicated

    @admin.display(description="reactions", ordering="n_reactions")
    def reaction_count(self, infusion: Infusion) -> int:
        return infusion.n_reactions  # type: ignore[attr-defined]


@admin.register(InfusionReaction)
class InfusionReactionAdmin(RecordAdmin):
    site_path = "infusion__course__patient__site"
    list_display = ["infusion", "patient_code", "onset", "severity", "outcome", "reviewed_on"]
    list_filter = [("infusion__course__patient__site", SiteFilter), "severity", "onset"]
    search_fields = ["infusion__course__patient__registry_code", "infusion__course__patient__mrn"]
    autocomplete_fields = ["infusion"]
    # A review is a clinician's act, recorded with who did it (registry.services), not typed here.
    readonly_fields = ["reviewed_on", "reviewed_by", "review_decision", "review_note"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InfusionReaction]:
        return super().get_queryset(request).select_related("infusion__course__patient")

    @admin.display(description="patient", ordering="infusion__course__patient__registry_code")
    def patient_code(self, reaction: InfusionReaction) -> str:
        return reaction.infusion.course.patient.registry_code


# --- Results and assessments ----------------------------------------------------------------------


class PatientRecordAdmin(RecordAdmin):
    """A record hanging off a patient: searchable by the patient's code, MRN and name."""

    search_fields = [
        "patient__registry_code",
        "patient__mrn",
        "patient__given_name",
        "patient__family_name",
    ]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]


class UnitToReviewFilter(admin.SimpleListFilter):
    title = "unit to review"
    parameter_name = "unit_to_review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes: the typed unit could not be mapped"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.exclude(unit_to_review="")
        if self.value() == "no":
            return queryset.filter(unit_to_review="")
        return queryset


@admin.register(LabResult)
class LabResultAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "collected_on",
        "analyte",
        "value",
        "unit",
        "antibodies_positive",
        "unit_to_review",
    ]
    list_filter = [("patient__site", SiteFilter), "analyte", UnitToReviewFilter]
    date_hierarchy = "collected_on"
    readonly_fields = ["unit_to_review"]
    actions = ["mark_unit_reviewed"]

    @admin.action(
        description="Mark the unit as reviewed (after correcting it; the history keeps the text)",
        permissions=["change"],
    )
    def mark_unit_reviewed(self, request: HttpRequest, queryset: QuerySet[LabResult]) -> None:
        count = 0
        by = roles.acting(request.user)
        for result in queryset.exclude(unit_to_review=""):
            try:
                services.lab_result_unit_reviewed(result=result, by=by)
                count += 1
            except PermissionDenied as refused:
                self.message_user(request, f"{result}: {refused}", messages.WARNING)
        self.message_user(request, f"{count} unit(s) marked as reviewed.")


_SITE_FIELDS = ["bone", "vertebral_level", "laterality", "active", "new", "resolved"]


class LesionSiteInline(ScopedMixin, admin.TabularInline):
    """A study's or assessment's lesion sites, validated row by row by the model and written all
    together by `lesion_sites_set` (which derives the counts); deleting a row removes the site."""

    model = LesionSite
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return roles.sites_where(request.user, "registry.change_lesionsite") != set()
        return _may_change(request, type(obj), obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


class ImagingSiteInline(LesionSiteInline):
    site_path = "imaging_study__patient__site"
    fk_name = "imaging_study"
    fields = [*_SITE_FIELDS, "vertebral_fracture"]


class AssessmentSiteInline(LesionSiteInline):
    site_path = "assessment__patient__site"
    fk_name = "assessment"
    fields = ["bone", "vertebral_level", "laterality"]


class WithLesionSitesAdmin(PatientRecordAdmin):
    """Saves the sites inline through `lesion_sites_set`, once, after the record itself."""

    readonly_fields = ["lesion_counts"]

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is not LesionSite:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not any(inline.has_changed() for inline in formset.forms):
            return None
        kept = [
            inline.instance
            for inline in formset.forms
            if inline.cleaned_data
            and not inline.cleaned_data.get("DELETE")
            and (inline.instance.pk is not None or inline.has_changed())
        ]
        sites = [
            LesionSite(
                **{name: getattr(site, name) for name in [*_SITE_FIELDS, "vertebral_fracture"]}
            )
            for site in kept
        ]
        saved = services.lesion_sites_set(
            record=form.instance, sites=sites, by=roles.acting(request.user)
        )
        _saved_into(form.instance, saved)
        return None


@admin.register(ImagingStudy)
class ImagingStudyAdmin(WithLesionSitesAdmin):
    list_display = [
        "patient",
        "performed_on",
        "modality",
        "active_lesions",
        "new_lesions",
        "lesion_counts",
        "impression",
    ]
    list_filter = [("patient__site", SiteFilter), "modality", "impression", "lesion_counts"]
    date_hierarchy = "performed_on"
    inlines = [ImagingSiteInline]


@admin.register(ClinicalAssessment)
class ClinicalAssessmentAdmin(WithLesionSitesAdmin):
    list_display = [
        "patient",
        "assessed_on",
        "pain_score",
        "physician_global",
        "patient_global",
        "chaq",
        "clinically_active_lesions",
        "lesion_counts",
        "disease_state",
    ]
    list_filter = [("patient__site", SiteFilter), "disease_state", "lesion_counts"]
    date_hierarchy = "assessed_on"
    inlines = [AssessmentSiteInline]


@admin.register(Phenotype)
class PhenotypeAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "first_symptoms_on",
        "bristol_met",
        "jansson_score",
        "family_history",
    ]
    list_filter = [("patient__site", SiteFilter), "family_history"]
    readonly_fields = ["bristol_met", "jansson_score"]

    @admin.display(description="Bristol criteria met", boolean=True)
    def bristol_met(self, phenotype: Phenotype) -> bool | None:
        return phenotype.bristol_met

    @admin.display(description="Jansson score (0–63)")
    def jansson_score(self, phenotype: Phenotype) -> int | None:
        return phenotype.jansson_score


@admin.register(Comorbidity)
class ComorbidityAdmin(PatientRecordAdmin):
    list_display = ["patient", "condition", "onset_on"]
    list_filter = [("patient__site", SiteFilter), "condition"]


@admin.register(Relapse)
class RelapseAdmin(PatientRecordAdmin):
    list_display = ["patient", "noted_on", "course", "retreatment_course"]
    list_filter = [("patient__site", SiteFilter)]
    autocomplete_fields = ["patient", "course"]
    readonly_fields = ["retreatment_course"]  # linked by the retreatment action


@admin.register(Medication)
class MedicationAdmin(PatientRecordAdmin):
    list_display = ["patient", "drug_label", *_MEDICATION_FIELDS[2:]]
    list_filter = [("patient__site", SiteFilter), "drug", "stop_reason"]
    date_hierarchy = "started_on"

    @admin.display(description="drug", ordering="drug")
    def drug_label(self, medication: Medication) -> str:
        return medication.drug_label


# --- The registry's lists -------------------------------------------------------------------------


@admin.register(InfliximabProduct)
class InfliximabProductAdmin(SimpleHistoryAdmin):
    """The managed list of products. It belongs to no site, so config.admin_scope makes it
    superuser-only: the list is the registry's, the same for every clinic."""

    list_display = [
        "name",
        "code",
        "manufacturer",
        "is_biosimilar",
        "atc_code",
        "ema_product_number",
        "rxnorm_cui",
    ]
    search_fields = ["name", "code", "manufacturer", "ema_product_number"]
    list_filter = ["is_biosimilar"]


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(SimpleHistoryAdmin):
    """The managed list of consent documents (each version approved by the ethics committee).
    It belongs to no site, so config.admin_scope makes it superuser-only."""

    list_display = [
        "title",
        "code",
        "version",
        "approved_on",
        "signed_by",
        "covers_care_data",
        "covers_research",
        "covers_contact",
    ]
    search_fields = ["title", "code"]
    list_filter = ["signed_by"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # consent records name it (PROTECT); a retired version stays listed


# --- Consent -------------------------------------------------------------------------------------


class ConsentInForceFilter(admin.SimpleListFilter):
    title = "research exports in force today"
    parameter_name = "research_in_force"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No (not given, or withdrawn)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        held = consent_in_force_q(ConsentScope.RESEARCH, timezone.localdate())
        if self.value() == "yes":
            return queryset.filter(held)
        if self.value() == "no":
            return queryset.exclude(held)
        return queryset


@admin.register(Consent)
class ConsentAdmin(PatientRecordAdmin):
    """A clinician or a data manager records consent here; only a data manager changes a record
    (a correction, or a withdrawal's dates), as registry.roles says."""

    list_display = [
        "patient",
        "given_on",
        "document",
        "consented_by",
        "assent",
        "care_data_given",
        "research_given",
        "contact_given",
    ]
    list_filter = [
        ("patient__site", SiteFilter),
        ConsentInForceFilter,
        "consented_by",
        "assent",
        ("document", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["patient", "document"]
    date_hierarchy = "given_on"
    fieldsets = [
        (None, {"fields": ["patient", "document", "consented_by", "assent", "given_on"]}),
        ("Scopes given", {"fields": ["care_data_given", "research_given", "contact_given"]}),
        (
            "Withdrawn (each scope on its own date)",
            {"fields": ["care_data_withdrawn_on", "research_withdrawn_on", "contact_withdrawn_on"]},
        ),
    ]


# --- Safety: adverse events, screening results, vaccinations --------------------------------------


def _review_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    records: QuerySet[Any],
    review: Callable[[Any, User], object],
) -> None:
    """A clinician's review of each selected record, dated today, through its service: each
    refusal (another site, already reviewed, not live) is said, the others are recorded."""
    count = 0
    by = roles.acting(request.user)
    for record in records:
        try:
            review(record, by)
            count += 1
        except (PermissionDenied, ValidationError) as refused:
            reason = (
                "; ".join(refused.messages) if isinstance(refused, ValidationError) else refused
            )
            model_admin.message_user(request, f"{record}: {reason}", messages.WARNING)
    model_admin.message_user(request, f"{count} review(s) recorded.")


class AwaitingReviewFilter(admin.SimpleListFilter):
    title = "awaiting review"
    parameter_name = "awaiting_review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes: serious or of special interest, not reviewed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(AWAITING_REVIEW) if self.value() == "yes" else queryset


@admin.register(AdverseEvent)
class AdverseEventAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "onset_on",
        "term",
        "grade",
        "serious",
        "relation_to_infliximab",
        "outcome",
        "reviewed_on",
    ]
    list_filter = [
        ("patient__site", SiteFilter),
        AwaitingReviewFilter,
        "serious",
        "term",
        "grade",
        "outcome",
    ]
    date_hierarchy = "onset_on"
    autocomplete_fields = ["patient", "course"]
    fieldsets = [
        (None, {"fields": ["patient", "course", "onset_on", "term", "specified_term", "grade"]}),
        ("Seriousness (ICH E2A)", {"fields": ["serious", *SERIOUSNESS_FIELDS]}),
        (
            "Relation, action and outcome",
            {"fields": ["relation_to_infliximab", "action_taken", "outcome", "resolved_on"]},
        ),
        ("Review", {"fields": ["reviewed_on", "reviewed_by", "review_decision"]}),
    ]
    # A review is a clinician's act, recorded with who did it (registry.services), not typed here:
    # the actions record it today. "Stop infliximab" also stops the course: it is decided on the
    # review page or through the API, where that is said, not ticked in a list.
    readonly_fields = ["reviewed_on", "reviewed_by", "review_decision"]
    actions = ["review_continue", "review_hold"]

    def _review(self, request: HttpRequest, events: QuerySet[AdverseEvent], decision: str) -> None:
        _review_each(
            self,
            request,
            events.select_related("patient"),
            lambda event, by: services.adverse_event_review_record(
                event=event, reviewed_on=timezone.localdate(), decision=decision, by=by
            ),
        )

    @admin.action(description="Review today: continue infliximab")
    def review_continue(self, request: HttpRequest, queryset: QuerySet[AdverseEvent]) -> None:
        self._review(request, queryset, AdverseEventDecision.CONTINUE)

    @admin.action(description="Review today: hold infliximab until the event resolves")
    def review_hold(self, request: HttpRequest, queryset: QuerySet[AdverseEvent]) -> None:
        self._review(request, queryset, AdverseEventDecision.HOLD)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "grade":  # say what the grades are, not "not a valid choice"
            kwargs["error_messages"] = {"invalid_choice": GRADE_REFUSAL.format(grade="%(value)s")}
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class ScreeningAwaitingReviewFilter(admin.SimpleListFilter):
    title = "awaiting review"
    parameter_name = "awaiting_review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes: positive or indeterminate, no specialist review")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(SCREENING_AWAITING_REVIEW) if self.value() == "yes" else queryset


@admin.register(ScreeningResult)
class ScreeningResultAdmin(PatientRecordAdmin):
    list_display = ["patient", "tested_on", "test", "result", "reviewed_on"]
    list_filter = [
        ("patient__site", SiteFilter),
        ScreeningAwaitingReviewFilter,
        "test",
        "result",
    ]
    date_hierarchy = "tested_on"
    readonly_fields = ["reviewed_on", "reviewed_by"]  # the review is an action, as above
    actions = ["record_specialist_review"]

    @admin.action(
        description="Record the specialist review, dated today (lifts the hold on infusions)",
        permissions=["change"],
    )
    def record_specialist_review(
        self, request: HttpRequest, queryset: QuerySet[ScreeningResult]
    ) -> None:
        """The clinic's "record the specialist review" (GUIDELINE: screening_positive), through
        the same action: only a clinician of the site may, and only of a result that needs it."""
        count = 0
        by = roles.acting(request.user)
        for screening in queryset.select_related("patient"):
            try:
                services.screening_review_record(
                    screening=screening, reviewed_on=timezone.localdate(), by=by
                )
                count += 1
            except (PermissionDenied, ValidationError) as refused:
                reason = (
                    " ".join(refused.messages)
                    if isinstance(refused, ValidationError)
                    else str(refused)
                )
                self.message_user(request, f"{screening}: {reason}", messages.WARNING)
        self.message_user(request, f"{count} specialist review(s) recorded.")


@admin.register(Vaccination)
class VaccinationAdmin(PatientRecordAdmin):
    list_display = ["patient", "given_on", "vaccine", "live", "reviewed_on", "review_decision"]
    list_filter = [("patient__site", SiteFilter), "vaccine", "review_decision"]
    date_hierarchy = "given_on"
    # A live vaccine's review is a clinician's act (registry.services), recorded by the actions.
    readonly_fields = ["reviewed_on", "reviewed_by", "review_decision", "review_note"]
    actions = ["review_infusion_deferred", "review_risk_accepted"]

    def _review(
        self, request: HttpRequest, vaccinations: QuerySet[Vaccination], decision: str
    ) -> None:
        _review_each(
            self,
            request,
            vaccinations.select_related("patient"),
            lambda vaccination, by: services.vaccination_review_record(
                vaccination=vaccination, reviewed_on=timezone.localdate(), decision=decision, by=by
            ),
        )

    @admin.action(description="Review a live vaccine today: infusion deferred")
    def review_infusion_deferred(
        self, request: HttpRequest, queryset: QuerySet[Vaccination]
    ) -> None:
        self._review(request, queryset, VaccinationReviewDecision.INFUSION_DEFERRED)

    @admin.action(description="Review a live vaccine today: risk accepted")
    def review_risk_accepted(self, request: HttpRequest, queryset: QuerySet[Vaccination]) -> None:
        self._review(request, queryset, VaccinationReviewDecision.RISK_ACCEPTED)

    @admin.display(boolean=True)
    def live(self, vaccination: Vaccination) -> bool:
        return vaccination.live
