"""Data-entry forms. Each is a ModelForm on an instance that already knows its patient or course,
so the model's own `clean()` gives its field-specific messages here; the views then save through
`registry.services`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    RegimenChange,
    ReviewDecision,
    StopReason,
    TreatmentCourse,
)

# A service that records a row of the patient from a valid form's cleaned data (keyword arguments).
PatientRecordService = Callable[..., object]

# A date picker's value is always ISO (yyyy-mm-dd), whatever the locale: the en-GB input format
# (24/11/2026) would leave the picker empty in the browser and lose the pre-filled date.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RecordForm(forms.ModelForm):
    """Dates as native date pickers; every field labelled; required fields marked."""

    required_css_class = "required"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DateField):
                field.widget = DATE


class InfusionForm(RecordForm):
    class Meta:
        model = Infusion
        fields = [
            "given_on",
            "weight_kg",
            "weight_measured_on",
            "weight_confirmed",
            "dose_mg",
            "duration_minutes",
            "premedication_antihistamine",
            "premedication_corticosteroid",
            "premedication_antipyretic",
            "lot_number",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "weight_measured_on": "Weight measured on",
            "weight_confirmed": "I have checked this weight: it is right although it differs from "
            "the previous one",
        }

    def premedication(self) -> list[str]:
        return [
            name
            for name in ("antihistamine", "corticosteroid", "antipyretic")
            if self.cleaned_data.get(f"premedication_{name}")
        ]


class LabResultForm(RecordForm):
    class Meta:
        model = LabResult
        fields = [
            "collected_on",
            "analyte",
            "analyte_name",
            "value",
            "unit",
            "antibodies_positive",
            "assay_name",
            "reference_low",
            "reference_high",
        ]


class ImagingStudyForm(RecordForm):
    class Meta:
        model = ImagingStudy
        fields = [
            "performed_on",
            "modality",
            "active_lesions",
            "new_lesions",
            "impression",
            "rinbo_total",
            "rai_cromris_total",
            "report_text",
        ]
        widgets = {"report_text": forms.Textarea(attrs={"rows": 3})}


class AssessmentForm(RecordForm):
    class Meta:
        model = ClinicalAssessment
        fields = [
            "assessed_on",
            "pain_score",
            "physician_global",
            "patient_global",
            "chaq",
            "clinically_active_lesions",
            "disease_state",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ReactionForm(RecordForm):
    class Meta:
        model = InfusionReaction
        fields = ["infusion", "onset", "severity", "symptoms", "management", "infusion_stopped",
                  "outcome"]  # fmt: skip
        widgets = {
            "symptoms": forms.Textarea(attrs={"rows": 2}),
            "management": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, course: TreatmentCourse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this course's infusions, newest first ("200 mg on 10 Nov 2026").
        self.fields["infusion"].queryset = course.infusions.order_by("-given_on")  # type: ignore[attr-defined]


class RegimenChangeForm(RecordForm):
    class Meta:
        model = RegimenChange
        fields = ["effective_on", "reason", "dose_mg_per_kg", "interval_weeks", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}


class CourseStartForm(RecordForm):
    class Meta:
        model = TreatmentCourse
        fields = ["started_on", "planned_dose_mg_per_kg", "maintenance_interval_weeks", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


def _choose(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """No answer pre-selected: the person must choose (a default would be a silent decision)."""
    return [("", "— choose —"), *choices]


class StopCourseForm(forms.Form):
    stopped_on = forms.DateField(widget=DATE, label="Stopped on")
    reason = forms.ChoiceField(choices=_choose(StopReason.choices), label="Reason")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Note (optional)"
    )


class RelapseForm(forms.Form):
    noted_on = forms.DateField(widget=DATE, label="Relapse noted on")
    evidence = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What showed the relapse: MRI, examination, markers.",
    )
    retreatment_starts_on = forms.DateField(
        widget=DATE,
        required=False,
        label="Start retreatment on",
        help_text="Leave empty to record the relapse only.",
    )


class ReviewForm(forms.Form):
    reviewed_on = forms.DateField(widget=DATE, label="Reviewed on")
    decision = forms.ChoiceField(
        choices=_choose(ReviewDecision.choices),
        label="Decision on further infusions",
        help_text="“Stop infliximab” also stops the course (reason: adverse event).",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=500, label="Why does this alert not apply?", widget=forms.TextInput()
    )
