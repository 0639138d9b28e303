"""Every route of the URL conf is classified: it reads identified data (and each request writes
one access log row naming who, what kind of read and which patients), or it does not (and says
why). The routes are read from the URL conf, so a route added without a classification fails
here, as does a patient-bearing admin without the audit mixin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.db.models import ForeignKey, Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from audit.models import AccessKind
from monitoring.models import Alert
from registry.models import (
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    ScreeningResult,
    TreatmentCourse,
    Vaccination,
)
from research.models import PseudonymMapping
from tests.api.conftest import Record, token_client
from tests.api.test_access_matrix import CREATE, retreatable  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

# --- The routes, from the URL conf ---------------------------------------------------------------


def discover(patterns: Iterable[Any], namespace: str = "") -> Iterator[str]:
    """Every named route (DRF's `.json` format-suffix twins and the admin's unnamed redirects
    left out: they answer as their named route does)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from discover(entry.url_patterns, inner)
        elif (
            isinstance(entry, URLPattern)
            and entry.name
            and "format" not in entry.pattern.regex.groupindex
        ):
            yield namespace + entry.name


ROUTES = sorted(set(discover(get_resolver().url_patterns)))

# Routes that show no identified data, and why (a new route goes here or into CASES).
NOT_IDENTIFIED: dict[str, str] = {
    "health": "liveness probe",
    "favicon": "a redirect to a static file",
    "login": "the sign-in form (sign-ins are logged by their own events)",
    "logout": "sign-out (logged by its own event)",
    "clinic:home": "a redirect to the person's start page",
    "clinic:guideline": "the guideline's rules and the sites' parameters",
    "clinic:outcomes": "aggregate figures of the person's sites (no patient named or linked)",
    "clinic:outcomes_csv": "a table of the aggregate figures",
    "clinic:lab_import_template": "an empty CSV template",
    "clinic:notification_settings": "the person's own digest settings",
    "clinic:unsubscribe": "the person's own digest, switched off",
    "clinic:research:exports": "a researcher's own export requests (no patient)",
    "clinic:research:export_row": "the progress of a researcher's own export",
    "api:api-root": "links",
    "api:schema": "the OpenAPI schema",
    "api:docs": "the API's documentation page",
    "api:site-list": "the clinics themselves",
    "api:site-detail": "a clinic",
    "api:export-list": "a researcher's own export requests (no patient)",
    "api:export-detail": "a researcher's own export request",
    "api:labresult-bulk-import": "a write: answers the stored rows' ids and counts",
    "admin:index": "the admin's menu",
    "admin:app_list": "an app's menu",
    "admin:login": "the sign-in form",
    "admin:logout": "sign-out",
    "admin:password_change": "the person's own password",
    "admin:password_change_done": "the person's own password",
    "admin:jsi18n": "translations",
    "admin:view_on_site": "a redirect to the record's own page",
    "admin:auth_user_password_change": "sets a person's password",
    "admin:autocomplete": "registry codes of the person's own sites' records (no names)",
    "readiness": "the health checks (no patient)",
    "accounts:verify": "the second step of signing in",
    "accounts:two_factor": "the person's own authenticator and recovery codes",
    "accounts:password_change": "the person's own password",
    "accounts:password_reset": "asks for a reset email",
    "accounts:password_reset_done": "says the email was sent",
    "accounts:password_reset_confirm": "sets the person's own password",
    "accounts:password_reset_complete": "says the password was set",
    "api_tokens:list": "the person's own API tokens (never a secret)",
    "api_tokens:revoke": "revokes one of the person's own tokens",
    "api_tokens:sign_out_everywhere": "ends the person's own sessions and tokens",
    "admin:otp_totp_totpdevice_config": "an authenticator's settings (superusers only)",
    "admin:otp_totp_totpdevice_qrcode": "an authenticator's QR code (superusers only)",
}


def _patient_path(model: type[Model], depth: int = 3) -> str | None:
    """The chain of foreign keys from `model` to the patient, walked from the model itself."""
    if model is Patient:
        return "pk"
    if depth == 0:
        return None
    for model_field in model._meta.get_fields():
        if isinstance(model_field, ForeignKey):
            related = model_field.related_model
            if related is Patient:
                return model_field.name
            inner = _patient_path(related, depth - 1) if isinstance(related, type) else None
            if inner:
                return f"{model_field.name}__{inner}"
    return None


def _admin_routes() -> dict[str, bool]:
    """Each admin route of a registered model: whether it shows patients' records."""
    routes = {}
    for model, model_admin in admin.site._registry.items():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        audited = isinstance(model_admin, AuditedAdminMixin)
        views = ["changelist", "add", "change", "delete", "history"]
        if isinstance(model_admin, SimpleHistoryAdmin):
            views.append("simple_history")
        for view in views:
            routes[f"{info}_{view}"] = audited and view not in ("add", "delete")
    return routes


def test_every_patient_bearing_model_admin_records_its_reads():
    """A model with a chain of foreign keys to the patient shows patients' data in its admin."""
    unaudited = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if _patient_path(model) and not isinstance(model_admin, AuditedAdminMixin)
    ]
    assert unaudited == []


# --- The reads and what each must record ---------------------------------------------------------


@dataclass
class World:
    record: Record  # site A's, read by site A's people
    other: Record  # site B's: never named in A's rows
    clinician: Any
    data_manager: Any
    researcher: Any
    export: Any


@dataclass(frozen=True)
class Case:
    """One request and the row it must write."""

    method: str
    url: str
    user: Any
    kind: str
    patients: set[int]
    api: bool = False  # by API token, not a session
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    before: Callable[[Client], object] | None = None  # a request that sets the case up


def _patients_of(model: type[Model], site: Any) -> set[int]:
    path = _patient_path(model)
    assert path
    site_filter = "site" if path == "pk" else f"{path}__site"
    return set(model._default_manager.filter(**{site_filter: site}).values_list(path, flat=True))


def _patient_of(row: Model) -> int:
    path = _patient_path(type(row))
    assert path
    return type(row)._default_manager.filter(pk=row.pk).values_list(path, flat=True).get()


def _lab_csv(w: World) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    code = w.record.patient.registry_code
    text = f"registry_code,analyte,collected_on,value,unit\n{code},crp,2026-11-20,3.2,mg/L\n"
    return {"file": SimpleUploadedFile("labs.csv", text.encode(), content_type="text/csv")}


def _clinic_cases(w: World) -> dict[str, Case]:
    r, c = w.record, w.clinician
    me = {r.patient.pk}

    def page(name: str, *args: Any, user: Any = c, patients: set[int] = me, **kw: Any) -> Case:
        url = reverse(f"clinic:{name}", args=args)
        return Case("GET", url, user, AccessKind.PAGE, patients, **kw)

    return {
        "clinic:patient": page("patient", r.patient.pk),
        "clinic:patient_alert_history": page("patient_alert_history", r.patient.pk),
        "clinic:start_course": page("start_course", r.new_patient.pk, patients={r.new_patient.pk}),
        "clinic:record_lab": page("record_lab", r.patient.pk),
        "clinic:record_imaging": page("record_imaging", r.patient.pk),
        "clinic:record_assessment": page("record_assessment", r.patient.pk),
        "clinic:record_medication": page("record_medication", r.patient.pk),
        "clinic:stop_medication": page("stop_medication", r.medication.pk),
        "clinic:record_infusion": page("record_infusion", r.course.pk),
        "clinic:record_reaction": page("record_reaction", r.course.pk),
        "clinic:change_regimen": page("change_regimen", r.course.pk),
        "clinic:stop_course": page("stop_course", r.course.pk),
        "clinic:record_relapse": page("record_relapse", r.course.pk),
        "clinic:review_reaction": page("review_reaction", r.reaction.pk),
        "clinic:record_adverse_event": page("record_adverse_event", r.patient.pk),
        "clinic:review_adverse_event": page("review_adverse_event", r.adverse_event.pk),
        "clinic:record_screening": page("record_screening", r.patient.pk),
        "clinic:review_screening": page("review_screening", r.screening_result.pk),
        "clinic:record_vaccination": page("record_vaccination", r.patient.pk),
        "clinic:review_vaccination": page("review_vaccination", r.vaccination.pk),
        "clinic:record_consent": page("record_consent", r.patient.pk),
        "clinic:withdraw_consent": page("withdraw_consent", r.consent.pk),
        "clinic:record_phenotype": page("record_phenotype", r.patient.pk),
        "clinic:record_comorbidity": page("record_comorbidity", r.patient.pk),
        "clinic:correct_comorbidity": page("correct_comorbidity", r.comorbidity.pk),
        "clinic:patients": page("patients", patients=_patients_of(Patient, r.site)),
        "clinic:worklist": page("worklist", patients=_patients_of(Alert, r.site)),
        "clinic:infusion_list": page("infusion_list", patients={r.patient.pk}),
        "clinic:alert_action": Case(
            "POST",
            reverse("clinic:alert_action", args=[r.alert.pk, "acknowledge"]),
            c,
            AccessKind.FRAGMENT,
            me,
            headers={"HX-Request": "true"},
        ),
        "clinic:lab_import": Case(
            "POST", reverse("clinic:lab_import"), c, AccessKind.PAGE, me, data=_lab_csv(w)
        ),
        "clinic:lab_import_preview": page(
            "lab_import_preview",
            before=lambda client: client.post(reverse("clinic:lab_import"), _lab_csv(w)),
        ),
        "clinic:research:download": Case(
            "GET",
            reverse("clinic:research:download", args=[w.export.pk]),
            w.researcher,
            AccessKind.EXPORT_DOWNLOAD,
            me,
        ),
        "clinic:access_log": Case(
            "GET", reverse("clinic:access_log"), w.data_manager, AccessKind.ACCESS_LOG, set()
        ),
        "clinic:access_log_csv": Case(
            "GET", reverse("clinic:access_log_csv"), w.data_manager, AccessKind.ACCESS_LOG, set()
        ),
    }


API_TARGETS: dict[str, tuple[type[Model], str]] = {
    "patient": (Patient, "patient"),
    "course": (TreatmentCourse, "course"),
    "regimenchange": (RegimenChange, "regimen_change"),
    "infusion": (Infusion, "infusion"),
    "labresult": (LabResult, "lab_result"),
    "imagingstudy": (ImagingStudy, "imaging_study"),
    "assessment": (ClinicalAssessment, "assessment"),
    "reaction": (InfusionReaction, "reaction"),
    "relapse": (Relapse, "relapse"),
    "medication": (Medication, "medication"),
    "alert": (Alert, "alert"),
    "adverseevent": (AdverseEvent, "adverse_event"),
    "screeningresult": (ScreeningResult, "screening_result"),
    "vaccination": (Vaccination, "vaccination"),
    "consent": (Consent, "consent"),
    "phenotype": (Phenotype, "phenotype"),
    "comorbidity": (Comorbidity, "comorbidity"),
}
API_ACTIONS = {
    "course-stop": "course",
    "course-schedule": "course",
    "course-alerts": "course",
    "reaction-review": "reaction",
    "relapse-retreat": "retreatable",  # a relapse of a patient with no active course
    "medication-stop": "medication",
    "alert-acknowledge": "alert",
    "alert-dismiss": "alert",
    "adverseevent-review": "adverse_event",
    "screeningresult-review": "screening_result",
    "vaccination-review": "vaccination",
    "consent-withdraw": "consent",
}


def _api_cases(w: World) -> dict[str, Case]:
    r, c = w.record, w.clinician
    cases = {}
    for basename, (model, attribute) in API_TARGETS.items():
        row = getattr(r, attribute)
        cases[f"api:{basename}-list"] = Case(
            "GET",
            reverse(f"api:{basename}-list"),
            c,
            AccessKind.API_LIST,
            _patients_of(model, r.site),
            api=True,
        )
        cases[f"api:{basename}-detail"] = Case(
            "GET",
            reverse(f"api:{basename}-detail", args=[row.pk]),
            c,
            AccessKind.API_RETRIEVE,
            {_patient_of(row)},
            api=True,
        )
    for name, attribute in API_ACTIONS.items():
        row = getattr(r, attribute)
        method = "POST" if name in CREATE else "GET"
        body = CREATE[name](r) if name in CREATE else None
        cases[f"api:{name}"] = Case(
            method,
            reverse(f"api:{name}", args=[row.pk]),
            c,
            AccessKind.API_RETRIEVE,
            {_patient_of(row)},
            api=True,
            data=body,
        )
    cases["api:export-download"] = Case(
        "GET",
        reverse("api:export-download", args=[w.export.pk]),
        w.researcher,
        AccessKind.EXPORT_DOWNLOAD,
        {r.patient.pk},
        api=True,
    )
    return cases


ADMIN_TARGETS: dict[type[Model], Callable[[World], Model]] = {
    Patient: lambda w: w.record.patient,
    TreatmentCourse: lambda w: w.record.course,
    RegimenChange: lambda w: w.record.regimen_change,
    Infusion: lambda w: w.record.infusion,
    InfusionReaction: lambda w: w.record.reaction,
    LabResult: lambda w: w.record.lab_result,
    ImagingStudy: lambda w: w.record.imaging_study,
    ClinicalAssessment: lambda w: w.record.assessment,
    Relapse: lambda w: w.record.relapse,
    Medication: lambda w: w.record.medication,
    AdverseEvent: lambda w: w.record.adverse_event,
    ScreeningResult: lambda w: w.record.screening_result,
    Vaccination: lambda w: w.record.vaccination,
    Consent: lambda w: w.record.consent,
    Phenotype: lambda w: w.record.phenotype,
    Comorbidity: lambda w: w.record.comorbidity,
    Alert: lambda w: w.record.alert,
    PseudonymMapping: lambda w: w.export.pseudonyms.get(),
}
ADMIN_KINDS = {
    "changelist": AccessKind.ADMIN_LIST,
    "change": AccessKind.ADMIN_CHANGE,
    "history": AccessKind.ADMIN_HISTORY,
    "simple_history": AccessKind.ADMIN_HISTORY,
}


def _admin_cases(w: World) -> dict[str, Case]:
    cases = {}
    for model, target in ADMIN_TARGETS.items():
        row = target(w)
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        model_admin = admin.site._registry[model]
        for view, kind in ADMIN_KINDS.items():
            if view == "simple_history":
                if not isinstance(model_admin, SimpleHistoryAdmin):
                    continue
                version = row.history.order_by("history_id").first()
                url = reverse(f"{info}_{view}", args=[row.pk, version.history_id])
            else:
                url = reverse(f"{info}_{view}", args=[] if view == "changelist" else [row.pk])
            if model is PseudonymMapping:
                kind = AccessKind.PSEUDONYM_MAPPING
            patients = (
                _patients_of(model, w.record.site) if view == "changelist" else {_patient_of(row)}
            )
            cases[f"{info}_{view}"] = Case("GET", url, w.data_manager, kind, patients)
    return cases


def cases(w: World) -> dict[str, Case]:
    return _clinic_cases(w) | _api_cases(w) | _admin_cases(w)


@pytest.fixture
def world(
    request, record_a, record_b, clinician_a, data_manager_a, researcher_a, export_a
) -> World:
    request.getfixturevalue("retreatable")
    return World(record_a, record_b, clinician_a, data_manager_a, researcher_a, export_a)


# The case names, known without a database (the parametrisation below).
READ_ROUTES = sorted(
    {name for name, audited in _admin_routes().items() if audited}
    | {f"api:{b}-{k}" for b in API_TARGETS for k in ("list", "detail")}
    | {f"api:{name}" for name in API_ACTIONS}
    | {"api:export-download"}
    | {
        f"clinic:{name}"
        for name in (
            "patient",
            "patient_alert_history",
            "start_course",
            "record_lab",
            "record_imaging",
            "record_assessment",
            "record_medication",
            "stop_medication",
            "record_infusion",
            "record_reaction",
            "change_regimen",
            "stop_course",
            "record_relapse",
            "review_reaction",
            "record_adverse_event",
            "review_adverse_event",
            "record_screening",
            "review_screening",
            "record_vaccination",
            "review_vaccination",
            "record_consent",
            "withdraw_consent",
            "record_phenotype",
            "record_comorbidity",
            "correct_comorbidity",
            "patients",
            "worklist",
            "infusion_list",
            "alert_action",
            "lab_import",
            "lab_import_preview",
            "research:download",
            "access_log",
            "access_log_csv",
        )
    }
)


def test_every_route_is_classified():
    not_reads = set(NOT_IDENTIFIED) | {n for n, audited in _admin_routes().items() if not audited}
    assert set(ROUTES) - set(READ_ROUTES) - not_reads == set(), "classify these routes"
    assert (set(READ_ROUTES) | set(NOT_IDENTIFIED)) - set(ROUTES) == set(), "no such routes"
    assert set(READ_ROUTES) & set(NOT_IDENTIFIED) == set()


def test_a_new_route_without_a_classification_is_caught():
    from django.urls import path

    extra = list(discover([path("reports/<int:patient_id>/", lambda r: None, name="report")]))
    assert extra == ["report"]
    assert "report" not in READ_ROUTES
    assert "report" not in NOT_IDENTIFIED


def _client(case: Case) -> Any:
    """The case's client, signed in (a sign-in writes its own row) and set up."""
    if case.api:
        return token_client(case.user)
    client = Client()
    client.force_login(case.user)
    if case.before:
        case.before(client)
    return client


def _send(client: Any, case: Case) -> Any:
    if case.api:
        body = None if case.data is None else json.dumps(case.data)
        return client.generic(
            case.method, case.url, data=body, content_type="application/json", headers=case.headers
        )
    if case.method == "POST":
        return client.post(case.url, case.data or {}, headers=case.headers)
    return client.get(case.url, headers=case.headers)


@pytest.mark.parametrize("route", READ_ROUTES)
def test_a_read_writes_one_row_naming_who_what_and_which_patients(route, world, written):
    case = cases(world)[route]
    client = _client(case)
    with written() as rows:
        response = _send(client, case)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code in (200, 201), (route, response.status_code, response.content)
    assert rows.inserts == 1
    entry = rows.entry
    assert entry.user == case.user
    assert entry.username == case.user.username
    assert entry.kind == case.kind
    assert set(entry.patient_ids) == case.patients
    other_site = world.other.site.pk
    assert other_site not in entry.site_ids
    if case.patients:
        assert set(entry.site_ids) == {world.record.site.pk}
    assert entry.method == case.method
    assert entry.path == case.url.split("?")[0]
    assert entry.status_code == response.status_code
    assert entry.ip_address == "127.0.0.1"


def test_a_list_names_every_patient_of_its_page(world, written):
    """The patient list's rows, not only the first: every patient of site A (three)."""
    client = Client()
    client.force_login(world.clinician)
    with written() as rows:
        client.get(reverse("clinic:patients"))
    site_a = set(Patient.objects.filter(site=world.record.site).values_list("pk", flat=True))
    assert len(site_a) == 3
    assert set(rows.entry.patient_ids) == site_a


def test_another_sites_record_is_logged_as_refused_without_its_patient(world, written):
    client = Client()
    client.force_login(world.clinician)
    url = reverse("clinic:patient", args=[world.other.patient.pk])
    with written() as rows:
        response = client.get(url)
    assert response.status_code == 404
    assert rows.inserts == 1
    entry = rows.entry
    assert (entry.kind, entry.status_code, entry.patient_ids, entry.path) == (
        AccessKind.REFUSED,
        404,
        [],
        url,
    )


def test_an_anonymous_request_writes_nothing(world, written):
    with written() as rows:
        response = Client().get(reverse("clinic:patient", args=[world.record.patient.pk]))
    assert response.status_code == 302
    assert rows.entries == []


def test_a_page_with_no_identified_data_writes_nothing(world, written):
    client = Client()
    client.force_login(world.clinician)
    with written() as rows:
        assert client.get(reverse("clinic:guideline")).status_code == 200
    assert rows.entries == []


def test_the_query_string_is_not_recorded(world, written):
    client = Client()
    client.force_login(world.clinician)
    with written() as rows:
        client.get(reverse("clinic:patients"), {"q": world.record.patient.family_name})
    assert rows.entry.path == reverse("clinic:patients")
    assert world.record.patient.family_name not in json.dumps(
        {f.name: str(getattr(rows.entry, f.attname)) for f in rows.entry._meta.fields}
    )
