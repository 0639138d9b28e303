"""Methotrexate's safety bloods as lab tests: the neutrophil and platelet counts (×10⁹/L) and ALT
(U/L), each with its fixed unit, LOINC code and physical maximum. No row changes."""

from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0014_safety_record'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='labresult',
            name='lab_analyte_valid',
        ),
        migrations.RemoveConstraint(
            model_name='labresult',
            name='lab_value_in_physical_range',
        ),
        migrations.RemoveConstraint(
            model_name='labresult',
            name='lab_unit_of_its_analyte',
        ),
        migrations.AlterField(
            model_name='historicallabresult',
            name='analyte',
            field=models.CharField(choices=[('crp', 'CRP (mg/L)'), ('esr', 'ESR (mm/h)'), ('ifx_trough', 'Infliximab trough level (µg/mL)'), ('anti_ifx', 'Anti-infliximab antibodies'), ('neutrophils', 'Neutrophil count (×10⁹/L)'), ('platelets', 'Platelet count (×10⁹/L)'), ('alt', 'ALT (U/L)'), ('other', 'Other')], max_length=20),
        ),
        migrations.AlterField(
            model_name='historicallabresult',
            name='unit',
            field=models.CharField(blank=True, choices=[('mg/L', 'mg/L'), ('mg/dL', 'mg/dL'), ('g/L', 'g/L'), ('g/dL', 'g/dL'), ('µg/mL', 'µg/mL'), ('µg/L', 'µg/L'), ('ng/mL', 'ng/mL'), ('mmol/L', 'mmol/L'), ('µmol/L', 'µmol/L'), ('nmol/L', 'nmol/L'), ('pmol/L', 'pmol/L'), ('U/L', 'U/L'), ('IU/L', 'IU/L'), ('mU/L', 'mU/L'), ('U/mL', 'U/mL'), ('IU/mL', 'IU/mL'), ('AU/mL', 'AU/mL'), ('×10⁹/L', '×10⁹/L'), ('×10¹²/L', '×10¹²/L'), ('%', '%'), ('mm/h', 'mm/h'), ('mg/mmol', 'mg/mmol'), ('µg/g', 'µg/g'), ('fL', 'fL'), ('pg', 'pg'), ('s', 's (seconds)'), ('mL/min/1.73m²', 'mL/min/1.73m²'), ('ratio', 'ratio'), ('titre', 'titre')], help_text='Set from the analyte for the tests with a fixed unit (CRP, ESR, the trough level, neutrophils, platelets, ALT); for antibodies and other tests one of the units the test is recorded in, or none.', max_length=20),
        ),
        migrations.AlterField(
            model_name='historicallabresult',
            name='value',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='CRP in mg/L, ESR in mm/h, trough in µg/mL, neutrophil and platelet counts in ×10⁹/L, ALT in U/L; antibodies: titre if reported.', max_digits=10, null=True),
        ),
        migrations.AlterField(
            model_name='labresult',
            name='analyte',
            field=models.CharField(choices=[('crp', 'CRP (mg/L)'), ('esr', 'ESR (mm/h)'), ('ifx_trough', 'Infliximab trough level (µg/mL)'), ('anti_ifx', 'Anti-infliximab antibodies'), ('neutrophils', 'Neutrophil count (×10⁹/L)'), ('platelets', 'Platelet count (×10⁹/L)'), ('alt', 'ALT (U/L)'), ('other', 'Other')], max_length=20),
        ),
        migrations.AlterField(
            model_name='labresult',
            name='unit',
            field=models.CharField(blank=True, choices=[('mg/L', 'mg/L'), ('mg/dL', 'mg/dL'), ('g/L', 'g/L'), ('g/dL', 'g/dL'), ('µg/mL', 'µg/mL'), ('µg/L', 'µg/L'), ('ng/mL', 'ng/mL'), ('mmol/L', 'mmol/L'), ('µmol/L', 'µmol/L'), ('nmol/L', 'nmol/L'), ('pmol/L', 'pmol/L'), ('U/L', 'U/L'), ('IU/L', 'IU/L'), ('mU/L', 'mU/L'), ('U/mL', 'U/mL'), ('IU/mL', 'IU/mL'), ('AU/mL', 'AU/mL'), ('×10⁹/L', '×10⁹/L'), ('×10¹²/L', '×10¹²/L'), ('%', '%'), ('mm/h', 'mm/h'), ('mg/mmol', 'mg/mmol'), ('µg/g', 'µg/g'), ('fL', 'fL'), ('pg', 'pg'), ('s', 's (seconds)'), ('mL/min/1.73m²', 'mL/min/1.73m²'), ('ratio', 'ratio'), ('titre', 'titre')], help_text='Set from the analyte for the tests with a fixed unit (CRP, ESR, the trough level, neutrophils, platelets, ALT); for antibodies and other tests one of the units the test is recorded in, or none.', max_length=20),
        ),
        migrations.AlterField(
            model_name='labresult',
            name='value',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='CRP in mg/L, ESR in mm/h, trough in µg/mL, neutrophil and platelet counts in ×10⁹/L, ALT in U/L; antibodies: titre if reported.', max_digits=10, null=True),
        ),
        migrations.AddConstraint(
            model_name='labresult',
            constraint=models.CheckConstraint(condition=models.Q(('analyte__in', ['crp', 'esr', 'ifx_trough', 'anti_ifx', 'neutrophils', 'platelets', 'alt', 'other'])), name='lab_analyte_valid'),
        ),
        migrations.AddConstraint(
            model_name='labresult',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('analyte', 'crp'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('1000'))), models.Q(('analyte', 'esr'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('200'))), models.Q(('analyte', 'ifx_trough'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('500'))), models.Q(('analyte', 'neutrophils'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('300'))), models.Q(('analyte', 'platelets'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('5000'))), models.Q(('analyte', 'alt'), ('value__gte', 0), ('value__isnull', False), ('value__lte', Decimal('50000'))), ('analyte__in', ['anti_ifx', 'other']), _connector='OR'), name='lab_value_in_physical_range', violation_error_message='The value is outside the physical range of this test.'),
        ),
        migrations.AddConstraint(
            model_name='labresult',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('analyte', 'crp'), ('unit__in', ('mg/L',))), models.Q(('analyte', 'esr'), ('unit__in', ('mm/h',))), models.Q(('analyte', 'ifx_trough'), ('unit__in', ('µg/mL',))), models.Q(('analyte', 'neutrophils'), ('unit__in', ('×10⁹/L',))), models.Q(('analyte', 'platelets'), ('unit__in', ('×10⁹/L',))), models.Q(('analyte', 'alt'), ('unit__in', ('U/L',))), models.Q(('analyte', 'anti_ifx'), ('unit__in', ('', 'AU/mL', 'ng/mL', 'µg/mL', 'U/mL', 'titre'))), models.Q(('analyte', 'other'), ('unit__in', ('', 'mg/L', 'mg/dL', 'g/L', 'g/dL', 'µg/mL', 'µg/L', 'ng/mL', 'mmol/L', 'µmol/L', 'nmol/L', 'pmol/L', 'U/L', 'IU/L', 'mU/L', 'U/mL', 'IU/mL', 'AU/mL', '×10⁹/L', '×10¹²/L', '%', 'mm/h', 'mg/mmol', 'µg/g', 'fL', 'pg', 's', 'mL/min/1.73m²', 'ratio', 'titre'))), _connector='OR'), name='lab_unit_of_its_analyte', violation_error_message='The unit is not one this test is recorded in.'),
        ),
    ]
