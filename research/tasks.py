"""Celery: build one research export (progress is written to the request as tables complete)."""

from __future__ import annotations

from celery import shared_task

from research import services
from research.models import ExportRequest


@shared_task(name="research.build_export", acks_late=True)
def build_export(export_id: int) -> str:
    export = services.export_build(export=ExportRequest.objects.get(pk=export_id))
    return export.status
