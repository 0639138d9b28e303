"""Lesion counts from their sites, step 3 of 3: the database refuses counts that disagree with
where they come from (none without a source; some when recorded without sites; from the sites, an
MRI's active and new counts with the new among the active, and none for other modalities)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0021_lesion_counts_recorded_without_sites'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='clinicalassessment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('lesion_counts', ''), ('clinically_active_lesions__isnull', True)), models.Q(('lesion_counts', 'recorded'), models.Q(('clinically_active_lesions__isnull', True), _negated=True)), models.Q(('lesion_counts', 'sites'), ('clinically_active_lesions__gte', 1)), _connector='OR'), name='assessment_lesion_count_agrees_with_source', violation_error_message='The clinically active lesion count does not agree with where it comes from: the sites or a count recorded without sites.'),
        ),
        migrations.AddConstraint(
            model_name='imagingstudy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('lesion_counts', ''), ('active_lesions__isnull', True), ('new_lesions__isnull', True)), models.Q(('lesion_counts', 'recorded'), models.Q(('active_lesions__isnull', True), ('new_lesions__isnull', True), _negated=True)), models.Q(('lesion_counts', 'sites'), models.Q(models.Q(('active_lesions__isnull', False), ('modality__in', ('wb_mri', 'mri')), ('new_lesions__isnull', False), ('new_lesions__lte', models.F('active_lesions'))), models.Q(models.Q(('modality__in', ('wb_mri', 'mri')), _negated=True), ('active_lesions__isnull', True), ('new_lesions__isnull', True)), _connector='OR')), _connector='OR'), name='imaging_lesion_counts_agree_with_source', violation_error_message='The lesion counts do not agree with where they come from: from the sites (MRI: active and new, new among the active; other modalities: none) or recorded without sites.'),
        ),
    ]
