"""A clinician's review of a live vaccination (GUIDELINE.md live_vaccine_on_treatment): its date,
clinician, decision on the infusions and note; only of a live vaccine. No row changes."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0015_blood_count_and_alt"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalvaccination",
            name="review_decision",
            field=models.CharField(
                blank=True,
                choices=[
                    ("infusion_deferred", "Infusion deferred until the interval has passed"),
                    ("risk_accepted", "Risk accepted: infusions go on as planned"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="historicalvaccination",
            name="review_note",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="historicalvaccination",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalvaccination",
            name="reviewed_on",
            field=models.DateField(
                blank=True,
                help_text="A clinician's review of a live vaccine given on or near infliximab.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="vaccination",
            name="review_decision",
            field=models.CharField(
                blank=True,
                choices=[
                    ("infusion_deferred", "Infusion deferred until the interval has passed"),
                    ("risk_accepted", "Risk accepted: infusions go on as planned"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="vaccination",
            name="review_note",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="vaccination",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="vaccination",
            name="reviewed_on",
            field=models.DateField(
                blank=True,
                help_text="A clinician's review of a live vaccine given on or near infliximab.",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="vaccination",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("review_decision", ""),
                        ("reviewed_by__isnull", True),
                        ("reviewed_on__isnull", True),
                    ),
                    models.Q(
                        ("review_decision__in", ["infusion_deferred", "risk_accepted"]),
                        ("reviewed_by__isnull", False),
                        ("reviewed_on__gte", models.F("given_on")),
                    ),
                    _connector="OR",
                ),
                name="vaccination_review_complete",
                violation_error_message="A review records its date (not before the vaccine), its clinician and a decision.",
            ),
        ),
        migrations.AddConstraint(
            model_name="vaccination",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reviewed_on__isnull", True),
                    (
                        "vaccine__in",
                        [
                            "bcg",
                            "influenza_live",
                            "mmr",
                            "mmrv",
                            "rotavirus",
                            "typhoid_oral",
                            "varicella",
                            "yellow_fever",
                        ],
                    ),
                    _connector="OR",
                ),
                name="vaccination_review_of_a_live_vaccine",
                violation_error_message="Only a live vaccine is reviewed.",
            ),
        ),
    ]
