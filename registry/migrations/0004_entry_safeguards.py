"""Entry safeguards (GUIDELINE.md version 2), step 1 of 3: the new fields, and the constraints
that step 3 replaces dropped. (Three migrations, so that the data of step 2 is committed before
step 3 alters the table: PostgreSQL refuses to ALTER a table with pending trigger events.)"""

from django.conf import settings
from django.db import migrations, models


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
    ]
