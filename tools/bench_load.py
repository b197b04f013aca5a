"""How fast the loader writes a country's staged records, before and after the bulk loader.

Stages one run of N parsed assessments across 1,800 synthetic cities (the corpus's ground-truth
records with their own sha256, 評価書番号 and 公表日, child rows included: risk answers, change
rows, files and their outsourcing; ``tools/bench_site.stage_synthetic_run``), then loads it into
an empty warehouse with

- the loader of this checkout, and
- the baseline: the row-by-row loader as it was at ``BASELINE_REV`` (extracted with
  ``git archive`` into a temporary directory and run from there),

on both backends: a DuckDB file, and a DuckLake whose catalog is a private PostgreSQL started the
way ``make stack`` starts its own (skipped, with the reason, when PostgreSQL is not installed).
Each load runs in a process of its own, timed around ``load_run`` alone (the warehouse is created
and migrated first), in wall time and in the CPU time of its process (on a shared machine the CPU
time says more about the loader, the wall time more about the neighbours). The row-by-row baseline needs minutes per 10,000 assessments, so by default
it loads a sample (``--baseline-sample``), which flatters it: its time per row grows with the run.
The bulk loader always loads all N. The bulk loader reads each record's typed file, which the
parse step now writes (``load.staging.stage_parse``): that work moved out of the load into the
parallel parse tasks, and the bench also reports its CPU a record (``typed_file_cpu``).

    .venv/bin/python tools/bench_load.py                        # 50,000 assessments, both backends
    .venv/bin/python tools/bench_load.py --assessments 2000 --baseline-sample 2000 --backends duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "tools"))

from bench_site import stage_synthetic_run, synthetic_cities  # noqa: E402  (after the path is set)

# The last commit whose loader wrote row by row (multi-row VALUES statements of 500 rows).
BASELINE_REV = "e643cf7"
RUN_ID = "bench-load"
CITIES = 1800
# Every table the loader writes a document's rows to: what "rows" counts.
ROW_TABLES = ("documents", "assessments", "assessment_files", "file_outsourcing", "risk_answers", "change_rows",
              "sources", "municipalities")
POSTGRES_PASSWORD = "bench-load-password"
# Records over which the parse step's cost of a typed file is measured.
TYPED_SAMPLE = 2000

# Run in a process of its own, from the tree being measured (its load/ is the one imported).
WORKER = r"""
import json, resource, sys, time
from pathlib import Path
tree, location, lake_path, staging, run_id, cities = sys.argv[1:7]
sys.path[:0] = [tree, tree + "/tools"]
from bench_site import synthetic_cities
if Path(tree, "load", "loader.py").exists():
    from load.connection import connect
    from load.loader import load_run
else:  # the baseline: everything was in load.warehouse
    from load.warehouse import connect, load_run
if Path(tree, "ground", "settings.py").exists():
    from ground.settings import Warehouse
else:  # the baseline, before the ground package (an installed ground would be this checkout's, not its)
    from load.backend import Warehouse
warehouse = Warehouse(location, Path(lake_path) if lake_path else None)
connect(warehouse).close()  # create and migrate outside the timing
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # this process, all its threads
started, cpu_started = time.perf_counter(), cpu()
counts = load_run(warehouse, run_id, Path(staging), cities=synthetic_cities(int(cities)))
seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
with connect(warehouse, read_only=True) as con:
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in json.loads(sys.argv[7])}
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "counts": counts, "rows": rows}))
"""


def typed_file_cpu(staging: Path, sample: int) -> dict[str, float]:
    """CPU milliseconds per record the parse step spends producing its typed row and file
    (``load.typed.typed_values``, ``typed_table`` and ``write_typed`` over a batch, as
    ``load.staging.stage_parses`` calls them), over the staged batches holding the first ``sample``
    records; and, of that, ``ground.rows.record_rows`` alone, which the parse step ran on every
    record before the typed files (its check of what the warehouse accepts)."""
    import resource

    from ground.rows import record_rows
    from load.staging import read_typed
    from load.typed import SUFFIX, typed_name, typed_table, typed_values, write_typed

    batches, count = [], 0
    for path in sorted((staging / "parse").glob(f"*{SUFFIX}")):
        if count >= sample:
            break
        shas = read_typed([path]).column("sha256").to_pylist()
        batches.append([json.loads((staging / "parse" / f"{sha}.json").read_text(encoding="utf-8")) for sha in shas])
        count += len(shas)
    cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="piawatch-bench-typed-") as out:
        started = cpu()
        for batch in batches:
            write_typed(Path(out) / typed_name([entry["sha256"] for entry in batch]),
                        typed_table([typed_values(entry, entry["url"]) for entry in batch]))
        typed = cpu() - started
    started = cpu()
    for batch in batches:
        for entry in batch:
            record_rows(entry["record"], entry["url"])
    checked = cpu() - started
    return {"typed_ms": 1000 * typed / count, "record_rows_ms": 1000 * checked / count, "records": count}


def baseline_tree(rev: str, into: Path) -> Path:
    """The checkout at ``rev``, extracted (not checked out: the working tree is shared)."""
    archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", rev], check=True, capture_output=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(tree: Path, location: str, lake_path: Path | None, staging: Path) -> dict:
    result = subprocess.run(
        ["nice", sys.executable, "-c", WORKER, str(tree), location, str(lake_path or ""), str(staging), RUN_ID,
         str(CITIES), json.dumps(ROW_TABLES)],
        capture_output=True, text=True, cwd=tree)
    if result.returncode != 0:
        raise SystemExit(f"the load in {tree} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Postgres:
    """A private PostgreSQL for the DuckLake catalogs, stopped by pid when the bench ends."""

    def __init__(self, root: Path):
        from stack.native import StackPaths, free_port, start_postgres

        self.root, self.port, self.count = root, free_port(), 0
        start_postgres(StackPaths(root), self.port, POSTGRES_PASSWORD)

    def new_catalog(self) -> str:
        from ground.settings import Warehouse
        from load.backend import create_catalog_database

        self.count += 1
        location = (f"ducklake:postgres:dbname=bench_lake_{self.count} host=127.0.0.1 port={self.port} "
                    f"user=airflow password={POSTGRES_PASSWORD}")
        create_catalog_database(Warehouse(location))
        return location

    def stop(self) -> None:
        from stack.native import stop

        stop(self.root)


def postgres_or_reason(work: Path) -> tuple[Postgres | None, str | None]:
    from ground.capabilities import check

    if not check("postgresql").available:
        return None, check("postgresql").skip_reason
    root = work / "postgres"
    root.mkdir()
    root.chmod(0o755)  # as root, PostgreSQL runs as the postgres user, who must enter it
    work.chmod(0o755)
    return Postgres(root), None


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), load average {load}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assessments", type=int, default=50000)
    parser.add_argument("--baseline-sample", type=int, default=5000,
                        help="assessments the row-by-row baseline loads (default 5000; 0: all of them)")
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--backends", default="duckdb,ducklake")
    args = parser.parse_args()
    sample = min(args.baseline_sample or args.assessments, args.assessments)

    work = Path(tempfile.mkdtemp(prefix="piawatch-bench-load-"))
    postgres = None
    try:
        print(f"machine: {machine()}", flush=True)
        cities = synthetic_cities(CITIES)
        crawled = datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc)
        staged = {}
        for n in sorted({args.assessments, sample}):
            staged[n] = work / f"staging-{n}"
            stage_synthetic_run(staged[n], cities, n, crawled)
        trees = {"row by row": (baseline_tree(args.baseline_rev, work / "baseline"), sample),
                 "bulk (Arrow)": (PROJECT_ROOT, args.assessments)}
        print(f"staged {args.assessments} assessments in {CITIES} cities; baseline: the loader at "
              f"{args.baseline_rev}" + (f", on a sample of {sample}" if sample < args.assessments else ""), flush=True)
        typed = typed_file_cpu(staged[args.assessments], TYPED_SAMPLE)
        print(f"parse step: {typed['typed_ms']:.2f} ms of CPU a record to produce its typed file (of which "
              f"record_rows, its check that was there before, {typed['record_rows_ms']:.2f} ms), measured on "
              f"{typed['records']} records", flush=True)
        print(f"{'backend':9} {'loader':13} {'assessments':>11} {'rows':>9} {'wall s':>7} {'CPU s':>7} "
              f"{'assessments/s':>13} {'rows/s':>9} {'× baseline':>10} {'rows/CPU s':>10} {'× baseline':>10}",
              flush=True)
        for backend in args.backends.split(","):
            if backend == "ducklake" and postgres is None:
                postgres, reason = postgres_or_reason(work)
                if postgres is None:
                    print(f"ducklake  skipped: {reason}", flush=True)
                    continue
            baseline_rate = baseline_cpu_rate = None
            for loader, (tree, n) in trees.items():
                if backend == "duckdb":
                    location, lake_path = str(work / f"{backend}-{n}-{tree.name}.duckdb"), None
                else:
                    location, lake_path = postgres.new_catalog(), work / f"lake-{postgres.count}"
                result = measure(tree, location, lake_path, staged[n])
                rows = sum(result["rows"].values())
                assert result["rows"]["assessments"] == n, result
                rate, cpu_rate = rows / result["seconds"], rows / result["cpu_seconds"]
                baseline_rate, baseline_cpu_rate = baseline_rate or rate, baseline_cpu_rate or cpu_rate
                print(f"{backend:9} {loader:13} {n:>11} {rows:>9} {result['seconds']:>7.1f} {result['cpu_seconds']:>7.1f} "
                      f"{n / result['seconds']:>13.0f} {rate:>9.0f} {rate / baseline_rate:>9.1f}× "
                      f"{cpu_rate:>10.0f} {cpu_rate / baseline_cpu_rate:>9.1f}×", flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
