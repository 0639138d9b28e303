"""`make bench-import`: the bulk lab import, timed end to end through the API on PostgreSQL.

In its own database (crmo_bench_import, or BENCH_IMPORT_DATABASE_URL; created if missing, migrated
and wiped): PATIENTS patients at one site and a nurse there with an API token. Each case is a CSV
file posted as a `text/csv` body to /api/v1/lab-results/import/ through Django's in-process WSGI
client (token authentication, the request's transaction, parsing, validation, the rows and their
history, the response), the median of --runs:

- valid: 5,000 new results (the lab results and their history are emptied before each run);
- again: the same file once more (every row already recorded: nothing is written);
- invalid: 5,000 rows of which one in ten is refused (nothing is written);
- 100,000 rows (about 3.5 MB) as sent: 413 from the Content-Length, before anything is read;
- 100,000 rows streamed with no byte limit (as if the length were unknown): the service reads
  the CSV stream up to one row past the row limit and refuses (LabImportTooLarge).

Memory: the peak resident set of the process during each case (VmHWM, reset before the case
through /proc/self/clear_refs, so each case has its own peak; Django and psycopg included), and
the peak of the Python allocations it made (tracemalloc, in one more, traced run).

    python -m benchmarks.lab_import [--rows 5000] [--big-rows 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import database
from benchmarks.database import load_average

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/crmo_bench_import"
PATIENTS = 500
FIRST_DAY = dt.date(2024, 1, 1)
HEADER = "registry_code,collected_on,analyte,value\n"


def database_url(explicit: str | None) -> str:
    return explicit or os.environ.get("BENCH_IMPORT_DATABASE_URL") or DEFAULT_URL


# --- Memory and load ----------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Start a new VmHWM (Linux ≥ 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def status_mb(field: str) -> float | None:
    """A memory figure of /proc/self/status (VmHWM, VmRSS) in MB; None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    peak = status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- The files ----------------------------------------------------------------------------------


def codes(patients: int) -> list[str]:
    return [f"CRMO-{n:06d}" for n in range(1, patients + 1)]


def valid_file(rows: int, patients: int) -> bytes:
    """`rows` different results: CRP and ESR for each patient, a month apart."""
    names = codes(patients)
    lines = []
    for i in range(rows):
        pair = i // 2
        day = FIRST_DAY + dt.timedelta(days=30 * (pair // patients))
        analyte, value = ("crp", f"{(i * 7) % 400}.{i % 10}") if i % 2 == 0 else ("esr", i % 120)
        lines.append(f"{names[pair % patients]},{day},{analyte},{value}\n")
    return (HEADER + "".join(lines)).encode()


def invalid_file(rows: int, patients: int) -> bytes:
    """The valid file with one row in ten refused (a negative value)."""
    header, *lines = valid_file(rows, patients).decode().splitlines(keepends=True)
    spoiled = [
        line.rsplit(",", 1)[0] + ",-1\n" if n % 10 == 9 else line for n, line in enumerate(lines)
    ]
    return (header + "".join(spoiled)).encode()


def big_file(rows: int, patients: int) -> bytes:
    names = codes(patients)
    lines = [
        f"{names[i % patients]},2026-01-05,crp,{i % 1000}.{i % 1000:03d}\n" for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


# --- Setting up ---------------------------------------------------------------------------------


def set_up(patients: int) -> str:
    """One site, its patients, a nurse and her API token; returns the token."""
    from django.contrib.auth.models import User

    from api.models import ApiToken
    from registry.models import Membership, Patient, Role, Site

    site = Site.objects.create(code="bench", name="Benchmark clinic")
    Patient.objects.bulk_create(
        Patient(
            site=site,
            registry_code=code,
            mrn=f"B{n:07d}",
            given_name="Bench",
            family_name=f"Patient{n}",
            date_of_birth=dt.date(2010, 1, 1),
            sex="female",
        )
        for n, code in enumerate(codes(patients), 1)
    )
    nurse, _created = User.objects.get_or_create(username="bench-import-nurse")
    Membership.objects.create(user=nurse, site=site, role=Role.NURSE)
    _token, secret = ApiToken.objects.issue(user=nurse, name="Benchmark")
    return str(secret)


def empty_lab_results() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE registry_labresult, registry_historicallabresult")


# --- Measuring ----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    run: Callable[[], str]  # returns what the import answered
    before_each: Callable[[], None] = lambda: None


@dataclass
class Figures:
    name: str
    answer: str
    seconds: list[float]
    queries: int
    rss_before_mb: float
    peak_rss_mb: float
    traced_peak_mb: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


class QueryCounter:
    """Counts the statements sent (not CaptureQueriesContext: each request resets its log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def measure(case: Case, runs: int) -> Figures:
    from django.db import connection

    case.before_each()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        answer = case.run()  # a warm-up run that counts the queries
    seconds, peaks, befores = [], [], []
    for _ in range(runs):
        case.before_each()
        reset_peak_rss()
        befores.append(status_mb("VmRSS") or 0.0)
        started = time.perf_counter()
        case.run()
        seconds.append(time.perf_counter() - started)
        peaks.append(peak_rss_mb())
    case.before_each()
    tracemalloc.start()
    case.run()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return Figures(case.name, answer, seconds, counter.count, max(befores), max(peaks), traced)


def post_csv(client: Any, body: bytes) -> Callable[[], str]:
    def run() -> str:
        response = client.post("/api/v1/lab-results/import/", body, content_type="text/csv")
        data = response.json()
        if response.status_code in (200, 201):
            created, recorded = data["created"], data["already_recorded"]
            return f"{response.status_code}: {created} created, {recorded} already recorded"
        if response.status_code == 400:
            return f"400: {len(data['errors']['rows'])} invalid rows"
        return f"{response.status_code}: {data['detail'][:60]}"

    return run


def stream_big(body: bytes, nurse: Any) -> Callable[[], str]:
    """The service over the CSV stream, with no byte limit: only the row limit stops it."""
    from django.conf import settings

    from api.lab_import import csv_rows
    from registry.lab_import import LabImportTooLarge, lab_results_import

    def run() -> str:
        stream = io.BytesIO(body)
        limit, settings.LAB_IMPORT_MAX_BYTES = settings.LAB_IMPORT_MAX_BYTES, len(body) + 1
        try:
            lab_results_import(rows=csv_rows(stream), by=nurse)
        except LabImportTooLarge as refused:
            read = f"{stream.tell():,} of {len(body):,} bytes read"
            return f"refused past {refused.max_rows:,} rows, {read}"
        finally:
            settings.LAB_IMPORT_MAX_BYTES = limit
        return "not refused"

    return run


def print_figures(figures: list[Figures], runs: int) -> None:
    columns = [("median s", 9), ("min–max s", 13), ("queries", 8), ("RSS before", 10)]
    columns += [("peak", 7), ("traced", 8)]
    print(
        f"\n{'case':44s} " + " ".join(f"{name:>{width}s}" for name, width in columns) + "  answer"
    )
    for f in figures:
        spread = f"{min(f.seconds):.3f}–{max(f.seconds):.3f}"
        print(
            f"{f.name:44s} {f.median:9.3f} {spread:>13s} {f.queries:8d} "
            f"{f.rss_before_mb:8.0f}MB {f.peak_rss_mb:5.0f}MB {f.traced_peak_mb:6.1f}MB  {f.answer}"
        )
    print(f"(median of {runs} runs; RSS before: VmRSS as a run starts; peak: VmHWM of the process")
    print(" during the run, the most of any run; traced: peak of the Python allocations in one")
    print(" more run, tracemalloc; the files themselves are held by the benchmark throughout)")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the bulk lab import.")
    parser.add_argument(
        "--rows", type=int, default=5_000, help="rows of the valid and invalid files"
    )
    parser.add_argument("--big-rows", type=int, default=100_000, help="rows of the file refused")
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database-url", help=f"default: $BENCH_IMPORT_DATABASE_URL or {DEFAULT_URL}"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"Load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} CPUs")

    database.prepare(database_url(args.database_url))  # Django is set up from here on
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("django.request").setLevel(logging.ERROR)  # not every refusal, please
    token = set_up(args.patients)
    nurse = User.objects.get(username="bench-import-nurse")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    valid, invalid = valid_file(args.rows, args.patients), invalid_file(args.rows, args.patients)
    big = big_file(args.big_rows, args.patients)
    print(
        f"Files: valid {args.rows:,} rows ({len(valid):,} bytes), invalid {args.rows:,} rows, "
        f"big {args.big_rows:,} rows ({len(big):,} bytes); limits {settings.LAB_IMPORT_MAX_ROWS:,} "
        f"rows, {settings.LAB_IMPORT_MAX_BYTES:,} bytes; {args.patients} patients",
        flush=True,
    )

    def store_valid_once() -> None:
        empty_lab_results()
        post_csv(client, valid)()

    cases = [
        Case(f"valid, {args.rows:,} new rows", post_csv(client, valid), empty_lab_results),
        Case(
            f"valid again, {args.rows:,} already recorded",
            post_csv(client, valid),
            store_valid_once,
        ),
        Case(
            f"invalid, {args.rows:,} rows, 1 in 10 refused",
            post_csv(client, invalid),
            empty_lab_results,
        ),
        Case(f"{args.big_rows:,} rows as sent", post_csv(client, big)),
        Case(f"{args.big_rows:,} rows streamed, no byte limit", stream_big(big, nurse)),
    ]
    figures = []
    for case in cases:
        print(f"  {case.name} …", flush=True)
        figures.append(measure(case, args.runs))
    print_figures(figures, args.runs)
    rows_per_s = args.rows / figures[0].median
    print(f"\nValid import: {rows_per_s:,.0f} rows/s end to end.")
    print(f"Load average at the end: {load_average()} (the machine is shared: figures vary)")
    print(f"make bench-import: {time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
