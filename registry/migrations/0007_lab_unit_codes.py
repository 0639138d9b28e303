"""Managed lab units, step 1 of 3: the unit field's choices, and `unit_to_review` for the typed
units that step 2 cannot map. (Three migrations, as 0004–0006: the data of step 2 is committed
before step 3 adds the constraint.)"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0006_entry_safeguards_constraints'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicallabresult',
            name='unit_to_review',
            field=models.CharField(blank=True, db_default='', default='', help_text="The unit as it was typed before units were managed, kept because it could not be mapped to a managed unit: check the result's unit (and value), then mark it reviewed. Never exported.", max_length=20),
        ),
        migrations.AddField(
            model_name='labresult',
            name='unit_to_review',
            field=models.CharField(blank=True, db_default='', default='', help_text="The unit as it was typed before units were managed, kept because it could not be mapped to a managed unit: check the result's unit (and value), then mark it reviewed. Never exported.", max_length=20),
        ),
        migrations.AlterField(
            model_name='historicallabresult',
            name='unit',
            field=models.CharField(blank=True, choices=[('mg/L', 'mg/L'), ('mg/dL', 'mg/dL'), ('g/L', 'g/L'), ('g/dL', 'g/dL'), ('µg/mL', 'µg/mL'), ('µg/L', 'µg/L'), ('ng/mL', 'ng/mL'), ('mmol/L', 'mmol/L'), ('µmol/L', 'µmol/L'), ('nmol/L', 'nmol/L'), ('pmol/L', 'pmol/L'), ('U/L', 'U/L'), ('IU/L', 'IU/L'), ('mU/L', 'mU/L'), ('U/mL', 'U/mL'), ('IU/mL', 'IU/mL'), ('AU/mL', 'AU/mL'), ('×10⁹/L', '×10⁹/L'), ('×10¹²/L', '×10¹²/L'), ('%', '%'), ('mm/h', 'mm/h'), ('mg/mmol', 'mg/mmol'), ('µg/g', 'µg/g'), ('fL', 'fL'), ('pg', 'pg'), ('s', 's (seconds)'), ('mL/min/1.73m²', 'mL/min/1.73m²'), ('ratio', 'ratio'), ('titre', 'titre')], help_text='Set from the analyte for CRP, ESR and the trough level; for antibodies and other tests one of the units the test is recorded in, or none.', max_length=20),
        ),
        migrations.AlterField(
            model_name='labresult',
            name='unit',
            field=models.CharField(blank=True, choices=[('mg/L', 'mg/L'), ('mg/dL', 'mg/dL'), ('g/L', 'g/L'), ('g/dL', 'g/dL'), ('µg/mL', 'µg/mL'), ('µg/L', 'µg/L'), ('ng/mL', 'ng/mL'), ('mmol/L', 'mmol/L'), ('µmol/L', 'µmol/L'), ('nmol/L', 'nmol/L'), ('pmol/L', 'pmol/L'), ('U/L', 'U/L'), ('IU/L', 'IU/L'), ('mU/L', 'mU/L'), ('U/mL', 'U/mL'), ('IU/mL', 'IU/mL'), ('AU/mL', 'AU/mL'), ('×10⁹/L', '×10⁹/L'), ('×10¹²/L', '×10¹²/L'), ('%', '%'), ('mm/h', 'mm/h'), ('mg/mmol', 'mg/mmol'), ('µg/g', 'µg/g'), ('fL', 'fL'), ('pg', 'pg'), ('s', 's (seconds)'), ('mL/min/1.73m²', 'mL/min/1.73m²'), ('ratio', 'ratio'), ('titre', 'titre')], help_text='Set from the analyte for CRP, ESR and the trough level; for antibodies and other tests one of the units the test is recorded in, or none.', max_length=20),
        ),
    ]
