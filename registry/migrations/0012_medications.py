"""Other medications (co-therapy): the drugs a patient takes with or before infliximab."""

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0011_infliximab_products_seed'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalMedication',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('drug', models.CharField(choices=[('naproxen', 'Naproxen'), ('ibuprofen', 'Ibuprofen'), ('indometacin', 'Indometacin'), ('celecoxib', 'Celecoxib'), ('methotrexate', 'Methotrexate'), ('sulfasalazine', 'Sulfasalazine'), ('pamidronate', 'Pamidronate (pamidronic acid)'), ('zoledronic_acid', 'Zoledronic acid'), ('prednisolone', 'Prednisolone'), ('methylprednisolone', 'Methylprednisolone'), ('adalimumab', 'Adalimumab'), ('etanercept', 'Etanercept'), ('other', 'Other (name it)')], max_length=30)),
                ('drug_name', models.CharField(blank=True, help_text='Only for “Other”.', max_length=100, verbose_name='name of the other drug')),
                ('dose', models.DecimalField(blank=True, decimal_places=3, help_text='Per administration.', max_digits=8, null=True)),
                ('dose_unit', models.CharField(blank=True, choices=[('mg', 'mg'), ('mg/kg', 'mg/kg'), ('mg/m2', 'mg/m²'), ('g', 'g'), ('ug', 'µg')], max_length=10)),
                ('route', models.CharField(choices=[('oral', 'Oral'), ('subcutaneous', 'Subcutaneous'), ('intravenous', 'Intravenous'), ('intramuscular', 'Intramuscular'), ('topical', 'Topical'), ('rectal', 'Rectal')], max_length=20)),
                ('frequency', models.CharField(choices=[('once_daily', 'Once daily'), ('twice_daily', 'Twice daily'), ('three_times_daily', 'Three times daily'), ('weekly', 'Weekly'), ('every_2_weeks', 'Every 2 weeks'), ('every_4_weeks', 'Every 4 weeks'), ('every_3_months', 'Every 3 months (e.g. a bisphosphonate cycle)'), ('every_6_months', 'Every 6 months'), ('once', 'Once (a single dose or course)'), ('as_needed', 'As needed')], max_length=20)),
                ('started_on', models.DateField()),
                ('stopped_on', models.DateField(blank=True, help_text='Empty while it is taken.', null=True)),
                ('stop_reason', models.CharField(blank=True, choices=[('remission', 'Remission'), ('inefficacy', 'Ineffective'), ('adverse_event', 'Adverse event'), ('patient_choice', 'Patient or family choice'), ('completed', 'Planned course completed'), ('dose_changed', 'Dose or frequency changed (a new entry follows)'), ('other', 'Other')], max_length=20, verbose_name='reason for stopping')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient')),
            ],
            options={
                'verbose_name': 'historical medication',
                'verbose_name_plural': 'historical medications',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='Medication',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('drug', models.CharField(choices=[('naproxen', 'Naproxen'), ('ibuprofen', 'Ibuprofen'), ('indometacin', 'Indometacin'), ('celecoxib', 'Celecoxib'), ('methotrexate', 'Methotrexate'), ('sulfasalazine', 'Sulfasalazine'), ('pamidronate', 'Pamidronate (pamidronic acid)'), ('zoledronic_acid', 'Zoledronic acid'), ('prednisolone', 'Prednisolone'), ('methylprednisolone', 'Methylprednisolone'), ('adalimumab', 'Adalimumab'), ('etanercept', 'Etanercept'), ('other', 'Other (name it)')], max_length=30)),
                ('drug_name', models.CharField(blank=True, help_text='Only for “Other”.', max_length=100, verbose_name='name of the other drug')),
                ('dose', models.DecimalField(blank=True, decimal_places=3, help_text='Per administration.', max_digits=8, null=True)),
                ('dose_unit', models.CharField(blank=True, choices=[('mg', 'mg'), ('mg/kg', 'mg/kg'), ('mg/m2', 'mg/m²'), ('g', 'g'), ('ug', 'µg')], max_length=10)),
                ('route', models.CharField(choices=[('oral', 'Oral'), ('subcutaneous', 'Subcutaneous'), ('intravenous', 'Intravenous'), ('intramuscular', 'Intramuscular'), ('topical', 'Topical'), ('rectal', 'Rectal')], max_length=20)),
                ('frequency', models.CharField(choices=[('once_daily', 'Once daily'), ('twice_daily', 'Twice daily'), ('three_times_daily', 'Three times daily'), ('weekly', 'Weekly'), ('every_2_weeks', 'Every 2 weeks'), ('every_4_weeks', 'Every 4 weeks'), ('every_3_months', 'Every 3 months (e.g. a bisphosphonate cycle)'), ('every_6_months', 'Every 6 months'), ('once', 'Once (a single dose or course)'), ('as_needed', 'As needed')], max_length=20)),
                ('started_on', models.DateField()),
                ('stopped_on', models.DateField(blank=True, help_text='Empty while it is taken.', null=True)),
                ('stop_reason', models.CharField(blank=True, choices=[('remission', 'Remission'), ('inefficacy', 'Ineffective'), ('adverse_event', 'Adverse event'), ('patient_choice', 'Patient or family choice'), ('completed', 'Planned course completed'), ('dose_changed', 'Dose or frequency changed (a new entry follows)'), ('other', 'Other')], max_length=20, verbose_name='reason for stopping')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='medications', to='registry.patient')),
            ],
            options={
                'ordering': ['patient', 'started_on', 'pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('drug__in', ['naproxen', 'ibuprofen', 'indometacin', 'celecoxib', 'methotrexate', 'sulfasalazine', 'pamidronate', 'zoledronic_acid', 'prednisolone', 'methylprednisolone', 'adalimumab', 'etanercept', 'other'])), name='medication_drug_valid'), models.CheckConstraint(condition=models.Q(models.Q(('drug', 'other'), models.Q(('drug_name', ''), _negated=True)), models.Q(models.Q(('drug', 'other'), _negated=True), ('drug_name', '')), _connector='OR'), name='medication_other_drug_named', violation_error_message='Name an “other” drug, and only an “other” drug.'), models.CheckConstraint(condition=models.Q(models.Q(('dose__isnull', True), ('dose_unit', '')), models.Q(('dose__gt', 0), ('dose_unit__in', ['mg', 'mg/kg', 'mg/m2', 'g', 'ug'])), _connector='OR'), name='medication_dose_with_unit', violation_error_message='A dose is above 0 and has its unit.'), models.CheckConstraint(condition=models.Q(('route__in', ['oral', 'subcutaneous', 'intravenous', 'intramuscular', 'topical', 'rectal'])), name='medication_route_valid'), models.CheckConstraint(condition=models.Q(('frequency__in', ['once_daily', 'twice_daily', 'three_times_daily', 'weekly', 'every_2_weeks', 'every_4_weeks', 'every_3_months', 'every_6_months', 'once', 'as_needed'])), name='medication_frequency_valid'), models.CheckConstraint(condition=models.Q(('stopped_on__isnull', True), ('stopped_on__gte', models.F('started_on')), _connector='OR'), name='medication_stopped_after_start', violation_error_message='A medication cannot stop before it started.'), models.CheckConstraint(condition=models.Q(models.Q(('stop_reason', ''), ('stopped_on__isnull', True)), models.Q(('stop_reason__in', ['remission', 'inefficacy', 'adverse_event', 'patient_choice', 'completed', 'dose_changed', 'other']), ('stopped_on__isnull', False)), _connector='OR'), name='medication_stop_reason_with_stop_date', violation_error_message='A stopped medication needs its reason, and only then.'), models.UniqueConstraint(condition=models.Q(('stopped_on__isnull', True)), fields=('patient', 'drug', 'drug_name'), name='medication_one_current_entry_per_drug', violation_error_message='The patient is already taking this drug.')],
            },
        ),
    ]
