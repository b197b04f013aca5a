"""The national night at small scale: the synthetic country crawled, parsed, loaded, checked and
alerted from an empty data root, then again with nothing changed, in-process and on the native
stack with 1 and 2 Celery workers (concurrency 1 each), all measured in one run on this machine.

    .venv/bin/python tools/bench_scale.py [--scale N] [--seed S] [--repeat R]
                                          [--configs in-process,stack-1,stack-2] [--country synthetic|demo]

For each configuration and night it prints the wall time, documents and pages per second, peak
memory (proportional set size of every process involved), the bytes downloaded, and where the
time went:

- crawl wait / fetch: the crawl's work split into the time spent in HTTP requests (the fetch log's
  ``elapsed_ms``, from the request to the last byte) and the rest (politeness delays, retries,
  reading pages, writing files);
- parse, load, check, alert, report: the work of those steps;
- Airflow overhead (stack only): each task instance's duration minus its work (process start, DAG
  file parse, imports, XCom), the work being timed inside the task process by a listener
  (tools/bench_scale_plugin.py);
- idle slots (stack only): worker slots × the run's wall time minus the task instances' durations:
  slots left empty by the scheduler's latency and by the steps that run one at a time;
- CPU seconds by process: each stack service's process tree (a worker's task processes, the
  scheduler, api-server, dag-processor, PostgreSQL, Redis) over the night, and what
  serves the workers as a share of the wall time: N workers on N cores share them with it.

On the stack each figure is summed over task instances (seconds of slot time), so with 2 slots
they add up to about twice the wall time. It ends with a projection of a national first load and
a national ordinary night from the measured rates, the arithmetic shown, and the line
``scale-out: 2 workers / 1 worker = X.XX×`` (first-night documents per second, whole night).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

DAG_ID = "piawatch_nightly"
# 1,741 municipalities and 47 prefectures (the count of bodies; unions come on top).
NATIONAL_BODIES = 1788
# Share of a national night's PDFs assumed new or changed on an ordinary night (an assumption,
# printed as one beside the projection; --changed-share).
DEFAULT_CHANGED_SHARE = 0.01
CONFIGS = ("in-process", "stack-1", "stack-2")
NIGHTS = ("first", "again")
# The order the breakdown prints its columns in; a stage the pipeline adds later comes after.
CATEGORIES = ("plan", "crawl wait", "fetch", "select", "parse", "load", "check", "alert", "report", "maintain",
              "Airflow overhead", "idle slots")
# The phases of a DAG run, in the order they run.
PHASES = ("start", "plan", "crawl", "select", "parse", "load", "check", "alert", "report", "maintain")
TIMINGS_VARIABLE = "BENCH_TASK_TIMINGS"
# This process's CPU over a stack night: the synthetic country's web server (a thread here) and the
# sampling below. It shares the cores with the stack but neither serves nor is a worker.
BENCH_ITSELF = "bench itself"
# A stack night is sampled sparingly, since every sample takes CPU from the workers it measures.
# Memory is each process's proportional set size, and the kernel walks a process's page tables to
# give it: 10–25 ms for each Airflow process here, about 0.15 s for the whole stack, so sampling
# every 0.5 s (as the first figures were measured) took up to a third of a core from two workers.
# The stack's peak is its long-lived services plus the PDFs being parsed: 10 s catches it; so too
# the in-process run's.
MEMORY_EVERY_S = 10.0
# The run's state is read from the metadata database over one connection: a query by primary key
# that costs PostgreSQL well under a millisecond. Asked of the api-server instead, each poll was its
# costliest request (85 ms, 153 of its ~930 requests in a night at 300 bodies): measurement the
# stack under test paid for.
STACK_POLL_EVERY_S = 5.0


# --- what one night measured --------------------------------------------------------------------
@dataclass
class Night:
    config: str
    night: str
    status: str
    wall_s: float
    documents: int  # PDF versions parsed this night (records and failures)
    failures: int  # of those, the ones staged as a failure
    pages: int
    pdf_bytes: int  # bytes of PDF responses downloaded (a 304 downloads none)
    all_bytes: int
    requests: int
    pdfs_found: int
    bodies: int
    peak_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)
    spans: dict[str, float] = field(default_factory=dict)  # stack: wall seconds of each phase
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process (stack: each service)

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.wall_s if self.wall_s else 0.0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0


def stage_of(name: str) -> str:
    """The breakdown category of a pipeline stage or an Airflow task id."""
    for needle, category in (("crawl", "crawl"), ("select", "select"), ("parse", "parse"), ("load", "load"),
                             ("check", "check"),
                             ("quality", "check"), ("alert", "alert"), ("maint", "maintain"),
                             ("report", "report")):
        if needle in name:
            return category
    return "plan"


def crawl_totals(crawls: list[dict]) -> dict:
    """Requests, bytes and HTTP time of the staged crawl files of one run.

    ``fetch_s`` is the time spent in requests (each from sending it to its last byte), ``span_s``
    the time each city's crawl was under way (its first request's start to its last one's end),
    both summed over cities: the rest of a city's span it waited (politeness, retries) or read.
    """
    pdf_bytes = all_bytes = requests = 0
    fetch_ms = 0
    span_s = 0.0
    found = set()
    for crawl in crawls:
        fetches = crawl.get("fetches", [])
        if fetches:
            starts = [datetime.fromisoformat(f["fetched_at"]).timestamp() for f in fetches]
            ends = [start + (f.get("elapsed_ms") or 0) / 1000 for start, f in zip(starts, fetches)]
            span_s += max(ends) - min(starts)
        pdf_urls = {d["url"] for d in crawl.get("documents", [])} | {link["url"] for link in crawl.get("links", [])}
        found |= {d["sha256"] for d in crawl.get("documents", []) if d.get("sha256")}
        for fetch in crawl.get("fetches", []):
            requests += 1
            fetch_ms += fetch.get("elapsed_ms") or 0
            downloaded = 0 if fetch.get("not_modified") else fetch.get("bytes") or 0
            all_bytes += downloaded
            # A 404 page or a redirect on a PDF link is not a PDF downloaded.
            if fetch["url"] in pdf_urls and fetch.get("status") == 200:
                pdf_bytes += downloaded
    return {"bodies": len(crawls), "requests": requests, "fetch_s": fetch_ms / 1000, "span_s": span_s,
            "pdf_bytes": pdf_bytes, "all_bytes": all_bytes, "pdfs_found": len(found)}


def parse_totals(parses: list[dict], parsed_this_night: set[str] | None = None) -> dict:
    """Documents and pages of the staged parse files; ``parsed_this_night`` keeps only those sha256s
    (a night also stages the cached records of unchanged versions, which it did not parse)."""
    chosen = [p for p in parses if parsed_this_night is None or p["sha256"] in parsed_this_night]
    pages = sum(p["record"]["source"].get("pages", 0) for p in chosen if "record" in p)
    return {"documents": len(chosen), "pages": pages, "failures": sum(1 for p in chosen if "error" in p)}


def _read_json_dir(directory: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def staged_totals(staging_run_dir: Path, parsed_this_night: set[str]) -> dict:
    return {**crawl_totals(_read_json_dir(staging_run_dir / "crawl")),
            **parse_totals(_read_json_dir(staging_run_dir / "parse"), parsed_this_night)}


def split_crawl(seconds: dict[str, float], fetch_s: float, span_s: float) -> dict[str, float]:
    """The crawl's work split into fetch and crawl wait in the proportion the cities' own spans
    were split (a crawl task may crawl several cities at once, so its work is not their sum)."""
    out = {k: v for k, v in seconds.items() if k != "crawl"}
    crawl = seconds.get("crawl", 0.0)
    share = min(fetch_s / span_s, 1.0) if span_s > 0 else 1.0
    out["fetch"] = crawl * share
    out["crawl wait"] = crawl - out["fetch"]
    return out


def stack_breakdown(task_instances: list[dict], works: list[dict], *, slots: int, wall_s: float) -> dict[str, float]:
    """Seconds of slot time per category from the run's task-instance rows and the work the
    listener timed inside each task (matched by task id, map index and try number).

    A task instance whose work was not timed (killed, or the listener missing) counts whole as
    Airflow overhead rather than being guessed.
    """
    work_of = {(w["task_id"], w["map_index"], w["try_number"]): w["ended"] - w["began"] for w in works}
    seconds: dict[str, float] = {}
    busy = 0.0
    for ti in task_instances:
        if ti["start_date"] is None or ti["end_date"] is None:
            continue
        duration = (ti["end_date"] - ti["start_date"]).total_seconds()
        work = min(work_of.get((ti["task_id"], ti["map_index"], ti["try_number"]), 0.0), duration)
        category = stage_of(ti["task_id"])
        seconds[category] = seconds.get(category, 0.0) + work
        seconds["Airflow overhead"] = seconds.get("Airflow overhead", 0.0) + duration - work
        busy += duration
    seconds["idle slots"] = max(slots * wall_s - busy, 0.0)
    return seconds


def phase_spans(task_instances: list[dict], queued_at: datetime) -> dict[str, float]:
    """Wall seconds of each phase of a run: its tasks' first start to their last end. Phases that
    run one after another add up to the run, so the one that does not shrink with more workers
    shows; ``start`` is the wait from the trigger to the first task's start."""
    bounds: dict[str, tuple[datetime, datetime]] = {}
    for ti in task_instances:
        if ti["start_date"] is None or ti["end_date"] is None:
            continue
        category = stage_of(ti["task_id"])
        low, high = bounds.get(category, (ti["start_date"], ti["end_date"]))
        bounds[category] = (min(low, ti["start_date"]), max(high, ti["end_date"]))
    spans = {category: (high - low).total_seconds() for category, (low, high) in bounds.items()}
    if bounds:
        spans["start"] = (min(low for low, _ in bounds.values()) - queued_at).total_seconds()
    return spans


# --- projection and spread ----------------------------------------------------------------------
@dataclass
class Projection:
    no_change_300_s: float
    pdfs_per_body: float
    national_pdfs: float
    first_load_s: float
    no_change_s: float
    changed_pdfs: float
    ordinary_night_s: float
    lines: list[str]


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"


def project(*, bodies: int, pdfs: int, first_docs_per_s: float, again_wall_s: float,
            national_bodies: int = NATIONAL_BODIES, changed_share: float = DEFAULT_CHANGED_SHARE) -> Projection:
    """A national first load and ordinary night, linear in the measured rates: upper bounds, since
    what a night spends whatever its size (starting tasks, imports, the checks' set-up) is scaled
    up with the rest.

    First load: every national PDF at the first night's whole-night rate. Ordinary night: the
    no-change night per body times the national bodies, plus the assumed share of changed PDFs at
    the first night's rate. The issue's 300-body no-change night likewise, when fewer were measured.
    """
    no_change_300 = again_wall_s / bodies * 300
    per_body = pdfs / bodies
    national = national_bodies * per_body
    first = national / first_docs_per_s
    no_change = again_wall_s / bodies * national_bodies
    changed = national * changed_share
    ordinary = no_change + changed / first_docs_per_s
    lines = [
        f"  300 bodies, nothing changed: {again_wall_s:.1f} s / {bodies:,} bodies × 300 = {no_change_300:,.0f} s = "
        f"{_duration(no_change_300)}" + (" (measured)" if bodies == 300 else " (linear: an upper bound)"),
        f"  PDFs per body measured: {pdfs:,.0f} PDFs / {bodies:,} bodies = {per_body:.2f}",
        f"  national first load:    {national_bodies:,} bodies × {per_body:.2f} = {national:,.0f} PDFs; "
        f"{national:,.0f} PDFs / {first_docs_per_s:.2f} docs/s = {first:,.0f} s = {_duration(first)}",
        f"  national ordinary night: no change {again_wall_s:.1f} s / {bodies:,} bodies × {national_bodies:,} = "
        f"{no_change:,.0f} s; + {changed_share:.0%} changed = {changed:,.0f} PDFs / {first_docs_per_s:.2f} docs/s "
        f"= {changed / first_docs_per_s:,.0f} s; total {ordinary:,.0f} s = {_duration(ordinary)}",
    ]
    return Projection(no_change_300, per_body, national, first, no_change, changed, ordinary, lines)


def slots_of(config: str) -> int:
    """Crawl slots of a configuration: in-process one, ``stack-N`` N workers at concurrency 1."""
    return 1 if config == "in-process" else int(config.removeprefix("stack-"))


def crawl_floor(*, requests: int, bodies: int, slots: int, national_bodies: int = NATIONAL_BODIES) -> list[str]:
    """What politeness alone costs a real night's crawl: the synthetic country's registry asks its
    hosts for a 0.1 s delay, real municipalities get the default (``HttpLimits.delay_seconds``).
    Each host is asked one request at a time, that far apart, and a night crawls ``CRAWL_THREADS``
    hosts per crawl slot at once, so no night's crawl is shorter than requests × delay / hosts at
    once (a lower bound: it leaves out the requests' own time and the hosts' slowness)."""
    from extract.http import HttpLimits
    from piawatch.batches import CRAWL_THREADS

    delay, per_body, at_once = HttpLimits().delay_seconds, requests / bodies, CRAWL_THREADS * slots
    lines = [f"  crawl at the default {delay:g} s delay per host (the synthetic registry asks 0.1 s): "
             f"{requests:,} requests / {bodies:,} bodies = {per_body:.1f} a body; {CRAWL_THREADS} hosts a crawl slot "
             f"× {slots} = {at_once} at once"]
    for label, count in (("300 bodies", 300), ("national", national_bodies)):
        floor = per_body * delay * count / at_once
        lines.append(f"    {label}: {per_body:.1f} × {delay:g} s × {count:,} / {at_once} = {floor:,.0f} s = "
                     f"{_duration(floor)} at least")
    return lines


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """The median, with the range of repeated runs: '1.23 (1.20–1.30)'."""
    if not values:
        return "—"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt.format(median)
    return f"{fmt.format(median)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


# --- the country to crawl -----------------------------------------------------------------------
@dataclass
class Country:
    registry: Path
    bodies: int
    environ: dict[str, str]  # what the pipeline needs to reach it (e.g. PIAWATCH_DEMO_URL)
    description: str


@contextmanager
def serve_country(kind: str, scale: int | None, seed: int, out_dir: Path | None):
    """The synthetic country (demo/country.py; rendered once and kept under ``out_dir``, by default
    its own cache), or the eight demo cities, served on loopback."""
    if kind == "demo":
        from demo.server import DemoServer
        from extract.registry import load_registry

        registry = PROJECT_ROOT / "config" / "cities.yaml"
        with DemoServer(port=0) as server:
            bodies = sum(1 for city in load_registry(registry) if city.demo)
            yield Country(registry, bodies, {"PIAWATCH_DEMO_URL": server.url},
                          f"the {bodies} demo cities of config/cities.yaml")
        return
    from demo import country as synthetic

    built = synthetic.build_country(scale or synthetic.DEFAULT_SCALE, seed, out_dir or synthetic.DEFAULT_OUT)
    with synthetic.serve_country(built) as served:
        yield Country(Path(served.registry), served.bodies, dict(served.environ),
                      f"synthetic country: {served.bodies} bodies, {served.pdfs:,} PDFs (seed {seed})")


# --- in-process: the `piawatch run` path --------------------------------------------------------
# run_all with a Progress that times each stage; what run_all does outside its stages (opening the
# run, closing it, the site and the summary) is the report figure.
IN_PROCESS = """
import json, sys, time
from contextlib import contextmanager
from ground.settings import load_settings
from piawatch.pipeline import run_all
from piawatch.progress import Progress, QUIET

class Timed(Progress):
    def __init__(self):
        super().__init__(QUIET)
        self.seconds = {}

    @contextmanager
    def stage(self, name, total):
        began = time.perf_counter()
        with super().stage(name, total) as stage:
            yield stage
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

progress = Timed()
began = time.perf_counter()
status, _ = run_all(load_settings(), demo=True, run_id=sys.argv[1], progress=progress)
print(json.dumps({"status": status, "wall_s": time.perf_counter() - began, "stages": progress.seconds}))
"""


def _parsed_dir_names(data_dir: Path) -> set[str]:
    parsed = data_dir / "parsed"
    return {p.stem for p in parsed.glob("*.json")} if parsed.exists() else set()


def run_in_process(data_dir: Path, country: Country, night: str, run_id: str) -> Night:
    from stack.usage import PeakSampler, memory_bytes, process_tree

    env = {**os.environ, **country.environ, "PIAWATCH_DATA_DIR": str(data_dir),
           "PIAWATCH_REGISTRY": str(country.registry)}
    before = _parsed_dir_names(data_dir)
    log = data_dir / f"{run_id}.log"  # the run's own log lines and alerts, kept out of the report
    children_cpu = lambda: sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])  # noqa: E731 (reaped children)
    cpu_before = children_cpu()
    with log.open("w") as stderr:
        # Its own process group: stopped with its parse sandboxes if the bench is stopped.
        child = subprocess.Popen([sys.executable, "-c", IN_PROCESS, run_id], env=env, cwd=PROJECT_ROOT,
                                 stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
        try:
            with PeakSampler(lambda: memory_bytes(process_tree([child.pid])), every=MEMORY_EVERY_S) as sampler:
                out, _ = child.communicate()
        except BaseException:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
    if child.returncode != 0:
        raise SystemExit(f"the in-process {night} night failed (exit {child.returncode}):\n"
                         + "\n".join(log.read_text().splitlines()[-20:]))
    result = json.loads(out.strip().splitlines()[-1])
    totals = staged_totals(data_dir / "staging" / run_id, _parsed_dir_names(data_dir) - before)
    seconds: dict[str, float] = {}
    for name, value in result["stages"].items():
        seconds[stage_of(name)] = seconds.get(stage_of(name), 0.0) + value
    seconds["report"] = seconds.get("report", 0.0) + max(result["wall_s"] - sum(result["stages"].values()), 0.0)
    measured = _night("in-process", night, result["status"], result["wall_s"], totals,
                      split_crawl(seconds, totals["fetch_s"], totals["span_s"]), sampler.peak)
    measured.cpu = {"piawatch run": children_cpu() - cpu_before}
    return measured


def _night(config: str, night: str, status: str, wall_s: float, totals: dict, seconds: dict, peak: int) -> Night:
    return Night(config, night, status, wall_s, totals["documents"], totals["failures"], totals["pages"],
                 totals["pdf_bytes"],
                 totals["all_bytes"], totals["requests"], totals["pdfs_found"], totals["bodies"], peak, seconds)


# --- the native stack ---------------------------------------------------------------------------
def bench_plugins_folder(parent: Path) -> Path:
    """The project's plugins and the bench's work-timing listener, in one folder of links."""
    folder = parent / "plugins"
    folder.mkdir(exist_ok=True)
    for source in [*sorted((PROJECT_ROOT / "plugins").glob("*.py")), PROJECT_ROOT / "tools" / "bench_scale_plugin.py"]:
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


def _metadata_connection(stack):
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=stack.postgres_port, user="airflow", dbname="airflow",
                                  password=stack.environ["PIAWATCH_POSTGRES_PASSWORD"])
    connection.autocommit = True  # each read sees what the stack committed since the last
    return connection


def _metadata_rows(stack, sql: str, params: tuple) -> list[dict]:
    """Rows of the stack's Airflow metadata database (every task instance, no API page limit)."""
    import psycopg2.extras

    connection = _metadata_connection(stack)
    try:
        with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]
    finally:
        connection.close()


def _stack_night(stack, api, config: str, night: str, slots: int, timings: Path) -> Night:
    from piawatch.pipeline import run_id_from_airflow
    from stack.native import stack_cpu_seconds, stack_memory_bytes
    from stack.usage import PeakSampler

    data_dir = stack.paths.data_dir
    before = _parsed_dir_names(data_dir)
    own_cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # noqa: E731 (all its threads)
    cpu_before, own_before = stack_cpu_seconds(stack.paths), own_cpu()
    with PeakSampler(lambda: stack_memory_bytes(stack.paths), every=MEMORY_EVERY_S) as sampler:
        dag_run_id = api.trigger(DAG_ID, {"demo": True})
        state = _wait_for_run(stack, dag_run_id, timeout=6 * 3600)
    cpu_after, own_after = stack_cpu_seconds(stack.paths), own_cpu()
    if state != "success":
        raise SystemExit(f"{DAG_ID} {dag_run_id} ended {state} ({config}); logs: {stack.paths.logs}")
    run = _metadata_rows(stack, "SELECT queued_at, start_date, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
                         (DAG_ID, dag_run_id))[0]
    tis = _metadata_rows(stack, "SELECT task_id, map_index, try_number, state, queued_dttm, start_date, end_date "
                                "FROM task_instance WHERE dag_id = %s AND run_id = %s", (DAG_ID, dag_run_id))
    works = [json.loads(line) for line in timings.read_text().splitlines()] if timings.exists() else []
    works = [w for w in works if w["run_id"] == dag_run_id]
    wall_s = (run["end_date"] - (run["queued_at"] or run["start_date"])).total_seconds()
    run_id = run_id_from_airflow(dag_run_id)
    totals = staged_totals(data_dir / "staging" / run_id, _parsed_dir_names(data_dir) - before)
    seconds = split_crawl(stack_breakdown(tis, works, slots=slots, wall_s=wall_s), totals["fetch_s"],
                          totals["span_s"])
    status = _warehouse_status(stack, run_id)
    measured = _night(config, night, status, wall_s, totals, seconds, sampler.peak)
    measured.spans = phase_spans(tis, run["queued_at"] or run["start_date"])
    measured.cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    measured.cpu[BENCH_ITSELF] = own_after - own_before
    return measured


def _wait_for_run(stack, dag_run_id: str, timeout: float) -> str:
    """The run's final state, read from the metadata database every STACK_POLL_EVERY_S."""
    from stack.api import wait_until_finished

    connection = _metadata_connection(stack)
    try:
        with connection.cursor() as cursor:
            def read_state() -> str:
                cursor.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, dag_run_id))
                return cursor.fetchone()[0]

            return wait_until_finished(read_state, f"run {dag_run_id} of {DAG_ID}", timeout, STACK_POLL_EVERY_S)
    finally:
        connection.close()


def _warehouse_status(stack, run_id: str) -> str:
    """The run's status as the warehouse recorded it (success, partial or failed)."""
    from load.connection import connect

    with connect(stack.warehouse, read_only=True) as con:
        rows = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchall()
    return rows[0][0] if rows else "not recorded"


def run_stack(data_dir: Path, country: Country, workers: int, parent: Path, dags_folder: Path | None,
              nights: tuple[str, ...] = NIGHTS) -> list[Night]:
    from stack.native import DEMO_OVERRIDES, api_client, start, stop

    timings = parent / f"task-work-{data_dir.name}.jsonl"
    overrides = {**DEMO_OVERRIDES, **country.environ, "PIAWATCH_REGISTRY": str(country.registry),
                 "AIRFLOW__CORE__PLUGINS_FOLDER": str(bench_plugins_folder(parent)),
                 TIMINGS_VARIABLE: str(timings)}
    # One task at a time per worker: the ratio between stacks then measures workers, not cores.
    stack = start(data_dir, workers=workers, concurrency=1, dags_folder=dags_folder, overrides=overrides)
    try:
        api = api_client(stack)
        api.wait_for_dag(DAG_ID)
        api.unpause(DAG_ID)
        config = f"stack-{workers}"
        return [_stack_night(stack, api, config, night, stack.slots, timings) for night in nights]
    finally:
        stop(data_dir)


# --- the report ---------------------------------------------------------------------------------
def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({model}), {memory_kb / 2**20:.0f} GiB, {platform.system()} {platform.release()}"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _by_config(nights: list[Night], night: str) -> dict[str, list[Night]]:
    out: dict[str, list[Night]] = {}
    for n in nights:
        if n.night == night:
            out.setdefault(n.config, []).append(n)
    return out


def _seconds_table(group: dict[str, list[Night]], attribute: str, order: tuple[str, ...], title: str) -> list[str]:
    """A table of a Night's seconds by category (``seconds`` or ``spans``), columns in ``order``;
    configurations without any are left out, and the table too when none has them."""
    present = {k for runs in group.values() for r in runs for k in getattr(r, attribute)}
    if not present:
        return []
    columns = [c for c in order if c in present] + sorted(present - set(order))
    lines = ["", title, "| config | wall s | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for config, runs in group.items():
        if any(getattr(r, attribute) for r in runs):
            cells = [spread([getattr(r, attribute).get(c, 0.0) for r in runs], "{:.1f}") for c in columns]
            lines.append(f"| {config} | {spread([r.wall_s for r in runs], '{:.1f}')} | " + " | ".join(cells) + " |")
    return lines


def _cpu_table(group: dict[str, list[Night]], title: str) -> list[str]:
    """CPU seconds of each process over the night, workers summed; ``serving`` is everything but the
    workers (scheduler, api-server, PostgreSQL…): on a machine of N cores, N workers share their
    cores with it, which is what the scale-out ratio pays for."""
    rows = {config: [cpu_by_role(r.cpu) for r in runs if r.cpu] for config, runs in group.items()}
    rows = {config: runs for config, runs in rows.items() if runs}
    if not rows:
        return []
    present = {k for runs in rows.values() for r in runs for k in r}
    columns = sorted(present - {"workers", "serving", "total"}) + [c for c in ("workers", "serving", "total")
                                                                     if c in present]
    lines = ["", title, "| config | " + " | ".join(columns) + " | serving / wall |", "|---|" + "---|" * (len(columns) + 1)]
    for config, runs in rows.items():
        walls = [r.wall_s for r in group[config] if r.cpu]
        cells = [spread([r[c] for r in runs if c in r], "{:.1f}") for c in columns]
        share = spread([r["serving"] / wall for r, wall in zip(runs, walls) if wall and "serving" in r], "{:.0%}")
        lines.append(f"| {config} | " + " | ".join(cells) + f" | {share} |")
    return lines


def cpu_by_role(cpu: dict[str, float]) -> dict[str, float]:
    """A night's CPU by process with the workers summed, what serves them (the stack's other
    services) summed, and the total."""
    out = {name: seconds for name, seconds in cpu.items() if not name.startswith("worker")}
    workers = [seconds for name, seconds in cpu.items() if name.startswith("worker")]
    if workers:
        out["workers"] = sum(workers)
        out["serving"] = sum(seconds for name, seconds in out.items() if name not in ("workers", BENCH_ITSELF))
    out["total"] = sum(cpu.values())
    return out


def report(nights: list[Night], *, changed_share: float = DEFAULT_CHANGED_SHARE) -> list[str]:
    first, again = _by_config(nights, "first"), _by_config(nights, "again")
    lines = ["first night, from an empty data root (median, range over repeats)",
             "| config | runs | status | PDFs | parse failures | pages | wall s | docs/s | pages/s | peak memory MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for config, runs in first.items():
        lines.append(f"| {config} | {len(runs)} | {'/'.join(sorted({r.status for r in runs}))} | "
                     f"{spread([r.documents for r in runs], '{:.0f}')} | {spread([r.failures for r in runs], '{:.0f}')} | "
                     f"{spread([r.pages for r in runs], '{:.0f}')} | "
                     f"{spread([r.wall_s for r in runs], '{:.1f}')} | {spread([r.docs_per_s for r in runs])} | "
                     f"{spread([r.pages_per_s for r in runs], '{:.1f}')} | "
                     f"{spread([r.peak_bytes / 2**20 for r in runs], '{:.0f}')} |")
    if again:
        lines += ["", "again, nothing changed",
                  "| config | status | wall s | PDFs parsed | PDF bytes downloaded | all bytes | requests | peak memory MiB |",
                  "|---|---|---|---|---|---|---|---|"]
    for config, runs in again.items():
        lines.append(f"| {config} | {'/'.join(sorted({r.status for r in runs}))} | "
                     f"{spread([r.wall_s for r in runs], '{:.1f}')} | {spread([r.documents for r in runs], '{:.0f}')} | "
                     f"{spread([r.pdf_bytes for r in runs], '{:,.0f}')} | {spread([r.all_bytes for r in runs], '{:,.0f}')} | "
                     f"{spread([r.requests for r in runs], '{:.0f}')} | "
                     f"{spread([r.peak_bytes / 2**20 for r in runs], '{:.0f}')} |")
    groups = [("first night", first)] + ([("again, nothing changed", again)] if again else [])
    for title, group in groups:
        lines += _seconds_table(group, "seconds", CATEGORIES, f"where the time goes, {title} (seconds; on the "
                                f"stack summed over task instances = slot time)")
    for title, group in groups:
        lines += _cpu_table(group, f"CPU seconds by process, {title} (workers: their task processes; the rest "
                                   f"serve them)")
    for title, group in groups:
        lines += _seconds_table(group, "spans", PHASES, f"phases on the stack, {title} (wall seconds from a "
                                f"phase's first task start to its last end)")
    for config in first:
        if config not in again:
            continue
        one = first[config][0]
        projection = project(bodies=one.bodies, pdfs=statistics.median(r.pdfs_found for r in first[config]),
                             first_docs_per_s=statistics.median(r.docs_per_s for r in first[config]),
                             again_wall_s=statistics.median(r.wall_s for r in again[config]),
                             changed_share=changed_share)
        lines += ["", f"projection, {config} (medians, linear in bodies; {changed_share:.0%} changed a night is an "
                      f"assumption)",
                  *projection.lines,
                  *crawl_floor(requests=round(statistics.median(r.requests for r in again[config])), bodies=one.bodies,
                               slots=slots_of(config))]
    return lines


def scale_out_line(nights: list[Night]) -> str:
    first = _by_config(nights, "first")
    one, two = first.get("stack-1"), first.get("stack-2")
    if not one or not two:
        return "scale-out: 2 workers / 1 worker = n/a (both stack-1 and stack-2 are needed)"
    ratio = statistics.median(r.docs_per_s for r in two) / statistics.median(r.docs_per_s for r in one)
    return f"scale-out: 2 workers / 1 worker = {ratio:.2f}×"


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=None, help="bodies of the synthetic country (default: its own)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic country")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration, for the spread")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, from {', '.join(CONFIGS)} (stack-N: N workers)")
    parser.add_argument("--country", choices=("synthetic", "demo"), default="synthetic",
                        help="the synthetic country (default) or the eight demo cities, for a quick try")
    parser.add_argument("--changed-share", type=float, default=DEFAULT_CHANGED_SHARE,
                        help="share of PDFs assumed changed on an ordinary national night")
    parser.add_argument("--country-dir", type=Path, help="where rendered countries are kept (default demo/country's)")
    parser.add_argument("--dags-folder", type=Path, help="another DAG folder for the stack (default the project's dags/)")
    parser.add_argument("--keep", type=Path, help="work here and keep the data roots (default: a temporary directory)")
    parser.add_argument("--nights", choices=("both", "first"), default="both",
                        help="both nights (default), or the first alone: repeats of the scale-out take 40 %% less "
                             "time, and the no-change night and the projections are not reported")
    args = parser.parse_args(argv)
    nights_run = NIGHTS if args.nights == "both" else NIGHTS[:1]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for config in configs:
        if config != "in-process" and not (config.startswith("stack-") and config.removeprefix("stack-").isdigit()):
            parser.error(f"unknown configuration {config!r}")

    # A stop by SIGTERM still runs the finally blocks: the stack is stopped, nothing left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # World-traversable: PostgreSQL runs as the postgres user when this runs as root.
    parent = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="piawatch-bench-scale-"))
    parent.mkdir(parents=True, exist_ok=True)
    parent.chmod(0o755)
    began = datetime.now(timezone.utc)
    print(f"bench-scale {began:%Y-%m-%d %H:%M} UTC on {machine()}; load average {_load()}", flush=True)
    nights: list[Night] = []
    stopped = None
    try:
        with serve_country(args.country, args.scale, args.seed, args.country_dir) as country:
            print(f"{country.description}; configs {', '.join(configs)}; repeat {args.repeat}", flush=True)
            for repeat in range(1, args.repeat + 1):
                for config in configs:
                    data_dir = fresh_dir(parent, f"{config}-{repeat}")
                    started = time.monotonic()
                    if config == "in-process":
                        measured = [run_in_process(data_dir, country, night, f"bench_{night}")
                                    for night in nights_run]
                    else:
                        measured = run_stack(data_dir, country, int(config[6:]), parent, args.dags_folder,
                                             nights_run)
                    nights += measured
                    print(f"  {config} #{repeat}: " + "; ".join(
                        f"{n.night} {n.wall_s:.1f} s, {n.documents} PDFs parsed ({n.failures} failed), "
                        f"{n.pdf_bytes:,} PDF bytes, {n.status}"
                        for n in measured) + f" ({time.monotonic() - started:.0f} s with setup; load {_load()})",
                        flush=True)
                    if args.keep:
                        (parent / "nights.json").write_text(json.dumps([vars(n) for n in nights], indent=1))
                    else:
                        shutil.rmtree(data_dir, ignore_errors=True)
    except (KeyboardInterrupt, SystemExit) as exc:
        # Stopped early (SIGTERM, Ctrl-C): the report still covers every configuration that finished.
        stopped = exc
    finally:
        if not args.keep:
            shutil.rmtree(parent, ignore_errors=True)
    print()
    if stopped is not None:
        print(f"STOPPED EARLY ({type(stopped).__name__}): only the configurations above that finished are reported")
    print("\n".join(report(nights, changed_share=args.changed_share)))
    print(f"\nmeasured {began:%H:%M}–{datetime.now(timezone.utc):%H:%M} UTC; load average at the end {_load()}")
    print(scale_out_line(nights))
    return 0 if stopped is None else 1


if __name__ == "__main__":
    sys.exit(main())
