"""The safety record's pages: adverse events and their clinician's review, screening results and
their specialist's review, vaccinations and a clinician's review of a live one; and what the
patient page shows of them. Thin views over `registry.services`, laid out like every other entry
page (clinic.views' `_entry`)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from audit.recording import record_read, web_kind
from clinic import forms
from clinic.access import AuthenticatedHttpRequest, patient_or_404, require_perm, staff_required
from clinic.selectors import guideline_for
from clinic.views import _entry, _patient_entry, _post
from registry import roles, services
from registry.models import AdverseEvent, ScreeningResult, Vaccination
from registry.selectors import patients_for

# --- Adverse events -------------------------------------------------------------------------------


@staff_required
def record_adverse_event(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_adverseevent", patient.site_id)
    active = patient.courses.filter(stopped_on__isnull=True).first()
    form = forms.AdverseEventForm(
        _post(request),
        instance=AdverseEvent(patient=patient),
        patient=patient,
        initial={"onset_on": timezone.localdate(), "course": active},
    )

    def save() -> None:
        services.adverse_event_record(patient=patient, by=request.user, **form.service_arguments())

    return _entry(
        request, patient, form, save, title="Record an adverse event",
        done="Adverse event recorded.",
    )  # fmt: skip


@staff_required
def review_adverse_event(request: AuthenticatedHttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(
        AdverseEvent.objects.select_related("patient__site", "course").filter(
            patient__in=patients_for(request.user)
        ),
        pk=event_id,
    )
    patient = event.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, roles.REVIEW_ADVERSE_EVENT, patient.site_id)
    form = forms.AdverseEventReviewForm(
        _post(request), initial={"reviewed_on": timezone.localdate()}
    )

    def save() -> None:
        data = form.cleaned_data
        services.adverse_event_review_record(
            event=event, reviewed_on=data["reviewed_on"], decision=data["decision"],
            by=request.user,
        )  # fmt: skip

    return _entry(
        request, patient, form, save,
        title=f"Review the adverse event of {event.onset_on:%d %b %Y}",
        done="Review recorded.",
        extra={"intro": "clinic/forms/_adverse_event_review_intro.html", "event": event,
               "active_course": patient.courses.filter(stopped_on__isnull=True).first()},
    )  # fmt: skip


# --- Screening ------------------------------------------------------------------------------------


@staff_required
def record_screening(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """The screening results of one date (any of the tests), all or none."""
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_screeningresult", patient.site_id)
    form = forms.ScreeningPanelForm(_post(request), initial={"tested_on": timezone.localdate()})

    def save() -> None:
        services.screening_panel_record(
            patient=patient,
            tested_on=form.cleaned_data["tested_on"],
            results=form.results(),
            by=request.user,
        )

    return _entry(
        request, patient, form, save, title="Record screening results of one date",
        done="Screening results recorded.",
        extra={"intro": "clinic/forms/_screening_intro.html"},
    )  # fmt: skip


@staff_required
def review_screening(request: AuthenticatedHttpRequest, screening_id: int) -> HttpResponse:
    screening = get_object_or_404(
        ScreeningResult.objects.select_related("patient__site").filter(
            patient__in=patients_for(request.user)
        ),
        pk=screening_id,
    )
    patient = screening.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, roles.REVIEW_SCREENING, patient.site_id)
    form = forms.ScreeningReviewForm(_post(request), initial={"reviewed_on": timezone.localdate()})

    def save() -> None:
        services.screening_review_record(
            screening=screening, reviewed_on=form.cleaned_data["reviewed_on"], by=request.user
        )

    return _entry(
        request, patient, form, save,
        title=f"Record the specialist review of the {screening.get_test_display()} of "
        f"{screening.tested_on:%d %b %Y}",
        done="Specialist review recorded.",
        extra={"intro": "clinic/forms/_screening_review_intro.html", "screening": screening},
    )  # fmt: skip


# --- Vaccinations ---------------------------------------------------------------------------------


@staff_required
def record_vaccination(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    return _patient_entry(
        request,
        patient_id,
        permission="registry.add_vaccination",
        form_class=forms.VaccinationForm,
        record=services.vaccination_record,
        date_field="given_on",
        title="Record a vaccination",
        done="Vaccination recorded.",
    )


@staff_required
def review_vaccination(request: AuthenticatedHttpRequest, vaccination_id: int) -> HttpResponse:
    """A clinician's review of a live vaccine given on or near infliximab (the guideline's
    live_vaccine_on_treatment): the infusion deferred, or the risk accepted."""
    vaccination = get_object_or_404(
        Vaccination.objects.select_related("patient__site").filter(
            patient__in=patients_for(request.user)
        ),
        pk=vaccination_id,
    )
    patient = vaccination.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, roles.REVIEW_VACCINATION, patient.site_id)
    form = forms.VaccinationReviewForm(
        _post(request), initial={"reviewed_on": timezone.localdate()}
    )

    def save() -> None:
        data = form.cleaned_data
        services.vaccination_review_record(
            vaccination=vaccination, reviewed_on=data["reviewed_on"], decision=data["decision"],
            note=data["note"], by=request.user,
        )  # fmt: skip

    return _entry(
        request, patient, form, save,
        title=f"Review the {vaccination.get_vaccine_display()} of "
        f"{vaccination.given_on:%d %b %Y}",
        done="Review recorded.",
        extra={"intro": "clinic/forms/_vaccination_review_intro.html", "vaccination": vaccination,
               "interval_days": guideline_for(patient.site.code).live_vaccine_interval_days},
    )  # fmt: skip
