"""On PostgreSQL, refuse overlapping courses of one patient in the database itself.

A course occupies [started_on, stopped_on) (open-ended while active). SQLite, the embedded demo
database, has no exclusion constraints; there `TreatmentCourse.clean()` alone enforces the rule.
"""

from django.db import migrations

CONSTRAINT = "course_no_overlap_per_patient"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE registry_treatmentcourse ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (patient_id WITH =, "
        "daterange(started_on, stopped_on, '[)') WITH &&)"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE registry_treatmentcourse DROP CONSTRAINT IF EXISTS {CONSTRAINT}"
    )


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, drop_constraint, elidable=False)]
