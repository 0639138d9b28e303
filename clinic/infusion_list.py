"""The infusion list: the nurses' day (who is due, what to prepare), its printable day sheet and
pharmacy's vial forecast. Reads in `clinic.infusion_selectors`; nothing here writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode

from audit.recording import record_read, web_kind
from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.infusion_selectors import (
    OVERDUE,
    SECTIONS,
    SORTS,
    TODAY,
    WEEK_DAYS,
    infusions_due,
    sorted_rows,
    vial_forecast,
)
from registry.selectors import sites_for

SORT_LABELS = {"due": "Due", "patient": "Patient", "site": "Site"}


@dataclass(frozen=True)
class SortLink:
    key: str
    label: str
    url: str
    current: bool


@staff_required
def infusion_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """?site= one of the user's sites; ?sort= due | patient | site; ?sheet=day the day sheet."""
    today = timezone.localdate()
    sites = list(sites_for(request.user).order_by("code"))
    site = request.GET.get("site", "")
    if site not in {s.code for s in sites}:
        site = ""
    sort = request.GET.get("sort", "")
    if sort not in SORTS:
        sort = "due"
    rows = sorted_rows(
        infusions_due(request.user, today=today, site_codes=[site] if site else None), sort
    )
    context = {
        "today": today,
        "sites": sites,
        "site": site,
        "sort": sort,
        "sort_links": {
            key: SortLink(key, label, "?" + urlencode(_query(site, key)), key == sort)
            for key, label in SORT_LABELS.items()
        },
        "sheet_url": "?" + urlencode({**_query(site, sort), "sheet": "day"}),
        "week_end": today + dt.timedelta(days=WEEK_DAYS),
    }
    if request.GET.get("sheet") == "day":
        day_rows = [row for row in rows if row.section in (OVERDUE, TODAY)]
        record_read(request, kind=web_kind(request), patients=[row.patient for row in day_rows])
        return render(
            request,
            "clinic/infusion_day_sheet.html",
            context | {"rows": day_rows, "printed_at": timezone.localtime()},
        )
    sections = [(key, title, [r for r in rows if r.section == key]) for key, title in SECTIONS]
    record_read(request, kind=web_kind(request), patients=[row.patient for row in rows])
    return render(
        request,
        "clinic/infusion_list.html",
        context
        | {"sections": sections, "count": len(rows), "forecast": vial_forecast(rows, today=today)},
    )


def _query(site: str, sort: str) -> dict[str, str]:
    """The list's query string: only what differs from the defaults, so links stay short."""
    query = {"site": site} if site else {}
    return query | ({"sort": sort} if sort != "due" else {})
