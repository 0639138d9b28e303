"""Viewsets of /api/v1/: scoped to the caller's sites (another site's row is a 404), writing
through the registry's services, refusing stale updates, never deleting clinical data."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api import serializers as s
from api.access_log import AuditedReadsMixin
from api.errors import PreconditionFailed, PreconditionRequired
from api.filters import AlertFilter, LabResultFilter, PatientFilter, ScopedFilterBackend
from monitoring import services as alert_services
from monitoring.evaluation import load_histories
from monitoring.guideline import cut_at
from monitoring.guideline.schedule import ScheduledDose, schedule
from monitoring.models import Alert
from registry import roles, services
from registry.models import (
    AdverseEvent,
    ClinicalAssessment,
    ClinicalRecord,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    ScreeningResult,
    Site,
    TimestampedModel,
    TreatmentCourse,
    Vaccination,
)
from registry.selectors import staff_site_ids


def etag_of(record: TimestampedModel) -> str:
    return f'"{record.pk}-{int(record.updated_at.timestamp() * 1_000_000)}"'


class ScopedViewSet(AuditedReadsMixin, viewsets.GenericViewSet):
    """Rows of the caller's sites only; `site_path` says where a row's site is. The access log
    records the patients of the rows answered (api.access_log)."""

    site_path = "patient__site"
    model: type[Model]
    filter_backends = [ScopedFilterBackend, OrderingFilter]

    @classmethod
    def permission_model(cls) -> type[Model]:
        return cls.model

    def get_queryset(self) -> QuerySet[Model]:
        rows = self.model._default_manager.all()
        return rows.filter(**{f"{self.site_path}__in": staff_site_ids(self.request.user)})


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """List, read, create and correct; no delete. Each write goes through the registry's service
    for it: `record` for a create, `correct` (an allowlisted correction) for PUT/PATCH. Updates
    need If-Match (the ETag you read), checked on the row locked for the update."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    model: type[ClinicalRecord]

    def record(self, data: dict[str, object], by: User) -> ClinicalRecord:
        return services.record_create(record=self.model(**data), by=by)

    def correct(
        self, record: ClinicalRecord, changes: dict[str, object], by: User
    ) -> ClinicalRecord:
        return services.record_correct(record=record, changes=changes, by=by)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(self.get_object())
        return response

    def perform_create(self, serializer: BaseSerializer[Model]) -> None:
        serializer.instance = self.record(
            dict(serializer.validated_data), roles.acting(self.request.user)
        )

    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        # The precondition first, before the body is read (RFC 9110 §13.2.2): a stale or missing
        # ETag is 412/428 whatever the body holds.
        expected = request.headers.get("If-Match")
        if not expected:
            raise PreconditionRequired()
        with transaction.atomic():
            # The check and the write are one step: the row stays locked until the commit, so of
            # two updates sent with the same ETag the second waits, sees the new ETag, gets 412.
            self._lock_for_update = True
            if expected.strip() != etag_of(self.get_object()):
                raise PreconditionFailed()
            return super().update(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Model]:
        rows = super().get_queryset()
        if getattr(self, "_lock_for_update", False):
            rows = rows.select_for_update(of=("self",))
        return rows

    def perform_update(self, serializer: BaseSerializer[Model]) -> None:
        stored = serializer.instance
        assert isinstance(stored, ClinicalRecord)  # noqa: S101  (an update has its record)
        serializer.instance = self.correct(
            stored, dict(serializer.validated_data), roles.acting(self.request.user)
        )

    def finalize_response(
        self, request: Request, response: Response, *args: object, **kwargs: object
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH") and response.status_code in (200, 201):
            instance = getattr(getattr(self, "_serializer", None), "instance", None)
            if isinstance(instance, TimestampedModel):
                response["ETag"] = etag_of(instance)
        return response

    def get_serializer(self, *args: object, **kwargs: object) -> BaseSerializer[Model]:
        self._serializer = super().get_serializer(*args, **kwargs)
        return self._serializer

    def _answer(self, record: ClinicalRecord) -> Response:
        """An action's answer: the record as it is now, with its new ETag."""
        return Response(self.get_serializer(record).data, headers={"ETag": etag_of(record)})


ERROR = OpenApiResponse(s.ErrorSerializer, description="The API's error format.")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ErrorSerializer, description=description)


PRECONDITION = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the record as you read it; a stale one is refused with 412.",
)


def _documented(viewset: type[RecordViewSet]) -> type[RecordViewSet]:
    """A correction's parameters and answers: the refusals of the correction service included."""
    correction = {
        200: viewset.serializer_class,
        400: _error("A field refused (or owned by an action, which is named)."),
        403: _error("Your role at the record's site does not allow it."),
        404: ERROR,
        412: _error("The record changed since you read it (stale ETag)."),
        428: _error("If-Match is missing."),
    }
    created = {
        201: viewset.serializer_class,
        400: _error("Refused by validation or an entry safeguard."),
        403: _error("Your role at the record's site does not allow it."),
    }
    return extend_schema_view(
        create=extend_schema(responses=created),
        update=extend_schema(parameters=[PRECONDITION], responses=correction),
        partial_update=extend_schema(parameters=[PRECONDITION], responses=correction),
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


@_documented
class CourseViewSet(RecordViewSet):
    model = TreatmentCourse
    serializer_class = s.CourseSerializer
    filterset_fields = {"patient": ["exact"], "stopped_on": ["isnull"], "stop_reason": ["exact"]}
    ordering_fields = ["started_on", "stopped_on"]
    ordering = ["started_on"]
    action_verbs = {"stop": "change"}

    @extend_schema(
        request=s.CourseStopSerializer,
        responses={200: s.CourseSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="Stop an active course (a course stops once: a stopped course is refused).",
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.CourseStopSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        course = services.course_stop(
            course=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(course)

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

        def dose_row(dose_: ScheduledDose) -> dict[str, object]:
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


class WithLesionSitesViewSet(RecordViewSet):
    """A study or assessment with its nested lesion sites, through the services."""

    def record(self, data: dict[str, object], by: User) -> ClinicalRecord:
        sites = _lesion_sites(data.pop("lesion_sites", None) or [])
        return services.record_create(record=self.model(**data), by=by, lesion_sites=sites)

    def correct(
        self, record: ClinicalRecord, changes: dict[str, object], by: User
    ) -> ClinicalRecord:
        sites = changes.pop("lesion_sites", None)
        with transaction.atomic():
            if changes:
                record = services.record_correct(record=record, changes=changes, by=by)
            if sites is not None:
                assert isinstance(record, ImagingStudy | ClinicalAssessment)  # noqa: S101
                record = services.lesion_sites_set(record=record, sites=_lesion_sites(sites), by=by)
        return record


def _lesion_sites(entries: object) -> list[LesionSite]:
    assert isinstance(entries, list)  # noqa: S101  (the nested serializer's list)
    return [LesionSite(**entry) for entry in entries]


@_documented
class ImagingStudyViewSet(WithLesionSitesViewSet):
    model = ImagingStudy
    serializer_class = s.ImagingStudySerializer
    filterset_fields = ["patient", "modality"]
    ordering_fields = ["performed_on"]
    ordering = ["performed_on"]


@_documented
class AssessmentViewSet(WithLesionSitesViewSet):
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
    action_verbs = {"review": "review"}

    @extend_schema(
        request=s.ReactionReviewSerializer,
        responses={200: s.ReactionSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="A clinician of the site records the review: decision and note. A severe "
        "reaction holds every further infusion of the patient until it is reviewed; the "
        "decision “stop” also stops the course.",
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.ReactionReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reaction = services.reaction_review_record(
            reaction=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(reaction)


@_documented
class RelapseViewSet(RecordViewSet):
    model = Relapse
    serializer_class = s.RelapseSerializer
    filterset_fields = ["patient", "course"]
    ordering_fields = ["noted_on"]
    ordering = ["noted_on"]
    action_verbs = {"retreat": "add"}

    @extend_schema(
        request=s.RetreatmentSerializer,
        responses={201: s.CourseSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="Start a retreatment course for this relapse and link it, in one step: both "
        "are saved or neither is.",
    )
    @action(detail=True, methods=["post"])
    def retreat(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.RetreatmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        course = services.retreatment_start(
            relapse=target, by=roles.acting(request.user), **body.validated_data
        )
        data = s.CourseSerializer(course, context=self.get_serializer_context()).data
        return Response(data, status=201, headers={"ETag": etag_of(course)})


@_documented
class MedicationViewSet(RecordViewSet):
    model = Medication
    serializer_class = s.MedicationSerializer
    filterset_fields = {"patient": ["exact"], "drug": ["exact"], "stopped_on": ["isnull"]}
    ordering_fields = ["started_on", "stopped_on"]
    ordering = ["started_on", "pk"]
    action_verbs = {"stop": "change"}

    @extend_schema(
        request=s.MedicationStopSerializer,
        responses={200: s.MedicationSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="The patient stopped taking it: the date and the reason (once).",
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.MedicationStopSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        medication = services.medication_stop(
            medication=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(medication)


# --- Safety: adverse events, screening results, vaccinations ------------------------------------


@_documented
class AdverseEventViewSet(RecordViewSet):
    model = AdverseEvent
    serializer_class = s.AdverseEventSerializer
    filterset_fields = ["patient", "course", "term", "serious", "outcome"]
    ordering_fields = ["onset_on"]
    ordering = ["onset_on", "pk"]
    action_verbs = {"review": "review"}

    @extend_schema(
        request=s.AdverseEventReviewSerializer,
        responses={200: s.AdverseEventSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="A clinician of the site records the review of an adverse event: the "
        "decision on infliximab. Every serious event and every event of special interest needs "
        "one; the decision “stop” also stops the patient's active course.",
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.AdverseEventReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = services.adverse_event_review_record(
            event=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(event)


@_documented
class ScreeningResultViewSet(RecordViewSet):
    model = ScreeningResult
    serializer_class = s.ScreeningResultSerializer
    filterset_fields = ["patient", "test", "result"]
    ordering_fields = ["tested_on"]
    ordering = ["tested_on", "pk"]
    action_verbs = {"review": "review"}

    @extend_schema(
        request=s.ScreeningReviewSerializer,
        responses={200: s.ScreeningResultSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="A clinician of the site records that a specialist reviewed a result that is "
        "not negative (a positive or indeterminate TB or hepatitis test): refused for a negative "
        "result and for a test of immunity.",
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.ScreeningReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        screening = services.screening_review_record(
            screening=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(screening)


@_documented
class VaccinationViewSet(RecordViewSet):
    model = Vaccination
    serializer_class = s.VaccinationSerializer
    filterset_fields = ["patient", "vaccine"]
    ordering_fields = ["given_on"]
    ordering = ["given_on", "pk"]
    action_verbs = {"review": "review"}

    @extend_schema(
        request=s.VaccinationReviewSerializer,
        responses={200: s.VaccinationSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="A clinician of the site records the review of a live vaccine given on or "
        "near infliximab (the guideline's live_vaccine_on_treatment): the infusion deferred, or "
        "the risk accepted, and a note. Refused for a vaccine that is not live.",
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.VaccinationReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        vaccination = services.vaccination_review_record(
            vaccination=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(vaccination)


@_documented
class PhenotypeViewSet(RecordViewSet):
    """The CRMO phenotype, one per patient: record it with POST, correct it with PUT/PATCH."""

    model = Phenotype
    serializer_class = s.PhenotypeSerializer
    filterset_fields = ["patient", "family_history"]
    ordering_fields = ["first_symptoms_on"]
    ordering = ["patient", "pk"]

    def get_queryset(self) -> QuerySet[Model]:
        return super().get_queryset().select_related("patient")

    def correct(
        self, record: ClinicalRecord, changes: dict[str, object], by: User
    ) -> ClinicalRecord:
        changes.pop("patient", None)  # the serializer refused another patient
        return super().correct(record, changes, by)


@_documented
class ComorbidityViewSet(RecordViewSet):
    """Comorbidities from the registry's managed list, one row per condition."""

    model = Comorbidity
    serializer_class = s.ComorbiditySerializer
    filterset_fields = ["patient", "condition"]
    ordering_fields = ["onset_on"]
    ordering = ["onset_on", "pk"]


@_documented
class ConsentViewSet(RecordViewSet):
    """Consent records. A clinician or a data manager records consent and its withdrawal; only a
    data manager corrects a record (PUT/PATCH)."""

    model = Consent
    serializer_class = s.ConsentSerializer
    filterset_fields = ["patient", "consented_by"]
    ordering_fields = ["given_on"]
    ordering = ["given_on", "pk"]
    action_verbs = {"withdraw": "withdraw"}

    def get_queryset(self) -> QuerySet[Model]:
        return super().get_queryset().select_related("document", "patient")

    @extend_schema(
        request=s.ConsentWithdrawalSerializer,
        responses={200: s.ConsentSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="Withdraw scopes of a consent on a date: each must have been given and not "
        "yet withdrawn, and the date may not be before the consent was given.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.ConsentWithdrawalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        consent = services.consent_withdraw(
            consent=target, by=roles.acting(request.user), **body.validated_data
        )
        return self._answer(consent)


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The guideline's alerts; acknowledge, or dismiss (with a reason). No manual resolve: an
    alert resolves when the data shows its condition cleared."""

    model = Alert
    site_path = "course__patient__site"
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["due_on", "first_raised_at", "severity"]
    ordering = ["due_on", "pk"]
    action_verbs = {"acknowledge": "change", "dismiss": "change"}

    def get_queryset(self) -> QuerySet[Model]:
        return (
            super()
            .get_queryset()
            .select_related("course__patient__site")
            .prefetch_related("events__actor")
        )

    def _answer(self, alert: Alert) -> Response:
        return Response(s.AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(
        request=s.AlertActionSerializer,
        responses={200: s.AlertSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.AlertActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = alert_services.alert_acknowledge(
            alert=target,
            by=roles.acting(request.user),
            note=body.validated_data.get("note", ""),
        )
        return self._answer(alert)

    @extend_schema(
        request=s.AlertDismissSerializer,
        responses={200: s.AlertSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
        description="Not applicable to this patient: never raised again for this key. A reason "
        "is required; an urgent alert only a clinician of its site may dismiss.",
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()  # 404 before the body is read
        body = s.AlertDismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = alert_services.alert_dismiss(
            alert=target,
            by=roles.acting(request.user),
            reason=body.validated_data["reason"],
        )
        return self._answer(alert)
