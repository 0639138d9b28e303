"""Lesion sites (per imaging study and assessment), the CRMO phenotype and comorbidities; lesion
counts get their source (step 1 of 3: the column, blank until step 2 marks the stored counts)."""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0019_retire_patient_consent_dates'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Comorbidity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('condition', models.CharField(choices=[('ibd', 'Inflammatory bowel disease'), ('psoriasis', 'Psoriasis'), ('ppp', 'Palmoplantar pustulosis'), ('severe_acne', 'Severe acne'), ('sapho', 'SAPHO syndrome'), ('other', 'Other (not named in the registry)')], max_length=20)),
                ('onset_on', models.DateField(help_text='When it began (not before birth).')),
            ],
            options={
                'verbose_name_plural': 'comorbidities',
                'ordering': ['patient', 'onset_on', 'condition'],
            },
        ),
        migrations.CreateModel(
            name='HistoricalComorbidity',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('condition', models.CharField(choices=[('ibd', 'Inflammatory bowel disease'), ('psoriasis', 'Psoriasis'), ('ppp', 'Palmoplantar pustulosis'), ('severe_acne', 'Severe acne'), ('sapho', 'SAPHO syndrome'), ('other', 'Other (not named in the registry)')], max_length=20)),
                ('onset_on', models.DateField(help_text='When it began (not before birth).')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical comorbidity',
                'verbose_name_plural': 'historical comorbidities',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalLesionSite',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('bone', models.CharField(choices=[('vertebra', 'Vertebra'), ('clavicle', 'Clavicle'), ('mandible', 'Mandible'), ('sternum', 'Sternum'), ('pelvis', 'Pelvis'), ('femur', 'Femur'), ('tibia', 'Tibia'), ('fibula', 'Fibula'), ('calcaneus', 'Calcaneus'), ('humerus', 'Humerus'), ('radius', 'Radius'), ('ulna', 'Ulna'), ('metatarsal', 'Metatarsal'), ('other', 'Other bone')], max_length=20)),
                ('vertebral_level', models.CharField(blank=True, choices=[('C1', 'C1'), ('C2', 'C2'), ('C3', 'C3'), ('C4', 'C4'), ('C5', 'C5'), ('C6', 'C6'), ('C7', 'C7'), ('T1', 'T1'), ('T2', 'T2'), ('T3', 'T3'), ('T4', 'T4'), ('T5', 'T5'), ('T6', 'T6'), ('T7', 'T7'), ('T8', 'T8'), ('T9', 'T9'), ('T10', 'T10'), ('T11', 'T11'), ('T12', 'T12'), ('L1', 'L1'), ('L2', 'L2'), ('L3', 'L3'), ('L4', 'L4'), ('L5', 'L5'), ('S1', 'S1'), ('S2', 'S2'), ('S3', 'S3'), ('S4', 'S4'), ('S5', 'S5')], help_text='C1–S5, for a vertebra (and only then).', max_length=3)),
                ('laterality', models.CharField(choices=[('left', 'Left'), ('right', 'Right'), ('midline', 'Midline')], help_text='Left or right for a paired bone; midline for a vertebra or the sternum.', max_length=10)),
                ('active', models.BooleanField(default=False, help_text='MRI: active inflammation (oedema).')),
                ('new', models.BooleanField(default=False, help_text='MRI: not seen on the previous study (a new lesion is active).')),
                ('resolved', models.BooleanField(default=False, help_text='MRI: resolved since the last study.')),
                ('vertebral_fracture', models.BooleanField(default=False, help_text='Imaging: a fracture (collapse) of this vertebra.')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical lesion site',
                'verbose_name_plural': 'historical lesion sites',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalPhenotype',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('first_symptoms_on', models.DateField(blank=True, help_text='Date of the first symptoms (not after the diagnosis).', null=True)),
                ('bristol_clinical', models.BooleanField(blank=True, null=True)),
                ('bristol_radiological', models.BooleanField(blank=True, null=True)),
                ('bristol_multifocal', models.BooleanField(blank=True, null=True)),
                ('bristol_crp_below_30', models.BooleanField(blank=True, null=True)),
                ('bristol_biopsy', models.BooleanField(blank=True, null=True)),
                ('jansson_normal_blood_count', models.BooleanField(blank=True, null=True)),
                ('jansson_symmetric_lesions', models.BooleanField(blank=True, null=True)),
                ('jansson_marginal_sclerosis', models.BooleanField(blank=True, null=True)),
                ('jansson_normal_temperature', models.BooleanField(blank=True, null=True)),
                ('jansson_vertebral_clavicular_sternal', models.BooleanField(blank=True, null=True)),
                ('jansson_two_or_more_lesions', models.BooleanField(blank=True, null=True)),
                ('jansson_crp_1_mg_dl', models.BooleanField(blank=True, null=True)),
                ('family_history', models.CharField(blank=True, choices=[('yes', 'Yes'), ('no', 'No'), ('unknown', 'Unknown')], max_length=10, verbose_name='family history of autoimmune or inflammatory disease')),
                ('family_crmo', models.BooleanField(default=False)),
                ('family_psoriasis', models.BooleanField(default=False)),
                ('family_ibd', models.BooleanField(default=False)),
                ('family_spondyloarthritis', models.BooleanField(default=False)),
                ('family_arthritis', models.BooleanField(default=False)),
                ('family_ppp', models.BooleanField(default=False)),
                ('family_coeliac', models.BooleanField(default=False)),
                ('family_thyroid', models.BooleanField(default=False)),
                ('family_type1_diabetes', models.BooleanField(default=False)),
                ('family_other', models.BooleanField(default=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical phenotype',
                'verbose_name_plural': 'historical phenotypes',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='LesionSite',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('bone', models.CharField(choices=[('vertebra', 'Vertebra'), ('clavicle', 'Clavicle'), ('mandible', 'Mandible'), ('sternum', 'Sternum'), ('pelvis', 'Pelvis'), ('femur', 'Femur'), ('tibia', 'Tibia'), ('fibula', 'Fibula'), ('calcaneus', 'Calcaneus'), ('humerus', 'Humerus'), ('radius', 'Radius'), ('ulna', 'Ulna'), ('metatarsal', 'Metatarsal'), ('other', 'Other bone')], max_length=20)),
                ('vertebral_level', models.CharField(blank=True, choices=[('C1', 'C1'), ('C2', 'C2'), ('C3', 'C3'), ('C4', 'C4'), ('C5', 'C5'), ('C6', 'C6'), ('C7', 'C7'), ('T1', 'T1'), ('T2', 'T2'), ('T3', 'T3'), ('T4', 'T4'), ('T5', 'T5'), ('T6', 'T6'), ('T7', 'T7'), ('T8', 'T8'), ('T9', 'T9'), ('T10', 'T10'), ('T11', 'T11'), ('T12', 'T12'), ('L1', 'L1'), ('L2', 'L2'), ('L3', 'L3'), ('L4', 'L4'), ('L5', 'L5'), ('S1', 'S1'), ('S2', 'S2'), ('S3', 'S3'), ('S4', 'S4'), ('S5', 'S5')], help_text='C1–S5, for a vertebra (and only then).', max_length=3)),
                ('laterality', models.CharField(choices=[('left', 'Left'), ('right', 'Right'), ('midline', 'Midline')], help_text='Left or right for a paired bone; midline for a vertebra or the sternum.', max_length=10)),
                ('active', models.BooleanField(default=False, help_text='MRI: active inflammation (oedema).')),
                ('new', models.BooleanField(default=False, help_text='MRI: not seen on the previous study (a new lesion is active).')),
                ('resolved', models.BooleanField(default=False, help_text='MRI: resolved since the last study.')),
                ('vertebral_fracture', models.BooleanField(default=False, help_text='Imaging: a fracture (collapse) of this vertebra.')),
            ],
            options={
                'ordering': ['imaging_study', 'assessment', 'bone', 'vertebral_level', 'laterality', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='Phenotype',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('first_symptoms_on', models.DateField(blank=True, help_text='Date of the first symptoms (not after the diagnosis).', null=True)),
                ('bristol_clinical', models.BooleanField(blank=True, null=True)),
                ('bristol_radiological', models.BooleanField(blank=True, null=True)),
                ('bristol_multifocal', models.BooleanField(blank=True, null=True)),
                ('bristol_crp_below_30', models.BooleanField(blank=True, null=True)),
                ('bristol_biopsy', models.BooleanField(blank=True, null=True)),
                ('jansson_normal_blood_count', models.BooleanField(blank=True, null=True)),
                ('jansson_symmetric_lesions', models.BooleanField(blank=True, null=True)),
                ('jansson_marginal_sclerosis', models.BooleanField(blank=True, null=True)),
                ('jansson_normal_temperature', models.BooleanField(blank=True, null=True)),
                ('jansson_vertebral_clavicular_sternal', models.BooleanField(blank=True, null=True)),
                ('jansson_two_or_more_lesions', models.BooleanField(blank=True, null=True)),
                ('jansson_crp_1_mg_dl', models.BooleanField(blank=True, null=True)),
                ('family_history', models.CharField(blank=True, choices=[('yes', 'Yes'), ('no', 'No'), ('unknown', 'Unknown')], max_length=10, verbose_name='family history of autoimmune or inflammatory disease')),
                ('family_crmo', models.BooleanField(default=False)),
                ('family_psoriasis', models.BooleanField(default=False)),
                ('family_ibd', models.BooleanField(default=False)),
                ('family_spondyloarthritis', models.BooleanField(default=False)),
                ('family_arthritis', models.BooleanField(default=False)),
                ('family_ppp', models.BooleanField(default=False)),
                ('family_coeliac', models.BooleanField(default=False)),
                ('family_thyroid', models.BooleanField(default=False)),
                ('family_type1_diabetes', models.BooleanField(default=False)),
                ('family_other', models.BooleanField(default=False)),
            ],
        ),
        migrations.AddField(
            model_name='clinicalassessment',
            name='lesion_counts',
            field=models.CharField(blank=True, choices=[('sites', 'Derived from the lesion sites'), ('recorded', 'Counts recorded without sites')], editable=False, help_text='Set by the registry: the sites, or a count recorded without sites.', max_length=10, verbose_name='lesion count from'),
        ),
        migrations.AddField(
            model_name='historicalclinicalassessment',
            name='lesion_counts',
            field=models.CharField(blank=True, choices=[('sites', 'Derived from the lesion sites'), ('recorded', 'Counts recorded without sites')], editable=False, help_text='Set by the registry: the sites, or a count recorded without sites.', max_length=10, verbose_name='lesion count from'),
        ),
        migrations.AddField(
            model_name='historicalimagingstudy',
            name='lesion_counts',
            field=models.CharField(blank=True, choices=[('sites', 'Derived from the lesion sites'), ('recorded', 'Counts recorded without sites')], editable=False, help_text='Set by the registry: the sites, or counts recorded without sites.', max_length=10, verbose_name='lesion counts from'),
        ),
        migrations.AddField(
            model_name='imagingstudy',
            name='lesion_counts',
            field=models.CharField(blank=True, choices=[('sites', 'Derived from the lesion sites'), ('recorded', 'Counts recorded without sites')], editable=False, help_text='Set by the registry: the sites, or counts recorded without sites.', max_length=10, verbose_name='lesion counts from'),
        ),
        migrations.AlterField(
            model_name='clinicalassessment',
            name='clinically_active_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Lesions judged active on examination. Derived from the lesion sites when they are recorded; otherwise as recorded.', null=True),
        ),
        migrations.AlterField(
            model_name='historicalclinicalassessment',
            name='clinically_active_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Lesions judged active on examination. Derived from the lesion sites when they are recorded; otherwise as recorded.', null=True),
        ),
        migrations.AlterField(
            model_name='historicalimagingstudy',
            name='active_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Number of lesions with active inflammation (oedema). Derived from the lesion sites when they are recorded (MRI); otherwise as recorded.', null=True),
        ),
        migrations.AlterField(
            model_name='historicalimagingstudy',
            name='new_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Lesions not seen on the previous study. Derived from the lesion sites when they are recorded (MRI); otherwise as recorded.', null=True),
        ),
        migrations.AlterField(
            model_name='imagingstudy',
            name='active_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Number of lesions with active inflammation (oedema). Derived from the lesion sites when they are recorded (MRI); otherwise as recorded.', null=True),
        ),
        migrations.AlterField(
            model_name='imagingstudy',
            name='new_lesions',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Lesions not seen on the previous study. Derived from the lesion sites when they are recorded (MRI); otherwise as recorded.', null=True),
        ),
        migrations.AddField(
            model_name='comorbidity',
            name='patient',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='comorbidities', to='registry.patient'),
        ),
        migrations.AddField(
            model_name='historicalcomorbidity',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalcomorbidity',
            name='patient',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient'),
        ),
        migrations.AddField(
            model_name='historicallesionsite',
            name='assessment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.clinicalassessment'),
        ),
        migrations.AddField(
            model_name='historicallesionsite',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicallesionsite',
            name='imaging_study',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.imagingstudy'),
        ),
        migrations.AddField(
            model_name='historicalphenotype',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalphenotype',
            name='patient',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient'),
        ),
        migrations.AddField(
            model_name='lesionsite',
            name='assessment',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='lesion_sites', to='registry.clinicalassessment'),
        ),
        migrations.AddField(
            model_name='lesionsite',
            name='imaging_study',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='lesion_sites', to='registry.imagingstudy'),
        ),
        migrations.AddField(
            model_name='phenotype',
            name='patient',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='phenotype', to='registry.patient'),
        ),
        migrations.AddConstraint(
            model_name='comorbidity',
            constraint=models.CheckConstraint(condition=models.Q(('condition__in', ['ibd', 'psoriasis', 'ppp', 'severe_acne', 'sapho', 'other'])), name='comorbidity_condition_valid'),
        ),
        migrations.AddConstraint(
            model_name='comorbidity',
            constraint=models.UniqueConstraint(fields=('patient', 'condition'), name='comorbidity_once_per_patient', violation_error_message='This comorbidity is already recorded for this patient: correct that record instead.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('assessment__isnull', True), ('imaging_study__isnull', False)), models.Q(('assessment__isnull', False), ('imaging_study__isnull', True)), _connector='OR'), name='lesion_site_of_a_study_or_an_assessment', violation_error_message='A lesion site belongs to one imaging study or one assessment.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(('bone__in', ['vertebra', 'clavicle', 'mandible', 'sternum', 'pelvis', 'femur', 'tibia', 'fibula', 'calcaneus', 'humerus', 'radius', 'ulna', 'metatarsal', 'other'])), name='lesion_site_bone_valid'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('bone', 'vertebra'), ('vertebral_level__in', ('C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10', 'T11', 'T12', 'L1', 'L2', 'L3', 'L4', 'L5', 'S1', 'S2', 'S3', 'S4', 'S5'))), models.Q(models.Q(('bone', 'vertebra'), _negated=True), ('vertebral_level', '')), _connector='OR'), name='lesion_site_level_for_a_vertebra_only', violation_error_message='A vertebra needs its level (C1–S5); other bones have none.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('bone__in', frozenset(['sternum', 'vertebra'])), ('laterality', 'midline')), models.Q(('bone__in', frozenset(['mandible', 'other'])), ('laterality__in', ['left', 'right', 'midline'])), models.Q(models.Q(('bone__in', frozenset(['mandible', 'other', 'sternum', 'vertebra'])), _negated=True), ('laterality__in', ('left', 'right'))), _connector='OR'), name='lesion_site_laterality_fits_the_bone', violation_error_message='Laterality: midline for a vertebra or the sternum, left or right for a paired bone.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(('new', True), ('resolved', True), _negated=True), name='lesion_site_not_new_and_resolved', violation_error_message='A lesion cannot be both new and resolved.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('active', False), ('new', True), _negated=True), models.Q(('active', True), ('resolved', True), _negated=True)), name='lesion_site_new_is_active_resolved_is_not', violation_error_message='A new lesion is active; a resolved one is not.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(('vertebral_fracture', False), ('bone', 'vertebra'), _connector='OR'), name='lesion_site_fracture_of_a_vertebra', violation_error_message='A vertebral fracture is flagged on a vertebra only.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.CheckConstraint(condition=models.Q(('assessment__isnull', True), models.Q(('active', False), ('new', False), ('resolved', False), ('vertebral_fracture', False)), _connector='OR'), name='lesion_site_imaging_findings_on_imaging', violation_error_message="Active, new, resolved and fracture are imaging findings: an assessment's site is a clinically active lesion."),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.UniqueConstraint(condition=models.Q(('bone__in', ('metatarsal', 'other')), _negated=True), fields=('imaging_study', 'bone', 'vertebral_level', 'laterality'), name='lesion_site_once_per_imaging_study', violation_error_message='This site is already recorded on this study.'),
        ),
        migrations.AddConstraint(
            model_name='lesionsite',
            constraint=models.UniqueConstraint(condition=models.Q(('bone__in', ('metatarsal', 'other')), _negated=True), fields=('assessment', 'bone', 'vertebral_level', 'laterality'), name='lesion_site_once_per_assessment', violation_error_message='This site is already recorded on this assessment.'),
        ),
        migrations.AddConstraint(
            model_name='phenotype',
            constraint=models.CheckConstraint(condition=models.Q(('family_history', ''), ('family_history__in', ['yes', 'no', 'unknown']), _connector='OR'), name='phenotype_family_history_valid'),
        ),
        migrations.AddConstraint(
            model_name='phenotype',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('family_history', 'yes'), models.Q(('family_crmo', True), ('family_psoriasis', True), ('family_ibd', True), ('family_spondyloarthritis', True), ('family_arthritis', True), ('family_ppp', True), ('family_coeliac', True), ('family_thyroid', True), ('family_type1_diabetes', True), ('family_other', True), _connector='OR')), models.Q(models.Q(('family_history', 'yes'), _negated=True), ('family_arthritis', False), ('family_coeliac', False), ('family_crmo', False), ('family_ibd', False), ('family_other', False), ('family_ppp', False), ('family_psoriasis', False), ('family_spondyloarthritis', False), ('family_thyroid', False), ('family_type1_diabetes', False)), _connector='OR'), name='phenotype_family_conditions_only_with_a_history', violation_error_message="Name the relatives' conditions when the family history is yes, and only then."),
        ),
    ]
