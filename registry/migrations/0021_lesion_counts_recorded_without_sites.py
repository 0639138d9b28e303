"""Lesion counts from their sites, step 2 of 3: the counts already stored stay exactly as they
were, marked "counts recorded without sites". No site is invented from a count (a count says how
many lesions, never where); a study or assessment without counts stays without.

History rows are marked the same way, so a record's history does not show a spurious change.
One UPDATE per table, however many rows."""

from django.db import migrations
from django.db.models import Q

COUNTED = {
    "ImagingStudy": Q(active_lesions__isnull=False) | Q(new_lesions__isnull=False),
    "ClinicalAssessment": Q(clinically_active_lesions__isnull=False),
}


def mark_recorded_counts(apps, schema_editor):
    for model, counted in COUNTED.items():
        for name in (model, f"Historical{model}"):
            rows = apps.get_model("registry", name).objects
            rows.filter(counted).update(lesion_counts="recorded")


def unmark(apps, schema_editor):
    for model in COUNTED:
        for name in (model, f"Historical{model}"):
            apps.get_model("registry", name).objects.update(lesion_counts="")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0020_lesion_sites_and_phenotype"),
    ]

    operations = [migrations.RunPython(mark_recorded_counts, unmark)]
