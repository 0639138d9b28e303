"""No role changes or deletes the access log: not through the ORM, not through the admin (a
superuser included), not with SQL on PostgreSQL (a trigger); only the retention purge deletes, and
only rows past retention."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessKind, AccessLogEntry, AccessLogIsAppendOnly
from audit.retention import access_log_purge, retention_cutoff

pytestmark = pytest.mark.django_db
TABLE = AccessLogEntry._meta.db_table
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)


@pytest.fixture
def entry(nurse_a, site_a) -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        kind=AccessKind.PAGE, user=nurse_a, username="nina", patient_ids=[7], site_ids=[site_a.pk]
    )


def _stored(entry: AccessLogEntry) -> tuple[str, list[int]]:
    return AccessLogEntry.objects.values_list("username", "patient_ids").get(pk=entry.pk)


def test_it_refuses_to_save_a_stored_row_again(entry):
    entry.username = "someone else"
    with pytest.raises(AccessLogIsAppendOnly, match="update refused"):
        entry.save()
    assert _stored(entry) == ("nina", [7])


def test_it_refuses_to_delete_a_row(entry):
    with pytest.raises(AccessLogIsAppendOnly, match="delete refused"):
        entry.delete()
    assert AccessLogEntry.objects.filter(pk=entry.pk).exists()


def test_it_refuses_queryset_updates_and_deletes(entry):
    with pytest.raises(AccessLogIsAppendOnly):
        AccessLogEntry.objects.filter(pk=entry.pk).update(username="x")
    with pytest.raises(AccessLogIsAppendOnly):
        AccessLogEntry.objects.all().delete()
    with pytest.raises(AccessLogIsAppendOnly):
        AccessLogEntry.objects.bulk_update([entry], ["username"])
    assert _stored(entry) == ("nina", [7])


def test_the_admin_offers_no_add_change_or_delete_even_to_a_superuser(entry, superuser):
    client = Client()
    client.force_login(superuser)
    base = "admin:audit_accesslogentry"
    assert client.get(reverse(f"{base}_changelist")).status_code == 200
    assert client.get(reverse(f"{base}_add")).status_code == 403
    assert (
        client.post(reverse(f"{base}_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    change = client.post(reverse(f"{base}_change", args=[entry.pk]), {"username": "x"})
    assert change.status_code == 403  # a view-only page takes no POST
    assert _stored(entry) == ("nina", [7])


def test_the_admin_hides_the_log_from_data_managers(entry, data_manager_a):
    """Theirs is the clinic's access log page, scoped to their sites; the admin's is not."""
    client = Client()
    client.force_login(data_manager_a)
    assert client.get(reverse("admin:audit_accesslogentry_changelist")).status_code == 403


@on_postgresql
@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET username = 'x'",  # noqa: S608
        f"DELETE FROM {TABLE}",  # noqa: S608
    ],
)
def test_the_database_refuses_sql_updates_and_deletes(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute(sql)
    assert _stored(entry) == ("nina", [7])


@on_postgresql
def test_the_database_refuses_truncate(entry):
    # The test database lets Django empty it between tests (tests/conftest.py): not here.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: ALTER may run
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_access_log_no_truncate")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(f"TRUNCATE {TABLE}")
        transaction.set_rollback(True)  # the other tests' database as it was
    assert _stored(entry) == ("nina", [7])


@on_postgresql
def test_the_purge_setting_lets_no_recent_row_go(entry):
    """A DELETE that names a cut-off still cannot reach a row at or after it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('audit.purge_before', '2000-01-01', true)")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608
    assert AccessLogEntry.objects.filter(pk=entry.pk).exists()


def _entry_at(at: dt.datetime) -> AccessLogEntry:
    return AccessLogEntry.objects.create(kind=AccessKind.SIGN_IN, username="old", at=at)


def test_the_purge_deletes_only_rows_past_retention(entry, settings):
    settings.AUDIT_RETENTION_YEARS = 26
    cutoff = retention_cutoff(timezone.now())
    old = _entry_at(cutoff - dt.timedelta(days=1))
    kept = _entry_at(cutoff + dt.timedelta(days=1))
    call_command("purge_access_log")
    remaining = set(AccessLogEntry.objects.values_list("pk", flat=True))
    assert remaining == {entry.pk, kept.pk}
    assert old.pk not in remaining


def test_the_purge_refuses_a_cutoff_within_retention(entry, settings):
    settings.AUDIT_RETENTION_YEARS = 26
    with pytest.raises(ValueError, match="within the retention period"):
        access_log_purge(before=timezone.now())
    assert AccessLogEntry.objects.filter(pk=entry.pk).exists()


def test_a_dry_run_counts_and_keeps(entry, settings, capsys):
    settings.AUDIT_RETENTION_YEARS = 1
    old = _entry_at(timezone.now() - dt.timedelta(days=800))
    call_command("purge_access_log", "--dry-run")
    assert "1 access log rows are older than" in capsys.readouterr().out
    assert AccessLogEntry.objects.filter(pk=old.pk).exists()
