"""The researchers' page: request an export, follow its progress, download it when done."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from audit.models import AccessKind
from audit.recording import record_read
from research import selectors, services
from research.forms import ExportRequestForm
from research.models import ExportRequest

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


@exporter_required
def exports(request: HttpRequest) -> HttpResponse:
    form = ExportRequestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        export = services.export_request(by=request.user, **form.cleaned_data)
        messages.success(request, f"Export {export.pk} requested; it is being built.")
        return redirect("clinic:research:exports")
    return render(
        request,
        "research/exports.html",
        {"form": form, "exports": selectors.exports_requested_by(request.user)},
    )


@exporter_required
def export_row(request: HttpRequest, export_id: int) -> HttpResponse:
    """The export's row of the list: polled by htmx while the export is being built."""
    export = get_object_or_404(selectors.exports_requested_by(request.user), pk=export_id)
    return render(request, "research/_export_row.html", {"export": export})


@login_required
def download(request: HttpRequest, export_id: int) -> FileResponse:
    """The requester's (or a data manager's) file; to anyone else it does not exist."""
    export = get_object_or_404(ExportRequest, pk=export_id)
    if not export.is_downloadable or not selectors.can_download(request.user, export):
        raise Http404("No such export.")
    path = services.export_download(export=export, by=request.user)
    record_read(
        request, kind=AccessKind.EXPORT_DOWNLOAD, patients=selectors.export_patients(export)
    )
    return FileResponse(path.open("rb"), as_attachment=True, filename=export.download_name)
