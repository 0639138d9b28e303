"""Viewsets of /api/v1/: scoped to the caller's sites (another site's row is a 404), writing
through the registry's services, refusing stale updates, never deleting clinical data."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer

from api import serializers as s
from api.errors import PreconditionFailed, PreconditionRequired
from api.filters import AlertFilter, LabResultFilter, PatientFilter, ScopedFilterBackend
from monitoring import services as alert_services
from monitoring.evaluation import evaluate_patient, load_histories
from monitoring.guideline import cut_at
from monitoring.guideline.schedule import ScheduledDose, schedule
from monitoring.models import Alert
from registry import services
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Patient,
    RegimenChange,
    Relapse,
    Site,
    TreatmentCourse,
)
from registry.selectors import staff_site_ids


def etag_of(record: Any) -> str:
    return f'"{record.pk}-{int(record.updated_at.timestamp() * 1_000_000)}"'


class ScopedViewSet(viewsets.GenericViewSet):
    """Rows of the caller's sites only; `site_path` says where a row's site is."""

    site_path = "patient__site"
    model: type[Model]
    filter_backends = [ScopedFilterBackend, OrderingFilter]

    @classmethod
    def permission_model(cls) -> type[Model]:
        return cls.model

    def get_queryset(self) -> QuerySet[Any]:
        rows = self.model._default_manager.all()
        return rows.filter(**{f"{self.site_path}__in": staff_site_ids(self.request.user)})


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """List, read, create and correct; no delete. Updates need If-Match (the ETag you read)."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(self.get_object())
        return response

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        record = self.model(**serializer.validated_data)
        self.save(record)
        serializer.instance = record

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The precondition first, before the body is read (RFC 9110 §13.2.2): a stale or missing
        # ETag is 412/428 whatever the body holds.
        expected = request.headers.get("If-Match")
        if not expected:
            raise PreconditionRequired()
        if expected.strip() != etag_of(self.get_object()):
            raise PreconditionFailed()
        return super().update(request, *args, **kwargs)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        record = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(record, name, value)
        self.save(record)

    def save(self, record: Any) -> None:
        services.record_save(record=record, by=self.request.user)
        evaluate_patient(services.patient_id_of(record))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH") and response.status_code in (200, 201):
            instance = getattr(getattr(self, "_serializer", None), "instance", None)
            if instance is not None:
                response["ETag"] = etag_of(instance)
        return response

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        self._serializer = super().get_serializer(*args, **kwargs)
        return self._serializer


PRECONDITION = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the record as you read it; a stale one is refused with 412.",
)


def _documented(viewset: type[RecordViewSet]) -> type[RecordViewSet]:
    return extend_schema_view(
        update=extend_schema(parameters=[PRECONDITION]),
        partial_update=extend_schema(parameters=[PRECONDITION]),
    )(viewset)


class SiteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    model = Site
    site_path = "pk"
    serializer_class = s.SiteSerializer
    ordering_fields = ["code"]
    ordering = ["code"]


@_documented
class PatientViewSet(RecordViewSet):
    model = Patient
    site_path = "site"
    serializer_class = s.PatientSerializer
    filterset_class = PatientFilter
    ordering_fields = ["registry_code", "date_of_birth", "created_at"]
    ordering = ["registry_code"]

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        patient = services.patient_save_new(
            patient=Patient(**serializer.validated_data), by=self.request.user
        )
        serializer.instance = patient


@_documented
class CourseViewSet(RecordViewSet):
    model = TreatmentCourse
    serializer_class = s.CourseSerializer
    filterset_fields = {"patient": ["exact"], "stopped_on": ["isnull"], "stop_reason": ["exact"]}
    ordering_fields = ["started_on", "stopped_on"]
    ordering = ["started_on"]

    @extend_schema(responses=s.ScheduleSerializer)
    @action(detail=True, methods=["get"])
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        """The computed schedule: doses given against their due dates, and the next dose due."""
        course = self.get_object()
        today = timezone.localdate()
        [history] = load_histories([course.pk])
        known = cut_at(history, today)
        plan = schedule(known, today)
        dose, interval = known.regimen_on(today)

        def dose_row(dose_: ScheduledDose) -> dict[str, Any]:
            return {
                "number": dose_.number,
                "phase": dose_.phase,
                "due_on": dose_.due_on,
                "given_on": dose_.given_on,
                "infusion": dose_.infusion.id if dose_.infusion else None,
                "days_late": dose_.days_late(today),
            }

        data = {
            "course": course.pk,
            "as_of": today,
            "dose_mg_per_kg": dose,
            "interval_weeks": interval,
            "doses": [dose_row(d) for d in plan.doses],
            "next_dose": dose_row(plan.next_dose) if plan.next_dose else None,
        }
        return Response(s.ScheduleSerializer(data).data)

    @extend_schema(responses=s.AlertSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def alerts(self, request: Request, pk: str | None = None) -> Response:
        """The course's alerts (all statuses), most recent first."""
        course = self.get_object()
        alerts = course.alerts.select_related("course__patient__site").prefetch_related(
            "events__actor"
        )
        return Response(s.AlertSerializer(alerts.order_by("-first_raised_at"), many=True).data)


@_documented
class RegimenChangeViewSet(RecordViewSet):
    model = RegimenChange
    site_path = "course__patient__site"
    serializer_class = s.RegimenChangeSerializer
    filterset_fields = ["course", "reason"]
    ordering_fields = ["effective_on"]
    ordering = ["effective_on"]


@_documented
class InfusionViewSet(RecordViewSet):
    model = Infusion
    site_path = "course__patient__site"
    serializer_class = s.InfusionSerializer
    filterset_fields = {"course": ["exact"], "given_on": ["gte", "lte"]}
    ordering_fields = ["given_on"]
    ordering = ["given_on"]


@_documented
class LabResultViewSet(RecordViewSet):
    model = LabResult
    serializer_class = s.LabResultSerializer
    filterset_class = LabResultFilter
    ordering_fields = ["collected_on"]
    ordering = ["collected_on"]


@_documented
class ImagingStudyViewSet(RecordViewSet):
    model = ImagingStudy
    serializer_class = s.ImagingStudySerializer
    filterset_fields = ["patient", "modality"]
    ordering_fields = ["performed_on"]
    ordering = ["performed_on"]


@_documented
class AssessmentViewSet(RecordViewSet):
    model = ClinicalAssessment
    serializer_class = s.AssessmentSerializer
    filterset_fields = ["patient", "disease_state"]
    ordering_fields = ["assessed_on"]
    ordering = ["assessed_on"]


@_documented
class ReactionViewSet(RecordViewSet):
    model = InfusionReaction
    site_path = "infusion__course__patient__site"
    serializer_class = s.ReactionSerializer
    filterset_fields = ["infusion", "severity", "onset"]
    ordering_fields = ["infusion__given_on"]
    ordering = ["pk"]


@_documented
class RelapseViewSet(RecordViewSet):
    model = Relapse
    serializer_class = s.RelapseSerializer
    filterset_fields = ["patient", "course"]
    ordering_fields = ["noted_on"]
    ordering = ["noted_on"]


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The guideline's alerts; acknowledge, resolve or dismiss (with a reason)."""

    model = Alert
    site_path = "course__patient__site"
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["due_on", "first_raised_at", "severity"]
    ordering = ["due_on", "pk"]
    action_verbs = {"acknowledge": "change", "resolve": "change", "dismiss": "change"}

    def get_queryset(self) -> QuerySet[Any]:
        return (
            super()
            .get_queryset()
            .select_related("course__patient__site")
            .prefetch_related("events__actor")
        )

    def _act(self, request: Request, action: Any, body: type[Serializer[Any]]) -> Response:
        """Validate the action's body, act through the service, answer with the alert."""
        fields = body(data=request.data)
        fields.is_valid(raise_exception=True)
        alert = action(alert=self.get_object(), by=request.user, **fields.validated_data)
        return Response(s.AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(request=s.AlertActionSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, alert_services.alert_acknowledge, s.AlertActionSerializer)

    @extend_schema(request=s.AlertActionSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, alert_services.alert_resolve, s.AlertActionSerializer)

    @extend_schema(request=s.AlertDismissSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, alert_services.alert_dismiss, s.AlertDismissSerializer)
