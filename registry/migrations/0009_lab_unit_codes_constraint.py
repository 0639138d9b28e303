"""Managed lab units, step 3 of 3: the database refuses a unit that is not one of its test's."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [('registry', '0008_lab_unit_codes_data')]

    operations = [
        migrations.AddConstraint(
            model_name='labresult',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('analyte', 'crp'), ('unit__in', ('mg/L',))), models.Q(('analyte', 'esr'), ('unit__in', ('mm/h',))), models.Q(('analyte', 'ifx_trough'), ('unit__in', ('µg/mL',))), models.Q(('analyte', 'anti_ifx'), ('unit__in', ('', 'AU/mL', 'ng/mL', 'µg/mL', 'U/mL', 'titre'))), models.Q(('analyte', 'other'), ('unit__in', ('', 'mg/L', 'mg/dL', 'g/L', 'g/dL', 'µg/mL', 'µg/L', 'ng/mL', 'mmol/L', 'µmol/L', 'nmol/L', 'pmol/L', 'U/L', 'IU/L', 'mU/L', 'U/mL', 'IU/mL', 'AU/mL', '×10⁹/L', '×10¹²/L', '%', 'mm/h', 'mg/mmol', 'µg/g', 'fL', 'pg', 's', 'mL/min/1.73m²', 'ratio', 'titre'))), _connector='OR'), name='lab_unit_of_its_analyte', violation_error_message='The unit is not one this test is recorded in.'),
        ),
    ]
