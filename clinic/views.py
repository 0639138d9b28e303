"""The clinic's pages. Views stay thin: scoping in `clinic.access`, reads in `clinic.selectors`,
writes through `registry.services` and `monitoring.services`."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinic import forms, selectors
from clinic.access import (
    AuthenticatedHttpRequest,
    course_or_404,
    is_nurse_only,
    is_researcher,
    patient_or_404,
    require_perm,
    staff_required,
)
from clinic.filters import AlertFilter
from monitoring import services as alert_services
from monitoring.guideline import RULES
from monitoring.guideline.parameters import BASE_VERSION, parameter_info
from registry import dosing, limits, roles, safeguards, services
from registry.models import (
    Infusion,
    InfusionReaction,
    Patient,
    RegimenChange,
    TreatmentCourse,
)
from registry.reevaluation import one_reevaluation
from registry.selectors import patients_for, sites_for, staff_site_ids

# --- Worklist and alert actions ------------------------------------------------------------------


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Where a person's day starts: a nurse's at the infusion list, a researcher's (who sees no
    patients) at the research exports, everyone else's at the worklist."""
    user = request.user
    if not staff_site_ids(user) and is_researcher(user):
        return redirect("clinic:research:exports")
    if is_nurse_only(user):
        return redirect("clinic:infusion_list")
    return redirect("clinic:worklist")


@staff_required
def worklist(request: AuthenticatedHttpRequest) -> HttpResponse:
    alerts = selectors.worklist_alerts(staff_site_ids(request.user))
    filtered = AlertFilter(request.GET, queryset=alerts, request=request)
    page = Paginator(filtered.qs, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "clinic/worklist.html",
        {"filter": filtered, "page": page, "today": timezone.localdate()},
    )


@staff_required
@require_POST
def alert_action(request: AuthenticatedHttpRequest, alert_id: int, action: str) -> HttpResponse:
    """Acknowledge or dismiss (with a reason). There is no manual resolve: the engine resolves an
    alert when the data shows its condition cleared (GUIDELINE.md, "Who may act on alerts")."""
    if action not in ("acknowledge", "dismiss"):
        return HttpResponse(status=404)
    alert = get_object_or_404(selectors.worklist_alerts(staff_site_ids(request.user)), pk=alert_id)
    error = ""
    try:
        if action == "dismiss":
            form = forms.DismissForm(request.POST)
            # The service says first whether this person may dismiss it, then why a reason.
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            alert = alert_services.alert_dismiss(alert=alert, by=request.user, reason=reason)
        else:
            alert = alert_services.alert_acknowledge(alert=alert, by=request.user)
    except (ValidationError, PermissionDenied) as refused:
        error = " ".join(refused.messages) if isinstance(refused, ValidationError) else str(refused)
    if request.htmx:  # type: ignore[attr-defined]
        alert = selectors.worklist_alerts([alert.course.patient.site_id]).get(pk=alert.pk)
        return render(
            request,
            "clinic/_alert_row.html",
            {"alert": alert, "error": error, "today": timezone.localdate()},
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{alert.title}: {alert.get_status_display().lower()}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "clinic:worklist"  # only back to a page of this site
    return redirect(back)


# --- Patients ----------------------------------------------------------------------------------


@staff_required
def patients(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    found = patients_for(request.user).select_related("site")
    if query:
        found = found.filter(
            Q(registry_code__icontains=query)
            | Q(mrn__iexact=query)
            | Q(family_name__icontains=query)
            | Q(given_name__icontains=query)
        )
    active = TreatmentCourse.objects.filter(patient=OuterRef("pk"), stopped_on__isnull=True)
    found = found.annotate(on_treatment=Exists(active)).order_by("registry_code")
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    courses = TreatmentCourse.objects.filter(
        patient__in=list(page.object_list), stopped_on__isnull=True
    )
    active_course = {course.patient_id: course.pk for course in courses}
    overviews = selectors.course_overviews(active_course.values())
    rows = [(patient, overviews.get(active_course.get(patient.pk, 0))) for patient in page]
    return render(request, "clinic/patients.html", {"page": page, "rows": rows, "q": query})


PATIENT_PAGE_ACTIONS = (
    "add_infusion",
    "add_infusionreaction",
    "add_regimenchange",
    "change_treatmentcourse",
    "add_treatmentcourse",
    "add_labresult",
    "add_imagingstudy",
    "add_clinicalassessment",
    "add_relapse",
)


@staff_required
def patient_detail(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    courses = list(patient.courses.order_by("-started_on").prefetch_related("regimen_changes"))
    overviews = selectors.course_overviews(c.pk for c in courses)
    guideline = selectors.guideline_for(patient.site.code)
    return render(
        request,
        "clinic/patient.html",
        {
            "patient": patient,
            "age": patient.age_on(timezone.localdate()),
            "courses": [(course, overviews.get(course.pk)) for course in courses],
            "active_course": next((c for c in courses if c.stopped_on is None), None),
            "alerts": selectors.open_alerts_of(patient),
            "timeline": selectors.timeline(patient, guideline),
            "history": selectors.record_history(patient),
            "relapses": patient.relapses.select_related("course", "retreatment_course"),
            "can_review": roles.may(request.user, roles.REVIEW_REACTION, patient.site_id),
            # What this person records *for this patient*: their role at the patient's site.
            "can": {
                name: roles.may(request.user, f"registry.{name}", patient.site_id)
                for name in PATIENT_PAGE_ACTIONS
            },
            "reactions_to_review": InfusionReaction.objects.filter(
                infusion__course__patient=patient, severity="severe", reviewed_on__isnull=True
            ).select_related("infusion"),
        },
    )


# --- Data entry ----------------------------------------------------------------------------------


def _entry(
    request: AuthenticatedHttpRequest,
    patient: Patient,
    form: BaseForm,
    save: Callable[[], object],
    *,
    title: str,
    done: str,
    extra: dict[str, object] | None = None,
) -> HttpResponse:
    """Show `form`; on a valid POST save it, re-evaluate the patient and go back to their page.

    A refusal comes back as field errors on the same form, filled in as it was sent.
    """
    if request.method == "POST" and form.is_valid():
        try:
            save()
        except ValidationError as refused:
            _add_errors(form, refused)
        except PermissionDenied as refused:  # e.g. an intensification by a non-clinician
            form.add_error(None, str(refused))
        else:
            messages.success(request, done)
            return redirect("clinic:patient", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    context = {"patient": patient, "form": form, "title": title} | (extra or {})
    return render(request, "clinic/entry.html", context, status=status)


def _add_errors(form: BaseForm, refused: ValidationError) -> None:
    if hasattr(refused, "error_dict"):
        for field, errors in refused.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, refused.messages)


def _post(request: HttpRequest) -> QueryDict | None:
    return request.POST if request.method == "POST" else None


@staff_required
def record_infusion(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    require_perm(request, "registry.add_infusion", course.patient.site_id)
    guideline = selectors.guideline_for(course.patient.site.code)
    overview = selectors.course_overviews([course.pk])[course.pk]
    last = course.infusions.order_by("-given_on").first()
    mg_per_kg = overview.dose_mg_per_kg
    suggestion = None
    if last is not None:
        suggested = dosing.expected_dose(last.weight_kg, mg_per_kg)
        suggestion = {
            "weight_kg": last.weight_kg,
            "weighed_on": last.weight_measured_on,
            "dose_mg": suggested.dose_mg,
            "vials": suggested.vials,
        }
    today = timezone.localdate()
    initial = {
        "given_on": today,
        "weight_measured_on": today,
        "duration_minutes": guideline.min_infusion_minutes,
    }
    if suggestion:
        # A weight carried over keeps the date it was measured on, never "today".
        initial |= {
            "weight_kg": suggestion["weight_kg"],
            "weight_measured_on": suggestion["weighed_on"],
            "dose_mg": suggestion["dose_mg"],
        }
    try:
        safeguards.check_no_infusion_hold(patient_id=course.patient_id)
        hold = ""
    except ValidationError as refused:
        hold = " ".join(refused.messages)
    last_reaction = last.reactions.order_by("-pk").first() if last else None
    form = forms.InfusionForm(_post(request), instance=Infusion(course=course), initial=initial)

    def save() -> None:
        data = form.cleaned_data
        services.infusion_record(
            course=course,
            given_on=data["given_on"],
            weight_kg=data["weight_kg"],
            weight_measured_on=data["weight_measured_on"],
            weight_confirmed=data["weight_confirmed"],
            dose_mg=data["dose_mg"],
            duration_minutes=data["duration_minutes"],
            premedication=form.premedication(),
            lot_number=data["lot_number"],
            notes=data["notes"],
            by=request.user,
        )

    return _entry(
        request,
        course.patient,
        form,
        save,
        title="Record an infusion",
        done="Infusion recorded.",
        extra={
            "course": course,
            "mg_per_kg": mg_per_kg,
            "suggestion": suggestion,
            "tolerance_pct": guideline.dose_tolerance_pct,
            "vial_mg": limits.VIAL_MG,
            "next_dose": overview.next_dose,
            "last_reaction": last_reaction,
            "infusion_form": True,
            "hold": hold,
            "today": today,
        },
    )


def _patient_entry(
    request: AuthenticatedHttpRequest,
    patient_id: int,
    *,
    permission: str,
    form_class: type[forms.RecordForm],
    record: forms.PatientRecordService,
    date_field: str,
    title: str,
    done: str,
) -> HttpResponse:
    """Lab results, imaging and assessments: a record of the patient, saved by its service."""
    patient = patient_or_404(request, patient_id)
    require_perm(request, permission, patient.site_id)
    instance = form_class._meta.model(patient=patient)
    form = form_class(_post(request), instance=instance, initial={date_field: timezone.localdate()})

    def save() -> None:
        data = form.cleaned_data
        record(patient=patient, by=request.user, **data)

    return _entry(request, patient, form, save, title=title, done=done)


@staff_required
def record_lab(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    return _patient_entry(
        request,
        patient_id,
        permission="registry.add_labresult",
        form_class=forms.LabResultForm,
        record=services.lab_result_record,
        date_field="collected_on",
        title="Record a lab result",
        done="Lab result recorded.",
    )


@staff_required
def record_imaging(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    return _patient_entry(
        request,
        patient_id,
        permission="registry.add_imagingstudy",
        form_class=forms.ImagingStudyForm,
        record=services.imaging_study_record,
        date_field="performed_on",
        title="Record an imaging study",
        done="Imaging study recorded.",
    )


@staff_required
def record_assessment(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    return _patient_entry(
        request,
        patient_id,
        permission="registry.add_clinicalassessment",
        form_class=forms.AssessmentForm,
        record=services.assessment_record,
        date_field="assessed_on",
        title="Record a clinical assessment",
        done="Assessment recorded.",
    )


@staff_required
def record_reaction(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    require_perm(request, "registry.add_infusionreaction", course.patient.site_id)
    form = forms.ReactionForm(
        _post(request),
        instance=InfusionReaction(),
        course=course,
        initial={"infusion": course.infusions.order_by("-given_on").first()},
    )

    def save() -> None:
        data = form.cleaned_data
        services.reaction_record(by=request.user, **data)

    return _entry(
        request, course.patient, form, save, title="Record an infusion reaction",
        done="Reaction recorded.",
    )  # fmt: skip


@staff_required
def review_reaction(request: AuthenticatedHttpRequest, reaction_id: int) -> HttpResponse:
    reaction = get_object_or_404(
        InfusionReaction.objects.select_related("infusion__course__patient__site").filter(
            infusion__course__patient__in=patients_for(request.user)
        ),
        pk=reaction_id,
    )
    patient = reaction.infusion.course.patient
    require_perm(request, roles.REVIEW_REACTION, patient.site_id)
    form = forms.ReviewForm(_post(request), initial={"reviewed_on": timezone.localdate()})

    def save() -> None:
        data = form.cleaned_data
        services.reaction_review_record(
            reaction=reaction,
            reviewed_on=data["reviewed_on"],
            decision=data["decision"],
            note=data["note"],
            by=request.user,
        )

    return _entry(
        request, patient, form, save,
        title=f"Review the {reaction.get_severity_display().lower()} reaction of "
        f"{reaction.infusion.given_on:%d %b %Y}",
        done="Review recorded.",
    )  # fmt: skip


@staff_required
def change_regimen(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    require_perm(request, "registry.add_regimenchange", course.patient.site_id)
    dose, interval = course.regimen_on(timezone.localdate())
    form = forms.RegimenChangeForm(
        _post(request),
        instance=RegimenChange(course=course),
        initial={
            "effective_on": timezone.localdate(),
            "dose_mg_per_kg": dose,
            "interval_weeks": interval,
        },
    )

    def save() -> None:
        data = form.cleaned_data
        services.regimen_change_record(course=course, by=request.user, **data)

    return _entry(
        request, course.patient, form, save, title="Change the regimen (taper or intensify)",
        done="Regimen changed.", extra={"in_force": f"{dose} mg/kg every {interval} weeks"},
    )  # fmt: skip


@staff_required
def stop_course(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    require_perm(request, "registry.change_treatmentcourse", course.patient.site_id)
    form = forms.StopCourseForm(_post(request), initial={"stopped_on": timezone.localdate()})

    def save() -> None:
        data = form.cleaned_data
        services.course_stop(
            course=course,
            stopped_on=data["stopped_on"],
            reason=data["reason"],
            note=data["note"],
            by=request.user,
        )

    return _entry(
        request, course.patient, form, save, title="Stop the course", done="Course stopped.",
    )  # fmt: skip


@staff_required
def start_course(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_treatmentcourse", patient.site_id)
    form = forms.CourseStartForm(
        _post(request),
        instance=TreatmentCourse(patient=patient),
        initial={"started_on": timezone.localdate()},
    )

    def save() -> None:
        data = form.cleaned_data
        services.course_start(patient=patient, by=request.user, **data)

    return _entry(
        request, patient, form, save, title="Start an infliximab course", done="Course started."
    )


@staff_required
def record_relapse(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    require_perm(request, "registry.add_relapse", course.patient.site_id)
    form = forms.RelapseForm(_post(request), initial={"noted_on": timezone.localdate()})

    def save() -> None:
        data = form.cleaned_data
        # Two actions, one decision: both or neither, and one re-evaluation.
        with one_reevaluation(), transaction.atomic():
            relapse = services.relapse_record(
                course=course, noted_on=data["noted_on"], evidence=data["evidence"],
                by=request.user,
            )  # fmt: skip
            if data["retreatment_starts_on"]:
                services.retreatment_start(
                    relapse=relapse, started_on=data["retreatment_starts_on"], by=request.user
                )

    return _entry(
        request, course.patient, form, save, title="Record a relapse (and start retreatment)",
        done="Relapse recorded.",
    )  # fmt: skip


# --- Guideline ----------------------------------------------------------------------------------


@staff_required
def guideline(request: AuthenticatedHttpRequest) -> HttpResponse:
    sites = list(sites_for(request.user))
    effective = {site.code: selectors.guideline_for(site.code) for site in sites}
    parameters = [
        (info, [getattr(effective[site.code], info.name) for site in sites])
        for info in parameter_info()
    ]
    return render(
        request,
        "clinic/guideline.html",
        {"rules": [info for info, _check in RULES.values()], "parameters": parameters,
         "sites": sites, "version": BASE_VERSION},
    )  # fmt: skip
