"""Entry safeguards (GUIDELINE.md version 2), step 3 of 3: the free-text reason removed, the
weight's date required, the new constraints."""

import django.db.models.expressions
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [('registry', '0005_entry_safeguards_data')]

    operations = [
        migrations.RemoveField(
            model_name='historicalinfusion',
            name='intensification_reason',
        ),
        migrations.RemoveField(
            model_name='infusion',
            name='intensification_reason',
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
