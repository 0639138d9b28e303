"""Who may request, see and download research exports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from audit.recording import PatientRef
from registry.models import Role, Site
from research.deidentify import loosened_options
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


@dataclass(frozen=True)
class DownloadRights:
    """Who may download an export is decided when they ask, from their roles then: a role
    removed since the export was built takes its files with it. No superuser bypass (operators'
    own exports, from the command line, are written where they say)."""

    user_id: int | None
    exporter_site_ids: frozenset[int]
    data_manager_site_ids: frozenset[int]

    @classmethod
    def of(cls, user: Any) -> DownloadRights:
        return cls(
            user_id=user.pk if user.is_authenticated else None,
            exporter_site_ids=frozenset(exporter_site_ids(user)),
            data_manager_site_ids=frozenset(data_manager_site_ids(user)),
        )

    def allow(self, export: ExportRequest) -> bool:
        """A data manager of every site the export covers; or its requester, while they could
        still request it: a researcher or data manager at each of its sites, and a data manager
        of all of them if its options are finer than a researcher's defaults."""
        site_ids = {site.pk for site in export.sites.all()}  # prefetched in lists
        if not site_ids or self.user_id is None:
            return False
        if site_ids <= self.data_manager_site_ids:
            return True
        return (
            export.requested_by_id == self.user_id
            and site_ids <= self.exporter_site_ids
            and not loosened_options(
                date_precision=export.date_precision,
                age_precision=export.age_precision,
                suppress_small_cells=export.suppress_small_cells,
            )
        )


def can_download(user: Any, export: ExportRequest) -> bool:
    return DownloadRights.of(user).allow(export)


def downloadable_ids(user: Any, exports: Iterable[ExportRequest]) -> set[int]:
    """Which of these exports the user may download now (a list's download links)."""
    rights = DownloadRights.of(user)
    return {export.pk for export in exports if export.is_downloadable and rights.allow(export)}


def data_manager_site_ids(user: Any) -> set[int]:
    return _site_ids_with_role(user, Role.DATA_MANAGER)


def export_patients(export: ExportRequest) -> list[PatientRef]:
    """The patients an export holds (under their pseudonyms): its download is a read of them."""
    mappings = PseudonymMapping.objects.filter(export=export)
    return [PatientRef(*ref) for ref in mappings.values_list("patient_id", "patient__site_id")]


# The outcomes page (research.outcome_figures): clinicians and data managers see their sites'
# figures whole; a researcher sees the aggregates only (research consent, small cells suppressed).
OUTCOME_ROLES = (Role.CLINICIAN, Role.DATA_MANAGER, Role.RESEARCHER)


def outcome_sites(user: Any) -> dict[int, bool]:
    """Site id → whether the user sees only aggregates there (a researcher, and no clinician or
    data manager role at that site)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    roles_at: dict[int, set[str]] = {}
    for site_id, role in user.memberships.filter(role__in=OUTCOME_ROLES).values_list(
        "site_id", "role"
    ):
        roles_at.setdefault(site_id, set()).add(role)
    return {
        site_id: not (held & {Role.CLINICIAN, Role.DATA_MANAGER})
        for site_id, held in roles_at.items()
    }
