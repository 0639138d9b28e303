from __future__ import annotations

from typing import Any

from django import forms

from registry.models import Site
from research import services
from research.models import (
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    AgePrecision,
    DatePrecision,
    ExportFormat,
)
from research.selectors import exporter_sites

SUPPRESS, REPORT_ONLY = "suppress", "report"


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
    # Not required: a request that leaves them out gets the defaults (clean_* below).
    date_precision = forms.ChoiceField(
        label="Dates",
        required=False,
        choices=DatePrecision.choices,
        initial=DEFAULT_DATE_PRECISION,
        widget=forms.RadioSelect,
        help_text="Days since each patient's day 0, exact or rounded down. Finer than weeks: "
        "data managers only.",
    )
    age_precision = forms.ChoiceField(
        label="Ages",
        required=False,
        choices=AgePrecision.choices,
        initial=DEFAULT_AGE_PRECISION,
        widget=forms.RadioSelect,
        help_text="Whole years: data managers only.",
    )
    small_cells = forms.ChoiceField(
        label="Small cells",
        required=False,
        choices=[(SUPPRESS, "Suppress"), (REPORT_ONLY, "Report only (data managers only)")],
        initial=SUPPRESS,
        widget=forms.RadioSelect,
        help_text="Suppress: blank the diagnosis day, age, sex or site of patients fewer than 5 "
        "share them with.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        sites = exporter_sites(user)
        field = self.fields["sites"]
        assert isinstance(field, forms.ModelMultipleChoiceField)  # noqa: S101 - narrows the type
        field.queryset = sites
        field.initial = list(sites)

    def clean_date_precision(self) -> str:
        return self.cleaned_data.get("date_precision") or DEFAULT_DATE_PRECISION

    def clean_age_precision(self) -> str:
        return self.cleaned_data.get("age_precision") or DEFAULT_AGE_PRECISION

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["suppress_small_cells"] = cleaned.pop("small_cells", None) != REPORT_ONLY
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", "The end of the range is before its start.")
        if cleaned.get("sites") and "date_precision" in cleaned and "age_precision" in cleaned:
            errors = services.option_errors(
                by=self.user,
                sites=cleaned["sites"],
                date_precision=cleaned["date_precision"],
                age_precision=cleaned["age_precision"],
                suppress_small_cells=cleaned["suppress_small_cells"],
            )
            for name, message in errors.items():
                self.add_error("small_cells" if name == "suppress_small_cells" else name, message)
        return cleaned
