"""Entry safeguards (GUIDELINE.md version 2), step 2 of 3: the data.

Data moved, not lost:
- `Infusion.intensification_reason` is replaced by the regimen in force: a dose above the cap now
  needs a clinician's intensification (a RegimenChange). An existing reason is kept, word for word,
  at the end of the infusion's notes ("Intensification reason (recorded with the dose): …"); no
  RegimenChange is invented from it (that would put a decision in a clinician's name).
- `Infusion.weight_measured_on` becomes required. An empty one meant "weighed on the day" (the
  old form's help text), so it becomes the infusion's own date, in the history rows too.
"""

from django.db import migrations
from django.db.models import F


def keep_reasons_and_weigh_dates(apps, schema_editor):
    for name in ("Infusion", "HistoricalInfusion"):
        model = apps.get_model("registry", name)
        model.objects.filter(weight_measured_on__isnull=True).update(weight_measured_on=F("given_on"))
        for row in model.objects.exclude(intensification_reason="").only("notes", "intensification_reason"):
            kept = f"Intensification reason (recorded with the dose): {row.intensification_reason}"
            row.notes = f"{row.notes}\n{kept}".strip()
            row.save(update_fields=["notes"])


def put_back_reasons(apps, schema_editor):
    marker = "Intensification reason (recorded with the dose): "
    for name in ("Infusion", "HistoricalInfusion"):
        model = apps.get_model("registry", name)
        for row in model.objects.filter(notes__contains=marker):
            notes, _, reason = row.notes.rpartition(marker)
            row.notes, row.intensification_reason = notes.strip(), reason.strip()
            row.save(update_fields=["notes", "intensification_reason"])



class Migration(migrations.Migration):

    dependencies = [('registry', '0004_entry_safeguards')]

    operations = [
        migrations.RunPython(keep_reasons_and_weigh_dates, put_back_reasons),
    ]
