"""`make bench`: generate a synthetic registry, then measure the nightly evaluation against a floor.

The floor is the cheapest possible way to read what the evaluation reads: the scope query, then
for each chunk of 500 courses the fourteen queries of `monitoring.evaluation.load_histories` (same
tables, columns and order, the patients' other courses included), with plain psycopg, fetching
every row; no ORM, no engine, no writes.
The full evaluation runs twice, synchronously (`run_evaluation(full=True)`, the command's path):
on the fresh registry (it opens the alerts) and again (steady state: every alert refreshed, none
opened). The target is a full run within 3× the floor.

Then one simulated day: about 2 % of the courses on treatment get an infusion, a CRP and an
assessment dated the next day (copies of their latest, written in SQL with the record versions
moved as the services move them), and the next night is evaluated incrementally (only the courses
due) and in full. The target is an incremental night within 10 % of the full one.

    python -m benchmarks.evaluation --patients 2000
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import resource
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from benchmarks import database
from benchmarks.database import load_average
from benchmarks.generate import SEED, Generated, generate, patients_for_courses
from monitoring.guideline.history import MEDICATIONS_READ, SCREENINGS_READ
from registry.safety_codes import LIVE_VACCINES, SPECIAL_INTEREST_TERMS

DEFAULT_COURSES = 100_000
CHUNK_SIZE = 500
TARGET_RATIO = 3.0
SAMPLED_CHUNKS = 8  # chunks timed piece by piece (load, engine, reconcile)

# What load_histories reads, as plain SQL: (name, SQL, by course ids or by patient ids).
SCOPE_SQL = """
SELECT id FROM registry_treatmentcourse
WHERE started_on <= %(as_of)s AND (stopped_on IS NULL OR stopped_on >= %(watch_from)s)
ORDER BY id
"""
COURSES_SQL = """
SELECT c.id, c.patient_id, p.registry_code, s.code, c.started_on, c.planned_dose_mg_per_kg,
       c.induction_weeks, c.maintenance_interval_weeks, c.stopped_on, c.stop_reason,
       p.date_of_birth
FROM registry_treatmentcourse c
JOIN registry_patient p ON p.id = c.patient_id
JOIN registry_site s ON s.id = p.site_id
WHERE c.id = ANY(%s) ORDER BY c.id
"""
BY_COURSE, BY_PATIENT = "course", "patient"
LOADS: tuple[tuple[str, str, str], ...] = (
    (
        # Every course of the patients: the exposure across courses (GUIDELINE.md version 2).
        "infusions",
        "SELECT c.patient_id, i.id, i.given_on, i.weight_kg, i.dose_mg, i.weight_measured_on,"
        " i.duration_minutes, i.premedication_antihistamine, i.premedication_corticosteroid,"
        " i.premedication_antipyretic, i.course_id"
        " FROM registry_infusion i JOIN registry_treatmentcourse c ON c.id = i.course_id"
        " WHERE c.patient_id = ANY(%s) ORDER BY i.given_on, i.id",
        BY_PATIENT,
    ),
    (
        "reactions",
        "SELECT c.patient_id, r.id, r.infusion_id, r.severity, r.onset, r.reviewed_on,"
        " r.review_decision"
        " FROM registry_infusionreaction r JOIN registry_infusion i ON i.id = r.infusion_id"
        " JOIN registry_treatmentcourse c ON c.id = i.course_id"
        " WHERE c.patient_id = ANY(%s) ORDER BY i.given_on, r.id",
        BY_PATIENT,
    ),
    (
        "regimen changes",
        "SELECT course_id, id, effective_on, dose_mg_per_kg, interval_weeks, reason"
        " FROM registry_regimenchange WHERE course_id = ANY(%s) ORDER BY effective_on",
        BY_COURSE,
    ),
    (
        "labs",
        "SELECT patient_id, id, collected_on, analyte, value, reference_high, antibodies_positive,"
        " unit, assay_name"
        " FROM registry_labresult WHERE patient_id = ANY(%s) ORDER BY collected_on, id",
        BY_PATIENT,
    ),
    (
        "imaging",
        "SELECT patient_id, id, performed_on, modality, active_lesions, new_lesions, impression"
        " FROM registry_imagingstudy WHERE patient_id = ANY(%s) ORDER BY performed_on, id",
        BY_PATIENT,
    ),
    (
        "assessments",
        "SELECT patient_id, id, assessed_on, pain_score, physician_global,"
        " clinically_active_lesions, disease_state, patient_global, chaq"
        " FROM registry_clinicalassessment"
        " WHERE patient_id = ANY(%s) ORDER BY assessed_on, id",
        BY_PATIENT,
    ),
    (
        "relapses",
        "SELECT course_id, noted_on FROM registry_relapse WHERE course_id = ANY(%s)"
        " ORDER BY noted_on",
        BY_COURSE,
    ),
    (
        "course starts",  # and stops: which course an adverse event's review lives on
        "SELECT id, patient_id, started_on, stopped_on FROM registry_treatmentcourse"
        " WHERE patient_id = ANY(%s) ORDER BY started_on",
        BY_PATIENT,
    ),
    (
        "medications",  # of those a rule reads: methotrexate
        "SELECT patient_id, id, drug, started_on, stopped_on FROM registry_medication"
        " WHERE patient_id = ANY(%s) AND drug = ANY(%s) ORDER BY started_on, id",
        BY_PATIENT,
    ),
    (
        "screenings",  # of those a rule reads: TB and hepatitis B
        "SELECT patient_id, id, test, tested_on, result, reviewed_on FROM registry_screeningresult"
        " WHERE patient_id = ANY(%s) AND test = ANY(%s) ORDER BY tested_on, id",
        BY_PATIENT,
    ),
    (
        "live vaccinations",
        "SELECT patient_id, id, vaccine, given_on, reviewed_on, review_decision"
        " FROM registry_vaccination WHERE patient_id = ANY(%s) AND vaccine = ANY(%s)"
        " ORDER BY given_on, id",
        BY_PATIENT,
    ),
    (
        "adverse events",  # that need a clinician's review: serious, or of special interest
        "SELECT patient_id, course_id, id, onset_on, term, serious, reviewed_on, review_decision"
        " FROM registry_adverseevent WHERE patient_id = ANY(%s) AND (serious OR term = ANY(%s))"
        " ORDER BY onset_on, id",
        BY_PATIENT,
    ),
    (
        "consents",  # read by reconsent_at_majority
        "SELECT patient_id, id, given_on, consented_by, care_data_given, research_given,"
        " contact_given, care_data_withdrawn_on, research_withdrawn_on, contact_withdrawn_on"
        " FROM registry_consent WHERE patient_id = ANY(%s) ORDER BY given_on, id",
        BY_PATIENT,
    ),
)
# The parameters of a load after the ids.
MORE_PARAMS: dict[str, list[Any]] = {
    "medications": [sorted(MEDICATIONS_READ)],
    "screenings": [sorted(SCREENINGS_READ)],
    "live vaccinations": [sorted(LIVE_VACCINES)],
    "adverse events": [sorted(SPECIAL_INTEREST_TERMS)],
}


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def rss_mb() -> float:
    """The process's resident memory now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return pages * resource.getpagesize() / 2**20


def memory_mark(name: str) -> tuple[str, float, float]:
    return name, rss_mb(), max_rss_mb()


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


# --- The floor -----------------------------------------------------------------------------------


def floor(url: str, as_of: dt.date, watch_days: int, chunk_size: int) -> tuple[float, int]:
    """Seconds to read, chunk by chunk, every row the evaluation reads; and how many rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        params = {"as_of": as_of, "watch_from": as_of - dt.timedelta(days=watch_days)}
        ids = [row[0] for row in conn.execute(SCOPE_SQL, params).fetchall()]
        rows = len(ids)
        for chunk in chunks(ids, chunk_size):
            courses = conn.execute(COURSES_SQL, [chunk]).fetchall()
            patient_ids = sorted({row[1] for row in courses})
            rows += len(courses)
            for name, query, by in LOADS:
                ids_of = chunk if by == BY_COURSE else patient_ids
                rows += len(conn.execute(query, [ids_of, *MORE_PARAMS.get(name, [])]).fetchall())
        return time.perf_counter() - started, rows


# --- The evaluation ------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float
    courses: int
    findings: int
    opened: int
    refreshed: int
    resolved: int


def evaluation_run(name: str, as_of: dt.date, chunk_size: int, full: bool = True) -> Run:
    from monitoring.evaluation import run_evaluation

    seconds, (_run, outcome) = timed(
        lambda: run_evaluation(as_of=as_of, chunk_size=chunk_size, full=full)
    )
    return Run(
        name,
        seconds,
        outcome.courses,
        outcome.findings,
        outcome.opened,
        outcome.refreshed,
        outcome.resolved,
    )


@dataclass
class ChunkFigures:
    """One state (fresh or steady), medians over the sampled chunks."""

    state: str
    queries: Counter[str]  # of one evaluate_courses call, by statement
    load: float  # load_histories
    engine: float  # evaluate() of every history
    whole: float  # evaluate_courses: lock, load, engine, reconcile, in one transaction

    @property
    def rest(self) -> float:
        """Lock and reconcile: what evaluate_courses adds to loading and the engine."""
        return max(0.0, self.whole - self.load - self.engine)


def chunk_figures(state: str, sample: list[list[int]], as_of: dt.date) -> ChunkFigures:
    """Time the parts of `evaluate_courses` on each sampled chunk: loading and the engine alone
    (read-only), then the whole call (which reconciles); count the queries of the first call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.evaluation import evaluate_courses, load_histories, site_guidelines
    from monitoring.guideline import DEFAULT, evaluate

    loads, engines, wholes = [], [], []
    queries: Counter[str] = Counter()
    for chunk in sample:
        guidelines = site_guidelines()
        started = time.perf_counter()
        histories = load_histories(chunk)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        for history in histories:
            evaluate(history, as_of, guidelines.get(history.site_code, DEFAULT))
        engines.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            evaluate_courses(chunk, as_of)
            wholes.append(time.perf_counter() - started)
        if not queries:
            queries.update(q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries)
    return ChunkFigures(
        state,
        queries,
        statistics.median(loads),
        statistics.median(engines),
        statistics.median(wholes),
    )


def traced_peak_mb(chunk: list[int], as_of: dt.date) -> float:
    """Peak of Python allocations during one evaluate_courses call (tracemalloc slows it down,
    so never during a timed run)."""
    from monitoring.evaluation import evaluate_courses

    tracemalloc.start()
    try:
        evaluate_courses(chunk, as_of)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


# --- One simulated day ---------------------------------------------------------------------------

NEXT_DAY_SHARE = 0.02  # of the courses on treatment: a visit the next day
# What a visit adds, as copies of each course's or patient's latest row: (table, owner column,
# date column, the date columns set to the visit's day).
VISIT_ROWS = (
    ("registry_infusion", "course_id", "given_on", ("given_on", "weight_measured_on")),
    ("registry_labresult", "patient_id", "collected_on", ("collected_on",)),
    ("registry_clinicalassessment", "patient_id", "assessed_on", ("assessed_on",)),
)


def simulate_day(url: str, as_of: dt.date, day: dt.date, seed: int) -> dict[str, int]:
    """A day of the clinics: NEXT_DAY_SHARE of the courses on treatment get a visit on `day`.
    Written in SQL (the services would take longer than what is measured), with each patient's
    record version moved in the same transaction, as `registry.reevaluation` does."""
    written: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        conn.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        courses = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM registry_treatmentcourse WHERE started_on <= %s "
                "AND stopped_on IS NULL AND random() < %s",
                [as_of, NEXT_DAY_SHARE],
            )
        ]
        patients = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT patient_id FROM registry_treatmentcourse WHERE id = ANY(%s)",
                [courses],
            )
        ]
        for table, owner, date_column, set_to_day in VISIT_ROWS:
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND column_name <> 'id' ORDER BY ordinal_position",
                    [table],
                )
            ]
            values = [
                "%(day)s"
                if column in set_to_day
                else "now()"
                if column in ("created_at", "updated_at")
                else column
                for column in columns
            ]
            cursor = conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (our own names)
                f"SELECT DISTINCT ON ({owner}) {', '.join(values)} FROM {table} "
                f"WHERE {owner} = ANY(%(ids)s) ORDER BY {owner}, {date_column} DESC, id DESC",
                {"day": day, "ids": courses if owner == "course_id" else patients},
            )
            written[table] = cursor.rowcount
        conn.execute(
            "INSERT INTO registry_recordversion (patient_id, version, changed_at) "
            "SELECT unnest(%s::bigint[]), 1, now() ON CONFLICT (patient_id) DO UPDATE "
            "SET version = registry_recordversion.version + 1, changed_at = now()",
            [patients],
        )
    written["courses visited"] = len(courses)
    return written


def due_reasons(day: dt.date) -> dict[str, int]:
    """Why the courses due on `day` are due (a course may have several reasons)."""
    from django.db.models import F, Q
    from django.db.models.functions import Coalesce

    from monitoring.evaluation import courses_due

    due = courses_due(day).alias(seen=Coalesce("patient__record_version__version", 0))
    return {
        "never evaluated": due.filter(evaluation__isnull=True).count(),
        "record changed": due.filter(~Q(evaluation__record_version=F("seen"))).count(),
        "horizon come": due.filter(evaluation__reevaluate_on__lte=day).count(),
        "due in all": due.count(),
    }


def forget_alerts(url: str) -> None:
    """Empty the alert tables, so that the sampled chunks can be measured fresh again."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE monitoring_alertevent, monitoring_alert")


def profile(sample: list[list[int]], as_of: dt.date, top: int = 30) -> str:
    from monitoring.evaluation import evaluate_courses

    profiler = cProfile.Profile()
    profiler.enable()
    for chunk in sample:
        evaluate_courses(chunk, as_of)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def alerts_by_rule() -> list[tuple[str, dict[str, int]]]:
    from django.db.models import Count

    from monitoring.guideline import RULES
    from monitoring.models import Alert

    counts: dict[str, dict[str, int]] = {rule_id: {} for rule_id in RULES}
    for row in Alert.objects.values("rule", "severity").annotate(n=Count("pk")).order_by():
        counts[row["rule"]][row["severity"]] = row["n"]
    return list(counts.items())


# --- Report --------------------------------------------------------------------------------------


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 96 - len(title)))


def print_generation(generated: Generated, patients: int, seed: int, today: dt.date) -> None:
    section(f"Synthetic registry: {patients:,} patients, seed {seed}, as of {today}")
    total = sum(generated.rows.values())
    for table, count in generated.rows.items():
        print(f"  {table:32s} {count:>12,d}")
    print(f"  {'total':32s} {total:>12,d}")
    print("  registry_historical* (history)   empty: COPY bypasses django-simple-history")
    seconds = sum(generated.seconds.values())
    for phase, value in generated.seconds.items():
        print(f"  {phase:32s} {value:>10.1f} s")
    print(f"  {'generation':32s} {seconds:>10.1f} s   ({total / seconds:,.0f} rows/s)")


def print_evaluation(
    in_scope: int, chunk_size: int, floors: list[float], floor_rows: int, runs: list[Run]
) -> None:
    n_chunks = -(-in_scope // chunk_size)
    floor_s = statistics.median(floors)
    section(f"Nightly evaluation: {in_scope:,} courses in scope, {n_chunks} chunks of {chunk_size}")
    print(f"  {'':46s} {'seconds':>9s} {'courses/s':>10s} {'× floor':>8s}")
    print(
        f"  {'floor: psycopg, 14 queries/chunk (median)':46s} {floor_s:>9.1f} "
        f"{in_scope / floor_s:>10,.0f} {1:>8.2f}"
    )
    print(
        f"    runs: {', '.join(f'{s:.1f}' for s in floors)} s; {floor_rows:,} rows fetched per run"
    )
    for run in runs:
        ratio = run.seconds / floor_s
        verdict = "ok" if ratio <= TARGET_RATIO else f"above the {TARGET_RATIO:g}× target"
        print(
            f"  {run.name:46s} {run.seconds:>9.1f} {run.courses / run.seconds:>10,.0f} "
            f"{ratio:>8.2f}  {verdict}"
        )
    for run in runs:
        print(
            f"    {run.name}: {run.findings:,} findings; {run.opened:,} opened, "
            f"{run.refreshed:,} refreshed, {run.resolved:,} resolved"
        )


def print_chunks(floor_per_chunk: float, states: list[ChunkFigures], n_sampled: int) -> None:
    section(f"One chunk, medians of {n_sampled} sampled chunks (seconds, and × the floor's share)")
    print(f"  {'':40s}" + "".join(f"{figures.state:>22s}" for figures in states))

    def line(label: str, values: list[float]) -> None:
        cells = "".join(f"{v:>12.3f} {v / floor_per_chunk:>6.1f}×   " for v in values)
        print(f"  {label:40s}{cells}".rstrip())

    line("floor (psycopg reads)", [floor_per_chunk for _ in states])
    line("load_histories (ORM, plain rows)", [f.load for f in states])
    line("engine: evaluate() of each course", [f.engine for f in states])
    line("lock + reconcile (the rest)", [f.rest for f in states])
    line("evaluate_courses (all of it)", [f.whole for f in states])
    for figures in states:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(figures.queries.items()))
        print(
            f"  queries per evaluate_courses call, {figures.state}: "
            f"{figures.queries.total()} ({kinds})"
        )


def print_next_day(
    day: dt.date, written: dict[str, int], reasons: dict[str, int], runs: list[Run]
) -> None:
    incremental, full = runs
    section(f"The next night ({day}): one simulated day of the clinics, then both kinds of run")
    print("  written: " + ", ".join(f"{name} {n:,}" for name, n in written.items()))
    print("  due: " + ", ".join(f"{name} {n:,}" for name, n in reasons.items()))
    print(f"  {'':46s} {'seconds':>9s} {'courses':>10s} {'× full':>8s}")
    for run in runs:
        ratio = run.seconds / full.seconds
        print(f"  {run.name:46s} {run.seconds:>9.2f} {run.courses:>10,d} {ratio:>8.3f}")
    ratio = incremental.seconds / full.seconds
    verdict = "ok" if ratio <= 0.10 else "above the 10 % target"
    print(f"  incremental / full: {ratio:.1%}  {verdict}")


def print_memory(marks: list[tuple[str, float, float]], traced_mb: float) -> None:
    section("Memory of this process (RSS now, and its peak so far)")
    for name, now, peak in marks:
        print(f"  {name:36s} {now:>8.0f} MB now {peak:>8.0f} MB peak")
    print(
        f"  tracemalloc peak of one evaluate_courses call   {traced_mb:>8.1f} MB (Python objects)"
    )


def print_alerts(rows: list[tuple[str, dict[str, int]]]) -> None:
    section("Alerts opened by the first run, per rule")
    total = 0
    for rule_id, by_severity in rows:
        n = sum(by_severity.values())
        total += n
        detail = ", ".join(f"{sev} {count:,}" for sev, count in sorted(by_severity.items()))
        print(f"  {rule_id:28s} {n:>9,d}   {detail}")
    print(f"  {'total':28s} {total:>9,d}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the nightly evaluation.")
    default_patients = patients_for_courses(DEFAULT_COURSES)
    parser.add_argument(
        "--patients",
        type=int,
        default=default_patients,
        help=f"patients to generate (default {default_patients:,}: ~{DEFAULT_COURSES:,} courses)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--floor-runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the sampled chunks")
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL or crmo_bench")
    args = parser.parse_args()
    bench_started = time.perf_counter()

    url = database.database_url(args.database_url)
    database.prepare(url)  # Django is set up from here on
    from django.utils import timezone

    from monitoring.evaluation import courses_in_scope
    from monitoring.guideline import DEFAULT

    today = timezone.localdate()
    print(f"Load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} CPUs")
    marks = [memory_mark("before generating")]
    generated = generate(url, args.patients, today, args.seed)
    marks.append(memory_mark("after generating"))
    print_generation(generated, args.patients, args.seed, today)

    in_scope = list(courses_in_scope(today).values_list("pk", flat=True))
    print(f"\nMeasuring: floor ×{args.floor_runs}, then two evaluation runs …", flush=True)
    floors = []
    floor_rows = 0
    for _ in range(args.floor_runs):
        seconds, floor_rows = floor(url, today, DEFAULT.post_stop_watch_days, args.chunk_size)
        floors.append(seconds)
    marks.append(memory_mark("after the floor"))
    runs = [evaluation_run("run 1: fresh registry (opens alerts)", today, args.chunk_size)]
    marks.append(memory_mark("after run 1"))
    alerts = alerts_by_rule()
    runs.append(evaluation_run("run 2: steady state (refreshes)", today, args.chunk_size))
    marks.append(memory_mark("after run 2"))
    tomorrow = today + dt.timedelta(days=1)
    written = simulate_day(url, today, tomorrow, args.seed)
    reasons = due_reasons(tomorrow)
    next_night = [
        evaluation_run("incremental: the courses due", tomorrow, args.chunk_size, full=False),
        evaluation_run("full: every course in scope", tomorrow, args.chunk_size),
    ]
    marks.append(memory_mark("after the next night"))

    all_chunks = chunks(in_scope, args.chunk_size)
    step = max(1, len(all_chunks) // SAMPLED_CHUNKS)
    sample = all_chunks[::step][:SAMPLED_CHUNKS]
    forget_alerts(url)  # the sampled chunks again on a fresh registry, then in steady state
    states = [chunk_figures(state, sample, today) for state in ("fresh", "steady state")]
    traced_mb = traced_peak_mb(sample[-1], today)

    print_evaluation(len(in_scope), args.chunk_size, floors, floor_rows, runs)
    print_chunks(statistics.median(floors) / len(all_chunks), states, len(sample))
    print_next_day(tomorrow, written, reasons, next_night)
    print_memory(marks, traced_mb)
    print_alerts(alerts)
    if args.profile:
        section(f"cProfile of evaluate_courses over {len(sample)} chunks (steady state)")
        print(profile(sample, today))
    print(f"\nLoad average at the end: {load_average()} (the machine is shared: figures vary)")
    print(f"make bench: {time.perf_counter() - bench_started:.0f} s in all.")


if __name__ == "__main__":
    main()
