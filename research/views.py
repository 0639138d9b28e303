"""The researchers' page: request an export, follow its progress, download it when done."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render

from audit.models import AccessKind
from audit.recording import record_read
from research import selectors, services
from research.forms import ExportRequestForm
from research.models import ExportRequest, ExportStatus

View = Callable[..., HttpResponse]


def exporter_required(view: View) -> View:
    """Signed in, with a researcher or data manager role at some site; else 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.exporter_site_ids(request.user):
            raise PermissionDenied("Research exports are for researchers.")
        return view(request, *args, **kwargs)

    return wrapper


# Not atomic: the request is committed before its build is queued (services.export_queue), so
# the page can say at once when the queue does not answer.
@transaction.non_atomic_requests
@exporter_required
def exports(request: HttpRequest) -> HttpResponse:
    form = ExportRequestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        export = services.export_request(by=request.user, **form.cleaned_data)
        if export.status == ExportStatus.FAILED:
            messages.error(request, f"Export {export.pk}: {export.failure_message}")
        else:
            messages.success(request, f"Export {export.pk} requested; it is being built.")
        return redirect("clinic:research:exports")
    exports = selectors.exports_requested_by(request.user)
    return render(
        request,
        "research/exports.html",
        {
            "form": form,
            "exports": exports,
            "downloadable": selectors.downloadable_ids(request.user, exports),
        },
    )


# htmx stops polling an element whose request answers 286.
STOP_POLLING = 286


@login_required
def export_row(request: HttpRequest, export_id: int) -> HttpResponse:
    """The export's row of the list: polled by htmx while the export is being built. Someone who
    lost every role meanwhile gets nothing, and the page stops asking."""
    if not selectors.exporter_site_ids(request.user):
        return HttpResponse(status=STOP_POLLING)
    export = get_object_or_404(selectors.exports_requested_by(request.user), pk=export_id)
    downloadable = selectors.downloadable_ids(request.user, [export])
    return render(
        request, "research/_export_row.html", {"export": export, "downloadable": downloadable}
    )


@login_required
def download(request: HttpRequest, export_id: int) -> HttpResponseBase:
    """The file, to those who may download it now; to anyone else it does not exist. An expired
    export's requester is told so on the exports page."""
    export = get_object_or_404(ExportRequest, pk=export_id)
    try:
        path = services.export_download(export=export, by=request.user)
    except PermissionDenied:
        raise Http404("No such export.") from None
    except services.ExportExpired as expired:
        messages.error(request, str(expired))
        return redirect("clinic:research:exports")
    record_read(
        request, kind=AccessKind.EXPORT_DOWNLOAD, patients=selectors.export_patients(export)
    )
    return FileResponse(path.open("rb"), as_attachment=True, filename=export.download_name)
