"""Who may request, see and download research exports."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from audit.recording import PatientRef
from registry.models import Role, Site
from research.models import ExportRequest, PseudonymMapping


def _site_ids_with_role(user: Any, role: str) -> set[int]:
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(user.memberships.filter(role=role).values_list("site_id", flat=True))


def researcher_site_ids(user: Any) -> set[int]:
    return _site_ids_with_role(user, Role.RESEARCHER)


def researcher_sites(user: Any) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=researcher_site_ids(user))


def exporter_site_ids(user: Any) -> set[int]:
    """Sites the user may export: as a researcher, or as a data manager (who may loosen the
    de-identification options, research.deidentify.loosened_options)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    roles = (Role.RESEARCHER, Role.DATA_MANAGER)
    return set(user.memberships.filter(role__in=roles).values_list("site_id", flat=True))


def exporter_sites(user: Any) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=exporter_site_ids(user))


def exports_requested_by(user: Any) -> QuerySet[ExportRequest]:
    return ExportRequest.objects.filter(requested_by=user).prefetch_related("sites")


def exports_visible_to(user: Any) -> QuerySet[ExportRequest]:
    """The user's own exports, and a data manager's every export of their sites only."""
    other_sites = Site.objects.exclude(pk__in=data_manager_site_ids(user))
    managed = ExportRequest.objects.exclude(sites__in=other_sites).filter(sites__isnull=False)
    own = ExportRequest.objects.filter(requested_by=user)
    return (
        ExportRequest.objects.filter(Q(pk__in=own.values("pk")) | Q(pk__in=managed.values("pk")))
        .prefetch_related("sites")
        .order_by("-created_at", "-pk")
    )


def can_download(user: Any, export: ExportRequest) -> bool:
    """The requester, or a data manager of every site the export covers (or a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or (
        export.requested_by_id is not None and export.requested_by_id == user.pk
    ):
        return True
    export_site_ids = set(export.sites.values_list("pk", flat=True))
    return bool(export_site_ids) and export_site_ids <= _site_ids_with_role(user, Role.DATA_MANAGER)


def data_manager_site_ids(user: Any) -> set[int]:
    return _site_ids_with_role(user, Role.DATA_MANAGER)


def export_patients(export: ExportRequest) -> list[PatientRef]:
    """The patients an export holds (under their pseudonyms): its download is a read of them."""
    mappings = PseudonymMapping.objects.filter(export=export)
    return [PatientRef(*ref) for ref in mappings.values_list("patient_id", "patient__site_id")]
