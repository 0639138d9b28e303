"""The consent pages: consent given (on a document, by whom, with the child's assent, to which
scopes) and its withdrawal. Thin views over `registry.services`, laid out like every other entry
page; what the patient page shows of consent is clinic.consent_selectors'."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from audit.recording import record_read, web_kind
from clinic import forms
from clinic.access import AuthenticatedHttpRequest, patient_or_404, require_perm, staff_required
from clinic.views import _entry, _post
from registry import roles, services
from registry.models import Consent
from registry.selectors import patients_for


@staff_required
def record_consent(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_or_404(request, patient_id)
    require_perm(request, roles.RECORD_CONSENT, patient.site_id)
    form = forms.ConsentForm(
        _post(request),
        instance=Consent(patient=patient),
        initial={"given_on": timezone.localdate()},
    )

    def save() -> None:
        services.consent_record(patient=patient, by=request.user, **form.service_arguments())

    return _entry(request, patient, form, save, title="Record consent", done="Consent recorded.")


@staff_required
def withdraw_consent(request: AuthenticatedHttpRequest, consent_id: int) -> HttpResponse:
    consent = get_object_or_404(
        Consent.objects.select_related("patient__site", "document").filter(
            patient__in=patients_for(request.user)
        ),
        pk=consent_id,
    )
    patient = consent.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, roles.WITHDRAW_CONSENT, patient.site_id)
    form = forms.ConsentWithdrawalForm(
        _post(request), consent=consent, initial={"withdrawn_on": timezone.localdate()}
    )

    def save() -> None:
        services.consent_withdraw(
            consent=consent,
            scopes=form.cleaned_data["scopes"],
            withdrawn_on=form.cleaned_data["withdrawn_on"],
            by=request.user,
        )

    return _entry(
        request,
        patient,
        form,
        save,
        title=f"Withdraw consent given on {consent.given_on:%d %b %Y} ({consent.document})",
        done="Withdrawal recorded.",
    )
