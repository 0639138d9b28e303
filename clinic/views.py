"""The clinic's pages. Views stay thin: scoping in `clinic.access`, reads in `clinic.selectors`,
writes through `registry.services` and `monitoring.services`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audit.recording import record_read, web_kind
from clinic import (
    alerts,
    body_map,
    consent_selectors,
    forms,
    patient_record,
    phenotype_selectors,
    previews,
    safety_selectors,
    selectors,
)
from clinic.access import (
    AuthenticatedHttpRequest,
    course_or_404,
    is_nurse_only,
    is_researcher,
    patient_or_404,
    require_perm,
    staff_required,
)
from clinic.alert_timing import LEGEND
from clinic.filters import AlertFilter
from monitoring import services as alert_services
from monitoring.guideline import RULES
from monitoring.guideline.parameters import BASE_VERSION, parameter_info
from registry import dosing, limits, roles, safeguards, services
from registry.models import (
    Analyte,
    Infusion,
    InfusionReaction,
    Medication,
    Patient,
    RegimenChange,
    Relapse,
    TreatmentCourse,
)
from registry.products import product_to_give
from registry.reevaluation import one_reevaluation
from registry.selectors import patients_for, sites_for, staff_site_ids

Saved = TypeVar("Saved")

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
    filtered = _worklist_filter(request, request.GET)
    page = Paginator(filtered.qs, 100).get_page(request.GET.get("page"))
    record_read(
        request, kind=web_kind(request), patients=[a.course.patient for a in page.object_list]
    )
    today = timezone.localdate()
    counts = alerts.worklist_counts(filtered.unhidden_qs, filtered.hidden)
    permissions = alerts.Permissions.of(request.user)
    return render(
        request,
        "clinic/worklist.html",
        {
            "filter": filtered,
            "page": page,
            "counts": counts,
            "sections": alerts.worklist_sections(page.object_list, counts, permissions, today),
            "legend": LEGEND,
            "today": today,
        },
    )


def _worklist_filter(request: AuthenticatedHttpRequest, query: QueryDict) -> AlertFilter:
    site_alerts = selectors.worklist_alerts(staff_site_ids(request.user))
    return AlertFilter(query, queryset=site_alerts, request=request)


@staff_required
@require_POST
def alert_action(request: AuthenticatedHttpRequest, alert_id: int, action: str) -> HttpResponse:
    """Acknowledge or dismiss (with a reason). There is no manual resolve: the engine resolves an
    alert when the data shows its condition cleared (GUIDELINE.md, "Who may act on alerts").

    Through HTMX the alert comes back as it is now, in the place it was shown (a worklist row, or
    the patient page's alert), with the counts that changed; without JavaScript, back to `next`.
    """
    if action not in ("acknowledge", "dismiss"):
        return HttpResponse(status=404)
    alert = get_object_or_404(selectors.worklist_alerts(staff_site_ids(request.user)), pk=alert_id)
    record_read(request, kind=web_kind(request), patients=[alert.course.patient])
    shown_in_section = alert.severity  # the worklist section the row was in, before any change
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
        status = 400 if error else 200
        if request.POST.get("shown_in") == "patient":
            return _patient_alert_fragment(request, alert.pk, error, status)
        return _worklist_row_fragment(request, alert.pk, error, status, shown_in_section)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{alert.title}: {alert.get_status_display().lower()}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "clinic:worklist"  # only back to a page of this site
    return redirect(back)


def _worklist_row_fragment(
    request: AuthenticatedHttpRequest, alert_id: int, error: str, status: int, section: str
) -> HttpResponse:
    """The row, and out of band the counts of the worklist as the person filtered it (the filters
    are those of the page they act from)."""
    today = timezone.localdate()
    alert = selectors.worklist_alerts(staff_site_ids(request.user)).get(pk=alert_id)
    [item] = alerts.alert_items([alert], alerts.Permissions.of(request.user), today)
    current_url = request.htmx.current_url or ""  # type: ignore[attr-defined]
    filtered = _worklist_filter(request, QueryDict(urlsplit(current_url).query))
    counts = alerts.worklist_counts(filtered.unhidden_qs, filtered.hidden)
    context = {
        "item": item,
        "error": error,
        "counts": counts,
        "count": counts.of(section),
        "filter": filtered,
        "next": request.htmx.current_url_abs_path or "",  # type: ignore[attr-defined]
        "oob": True,
    }
    return render(request, "clinic/_alert_row_swap.html", context, status=status)


def _patient_alert_fragment(
    request: AuthenticatedHttpRequest, alert_id: int, error: str, status: int
) -> HttpResponse:
    """The alert as it is now, and out of band the open count and the alert history."""
    alert = selectors.worklist_alerts(staff_site_ids(request.user)).get(pk=alert_id)
    panel = alerts.patient_alerts(alert.course.patient, request.user, timezone.localdate())
    item = next((i for i in [*panel.open, *panel.history] if i.alert.pk == alert_id), None)
    if item is None:  # closed long ago, beyond the newest of the history
        [item] = alerts.alert_items(
            [alert], alerts.Permissions.of(request.user), timezone.localdate(), all_events=True
        )
    context = {
        "item": item,
        "error": error,
        "alerts": panel,
        "next": request.htmx.current_url_abs_path or "",  # type: ignore[attr-defined]
        "oob": True,
    }
    return render(request, "clinic/_patient_alert_swap.html", context, status=status)


@staff_required
def patient_alert_history(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """Every alert of the patient that was acknowledged, dismissed or resolved, with its events."""
    patient = patient_or_404(request, patient_id)
    page = Paginator(alerts.alert_history(patient), 20).get_page(request.GET.get("page"))
    items = alerts.alert_items(
        list(page.object_list),
        alerts.Permissions.of(request.user),
        timezone.localdate(),
        all_events=True,
    )
    return render(
        request, "clinic/alert_history.html", {"patient": patient, "page": page, "items": items}
    )


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
    record_read(request, kind=web_kind(request), patients=page.object_list)
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
    "add_medication",
    "change_medication",
)


HISTORY_PER_PAGE = 20  # the record's history, newest first, in pages of this many changes


@staff_required
def patient_detail(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    today = timezone.localdate()
    courses = list(patient.courses.order_by("-started_on").prefetch_related("regimen_changes"))
    overviews = selectors.course_overviews((c.pk for c in courses), today)
    active_course = next((c for c in courses if c.stopped_on is None), None)
    active_overview = overviews.get(active_course.pk) if active_course else None
    guideline = selectors.guideline_for(patient.site.code)
    record = patient_record.load_patient_record(patient)
    active_sites = patient_record.active_sites_now(record)
    history = Paginator(selectors.record_history(patient), HISTORY_PER_PAGE)
    # What this person may do *for this patient*: their role at the patient's site (one query).
    allowed = roles.permissions_at(request.user, patient.site_id)
    return render(
        request,
        "clinic/patient.html",
        safety_selectors.patient_page_context(allowed, record)
        | consent_selectors.patient_page_context(patient, allowed, today)
        | phenotype_selectors.patient_page_context(allowed, patient)
        | {
            "patient": patient,
            "age": patient.age_on(timezone.localdate()),
            "courses": [(course, overviews.get(course.pk)) for course in courses],
            "active_course": active_course,
            "alerts": alerts.patient_alerts(patient, request.user, today),
            "timeline": selectors.timeline(
                record,
                guideline,
                today=today,
                next_dose=active_overview.next_dose if active_overview else None,
            ),
            "infusions": patient_record.infusion_table(record),
            "labs": patient_record.lab_table(record, guideline),
            "imaging": patient_record.imaging_table(record),
            "active_sites": active_sites,
            "active_sites_map": body_map.shown(s for found in active_sites for s in found.sites),
            **BODY_MAP_DRAWING,
            "assessments": patient_record.assessment_table(record, guideline),
            "medications": patient_record.medication_table(record),
            "current_medications": patient_record.current_medications(record, today),
            "history": history.get_page(request.GET.get("history_page")),
            "relapses": patient.relapses.select_related("course", "retreatment_course"),
            "can_review": roles.REVIEW_REACTION in allowed,
            "can_view_access_log": roles.VIEW_ACCESS_LOG in allowed,
            "can": {name: f"registry.{name}" in allowed for name in PATIENT_PAGE_ACTIONS},
            "reactions_to_review": InfusionReaction.objects.filter(
                infusion__course__patient=patient, severity="severe", reviewed_on__isnull=True
            ).select_related("infusion"),
        },
    )


# --- Data entry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview(Generic[Saved]):
    """A confirmation step before a save: `describe` reads what the save created or changed, in a
    transaction rolled back afterwards, for `template` (clinic/confirm.html includes it)."""

    describe: Callable[[Saved], object]
    template: str
    confirm_label: str


def _entry(
    request: AuthenticatedHttpRequest,
    patient: Patient,
    form: forms.EntryForm,
    save: Callable[[], Saved],
    *,
    title: str,
    done: str | Callable[[], str],
    extra: dict[str, object] | None = None,
    preview: Preview[Saved] | None = None,
    submit_label: str = "Save",
) -> HttpResponse:
    """Show `form`; on a valid POST save it, re-evaluate the patient and go back to their page.

    With a `preview`, a valid POST first shows what the save will do, and only its "confirm" saves
    (the "change" button goes back to the form as it was filled in). A refusal comes back as field
    errors on the same form, filled in as it was sent.
    """
    context = {"patient": patient, "form": form, "title": title, "submit_label": submit_label}
    context |= extra or {}
    if request.method == "POST" and form.is_valid():
        if preview is not None and not request.POST.get("confirm"):
            if not request.POST.get("change"):
                summary = _try(form, lambda: _dry_run(save, preview))
                if summary is not None:
                    context |= {"summary": summary, "preview": preview}
                    return render(request, "clinic/confirm.html", context)
        elif _try(form, save) is not None:
            messages.success(request, done if isinstance(done, str) else done())
            return redirect("clinic:patient", patient_id=patient.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "clinic/entry.html", context, status=status)


def _try(form: forms.EntryForm, action: Callable[[], object]) -> object | None:
    """The action's result, or None with its refusal shown on the form."""
    try:
        return action() or True
    except ValidationError as refused:
        form.add_refusal(refused)
    except PermissionDenied as refused:  # e.g. an intensification by a non-clinician
        form.add_error(None, str(refused))
    return None


def _dry_run(save: Callable[[], Saved], preview: Preview[Saved]) -> object:
    """Save, describe what was saved, and roll it all back (its re-evaluation request too)."""
    with transaction.atomic():
        summary = preview.describe(save())
        transaction.set_rollback(True)
    return summary


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
        # The product of the last infusion (else the course's): a change is a deliberate switch.
        "product": product_to_give(course),
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
            product=data["product"],
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
    extra: dict[str, object] | None = None,
) -> HttpResponse:
    """Lab results, imaging and assessments: a record of the patient, saved by its service."""
    patient = patient_or_404(request, patient_id)
    require_perm(request, permission, patient.site_id)
    instance = form_class._meta.model(patient=patient)
    form = form_class(_post(request), instance=instance, initial={date_field: timezone.localdate()})

    def save() -> None:
        data = (
            form.service_arguments()
            if isinstance(form, forms.LesionSitesForm)
            else form.cleaned_data
        )
        record(patient=patient, by=request.user, **data)

    return _entry(request, patient, form, save, title=title, done=done, extra=extra)


def _body_map_context() -> dict[str, object]:
    """The entry form's body map (static/clinic/bodymap.js makes it fill the site rows)."""
    return {"body_map": body_map.shown(), **BODY_MAP_DRAWING}


BODY_MAP_DRAWING = {"body_map_view_box": body_map.VIEW_BOX, "body_map_outline": body_map.OUTLINE}


@staff_required
def record_lab(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """The results of one draw (any of CRP, ESR, trough, antibodies, neutrophils, platelets, ALT,
    another test), all or none."""
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_labresult", patient.site_id)
    form = forms.LabPanelForm(_post(request), initial={"collected_on": timezone.localdate()})

    def save() -> None:
        services.lab_panel_record(
            patient=patient,
            collected_on=form.cleaned_data["collected_on"],
            results=form.results(),
            by=request.user,
        )

    def done() -> str:
        names = [r.analyte_name or Analyte(r.analyte).label for r in form.results().values()]
        return f"Recorded: {', '.join(names)}."

    return _entry(
        request, patient, form, save, title="Record lab results of one draw", done=done,
        extra={"intro": "clinic/forms/_lab_panel_intro.html"},
    )  # fmt: skip


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
        extra=_body_map_context(),
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
        extra=_body_map_context(),
        done="Assessment recorded.",
    )


@staff_required
def record_medication(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    return _patient_entry(
        request,
        patient_id,
        permission="registry.add_medication",
        form_class=forms.MedicationForm,
        record=services.medication_record,
        date_field="started_on",
        title="Record a medication (besides infliximab)",
        done="Medication recorded.",
    )


@staff_required
def stop_medication(request: AuthenticatedHttpRequest, medication_id: int) -> HttpResponse:
    medication = get_object_or_404(
        Medication.objects.select_related("patient__site").filter(
            patient__in=patients_for(request.user)
        ),
        pk=medication_id,
    )
    patient = medication.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, "registry.change_medication", patient.site_id)
    form = forms.MedicationStopForm(_post(request), initial={"stopped_on": timezone.localdate()})

    def save() -> None:
        data = form.cleaned_data
        services.medication_stop(
            medication=medication,
            stopped_on=data["stopped_on"],
            reason=data["reason"],
            by=request.user,
        )

    return _entry(
        request, patient, form, save,
        title=f"Stop {medication.drug_label} ({medication.dose_words}), taken since "
        f"{medication.started_on:%d %b %Y}",
        done=f"{medication.drug_label} stopped.",
    )  # fmt: skip


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
    record_read(request, kind=web_kind(request), patients=[patient])
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
        extra={"intro": "clinic/forms/_review_intro.html", "reaction": reaction,
               "course": reaction.infusion.course},
    )  # fmt: skip


@staff_required
def change_regimen(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = course_or_404(request, course_id)
    site_id = course.patient.site_id
    require_perm(request, "registry.add_regimenchange", site_id)
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
        done="Regimen changed.",
        extra={"in_force": (dose, interval), "intro": "clinic/forms/_regimen_intro.html",
               "labelled_max": limits.LABELLED_MAX_DOSE_MG_PER_KG,
               "ceiling": safeguards.thresholds_for(site_id).implausible_dose_mg_per_kg},
    )  # fmt: skip


@staff_required
def stop_course(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """Stop the course, after a confirmation page that says what stopping does."""
    course = course_or_404(request, course_id)
    require_perm(request, "registry.change_treatmentcourse", course.patient.site_id)
    form = forms.StopCourseForm(_post(request), initial={"stopped_on": timezone.localdate()})

    def save() -> TreatmentCourse:
        data = form.cleaned_data
        return services.course_stop(
            course=course,
            stopped_on=data["stopped_on"],
            reason=data["reason"],
            note=data["note"],
            by=request.user,
        )

    def describe(stopped: TreatmentCourse) -> previews.StopPreview:
        return previews.stop(stopped, form.cleaned_data["note"])

    return _entry(
        request, course.patient, form, save, title="Stop the course", done="Course stopped.",
        submit_label="Review and confirm",
        preview=Preview(describe, "clinic/forms/_stop_summary.html", "Stop the course"),
    )  # fmt: skip


@staff_required
def start_course(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_treatmentcourse", patient.site_id)
    latest = patient.courses.order_by("-started_on").first()
    form = forms.CourseStartForm(
        _post(request),
        instance=TreatmentCourse(patient=patient),
        initial={"started_on": timezone.localdate(), "product": latest and latest.product},
    )

    def save() -> None:
        data = form.cleaned_data
        services.course_start(patient=patient, by=request.user, **data)

    return _entry(
        request, patient, form, save, title="Start an infliximab course", done="Course started."
    )


@staff_required
def record_relapse(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """Record a relapse and, if dated, start its retreatment: a preview shows the relapse, the new
    course with its first due dates and what carries over from the earlier courses, then confirm."""
    course = course_or_404(request, course_id)
    require_perm(request, "registry.add_relapse", course.patient.site_id)
    form = forms.RelapseForm(_post(request), initial={"noted_on": timezone.localdate()})

    def save() -> Relapse:
        data = form.cleaned_data
        # Two actions, one decision: both or neither, and one re-evaluation.
        with one_reevaluation(), transaction.atomic():
            relapse = services.relapse_record(
                course=course, noted_on=data["noted_on"], evidence=data["evidence"],
                by=request.user,
            )  # fmt: skip
            if data["retreatment_starts_on"]:
                services.retreatment_start(
                    relapse=relapse,
                    started_on=data["retreatment_starts_on"],
                    planned_dose_mg_per_kg=data["planned_dose_mg_per_kg"],
                    maintenance_interval_weeks=data["maintenance_interval_weeks"],
                    by=request.user,
                )
        return relapse

    return _entry(
        request, course.patient, form, save, title="Record a relapse (and start retreatment)",
        done="Relapse recorded.", submit_label="Preview",
        preview=Preview(previews.relapse, "clinic/forms/_relapse_summary.html", "Confirm"),
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
