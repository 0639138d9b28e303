"""The patient's two research consent dates retired: migration 0017 made them consent records."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0018_consent_documents_and_legacy_consent'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='patient',
            name='patient_consent_withdrawn_after_given',
        ),
        migrations.RemoveField(
            model_name='historicalpatient',
            name='research_consent_given_on',
        ),
        migrations.RemoveField(
            model_name='historicalpatient',
            name='research_consent_withdrawn_on',
        ),
        migrations.RemoveField(
            model_name='patient',
            name='research_consent_given_on',
        ),
        migrations.RemoveField(
            model_name='patient',
            name='research_consent_withdrawn_on',
        ),
    ]
