"""`make bench-export`: the research exports timed against `COPY … TO STDOUT` of the same rows.

For each registry size (5,000 and 20,000 patients by default) the synthetic registry is generated
afresh (`benchmarks.generate`, COPY into crmo_bench) and, unless `--no-alerts`, evaluated once so
that the `alerts` table has rows. Then:

- the floor: for each table the CSV export writes, one `COPY (SELECT …) TO STDOUT` of the same
  columns for the same consenting patients (the consent gate and day 0 computed in SQL, course and
  dose numbers by window functions), streamed by psycopg's `cursor.copy()` into a null sink;
  seconds summed over the ten tables, median of 3 runs;
- each export end to end, as an operator runs it (`call_command("export_registry", "--format", …,
  "--out", …)`: request row, pseudonym mapping, archive), each in a fresh subprocess whose peak
  resident memory is read at its end from VmHWM in /proc/self/status (the whole process, Django
  and pyarrow included; "idle" is the same mark just before the export starts). Not ru_maxrss:
  Linux carries the parent's peak over the exec, so a child's ru_maxrss hides its own.

The targets (issue 18): CSV and Parquet within 2× the floor, FHIR within 4×, at 20,000 patients;
memory that does not grow with the registry.

    python -m benchmarks.export --sizes 1000 4000 [--formats csv parquet fhir] [--profile csv]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks import database
from benchmarks.database import load_average
from benchmarks.generate import SEED, generate

DEFAULT_SIZES = (5_000, 20_000)
FORMATS = ("csv", "parquet", "fhir")
TARGET_RATIOS = {"csv": 2.0, "parquet": 2.0, "fhir": 4.0}
RESULT_PREFIX = "EXPORT-RESULT "

# The consent gate of research.deidentify.consenting_patients (every site), with each patient's
# day 0 (their first course start), and every course of those patients numbered as the exporter
# numbers them (1 + the patient's courses started earlier or the same day). PostgreSQL skips the
# CTEs a statement does not use.
GATE = """
WITH gate AS (
    SELECT p.id, min(c.started_on) AS day_zero
    FROM registry_patient p JOIN registry_treatmentcourse c ON c.patient_id = p.id
    WHERE EXISTS (
        SELECT 1 FROM registry_consent k
        WHERE k.patient_id = p.id AND k.research_given AND k.given_on <= {on}
          AND (k.research_withdrawn_on IS NULL OR k.research_withdrawn_on > {on}))
    GROUP BY p.id
), numbered AS (
    SELECT id, patient_id,
           count(*) OVER (PARTITION BY patient_id ORDER BY started_on) AS number
    FROM registry_treatmentcourse WHERE patient_id IN (SELECT id FROM gate)
)
"""
# One SELECT per table of the CSV bundle, in research.dictionary.TABLES order: the columns the
# exporter reads (not the ones it derives in Python), ordered by patient then date as it orders.
FLOOR_SELECTS: dict[str, str] = {
    "patients": """
SELECT g.id, g.day_zero, s.code, p.sex, p.date_of_birth, p.diagnosed_on,
       (SELECT count(*) FROM registry_treatmentcourse c WHERE c.patient_id = p.id)
FROM gate g JOIN registry_patient p ON p.id = g.id JOIN registry_site s ON s.id = p.site_id
ORDER BY g.id""",
    "courses": """
SELECT g.id, g.day_zero, p.date_of_birth, n.number, c.id, c.started_on, c.stopped_on,
       c.stop_reason, c.planned_dose_mg_per_kg, c.induction_weeks, c.maintenance_interval_weeks
FROM gate g JOIN registry_patient p ON p.id = g.id
JOIN numbered n ON n.patient_id = g.id JOIN registry_treatmentcourse c ON c.id = n.id
ORDER BY g.id, c.started_on""",
    "regimen_changes": """
SELECT g.id, g.day_zero, n.number, r.effective_on, r.dose_mg_per_kg, r.interval_weeks, r.reason
FROM gate g JOIN numbered n ON n.patient_id = g.id
JOIN registry_regimenchange r ON r.course_id = n.id
ORDER BY g.id, r.effective_on""",
    "infusions": """
SELECT g.id, g.day_zero, n.number,
       count(*) OVER (PARTITION BY i.course_id ORDER BY i.given_on),
       min(i.given_on) OVER (PARTITION BY i.course_id),
       i.given_on, i.weight_kg, i.weight_measured_on, i.dose_mg, i.duration_minutes,
       i.premedication_antihistamine, i.premedication_corticosteroid,
       i.premedication_antipyretic,
       (SELECT r.reason = 'intensification' FROM registry_regimenchange r
        WHERE r.course_id = i.course_id AND r.effective_on <= i.given_on
        ORDER BY r.effective_on DESC LIMIT 1)
FROM gate g JOIN numbered n ON n.patient_id = g.id JOIN registry_infusion i ON i.course_id = n.id
ORDER BY g.id, i.given_on""",
    "labs": """
SELECT g.id, g.day_zero, l.collected_on, l.analyte, l.value, l.unit, l.antibodies_positive,
       l.reference_low, l.reference_high
FROM gate g JOIN registry_labresult l ON l.patient_id = g.id
ORDER BY g.id, l.collected_on, l.analyte""",
    "imaging": """
SELECT g.id, g.day_zero, m.performed_on, m.modality, m.active_lesions, m.new_lesions,
       m.impression, m.rinbo_total, m.rai_cromris_total
FROM gate g JOIN registry_imagingstudy m ON m.patient_id = g.id
ORDER BY g.id, m.performed_on""",
    "assessments": """
SELECT g.id, g.day_zero, a.assessed_on, a.pain_score, a.physician_global, a.patient_global,
       a.chaq, a.clinically_active_lesions, a.disease_state
FROM gate g JOIN registry_clinicalassessment a ON a.patient_id = g.id
ORDER BY g.id, a.assessed_on""",
    "reactions": """
SELECT g.id, g.day_zero, n.number,
       (SELECT count(*) FROM registry_infusion e
        WHERE e.course_id = i.course_id AND e.given_on <= i.given_on),
       i.given_on, r.onset, r.severity, r.infusion_stopped, r.outcome, r.reviewed_on
FROM gate g JOIN numbered n ON n.patient_id = g.id JOIN registry_infusion i ON i.course_id = n.id
JOIN registry_infusionreaction r ON r.infusion_id = i.id
ORDER BY g.id, i.given_on, r.id""",
    "relapses": """
SELECT g.id, g.day_zero, n.number, x.noted_on, t.number
FROM gate g JOIN registry_relapse x ON x.patient_id = g.id
LEFT JOIN numbered n ON n.id = x.course_id LEFT JOIN numbered t ON t.id = x.retreatment_course_id
ORDER BY g.id, x.noted_on""",
    "alerts": """
SELECT g.id, g.day_zero, n.number, a.rule, a.severity, a.status, a.due_on, a.first_raised_at,
       a.resolved_at, a.guideline_version
FROM gate g JOIN numbered n ON n.patient_id = g.id JOIN monitoring_alert a ON a.course_id = n.id
ORDER BY g.id, a.first_raised_at, a.id""",
    "consents": """
SELECT g.id, g.day_zero, d.code, d.version, k.consented_by, k.assent, k.given_on,
       k.care_data_given, k.care_data_withdrawn_on, k.research_given, k.research_withdrawn_on,
       k.contact_given, k.contact_withdrawn_on
FROM gate g JOIN registry_consent k ON k.patient_id = g.id
JOIN registry_consentdocument d ON d.id = k.document_id
WHERE k.given_on <= {on}
ORDER BY g.id, k.given_on, k.id""",
}


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM of /proc/self/status (Linux), else ru_maxrss.

    VmHWM belongs to the process's own address space; ru_maxrss of a child also keeps its parent's
    peak from before the exec (Linux carries it over), which would hide the export's own peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 96 - len(title)), flush=True)


# --- The floor -----------------------------------------------------------------------------------


def floor_statement(table: str, on: dt.date) -> sql.Composed:
    query = GATE + FLOOR_SELECTS[table]
    return sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(query).format(on=sql.Literal(on)))


def floor(url: str, on: dt.date) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds and rows of each table's COPY, the bytes thrown away as they arrive."""
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for table in FLOOR_SELECTS:
            started = time.perf_counter()
            lines = 0
            with cur.copy(floor_statement(table, on)) as copy:
                for data in copy:
                    lines += bytes(data).count(b"\n")  # text COPY escapes newlines in values
            seconds[table] = time.perf_counter() - started
            rows[table] = lines
    return seconds, rows


# --- One export, in a child process --------------------------------------------------------------


def child(export_format: str, url: str, out: Path, profile: bool) -> None:
    """Run one export as `export_registry` does; print its figures as one JSON line."""
    database.setup_django(url)
    from django.core.management import call_command

    import research.exporters  # noqa: F401 - pyarrow and the rest loaded before the baseline
    from research import fhir, services
    from research.dictionary import TABLES
    from research.models import ExportRequest

    stamps: list[tuple[int, float]] = []
    mapping: list[float] = []
    set_progress, map_pseudonyms = services._set_progress, services._map_pseudonyms

    def timed_progress(export: ExportRequest, percent: int) -> None:
        set_progress(export, percent)
        stamps.append((percent, time.perf_counter()))

    def timed_mapping(export: ExportRequest) -> int:
        started = time.perf_counter()
        count = map_pseudonyms(export)
        mapping.extend((started, time.perf_counter()))
        return count

    services._set_progress = timed_progress
    services._map_pseudonyms = timed_mapping

    baseline = peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    stdout = io.StringIO()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    call_command("export_registry", "--format", export_format, "--out", str(out), stdout=stdout)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()

    export = ExportRequest.objects.latest("pk")
    parts = {"request and pseudonym mapping": mapping[1] - started if mapping else 0.0}
    previous = mapping[1] if mapping else started
    # The entries in the order they are written (row_counts is jsonb: its keys come back sorted).
    if export_format == "fhir":
        names = [file.resource_type for file in fhir.RESOURCE_FILES]
    else:
        names = [table.name for table in TABLES]
    for index, (_percent, stamp) in enumerate(stamps):
        name = names[index] if index < len(names) else "dictionary, manifest, README"
        parts[name] = stamp - previous
        previous = stamp
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        print(text.getvalue())
    result = {
        "seconds": seconds,
        "rows": export.row_counts,
        "parts": parts,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "bytes": out.stat().st_size,
        "patients": export.pseudonyms.count(),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


@dataclass
class ExportRun:
    export_format: str
    seconds: float
    rows: dict[str, int]
    parts: dict[str, float]
    baseline_mb: float
    peak_mb: float
    size_bytes: int
    patients: int
    output: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def run_export(export_format: str, url: str, profile: bool = False) -> ExportRun:
    with tempfile.TemporaryDirectory(prefix="crmo-bench-export-") as folder:
        out = Path(folder) / f"export.{export_format}.zip"
        command = [sys.executable, "-m", "benchmarks.export", "--child", export_format]
        command += ["--database-url", url, "--out", str(out)]
        if profile:
            command.append("--child-profile")
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            command, capture_output=True, text=True, check=False
        )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {export_format} export failed (exit {done.returncode})")
    lines = done.stdout.splitlines()
    figures = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return ExportRun(
        export_format,
        figures["seconds"],
        figures["rows"],
        figures["parts"],
        figures["baseline_mb"],
        figures["peak_mb"],
        figures["bytes"],
        figures["patients"],
        "\n".join(lines[:-1]),
    )


# --- One registry size ---------------------------------------------------------------------------


@dataclass
class SizeResult:
    patients: int
    consenting: int
    generated_rows: int
    floors: list[float]
    floor_tables: dict[str, float]
    floor_rows: dict[str, int]
    exports: list[ExportRun] = field(default_factory=list)

    @property
    def floor(self) -> float:
        return statistics.median(self.floors)


def consenting(on: dt.date) -> int:
    from registry.models import Site
    from research.deidentify import consenting_patients

    return consenting_patients(site_ids=Site.objects.values_list("pk", flat=True), on=on).count()


def bench_size(
    url: str, patients: int, seed: int, formats: list[str], floor_runs: int, alerts: bool
) -> SizeResult:
    from django.utils import timezone

    today = timezone.localdate()
    section(f"{patients:,} patients")
    tables = database.wipe(url)
    started = time.perf_counter()
    generated = generate(url, patients, today, seed)
    total = sum(generated.rows.values())
    print(
        f"  generated {total:,} rows ({generated.courses:,} courses) in "
        f"{time.perf_counter() - started:.1f} s; {len(tables)} tables wiped first",
        flush=True,
    )
    # Statistics for the planner, as autovacuum would gather them soon after a bulk load: the
    # floor and the exports are timed on a registry that has them.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    if alerts:
        from monitoring.evaluation import run_evaluation

        started = time.perf_counter()
        _run, outcome = run_evaluation(as_of=today)
        print(
            f"  nightly evaluation for the alerts table: {outcome.opened:,} alerts opened in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
    gate = consenting(today)
    print(
        f"  consenting patients (consent given, not withdrawn, with a course): {gate:,} of "
        f"{patients:,} ({gate / patients:.0%})",
        flush=True,
    )
    floors = []
    floor_tables: dict[str, float] = {}
    floor_rows: dict[str, int] = {}
    for _ in range(floor_runs):
        floor_tables_run, floor_rows = floor(url, today)
        floors.append(sum(floor_tables_run.values()))
        if not floor_tables or floors[-1] <= min(floors):
            floor_tables = floor_tables_run
    result = SizeResult(patients, gate, total, floors, floor_tables, floor_rows)
    print(
        f"  floor (COPY … TO STDOUT, 10 tables): {', '.join(f'{s:.2f}' for s in floors)} s; "
        f"{sum(floor_rows.values()):,} rows",
        flush=True,
    )
    for export_format in formats:
        run = run_export(export_format, url)
        result.exports.append(run)
        print(
            f"  {export_format} export: {run.seconds:.1f} s, {run.total_rows:,} rows, "
            f"peak RSS {run.peak_mb:.0f} MB",
            flush=True,
        )
    return result


# --- Report --------------------------------------------------------------------------------------


def print_size(result: SizeResult) -> None:
    floor_s = result.floor
    floor_total = sum(result.floor_rows.values())
    section(
        f"{result.patients:,} patients ({result.consenting:,} consenting), "
        f"{result.generated_rows:,} rows in the registry"
    )
    heads = ("seconds", 8), ("rows", 11), ("rows/s", 10), ("× floor", 8), ("peak RSS", 17)
    print(f"  {'':34s}" + "".join(f" {head:>{width}s}" for head, width in heads))
    print(
        f"  {'floor: COPY TO STDOUT (median)':34s} {floor_s:>8.2f} {floor_total:>11,d} "
        f"{floor_total / floor_s:>10,.0f} {1:>8.2f}"
    )
    for run in result.exports:
        ratio = run.seconds / floor_s
        target = TARGET_RATIOS[run.export_format]
        verdict = "ok" if ratio <= target else f"above the {target:g}× target"
        memory = f"{run.peak_mb:.0f} MB ({run.baseline_mb:.0f} idle)"
        print(
            f"  {run.export_format + ' export (export_registry)':34s} {run.seconds:>8.2f} "
            f"{run.total_rows:>11,d} {run.total_rows / run.seconds:>10,.0f} {ratio:>8.2f} "
            f"{memory:>17s}  {verdict}".rstrip()
        )
    print(
        f"\n  by table (seconds){'':16s} {'floor':>8s}"
        + "".join(
            f" {run.export_format:>8s}" for run in result.exports if run.export_format != "fhir"
        )
        + f" {'rows':>10s}  {'(csv rows)':>10s}"
    )
    tabular = [run for run in result.exports if run.export_format != "fhir"]
    names = list(dict.fromkeys([*result.floor_tables, *(p for r in tabular for p in r.parts)]))
    for name in names:
        cells = f" {result.floor_tables[name]:>8.2f}" if name in result.floor_tables else " " * 9
        cells += "".join(f" {run.parts.get(name, 0.0):>8.2f}" for run in tabular)
        rows = f" {result.floor_rows[name]:>10,d}" if name in result.floor_rows else ""
        exported = next((run.rows.get(name) for run in tabular), None)
        if exported is not None and name in result.floor_rows:
            mark = "" if exported == result.floor_rows[name] else "  ≠ floor"
            rows += f"  {exported:>10,d}{mark}"
        print(f"  {name:34s}{cells}{rows}")
    for run in result.exports:
        if run.export_format == "fhir":
            kinds = ", ".join(
                f"{kind} {run.rows.get(kind, 0):,} ({seconds:.2f} s)"
                for kind, seconds in run.parts.items()
            )
            print(f"  fhir, rows and seconds by file: {kinds}")
        print(f"  {run.export_format} archive: {run.size_bytes / 2**20:.1f} MB")


def print_summary(results: list[SizeResult]) -> None:
    section("Summary (peak RSS: VmHWM of a fresh process running the one export)")
    for result in results:
        line = f"  {result.patients:>7,d} patients, {result.consenting:,} consenting: floor "
        line += f"{result.floor:.2f} s"
        for run in result.exports:
            line += (
                f"; {run.export_format} {run.seconds:.1f} s ({run.seconds / result.floor:.1f}×, "
                f"{run.peak_mb:.0f} MB)"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the research exports.")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--floor-runs", type=int, default=3)
    parser.add_argument(
        "--no-alerts",
        action="store_true",
        help="skip the evaluation (the alerts table stays empty)",
    )
    parser.add_argument(
        "--profile",
        choices=FORMATS,
        help="cProfile one more export of this format at the smallest size",
    )
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL or crmo_bench")
    parser.add_argument("--child", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = database.database_url(args.database_url)
    if args.child:
        child(args.child, url, args.out, args.child_profile)
        return

    bench_started = time.perf_counter()
    print(f"Load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} CPUs")
    database.prepare(url)
    results = []
    profiled: ExportRun | None = None
    for index, patients in enumerate(sorted(args.sizes)):
        results.append(
            bench_size(url, patients, args.seed, args.formats, args.floor_runs, not args.no_alerts)
        )
        if index == 0 and args.profile:
            profiled = run_export(args.profile, url, profile=True)
    for result in results:
        print_size(result)
    print_summary(results)
    if profiled:
        section(
            f"cProfile of the {profiled.export_format} export, {results[0].patients:,} patients"
        )
        print(profiled.output)
    print(f"\nLoad average at the end: {load_average()} (the machine is shared: figures vary)")
    print(f"make bench-export: {time.perf_counter() - bench_started:.0f} s in all.")


if __name__ == "__main__":
    main()
