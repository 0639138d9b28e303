"""Migrations 0017 and 0018 with real rows: each patient's two research consent dates become a
consent record (legacy document, who not recorded, research exports only), the history of the dates
carried into the record's, then the patient's fields retired; going back restores every date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("registry", "0017_consent_records")]
AFTER = [("registry", "0019_retire_patient_consent_dates")]
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def before(transactional_db) -> Iterator[Any]:
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()  # the other tests expect the latest schema


def patients(apps: Any) -> dict[str, Any]:
    site = apps.get_model("registry", "Site").objects.create(code="north", name="North")
    patient = apps.get_model("registry", "Patient").objects
    historical = apps.get_model("registry", "HistoricalPatient").objects
    user = apps.get_model("auth", "User").objects.create(username="dora")

    def make(code: str, given=None, withdrawn=None) -> Any:
        row = patient.create(
            site=site, registry_code=code, mrn=code, given_name="Ada", family_name="Example",
            date_of_birth=dt.date(2012, 3, 14), sex="female",
            research_consent_given_on=given, research_consent_withdrawn_on=withdrawn,
        )  # fmt: skip
        return row

    made = {
        "given": make("CRMO-000001", dt.date(2024, 5, 1)),
        "withdrawn": make("CRMO-000002", dt.date(2023, 2, 1), dt.date(2025, 9, 30)),
        "never": make("CRMO-000003"),
    }
    # The history of the withdrawn patient's dates: registered with consent, withdrawn later.
    values = {
        f.attname: getattr(made["withdrawn"], f.attname)
        for f in patient.model._meta.concrete_fields
    }
    for minutes, withdrawn in ((0, None), (60, dt.date(2025, 9, 30))):
        historical.create(
            **{**values, "research_consent_withdrawn_on": withdrawn},
            history_date=T0 + dt.timedelta(minutes=minutes),
            history_type="+" if minutes == 0 else "~",
            history_user=user,
        )
    return made


def test_the_dates_become_legacy_consent_records_and_come_back_going_back(before):
    made = patients(before)
    apps = migrate(AFTER)

    consents = apps.get_model("registry", "Consent").objects.select_related("document")
    rows = {c.patient_id: c for c in consents.all()}
    assert set(rows) == {made["given"].pk, made["withdrawn"].pk}
    given, withdrawn = rows[made["given"].pk], rows[made["withdrawn"].pk]
    assert (given.document.code, given.document.signed_by) == (
        "legacy-research-consent",
        "not_recorded",
    )
    assert given.document.title == "Consent recorded before consent versions"
    assert (given.consented_by, given.assent) == ("not_recorded", "not_applicable")
    assert (given.care_data_given, given.research_given, given.contact_given) == (
        False,
        True,
        False,
    )
    assert (given.given_on, given.research_withdrawn_on) == (dt.date(2024, 5, 1), None)
    assert (withdrawn.given_on, withdrawn.research_withdrawn_on) == (
        dt.date(2023, 2, 1),
        dt.date(2025, 9, 30),
    )
    # The patient's history of the dates is the record's history, then where it came from.
    history = apps.get_model("registry", "HistoricalConsent").objects.filter(id=withdrawn.pk)
    trail = list(
        history.order_by("history_date").values_list(
            "history_type", "research_withdrawn_on", "history_user__username"
        )
    )
    assert trail == [
        ("+", None, "dora"),
        ("~", dt.date(2025, 9, 30), "dora"),
        ("~", dt.date(2025, 9, 30), None),
    ]
    assert history.latest("history_date").history_change_reason.startswith("Migrated from")
    patient_fields = {f.name for f in apps.get_model("registry", "Patient")._meta.fields}
    assert "research_consent_given_on" not in patient_fields
    documents = set(
        apps.get_model("registry", "ConsentDocument").objects.values_list("code", flat=True)
    )
    assert documents == {
        "legacy-research-consent",
        "parent-guardian-consent",
        "young-person-consent",
    }

    apps = migrate(BEFORE)

    patient = apps.get_model("registry", "Patient").objects
    assert {
        p.registry_code: (p.research_consent_given_on, p.research_consent_withdrawn_on)
        for p in patient.all()
    } == {
        "CRMO-000001": (dt.date(2024, 5, 1), None),
        "CRMO-000002": (dt.date(2023, 2, 1), dt.date(2025, 9, 30)),
        "CRMO-000003": (None, None),
    }
    assert not apps.get_model("registry", "Consent").objects.exists()
    assert not apps.get_model("registry", "HistoricalConsent").objects.exists()
    assert not apps.get_model("registry", "ConsentDocument").objects.exists()
