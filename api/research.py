"""/api/v1/exports/: researchers request de-identified exports, follow them and download them.

Researchers have no staff role, so this viewset has its own permission class: a researcher or data
manager role at some site. A researcher sees only their own exports, a data manager also every
export of their sites; a file is sent only to its requester (or a data manager of every site it
covers, while they hold that role), and to anyone else it does not exist (404); an expired
export's file is gone (410). A request whose build cannot be queued (the task queue does not
answer) is refused with 503 and the failed export's id: nothing is being built.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Gone
from audit.models import AccessKind
from audit.recording import record_read
from registry.models import Site
from research import selectors, services
from research.models import (
    DEFAULT_AGE_PRECISION,
    DEFAULT_DATE_PRECISION,
    ExportRequest,
    ExportStatus,
)

QUEUE_RETRY_AFTER_SECONDS = 60  # the Retry-After of a 503: the queue is down, not the request


class IsResearcher(BasePermission):
    message = "Research exports are for researchers."

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "action", None) == "download":
            return bool(request.user and request.user.is_authenticated)
        return bool(request.user and selectors.exporter_site_ids(request.user))


class ExportSerializer(serializers.ModelSerializer):
    sites = serializers.SlugRelatedField(slug_field="code", many=True, queryset=Site.objects.none())
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportRequest
        fields = (
            "id",
            "sites",
            "date_from",
            "date_to",
            "format",
            "date_precision",
            "age_precision",
            "suppress_small_cells",
            "status",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "row_counts",
            "error",
            "attempts",
            "expires_at",
            "download_url",
        )
        read_only_fields = (
            "status",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "row_counts",
            "error",
            "attempts",
            "expires_at",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            sites = self.fields["sites"]
            assert isinstance(sites, serializers.ManyRelatedField)  # noqa: S101 - narrows the type
            mine = selectors.exporter_sites(request.user)
            setattr(sites.child_relation, "queryset", mine)  # noqa: B010 - a typed-stub gap

    @cached_property
    def _download_rights(self) -> selectors.DownloadRights:
        """The caller's roles, read once per list (a list's rows share this serializer)."""
        return selectors.DownloadRights.of(self.context["request"].user)

    def get_download_url(self, export: ExportRequest) -> str | None:
        """Offered only to those who may download it now (their roles today)."""
        request = self.context.get("request")
        if request is None or not export.is_downloadable:
            return None
        if not self._download_rights.allow(export):
            return None
        return request.build_absolute_uri(reverse("api:export-download", args=[export.pk]))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_to < date_from:
            raise serializers.ValidationError(
                {"date_to": "The end of the range is before its start."}
            )
        request = self.context.get("request")
        if request is not None and attrs.get("sites"):
            errors = services.option_errors(
                by=request.user,
                sites=attrs["sites"],
                date_precision=attrs.get("date_precision", DEFAULT_DATE_PRECISION),
                age_precision=attrs.get("age_precision", DEFAULT_AGE_PRECISION),
                suppress_small_cells=attrs.get("suppress_small_cells", True),
            )
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


QUEUE_DOWN = inline_serializer(
    "ExportNotQueued",
    {
        "detail": serializers.CharField(),
        "id": serializers.IntegerField(help_text="The export, recorded as failed."),
        "status": serializers.CharField(help_text="failed"),
    },
)


@extend_schema_view(
    create=extend_schema(
        responses={
            201: ExportSerializer,
            503: OpenApiResponse(
                QUEUE_DOWN,
                description="The task queue did not answer: the export is recorded as failed "
                "and nothing is built. Try again later (Retry-After).",
            ),
        },
        examples=[
            OpenApiExample(
                "CSV bundle of one site",
                value={"sites": ["north"], "format": "csv", "date_from": "2025-01-01"},
                request_only=True,
            ),
            OpenApiExample(
                "The task queue is down",
                value={
                    "detail": "The export could not be queued: the task queue is not answering. "
                    "Nothing was built; try again later.",
                    "id": 42,
                    "status": "failed",
                },
                response_only=True,
                status_codes=["503"],
            ),
        ],
    )
)
class ExportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ExportSerializer
    lookup_value_regex = "[0-9]+"
    permission_classes = [IsResearcher]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ExportRequest]:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema: no caller
            return ExportRequest.objects.none()
        return selectors.exports_visible_to(self.request.user)

    @classmethod
    def as_view(cls, actions: Any = None, **initkwargs: Any) -> Any:
        # Not atomic: a request is committed before its build is queued (services.export_queue),
        # so the answer can say at once when the queue does not answer.
        return transaction.non_atomic_requests(super().as_view(actions, **initkwargs))

    def handle_exception(self, exc: Exception) -> Response:
        # DRF marks "the request's transaction" for rollback on an error; this view has none (see
        # as_view), so a transaction around it (its caller's: a test's) is not DRF's to spoil.
        inside = transaction.get_connection().in_atomic_block
        rollback = inside and transaction.get_rollback()
        response = super().handle_exception(exc)
        if inside:
            transaction.set_rollback(rollback)
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        export = services.export_request(by=request.user, **serializer.validated_data)
        if export.status == ExportStatus.FAILED:  # its build could not be queued
            return Response(
                {"detail": export.failure_message, "id": export.pk, "status": export.status},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(QUEUE_RETRY_AFTER_SECONDS)},
            )
        serializer.instance = export
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export, or not yours to download now."),
            410: OpenApiResponse(description="The export expired: its file was deleted."),
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        """The export's zip: for its requester while they hold a researcher (or data manager) role
        at each of its sites, or a data manager of every site it covers."""
        export = ExportRequest.objects.filter(pk=int(pk or 0)).first()  # pk: digits (the route)
        if export is None:
            raise Http404("No such export.")
        try:
            with transaction.atomic():  # a file that cannot be opened is not recorded as sent
                path = services.export_download(export=export, by=request.user)
                file = path.open("rb")
        except PermissionDenied:
            raise Http404("No such export.") from None
        except services.ExportExpired as expired:
            raise Gone(str(expired)) from None
        patients = selectors.export_patients(export)
        record_read(request, kind=AccessKind.EXPORT_DOWNLOAD, patients=patients)
        return FileResponse(file, as_attachment=True, filename=export.download_name)
