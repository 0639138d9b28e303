"""One lab result is stored once: remove the duplicates already stored, then refuse new ones.

The old bulk import could store the same file twice, so some results are in the table more than
once. A duplicate is a row with the same patient, analyte, analyte name, collection date, value
and antibody result as another row (two NULLs count as the same). Of each such group this keeps
the earliest row (the first created; the lowest id on a tie) and deletes the others, writing a
"deleted" history row for each ("-", no user, the reason names the row kept), so each record's
history shows what happened to it. Nothing references a lab result, so nothing else changes.

Then it adds the unique constraint `lab_result_no_duplicates` (NULLS NOT DISTINCT). That needs
PostgreSQL 15 or later; on SQLite (the demo database) Django creates no index for it and the import
service alone refuses duplicates.

Reversing drops the constraint; the deleted duplicates are not restored (their values remain in
the history).
"""

from django.db import migrations, models
from django.db.models import F, Window
from django.db.models.functions import FirstValue, RowNumber
from django.utils import timezone

IDENTITY = ("patient_id", "analyte", "analyte_name", "collected_on", "value", "antibodies_positive")
FIELDS = (
    "created_at",
    "updated_at",
    "patient_id",
    "collected_on",
    "analyte",
    "analyte_name",
    "value",
    "unit",
    "antibodies_positive",
    "assay_name",
    "reference_low",
    "reference_high",
)
BATCH = 1000


def remove_duplicates(apps, schema_editor):
    LabResult = apps.get_model("registry", "LabResult")
    HistoricalLabResult = apps.get_model("registry", "HistoricalLabResult")
    rows = LabResult.objects.using(schema_editor.connection.alias)
    history = HistoricalLabResult.objects.using(schema_editor.connection.alias)
    group = {
        "partition_by": [F(name) for name in IDENTITY],
        "order_by": [F("created_at").asc(), F("id").asc()],
    }
    duplicates = list(
        rows.annotate(rank=Window(RowNumber(), **group), kept=Window(FirstValue("id"), **group))
        .filter(rank__gt=1)
        .values("id", "kept", *FIELDS)
    )
    now = timezone.now()
    history.bulk_create(
        [
            HistoricalLabResult(
                id=row["id"],
                **{name: row[name] for name in FIELDS},
                history_date=now,
                history_type="-",
                history_change_reason=f"Duplicate of lab result {row['kept']} (migration 0003)",
            )
            for row in duplicates
        ],
        batch_size=BATCH,
    )
    ids = [row["id"] for row in duplicates]
    for start in range(0, len(ids), BATCH):
        rows.filter(id__in=ids[start : start + BATCH]).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_course_no_overlap_postgres")]

    operations = [
        migrations.RunPython(remove_duplicates, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="labresult",
            constraint=models.UniqueConstraint(
                fields=(
                    "patient",
                    "analyte",
                    "analyte_name",
                    "collected_on",
                    "value",
                    "antibodies_positive",
                ),
                name="lab_result_no_duplicates",
                nulls_distinct=False,
                violation_error_message=(
                    "This result is already recorded: same patient, test, date and value."
                ),
            ),
        ),
    ]
