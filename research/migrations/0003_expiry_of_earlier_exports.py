"""Exports built before downloads expired get the same expiry, counted from their build."""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.db.models import F


def expire_like_new_ones(apps, schema_editor):
    ExportRequest = apps.get_model("research", "ExportRequest")
    ExportRequest.objects.filter(
        status="done", requested_by__isnull=False, expires_at__isnull=True
    ).exclude(finished_at__isnull=True).update(
        expires_at=F("finished_at") + dt.timedelta(days=settings.EXPORT_DOWNLOAD_DAYS)
    )


class Migration(migrations.Migration):
    dependencies = [("research", "0002_deidentification_options_and_liveness")]

    operations = [migrations.RunPython(expire_like_new_ones, migrations.RunPython.noop)]
