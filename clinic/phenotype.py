"""The CRMO phenotype's pages: the phenotype (first symptoms, the Bristol and Jansson items, the
family history), recorded and corrected as one form, and the comorbidities, each recorded and
corrected; and what the patient page shows of them. Thin views over `registry.services`, laid out
like every other entry page (clinic.views' `_entry`)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from audit.recording import record_read, web_kind
from clinic import forms
from clinic.access import AuthenticatedHttpRequest, patient_or_404, require_perm, staff_required
from clinic.phenotype_selectors import summary
from clinic.views import _entry, _post
from registry import services
from registry.models import Comorbidity, Phenotype
from registry.selectors import patients_for


@staff_required
def record_phenotype(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """Record the phenotype, or correct the one recorded (the service keeps one per patient)."""
    patient = patient_or_404(request, patient_id)
    stored = Phenotype.objects.filter(patient=patient).first()
    action = "change" if stored else "add"
    require_perm(request, f"registry.{action}_phenotype", patient.site_id)
    form = forms.PhenotypeForm(_post(request), instance=stored or Phenotype(patient=patient))

    def save() -> None:
        services.phenotype_record(patient=patient, values=form.cleaned_data, by=request.user)

    return _entry(
        request, patient, form, save,
        title="Correct the phenotype" if stored else "Record the phenotype",
        done="Phenotype corrected." if stored else "Phenotype recorded.",
        extra={"intro": "clinic/forms/_phenotype_intro.html",
               "phenotype_summary": summary(stored) if stored else None},
    )  # fmt: skip


@staff_required
def record_comorbidity(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    # No onset is suggested: a comorbidity seldom begins on the day it is recorded.
    patient = patient_or_404(request, patient_id)
    require_perm(request, "registry.add_comorbidity", patient.site_id)
    form = forms.ComorbidityForm(_post(request), instance=Comorbidity(patient=patient))

    def save() -> None:
        services.comorbidity_record(patient=patient, by=request.user, **form.cleaned_data)

    return _entry(
        request, patient, form, save, title="Record a comorbidity", done="Comorbidity recorded."
    )


@staff_required
def correct_comorbidity(request: AuthenticatedHttpRequest, comorbidity_id: int) -> HttpResponse:
    comorbidity = get_object_or_404(
        Comorbidity.objects.select_related("patient__site").filter(
            patient__in=patients_for(request.user)
        ),
        pk=comorbidity_id,
    )
    patient = comorbidity.patient
    record_read(request, kind=web_kind(request), patients=[patient])
    require_perm(request, "registry.change_comorbidity", patient.site_id)
    # The form judges a copy: the service compares the changes with the record as stored.
    form = forms.ComorbidityForm(
        _post(request), instance=Comorbidity.objects.get(pk=comorbidity.pk)
    )

    def save() -> None:
        services.comorbidity_correct(
            comorbidity=comorbidity, changes=form.cleaned_data, by=request.user
        )

    return _entry(
        request, patient, form, save,
        title=f"Correct the comorbidity {comorbidity.get_condition_display()} "
        f"(since {comorbidity.onset_on:%d %b %Y})",
        done="Comorbidity corrected.",
    )  # fmt: skip
