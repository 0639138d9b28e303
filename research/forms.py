from __future__ import annotations

from typing import Any

from django import forms

from registry.models import Site
from research.models import ExportFormat
from research.selectors import researcher_sites


class ExportRequestForm(forms.Form):
    sites: forms.ModelMultipleChoiceField[Site] = forms.ModelMultipleChoiceField(
        queryset=Site.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Sites where you are a researcher.",
    )
    date_from = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: only rows dated on or after this day.",
    )
    date_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: only rows dated on or before this day.",
    )
    format = forms.ChoiceField(
        choices=ExportFormat.choices, initial=ExportFormat.CSV, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites = researcher_sites(user)
        field = self.fields["sites"]
        assert isinstance(field, forms.ModelMultipleChoiceField)  # noqa: S101 - narrows the type
        field.queryset = sites
        field.initial = list(sites)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", "The end of the range is before its start.")
        return cleaned
