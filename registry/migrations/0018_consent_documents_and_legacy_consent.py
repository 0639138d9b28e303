"""The registry's consent documents, and each patient's research consent dates as a consent record.

Before consent records, a patient had two dates: research consent given on, withdrawn on. They
meant consent to the research exports (the only thing they gated), taken on a form no one recorded,
signed by someone no one recorded: each patient's dates become one consent record on the legacy
document "Consent recorded before consent versions", who consented "not recorded", the scope
research exports only, given and withdrawn on the same dates. The patient's history of the two
dates (each change, who made it and when) becomes the record's history, and a last entry says
where the record came from. Going back writes the dates of the legacy records onto the patient again
(migration 0018 re-adds the fields first) and removes those records.

The documents' approval dates are left empty: the ethics committee's dates are the registry's to
enter in the admin, not the code's to invent. Existing documents are left as they are.
"""

from django.db import migrations
from django.utils import timezone

LEGACY = "legacy-research-consent"
DOCUMENTS = (
    # code, title, version, who signs it, covers: care data, research, contact
    (LEGACY, "Consent recorded before consent versions", "0", "not_recorded", False, True, False),
    (
        "parent-guardian-consent",
        "Parent/guardian consent",
        "1",
        "parent_guardian",
        True,
        True,
        True,
    ),
    ("young-person-consent", "Young person/adult consent", "1", "patient", True, True, True),
)
MIGRATED = "Migrated from the patient's research consent dates (scope: research exports)."


def add_documents_and_migrate_dates(apps, schema_editor):
    document = apps.get_model("registry", "ConsentDocument")
    for code, title, version, signed_by, care, research, contact in DOCUMENTS:
        document.objects.get_or_create(
            code=code,
            version=version,
            defaults={
                "title": title,
                "signed_by": signed_by,
                "covers_care_data": care,
                "covers_research": research,
                "covers_contact": contact,
            },
        )
    legacy = document.objects.get(code=LEGACY, version="0")
    patient = apps.get_model("registry", "Patient")
    consent = apps.get_model("registry", "Consent")
    historical = apps.get_model("registry", "HistoricalConsent")
    now = timezone.now()
    consenting = patient.objects.filter(research_consent_given_on__isnull=False).order_by("pk")
    for row in consenting.iterator():
        record = consent.objects.create(
            patient=row,
            document=legacy,
            consented_by="not_recorded",
            assent="not_applicable",
            research_given=True,
            given_on=row.research_consent_given_on,
            research_withdrawn_on=row.research_consent_withdrawn_on,
        )
        _carry_history(apps, consent, historical, record)
        _history(consent, historical, record, date=now, kind="~", reason=MIGRATED)


def _history(consent, historical, record, *, date, kind, reason="", user_id=None, **values):
    row = {f.attname: getattr(record, f.attname) for f in consent._meta.concrete_fields}
    historical.objects.create(
        **{**row, **values},
        history_date=date,
        history_type=kind,
        history_change_reason=reason,
        history_user_id=user_id,
    )


def _carry_history(apps, consent, historical, record):
    """The patient's history of the two dates (who changed them, when) as the record's history,
    so that dropping the patient's fields loses no date: one entry per change of the pair."""
    patient_history = apps.get_model("registry", "HistoricalPatient").objects.filter(
        id=record.patient_id
    )
    previous = None
    for given, withdrawn, date, user_id in patient_history.order_by(
        "history_date", "history_id"
    ).values_list(
        "research_consent_given_on",
        "research_consent_withdrawn_on",
        "history_date",
        "history_user_id",
    ):
        if given is None or (given, withdrawn) == previous:
            continue
        _history(
            consent,
            historical,
            record,
            date=date,
            kind="+" if previous is None else "~",
            reason="Research consent dates as recorded on the patient.",
            user_id=user_id,
            given_on=given,
            research_withdrawn_on=withdrawn,
        )
        previous = (given, withdrawn)


def restore_dates(apps, schema_editor):
    patient = apps.get_model("registry", "Patient")
    consent = apps.get_model("registry", "Consent")
    legacy = consent.objects.filter(document__code=LEGACY).order_by("patient_id", "given_on", "pk")
    restored = set()
    for record in legacy.iterator():
        if record.patient_id in restored:
            continue  # one pair of dates per patient: the earliest legacy record's
        restored.add(record.patient_id)
        patient.objects.filter(pk=record.patient_id).update(
            research_consent_given_on=record.given_on,
            research_consent_withdrawn_on=record.research_withdrawn_on,
        )
    apps.get_model("registry", "HistoricalConsent").objects.filter(
        id__in=legacy.values("pk")
    ).delete()
    legacy.delete()
    apps.get_model("registry", "ConsentDocument").objects.filter(
        code__in=[code for code, *_ in DOCUMENTS], consents__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0017_consent_records")]

    operations = [
        migrations.RunPython(add_documents_and_migrate_dates, restore_dates, elidable=False)
    ]
