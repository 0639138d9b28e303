"""The outcomes page: the registry's own relapse, reaction, response and adherence figures beside
the source document's claims (research.outcome_figures), for the chosen site or all the person's
sites and a date range, each figure with its chart, its table and the table as CSV. No patient is
named or linked: a researcher may open it (aggregates only, small cells suppressed)."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from registry.models import Site
from research import outcome_figures
from research.dictionary import text_cell
from research.selectors import outcome_sites


class OutcomeFilter(forms.Form):
    site = forms.ChoiceField(label="Site", required=False)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args: Any, sites: dict[int, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        named = Site.objects.filter(pk__in=sites).order_by("code")
        self.fields["site"].choices = [  # type: ignore[attr-defined]
            ("", "All my sites"),
            *((str(site.pk), f"{site.code} — {site.name}") for site in named),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end of the range is before its start.")
        return data


def _scope(request: HttpRequest) -> tuple[OutcomeFilter, outcome_figures.Scope]:
    sites = outcome_sites(request.user)
    if not sites:
        raise PermissionDenied(
            "The outcomes page is for clinicians, data managers and researchers."
        )
    form = OutcomeFilter(request.GET or None, sites=sites)
    chosen = dict(sites)
    start = end = None
    if form.is_valid():
        if form.cleaned_data.get("site"):
            site_id = int(form.cleaned_data["site"])
            chosen = {site_id: sites[site_id]}
        start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
    scope = outcome_figures.Scope(
        site_ids=frozenset(chosen),
        as_of=timezone.localdate(),
        start=start,
        end=end,
        aggregates_only=any(chosen.values()),
    )
    return form, scope


@login_required
def outcomes(request: HttpRequest) -> HttpResponse:
    form, scope = _scope(request)
    return render(
        request,
        "clinic/outcomes.html",
        {
            "form": form,
            "scope": scope,
            "figures": outcome_figures.figures(scope),
            "computed_as_of": outcome_figures.computed_as_of(scope),
            "courses_without_outcomes": outcome_figures.courses_without_outcomes(scope),
            "query": request.GET.urlencode(),
        },
    )


@login_required
def outcomes_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One figure's table as CSV: only that figure is computed."""
    _form, scope = _scope(request)
    build = outcome_figures.FIGURES.get(table)
    if build is None:
        raise Http404("No such table.")
    [shown] = [t for t in build(scope).tables if t.slug == table]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}.csv"'
    writer = csv.writer(response)
    writer.writerow(shown.header)
    writer.writerows([text_cell(value) for value in row] for row in shown.rows)
    return response
