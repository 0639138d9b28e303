"""`make bench-outcomes`: the outcomes page on a synthetic registry (20,000 patients by default).

In the benchmark database (crmo_bench, or BENCH_DATABASE_URL; rebuilt): generate the registry,
time the nightly refresh of the stored course outcomes (`research.outcome_snapshots.refresh`,
which loads every course's history once), then render the page through Django's in-process client
for a clinician of every site and for a researcher of every site (aggregates only: the consent
gate and small-cell suppression), the median of --runs after one warm-up, with the queries each
render makes. The target: the page within 2 s at 20,000 patients.

    python -m benchmarks.outcomes [--patients 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import time
from typing import Any

from benchmarks import database
from benchmarks.database import load_average
from benchmarks.generate import SEED, generate

TARGET_SECONDS = 2.0


def _people() -> dict[str, Any]:
    from django.contrib.auth.models import User

    from registry.models import Membership, Role, Site

    people = {}
    for role in (Role.CLINICIAN, Role.RESEARCHER):
        user, _created = User.objects.get_or_create(username=f"bench-outcomes-{role}")
        Membership.objects.bulk_create(
            Membership(user=user, site=site, role=role) for site in Site.objects.all()
        )
        people[str(role)] = user
    return people


def render(runs: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("clinic:outcomes")
    for role, user in _people().items():
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        answer = client.get(url)  # warm: imports (statsmodels), sessions
        assert answer.status_code == 200, answer.status_code  # noqa: S101
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        median = statistics.median(times)
        verdict = "within" if median <= TARGET_SECONDS else "OVER"
        print(
            f"  {role:12} median {median:5.2f} s of {runs} (min {min(times):.2f}, max "
            f"{max(times):.2f}), {len(queries)} queries: {verdict} the {TARGET_SECONDS:.0f} s "
            "target"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the outcomes page.")
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL or crmo_bench")
    args = parser.parse_args()
    url = database.database_url(args.database_url)
    print(f"Load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} CPUs")
    database.prepare(url)
    today = dt.date.today()
    generated = generate(url, args.patients, today, args.seed)
    print(
        f"Registry: {args.patients} patients, {generated.courses} courses, "
        f"{sum(generated.rows.values())} rows"
    )
    from research.outcome_snapshots import refresh

    started = time.perf_counter()
    stored = refresh(today)
    refreshed = time.perf_counter() - started
    print(f"Nightly refresh of the course outcomes: {stored} courses in {refreshed:.1f} s")
    print(f"The page (load average {load_average()}):")
    render(args.runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
