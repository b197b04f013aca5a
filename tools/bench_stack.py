"""Documents per second of the demo crawl+parse: in-process, and on the native stack with 1 and 2
Celery workers, measured in one run on this machine, with the peak memory of each.

    .venv/bin/python tools/bench_stack.py [--workers 1 2]

Each measurement starts from an empty data directory, so every PDF is fetched and parsed. On the
stack the crawl+parse time is taken from the task instances (first crawl start to last parse end)
of one run of the nightly DAG; the whole run (load, checks, alerts) is shown beside it. Memory is
the proportional set size of every process involved (PostgreSQL backends and Celery pool
processes included), sampled every half second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from stack.usage import PeakSampler, memory_bytes, process_tree  # noqa: E402
from stack.native import DEMO_OVERRIDES, api_client, stack_memory_bytes, start, stop  # noqa: E402

DAG_ID = "piawatch_nightly"

# Crawl and parse every demo city in one process, exactly the steps the DAG's tasks call.
IN_PROCESS = """
import json, time
from ground.settings import load_settings
from piawatch.pipeline import city_codes, crawl_step, documents_to_parse, parse_step
settings = load_settings()
started = time.perf_counter()
crawled = [crawl_step(settings, "bench", code) for code in city_codes(settings, demo=True)]
documents = documents_to_parse(settings, crawled)
for document in documents:
    parse_step(settings, "bench", document)
print(json.dumps({"documents": len(documents), "seconds": time.perf_counter() - started}))
"""


@dataclass
class Measurement:
    mode: str
    workers: int | None
    documents: int
    seconds: float
    run_seconds: float | None
    peak_bytes: int

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def fresh_data_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def measure_in_process(data_dir: Path, demo_url: str) -> Measurement:
    env = {**os.environ, "PIAWATCH_DATA_DIR": str(data_dir), "PIAWATCH_DEMO_URL": demo_url}
    child = subprocess.Popen([sys.executable, "-c", IN_PROCESS], env=env, cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, text=True)
    with PeakSampler(lambda: memory_bytes(process_tree([child.pid]))) as sampler:
        out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the in-process crawl+parse failed (exit {child.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return Measurement("in-process", None, result["documents"], result["seconds"], None, sampler.peak)


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def measure_stack(data_dir: Path, demo_url: str, workers: int) -> Measurement:
    # No scheduled run beside the measured one: unpausing would start the latest nightly interval.
    stack = start(data_dir, workers=workers, overrides={**DEMO_OVERRIDES, "PIAWATCH_DEMO_URL": demo_url})
    try:
        with PeakSampler(lambda: stack_memory_bytes(stack.paths)) as sampler:
            api = api_client(stack)
            api.wait_for_dag(DAG_ID)
            api.unpause(DAG_ID)
            run_id = api.trigger(DAG_ID, {"demo": True})
            state = api.wait_for_run(DAG_ID, run_id, timeout=1800)
        if state != "success":
            raise SystemExit(f"{DAG_ID} {run_id} ended {state} on {workers} worker(s); logs: {stack.paths.logs}")
        tasks = api.task_instances(DAG_ID, run_id)
        run = api.dag_run(DAG_ID, run_id)
    finally:
        stop(data_dir)
    crawl = [t for t in tasks if t["task_id"] == "crawl_cities"]
    parse = [t for t in tasks if t["task_id"] == "parse_documents" and t["state"] == "success"]
    first = min(_time(t["start_date"]) for t in crawl)
    last = max(_time(t["end_date"]) for t in parse + crawl)
    from piawatch.pipeline import run_id_from_airflow  # parse tasks are batches: count the PDFs staged

    parsed = len(list((stack.paths.data_dir / "staging" / run_id_from_airflow(run_id) / "parse").glob("*.json")))
    return Measurement("native stack", workers, parsed, last - first,
                       _time(run["end_date"]) - _time(run["start_date"]), sampler.peak)


def report(measurements: list[Measurement]) -> str:
    lines = ["| run | Celery workers | PDFs parsed | crawl+parse s | docs/s | whole DAG run s | peak memory MiB |",
             "|---|---|---|---|---|---|---|"]
    for m in measurements:
        lines.append(f"| {m.mode} | {m.workers or '—'} | {m.documents} | {m.seconds:.1f} | "
                     f"{m.docs_per_second:.2f} | {f'{m.run_seconds:.1f}' if m.run_seconds else '—'} | "
                     f"{m.peak_bytes / 2**20:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="stack sizes to measure")
    args = parser.parse_args()
    from demo.server import DemoServer

    # World-traversable: PostgreSQL runs as the postgres user when this runs as root.
    parent = Path(tempfile.mkdtemp(prefix="piawatch-bench-stack-"))
    parent.chmod(0o755)
    try:
        with DemoServer(port=0) as server:
            measurements = [measure_in_process(fresh_data_dir(parent, "in-process"), server.url)]
            print(report(measurements), flush=True)
            for workers in args.workers:
                measurements.append(measure_stack(fresh_data_dir(parent, f"stack-{workers}"), server.url, workers))
                print(report(measurements[-1:]).splitlines()[-1], flush=True)
        print("\n" + report(measurements))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
