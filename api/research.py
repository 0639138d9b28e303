"""/api/v1/exports/: researchers request de-identified exports, follow them and download them.

Researchers have no staff role, so this viewset has its own permission class: a researcher or data
manager role at some site. A researcher sees only their own exports, a data manager also every
export of their sites; a file is sent only to its requester (or a data manager of every site it
covers), and to anyone else it does not exist (404).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from audit.models import AccessKind
from audit.recording import record_read
from registry.models import Site
from research import selectors, services
from research.models import DEFAULT_AGE_PRECISION, DEFAULT_DATE_PRECISION, ExportRequest


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
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            sites = self.fields["sites"]
            assert isinstance(sites, serializers.ManyRelatedField)  # noqa: S101 - narrows the type
            mine = selectors.exporter_sites(request.user)
            setattr(sites.child_relation, "queryset", mine)  # noqa: B010 - a typed-stub gap

    def get_download_url(self, export: ExportRequest) -> str | None:
        request = self.context.get("request")
        if not export.is_downloadable or request is None:
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


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "CSV bundle of one site",
                value={"sites": ["north"], "format": "csv", "date_from": "2025-01-01"},
                request_only=True,
            )
        ]
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

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = services.export_request(
            by=self.request.user, **serializer.validated_data
        )

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        """The export's zip: for its requester, or a data manager of every site it covers."""
        export = ExportRequest.objects.filter(pk=int(pk or 0)).first()  # pk: digits (the route)
        if (
            export is None
            or not export.is_downloadable
            or not selectors.can_download(request.user, export)
        ):
            raise Http404("No such export.")
        with transaction.atomic():
            path = services.export_download(export=export, by=request.user)
        patients = selectors.export_patients(export)
        record_read(request, kind=AccessKind.EXPORT_DOWNLOAD, patients=patients)
        return FileResponse(path.open("rb"), as_attachment=True, filename=export.download_name)
