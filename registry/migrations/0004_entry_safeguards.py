"""Entry safeguards (GUIDELINE.md version 2).

Data moved, not lost:
- `Infusion.intensification_reason` is replaced by the regimen in force: a dose above the cap now
  needs a clinician's intensification (a RegimenChange). An existing reason is kept, word for word,
  at the end of the infusion's notes ("Intensification reason (recorded with the dose): …"); no
  RegimenChange is invented from it (that would put a decision in a clinician's name).
- `Infusion.weight_measured_on` becomes required. An empty one meant "weighed on the day" (the
  old form's help text), so it becomes the infusion's own date, in the history rows too.
"""

import django.db.models.expressions
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models
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

    dependencies = [
        ('registry', '0003_lab_result_no_duplicates'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='infusion',
            name='infusion_above_max_needs_reason',
        ),
        migrations.RemoveConstraint(
            model_name='infusion',
            name='infusion_weight_measured_before_infusion',
        ),
        migrations.RemoveConstraint(
            model_name='regimenchange',
            name='regimen_dose_in_range',
        ),
        migrations.RunPython(keep_reasons_and_weigh_dates, put_back_reasons),
        migrations.RemoveField(
            model_name='historicalinfusion',
            name='intensification_reason',
        ),
        migrations.RemoveField(
            model_name='infusion',
            name='intensification_reason',
        ),
        migrations.AddField(
            model_name='historicalinfusion',
            name='weight_confirmed',
            field=models.BooleanField(default=False, help_text="The person recording it confirmed a weight far from the patient's previous one."),
        ),
        migrations.AddField(
            model_name='historicalinfusionreaction',
            name='review_decision',
            field=models.CharField(blank=True, choices=[('continue_premedicated', 'Continue with premedication'), ('continue_unchanged', 'Continue unchanged'), ('stop', 'Stop infliximab')], help_text="The clinician's decision on further infusions (blank in reviews recorded before decisions were).", max_length=25),
        ),
        migrations.AddField(
            model_name='historicalinfusionreaction',
            name='review_note',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='infusion',
            name='weight_confirmed',
            field=models.BooleanField(default=False, help_text="The person recording it confirmed a weight far from the patient's previous one."),
        ),
        migrations.AddField(
            model_name='infusionreaction',
            name='review_decision',
            field=models.CharField(blank=True, choices=[('continue_premedicated', 'Continue with premedication'), ('continue_unchanged', 'Continue unchanged'), ('stop', 'Stop infliximab')], help_text="The clinician's decision on further infusions (blank in reviews recorded before decisions were).", max_length=25),
        ),
        migrations.AddField(
            model_name='infusionreaction',
            name='review_note',
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name='historicalinfusion',
            name='weight_measured_on',
            field=models.DateField(help_text='When that weight was measured: a weight carried over from an earlier infusion keeps its own date.'),
        ),
        migrations.AlterField(
            model_name='infusion',
            name='weight_measured_on',
            field=models.DateField(help_text='When that weight was measured: a weight carried over from an earlier infusion keeps its own date.'),
        ),
        migrations.AddConstraint(
            model_name='infusion',
            constraint=models.CheckConstraint(condition=models.Q(('dose_mg__lte', django.db.models.expressions.CombinedExpression(models.F('weight_kg'), '*', models.Value(Decimal('20'))))), name='infusion_dose_below_ceiling', violation_error_message='The dose is above 20 mg/kg: no infusion of infliximab is that large.'),
        ),
        migrations.AddConstraint(
            model_name='infusion',
            constraint=models.CheckConstraint(condition=models.Q(('weight_measured_on__lte', models.F('given_on'))), name='infusion_weight_measured_before_infusion'),
        ),
        migrations.AddConstraint(
            model_name='infusionreaction',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('review_decision', ''), ('reviewed_by__isnull', True), ('reviewed_on__isnull', True)), models.Q(('reviewed_by__isnull', False), ('reviewed_on__isnull', False)), _connector='OR'), name='reaction_review_complete', violation_error_message='A review records its date, its clinician and a decision.'),
        ),
        migrations.AddConstraint(
            model_name='infusionreaction',
            constraint=models.CheckConstraint(condition=models.Q(('review_decision', ''), ('review_decision__in', ['continue_premedicated', 'continue_unchanged', 'stop']), _connector='OR'), name='reaction_review_decision_valid'),
        ),
        migrations.AddConstraint(
            model_name='regimenchange',
            constraint=models.CheckConstraint(condition=models.Q(('dose_mg_per_kg__gt', 0), ('dose_mg_per_kg__lte', Decimal('20'))), name='regimen_dose_in_range'),
        ),
    ]
