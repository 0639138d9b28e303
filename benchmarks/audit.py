"""The access log's cost, on PostgreSQL: per request, and for "who read patient X".

In its own database (crmo_bench_audit, or BENCH_AUDIT_DATABASE_URL; created if missing, migrated
and wiped, the access log included):

1. Requests through Django's in-process client, the median of --runs after a warm-up: a patient's
   page and the patient list (50 per page), once with the access log middleware and once with a
   stand-in that collects the reads but writes nothing. The difference is the log's cost per
   request: its one INSERT (and the bookkeeping).
2. The log filled with --rows synthetic rows (1–50 patients each, of --patients), then the
   question a data manager asks, "who read patient X", answered two ways: the `patient_ids`
   array with its GIN index (what the app does), and a child table of (entry, patient) with a
   b-tree index (the alternative, built from the same rows here). Also the cost of writing one
   list read of 50 patients each way, and each layout's size on disk.

    python -m benchmarks.audit [--runs 200] [--rows 500000] [--patients 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/crmo_bench_audit"
PAGE_PATIENTS = 60
CHILD = "bench_audit_patient"


def _median_ms(run: Callable[[], object], runs: int) -> float:
    for _ in range(min(10, runs)):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _wipe_access_log() -> None:
    """The benchmark's own database: the trigger is lifted for its TRUNCATE, and put back."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CHILD}")
        cursor.execute("ALTER TABLE audit_accesslogentry DISABLE TRIGGER USER")
        cursor.execute("TRUNCATE audit_accesslogentry RESTART IDENTITY")
        cursor.execute("ALTER TABLE audit_accesslogentry ENABLE TRIGGER USER")


def _people() -> tuple[Any, Any]:
    from django.contrib.auth.models import User

    from registry.models import Membership, Patient, Role, Site

    site = Site.objects.create(code="bench", name="Benchmark Hospital")
    user, _created = User.objects.get_or_create(username="bench-clinician")  # users are not wiped
    Membership.objects.create(user=user, site=site, role=Role.CLINICIAN)
    patients = Patient.objects.bulk_create(
        Patient(
            site=site,
            registry_code=f"CRMO-{n:06d}",
            mrn=f"B{n:06d}",
            given_name="Alex",
            family_name=f"Bench{n}",
            date_of_birth="2014-01-01",
            sex="female",
        )
        for n in range(1, PAGE_PATIENTS + 1)
    )
    return user, patients[0]


class _CollectOnly:
    """The access log middleware without its INSERT: views still declare their reads."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from audit.recording import PENDING_ATTRIBUTE, PendingReads

        setattr(request, PENDING_ATTRIBUTE, PendingReads())
        return self.get_response(request)


def bench_requests(runs: int) -> None:
    from django.conf import settings
    from django.test import Client, override_settings
    from django.urls import reverse

    from audit.models import AccessKind, AccessLogEntry

    user, patient = _people()
    stand_in = [
        f"{__name__}._CollectOnly" if name == "audit.middleware.AccessLogMiddleware" else name
        for name in settings.MIDDLEWARE
    ]
    pages = {
        "patient page": reverse("clinic:patient", args=[patient.pk]),
        "patient list (50 a page)": reverse("clinic:patients"),
    }
    with_log = Client(SERVER_NAME="localhost")  # one of the default ALLOWED_HOSTS
    without_log = Client(SERVER_NAME="localhost")
    with_log.force_login(user)
    without_log.force_login(user)
    with override_settings(MIDDLEWARE=stand_in):
        without_log.get(pages["patient page"])  # its handler loads the stand-in, and keeps it
    print(f"Requests (median of {runs}, each pair one after the other, in-process client):")
    for label, url in pages.items():
        for client in (with_log, without_log):
            answer = client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)  # noqa: S101
        before = AccessLogEntry.objects.count()
        times: dict[Client, list[float]] = {with_log: [], without_log: []}
        for _ in range(runs):  # interleaved: the machine's load weighs on both alike
            for client in (with_log, without_log):
                start = time.perf_counter()
                client.get(url)
                times[client].append((time.perf_counter() - start) * 1000)
        written = AccessLogEntry.objects.count() - before
        one, other = (statistics.median(times[c]) for c in (with_log, without_log))
        print(
            f"  {label:26} with the log {one:6.2f} ms, without {other:6.2f} ms: "
            f"{one - other:+5.2f} ms ({written} rows for {runs} requests with the log)"
        )
    ids = list(range(1, 51))

    def create() -> None:
        AccessLogEntry.objects.create(
            kind=AccessKind.PAGE, username="bench", path="/patients/", patient_ids=ids
        )

    insert = _median_ms(create, runs)
    print(f"  the row alone (ORM create, 50 patient ids): {insert:.2f} ms")


def bench_queries(rows: int, patients: int) -> None:
    from django.db import connection

    print(f"\nThe log filled with {rows:,} rows (1–50 patients each, of {patients:,}):")
    with connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO audit_accesslogentry
                (at, kind, username, user_agent, method, path, url_name, patient_ids, site_ids)
            SELECT now() - (n || ' minutes')::interval, 'page', 'user' || mod(n, 40), '', 'GET',
                   '/patients/', 'clinic:patients',
                   ARRAY(SELECT 1 + mod(n::bigint * 7919 + k * 104729, %s)
                         FROM generate_series(1, 1 + mod(n, 50)) AS k)::bigint[],
                   ARRAY[1]::bigint[]
            FROM generate_series(1, %s) AS n
            """,
            [patients, rows],
        )
        print(f"  filled in {time.perf_counter() - start:.1f} s")
        cursor.execute(
            f"CREATE TABLE {CHILD} AS SELECT id AS entry_id, unnest(patient_ids) AS patient_id "
            "FROM audit_accesslogentry"
        )
        cursor.execute(f"CREATE INDEX ON {CHILD} (patient_id)")
        # As autovacuum leaves them: the GIN index's pending list merged, statistics fresh.
        cursor.execute("VACUUM ANALYZE audit_accesslogentry")
        cursor.execute(f"VACUUM ANALYZE {CHILD}")

        def who_read_array(patient: int) -> None:
            cursor.execute(
                "SELECT id, at, username FROM audit_accesslogentry "
                "WHERE patient_ids && ARRAY[%s]::bigint[] ORDER BY at DESC LIMIT 50",
                [patient],
            )
            cursor.fetchall()

        def who_read_child(patient: int) -> None:
            cursor.execute(
                f"SELECT e.id, e.at, e.username FROM audit_accesslogentry e JOIN {CHILD} c "
                "ON c.entry_id = e.id WHERE c.patient_id = %s ORDER BY e.at DESC LIMIT 50",
                [patient],
            )
            cursor.fetchall()

        def count_array(patient: int) -> None:
            cursor.execute(
                "SELECT count(*) FROM audit_accesslogentry "
                "WHERE patient_ids && ARRAY[%s]::bigint[]",
                [patient],
            )
            cursor.fetchone()

        def count_child(patient: int) -> None:
            cursor.execute(f"SELECT count(*) FROM {CHILD} WHERE patient_id = %s", [patient])
            cursor.fetchone()

        probe = iter(range(1, 10**9))  # a different patient each time: no cached answer

        def asking(query: Callable[[int], None]) -> Callable[[], None]:
            return lambda: query(1 + next(probe) % patients)

        for label, query in (
            ("newest 50 reads of X, array + GIN", who_read_array),
            ("newest 50 reads of X, child table", who_read_child),
            ("count of X's reads, array + GIN", count_array),
            ("count of X's reads, child table", count_child),
        ):
            ms = _median_ms(asking(query), 100)
            print(f"  {label:36} {ms:7.2f} ms")

        ids = list(range(1, 51))

        def write_array() -> None:
            cursor.execute(
                "INSERT INTO audit_accesslogentry (at, kind, username, user_agent, method, path, "
                "url_name, patient_ids, site_ids) VALUES (now(), 'page', 'b', '', 'GET', '/', '', "
                "%s, ARRAY[1]::bigint[])",
                [ids],
            )

        def write_child() -> None:
            cursor.execute(
                "INSERT INTO audit_accesslogentry (at, kind, username, user_agent, method, path, "
                "url_name, patient_ids, site_ids) VALUES (now(), 'page', 'b', '', 'GET', '/', '', "
                "'{}', ARRAY[1]::bigint[]) RETURNING id"
            )
            [entry] = cursor.fetchone()
            cursor.execute(
                f"INSERT INTO {CHILD} (entry_id, patient_id) SELECT %s, unnest(%s::bigint[])",
                [entry, ids],
            )

        for label, write in (("array (1 INSERT)", write_array), ("child table", write_child)):
            print(
                f"  write a list read of 50 patients, {label:18} {_median_ms(write, 200):6.2f} ms"
            )
        cursor.execute(
            "SELECT pg_total_relation_size('audit_accesslogentry'), "
            f"pg_total_relation_size('{CHILD}'), pg_relation_size('audit_entry_patient_ids'), "
            f"(SELECT sum(pg_relation_size(indexrelid)) FROM pg_index "
            f"WHERE indrelid = '{CHILD}'::regclass)"
        )
        table, child, gin, child_index = cursor.fetchone()
        mb = 1024 * 1024
        print(
            f"  on disk: the log {table / mb:.0f} MB (its GIN index on patient_ids "
            f"{gin / mb:.0f} MB); a child table would add {child / mb:.0f} MB "
            f"(index {child_index / mb:.0f} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--patients", type=int, default=5000)
    options = parser.parse_args()
    url = database.database_url(os.environ.get("BENCH_AUDIT_DATABASE_URL") or DEFAULT_URL)
    database.prepare(url)
    _wipe_access_log()
    bench_requests(options.runs)
    bench_queries(options.rows, options.patients)
    _wipe_access_log()


if __name__ == "__main__":
    main()
