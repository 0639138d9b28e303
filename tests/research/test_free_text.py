"""No free text reaches a research export, whatever field it is typed in.

A marker is planted in every free-text field of every model of the project: found by
introspection (a CharField or TextField without choices), so a field added later is covered
without touching this test. The demo registry is seeded, every such field of every row gets its
field's marker, every format is built through the service, and every file of every archive is
read as a researcher would (zip entries decompressed, Parquet decoded) for the markers.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import models, transaction
from django.db.models.functions import Cast, Concat, Left

from api.models import ApiToken
from audit.models import AccessKind, AccessLogEntry
from monitoring.evaluation import evaluate_courses
from monitoring.models import DigestDelivery, MissedNightNotice, SiteGuideline
from registry.models import ConsentDocument, InfliximabProduct, Site, TreatmentCourse
from research.models import ExportFormat
from tests.conftest import TODAY
from tests.research.support import archive_text, build

# Exported on purpose; none is typed freely by the people who record data.
EXPORTED = {
    # consents.document_code and document_version, FHIR Consent's policyRule: a consent
    # document's code and version in the registry's managed list, which a superuser enters once
    # per form the ethics committee approved (as a site's code), never a patient's data.
    "registry.ConsentDocument.code",
    "registry.ConsentDocument.version",
    # patients.site_code, the manifest's and README's sites, FHIR's treating-site: the clinic's
    # registry code, a slug an administrator gives the site once.
    "registry.Site.code",
    # alerts.guideline_version: written by the engine (the guideline parameters' version).
    "monitoring.Alert.guideline_version",
    # An infusion's and a course's product (infusions, courses; FHIR's Medication): the codes of
    # the managed product list, which a superuser keeps (a slug, an EMA number and an RxNorm
    # concept, each format-validated). Not its name nor its manufacturer.
    "registry.InfliximabProduct.code",
    "registry.InfliximabProduct.ema_product_number",
    "registry.InfliximabProduct.rxnorm_cui",
}
# The safety record's free text (issue 15): each planted, none exported.
SAFETY_FREE_TEXT = {
    "registry.Medication.drug_name",
    "registry.AdverseEvent.specified_term",
    "registry.Infusion.lot_number",
    "registry.Infusion.notes",
    "registry.InfliximabProduct.name",
    "registry.InfliximabProduct.manufacturer",
}
# People's names, logins and e-mails are identifiers too, though auth is not the project's app.
OUTSIDE_THE_PROJECT = (User,)
MARKER = "zq{:03d}x"  # z, q and x are no hexadecimal digits: no pseudonym or checksum holds one
FOUND = re.compile(r"zq(\d{3})x")


def project_models() -> list[type[models.Model]]:
    """Every model of the project's own apps (a package in the project's folder), history too."""
    base = Path(settings.BASE_DIR).resolve()
    own = [c for c in apps.get_app_configs() if Path(c.path).resolve().parent == base]
    return [model for config in own for model in config.get_models()] + list(OUTSIDE_THE_PROJECT)


def is_free_text(field: models.Field[Any, Any]) -> bool:
    return isinstance(field, models.CharField | models.TextField) and not field.choices


def free_text_fields() -> dict[str, models.Field[Any, Any]]:
    """Every free-text field, by "app.Model.field"."""
    return {
        f"{model._meta.label}.{field.name}": field
        for model in project_models()
        for field in model._meta.concrete_fields
        if is_free_text(field)
    }


def marker(label: str) -> str:
    return MARKER.format(sorted(free_text_fields()).index(label))


def _marked(label: str, field: models.Field[Any, Any]) -> Any:
    """The field's marker and the row's id (unique fields stay unique), cut to the field's size."""
    value = Concat(models.Value(marker(label)), Cast("pk", models.TextField()))
    return Left(value, field.max_length) if field.max_length else value


# Models the seeded, evaluated and once exported demo has no row of: one is made, so that its
# fields are planted too (any other model without rows fails the test, naming it).
def _digest() -> None:
    user = User.objects.get(username="clinician.north")
    DigestDelivery.objects.create(user=user, digest_on=TODAY)


def _missed_night() -> None:
    MissedNightNotice.objects.create(night=TODAY, reason="The worker was down.")


def _site_guideline() -> None:
    SiteGuideline.objects.create(site=Site.objects.get(code="north"), rationale="Local audit.")


def _api_token() -> None:
    ApiToken.objects.issue(user=User.objects.get(username="nurse.north"), name="Lab interface")


def _product_history() -> None:
    """Products are seeded by migration, without history: an edit in the admin makes a row."""
    product = InfliximabProduct.objects.order_by("pk").first()
    assert product is not None, "the demo has infliximab products"
    product.save()


def _consent_document_history() -> None:
    """Consent documents are seeded by migration, without history: an edit makes a row."""
    document = ConsentDocument.objects.order_by("pk").first()
    assert document is not None, "the demo has consent documents"
    document.save()


MAKE_ROW: dict[str, Callable[[], None]] = {
    "registry.HistoricalInfliximabProduct": _product_history,
    "registry.HistoricalConsentDocument": _consent_document_history,
    "monitoring.DigestDelivery": _digest,
    "monitoring.MissedNightNotice": _missed_night,
    "monitoring.SiteGuideline": _site_guideline,  # and its history row
    "api.ApiToken": _api_token,
}
# Append-only (a trigger refuses UPDATE): a marked row is added instead.
APPEND_ONLY: dict[str, Callable[[dict[str, Any]], object]] = {
    "audit.AccessLogEntry": lambda marked: AccessLogEntry.objects.create(
        kind=AccessKind.PAGE, **marked
    ),
}


def fields_by_model() -> dict[type[models.Model], dict[str, models.Field[Any, Any]]]:
    """Each model with free-text fields, and those fields by label."""
    grouped: dict[type[models.Model], dict[str, models.Field[Any, Any]]] = {}
    for label, field in free_text_fields().items():
        grouped.setdefault(field.model, {})[label] = field
    return grouped


def plant_markers() -> dict[str, int]:
    """Every free-text field of every row gets its marker; the rows planted, by model."""
    grouped = fields_by_model()
    for model in grouped:
        if model._meta.label in MAKE_ROW and not model._base_manager.exists():
            MAKE_ROW[model._meta.label]()
    planted: dict[str, int] = {}
    for model, fields in grouped.items():
        label = model._meta.label
        if label in APPEND_ONLY:
            APPEND_ONLY[label]({f.name: marker(name) for name, f in fields.items()})
            planted[label] = 1
            continue
        rows = model._base_manager.all()
        if not rows.exists():
            pytest.fail(f"{label} has no rows to plant markers in: add it to MAKE_ROW.")
        planted[label] = rows.update(**{f.name: _marked(name, f) for name, f in fields.items()})
    return planted


@pytest.fixture(scope="module")
def planted_exports(django_db_setup, django_db_blocker, settings_module_root) -> Iterator[Any]:
    """The demo seeded and evaluated, every free-text field planted, then every format built."""
    at = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=True), django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        evaluate_courses(list(TreatmentCourse.objects.values_list("pk", flat=True)), TODAY)
        build(ExportFormat.CSV)  # an earlier export: its request, events and pseudonyms planted
        planted = plant_markers()
        files = {fmt: archive_text(build(fmt)) for fmt in ExportFormat.values}
        yield planted, files
        transaction.set_rollback(True)


def found_in(files: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """Each planted field found, and where ("csv/labs.csv")."""
    labels = sorted(free_text_fields())
    where: dict[str, set[str]] = {}
    for fmt, texts in files.items():
        for name, text in texts.items():
            for index in FOUND.findall(f"{name}\n{text}".lower()):
                where.setdefault(labels[int(index)], set()).add(f"{fmt}/{name}")
    return where


def test_it_plants_every_free_text_field_of_every_model(planted_exports, db):
    planted, _files = planted_exports
    fields = free_text_fields()
    assert {label.rsplit(".", 1)[0] for label in fields} == set(planted)
    assert all(rows > 0 for rows in planted.values())
    # The demo's identifying and free-text fields are among them; the lab unit is a code now.
    assert {
        "registry.Patient.family_name",
        "registry.LabResult.unit_to_review",
        "registry.LabResult.assay_name",
        "registry.InfusionReaction.symptoms",
        "monitoring.Alert.explanation",
        "auth.User.last_name",
    } <= set(fields)
    assert "registry.LabResult.unit" not in fields
    assert set(fields) >= SAFETY_FREE_TEXT
    assert {label.rsplit(".", 1)[0] for label in SAFETY_FREE_TEXT} <= set(planted)
    assert all(len(MARKER.format(0)) < (f.max_length or 1000) for f in fields.values())


def test_no_free_text_reaches_any_file_of_any_format(planted_exports, db):
    _planted, files = planted_exports
    assert {fmt: "manifest.json" in texts for fmt, texts in files.items()} == dict.fromkeys(
        ExportFormat.values, True
    )
    found = found_in(files)
    leaks = {label: where for label, where in found.items() if label not in EXPORTED}
    assert not leaks, f"free text reached the exports: {leaks}"
    assert not SAFETY_FREE_TEXT & set(found)


def test_every_field_exported_on_purpose_is_free_text_and_still_exported(planted_exports, db):
    """No stale entry: each names a free-text field that still reaches the exports (a field
    given choices, renamed or no longer exported leaves the list)."""
    _planted, files = planted_exports
    fields = free_text_fields()
    assert not EXPORTED - set(fields), f"stale: {sorted(EXPORTED - set(fields))}"
    found = found_in(files)
    assert {label: label in found for label in EXPORTED} == dict.fromkeys(EXPORTED, True)
    assert "csv/patients.csv" in found["registry.Site.code"]
    assert "parquet/alerts.parquet" in found["monitoring.Alert.guideline_version"]
    assert {"csv/infusions.csv", "csv/courses.csv", "fhir/Medication.ndjson"} <= found[
        "registry.InfliximabProduct.code"
    ]
    assert "csv/consents.csv" in found["registry.ConsentDocument.code"]
    assert "fhir/Consent.ndjson" in found["registry.ConsentDocument.version"]
