"""The rule reconsent_at_majority among the alert rules (its choices follow the registry)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0007_live_vaccine_and_serious_event_rules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="rule",
            field=models.CharField(
                choices=[
                    ("induction_dose_missed", "Induction dose missed"),
                    ("maintenance_dose_overdue", "Maintenance dose overdue"),
                    ("dose_given_early", "Dose given early"),
                    ("treatment_interrupted", "Treatment interrupted"),
                    ("dose_mismatch", "Dose does not match the weight"),
                    ("infusion_too_fast", "Infusion shorter than the label allows"),
                    ("response_assessment_due", "Response assessment at week 10 not recorded"),
                    ("markers_overdue", "CRP and ESR overdue"),
                    ("imaging_overdue", "MRI overdue"),
                    ("low_trough", "Infliximab trough level low"),
                    ("antibodies_detected", "Anti-infliximab antibodies detected"),
                    ("taper_readiness", "Ready to consider tapering"),
                    ("early_discontinuation", "Stopped before 12 months"),
                    ("relapse_after_stopping", "Relapse after stopping"),
                    ("post_stop_follow_up_due", "Follow-up visit after stopping due"),
                    ("premedication_advised", "Premedicate: reaction at an earlier infusion"),
                    (
                        "severe_reaction_review",
                        "Severe reaction: clinician review before the next infusion",
                    ),
                    ("methotrexate_monitoring_due", "Methotrexate: blood count and ALT due"),
                    ("screening_missing", "TB or hepatitis B screening not recorded"),
                    (
                        "screening_positive",
                        "TB or hepatitis B screen: specialist review before the next infusion",
                    ),
                    ("live_vaccine_on_treatment", "Live vaccine on infliximab: clinician review"),
                    ("serious_adverse_event_review", "Serious adverse event: clinician review"),
                    ("reconsent_at_majority", "Consent: ask the patient's own consent at majority"),
                ],
                max_length=40,
            ),
        ),
    ]
