"""The native distributed stack (`make stack`): real PostgreSQL, Redis, api-server, scheduler,
dag-processor and two Celery workers on 127.0.0.1, started once for this module.

The probe DAGs live in a throw-away DAG folder beside a copy of the project's nightly DAG.
Every process is stopped by pid in the fixture's teardown, also when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ground.capabilities import check
from ground.settings import WAREHOUSE_POOL
from load.connection import connect
from stack.api import AirflowAPI, AirflowAPIError
from stack.usage import PeakSampler
from stack.native import (DEMO_OVERRIDES, StackPaths, _http_status, api_client, is_running, kill_process,
                          recorded_pid, stack_memory_bytes, start, start_airflow_service, stop, stop_processes)
from stack.celery_config import CELERY_CONFIG
from stack.services import WAREHOUSE_POOL_SLOTS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NIGHTLY = "piawatch_nightly"
# 豊橋市's demo site: 18 PDFs of all three kinds, among them the planted しきい値 contradiction.
NIGHTLY_CITIES = ["232017"]
STACK_MEMORY_BUDGET = 3 * 2**30

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]


def _missing() -> list[str]:
    return [c.skip_reason for c in (check("postgresql"), check("redis")) if not c.available]


if _missing():
    pytest.skip("the native stack needs PostgreSQL and Redis: " + "; ".join(_missing()), allow_module_level=True)

PROBE_DAGS = textwrap.dedent('''
    """Probe DAGs for tests/stack/test_stack.py (written to a throw-away DAG folder)."""
    import os
    import time
    from datetime import timedelta

    import pendulum
    from airflow.sdk import dag, get_current_context, task

    START = pendulum.datetime(2026, 1, 1, tz="UTC")


    @dag(dag_id="stack_probe_mapped", schedule=None, start_date=START, catchup=False,
         default_args={"retries": 2, "retry_delay": timedelta(seconds=1)})
    def stack_probe_mapped():
        @task
        def items() -> list[int]:
            return list(range(get_current_context()["dag_run"].conf.get("items", 4)))

        @task
        def square(item: int) -> int:
            time.sleep(get_current_context()["dag_run"].conf.get("seconds", 0))
            return item * item

        @task
        def total(values) -> int:
            return sum(values)

        total(square.expand(item=items()))


    @dag(dag_id="stack_probe_writer", schedule=None, start_date=START, catchup=False)
    def stack_probe_writer():
        @task(pool=POOL_NAME)
        def write_warehouse() -> None:
            import duckdb

            path = os.path.join(os.environ["PIAWATCH_DATA_DIR"], "warehouse", "probe.duckdb")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # DuckDB lets one process open the file for writing: a second writer at the same time
            # fails here, and fails its run.
            with duckdb.connect(path) as con:
                con.execute("CREATE TABLE IF NOT EXISTS writes (run_id VARCHAR, started DOUBLE, finished DOUBLE)")
                started = time.time()
                time.sleep(3)
                con.execute("INSERT INTO writes VALUES (?, ?, ?)",
                            [get_current_context()["dag_run"].run_id, started, time.time()])

        write_warehouse()


    @dag(dag_id="stack_probe_preloaded", schedule=None, start_date=START, catchup=False)
    def stack_probe_preloaded():
        @task
        def already_imported() -> list[str]:
            import sys

            return sorted(name for name in PRELOADED if name in sys.modules)

        already_imported()


    stack_probe_mapped()
    stack_probe_writer()
    stack_probe_preloaded()
''')

# Heartbeats: short enough for a test to see a killed worker's tasks retried, long enough for
# running ones. No scheduled runs: unpausing the nightly DAG would start one over every city.
TEST_OVERRIDES = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    **DEMO_OVERRIDES,
}


@pytest.fixture(scope="module")
def stack_dir():
    # PostgreSQL runs as the postgres user when we are root: it must be able to reach the
    # directory, which pytest's private tmp_path (mode 0700) forbids.
    root = Path(tempfile.mkdtemp(prefix="piawatch-stack-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_site():
    from demo.server import DemoServer

    with DemoServer(port=0) as server:
        yield server


@pytest.fixture(scope="module")
def stack(stack_dir, demo_site, webhook_receiver_module):
    dags = stack_dir / "dags"
    dags.mkdir()
    (dags / "stack_probes.py").write_text(PROBE_DAGS.replace("POOL_NAME", repr(WAREHOUSE_POOL))
                                          .replace("PRELOADED", repr(CELERY_CONFIG["imports"])))
    shutil.copy(PROJECT_ROOT / "dags" / "piawatch_nightly.py", dags / "piawatch_nightly.py")
    data = stack_dir / "data"
    overrides = {**TEST_OVERRIDES, "PIAWATCH_DEMO_URL": demo_site.url,
                 "PIAWATCH_ALERT_WEBHOOK_URL": webhook_receiver_module.url}
    try:
        yield start(data, workers=2, dags_folder=dags, overrides=overrides)
    finally:
        stop(data)


@pytest.fixture(scope="module")
def api(stack) -> AirflowAPI:
    client = api_client(stack)
    for dag_id in ("stack_probe_mapped", "stack_probe_writer", "stack_probe_preloaded", NIGHTLY):
        client.wait_for_dag(dag_id)
        client.unpause(dag_id)
    return client


def _wait_for_success(api: AirflowAPI, dag_id: str, run_id: str, timeout: float) -> bool:
    """True when the run succeeds; otherwise fail showing where each task instance stands."""
    try:
        state = api.wait_for_run(dag_id, run_id, timeout=timeout)
    except AirflowAPIError as exc:
        state = exc.reason
    tasks = [(ti["task_id"], ti["map_index"], ti["state"], ti["try_number"], ti["hostname"])
             for ti in api.task_instances(dag_id, run_id)]
    assert state == "success", f"{run_id}: {state}; task instances: {tasks}"
    return True


def _running_on(api: AirflowAPI, dag_id: str, run_id: str, task_id: str, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [ti for ti in api.task_instances(dag_id, run_id)
                   if ti["task_id"] == task_id and ti["state"] == "running" and ti["hostname"]]
        if running:
            return running
        time.sleep(0.5)
    raise AssertionError(f"no {task_id} task of {run_id} started within {timeout:.0f} s")


def test_start_returns_with_the_execution_api_built(stack):
    # Built on its first request (about 9 s): start() makes that request, so the first task's
    # does not wait. The first test of the module, before any task has run.
    started = time.monotonic()
    assert _http_status(f"{stack.api_url}/execution/health") == 200
    assert time.monotonic() - started < 2


def test_a_task_starts_with_the_libraries_its_worker_preloaded(api):
    # stack/celery_config.py: imported by each worker before it forks, so no task pays for them
    # (and stack/task_exit.py's fix is in the supervisor of every task).
    run_id = api.trigger("stack_probe_preloaded")
    assert _wait_for_success(api, "stack_probe_preloaded", run_id, timeout=90)
    assert api.xcom("stack_probe_preloaded", run_id, "already_imported") == sorted(CELERY_CONFIG["imports"])


def test_mapped_tasks_run_on_the_celery_workers(stack, api):
    run_id = api.trigger("stack_probe_mapped", {"items": 6, "seconds": 1})
    assert api.wait_for_run("stack_probe_mapped", run_id, timeout=90) == "success"
    mapped = [ti for ti in api.task_instances("stack_probe_mapped", run_id) if ti["task_id"] == "square"]
    assert sorted(ti["map_index"] for ti in mapped) == list(range(6))
    workers = {ti["hostname"].split("@")[0] for ti in mapped}
    assert workers and workers <= set(stack.workers)
    assert {ti["queue"] for ti in mapped} == {"default"}
    assert {ti["state"] for ti in mapped} == {"success"}
    assert api.xcom("stack_probe_mapped", run_id, "total") == sum(i * i for i in range(6))


def _warehouse_contents(warehouse) -> dict[str, list[tuple]]:
    with connect(warehouse, read_only=True) as con:
        return {
            "assessments": con.execute(
                "SELECT sha256, city_code, kind, assessment_number, title, organization, published_on "
                "FROM assessments ORDER BY ALL").fetchall(),
            "findings": con.execute(
                "SELECT finding_id, sha256, rule, severity, message FROM findings ORDER BY ALL").fetchall(),
        }


class AnalystReading(threading.Thread):
    """An analyst querying the warehouse over and over while the pipeline writes it."""

    def __init__(self, warehouse):
        super().__init__(daemon=True)
        self.warehouse, self.counts, self.errors, self.retried = warehouse, [], [], []
        self._stop_reading = threading.Event()

    def _count(self) -> int:
        with connect(self.warehouse, read_only=True) as con:
            return con.execute("SELECT count(*) FROM latest_assessments").fetchone()[0]

    def run(self) -> None:
        while not self._stop_reading.is_set():
            try:
                self.counts.append(self._count())
            except Exception as first:
                # Run again on a new connection, as load/maintenance.py tells a reader to after the one
                # race it cannot prevent (a flush dropping a table's inline data right after a migration
                # changed it); a read that fails twice in a row is an error.
                self.retried.append(repr(first))
                try:
                    self.counts.append(self._count())
                except Exception as exc:  # every failure is reported by the test, none is expected
                    self.errors.append(repr(exc))
            self._stop_reading.wait(1.0)

    def __enter__(self) -> AnalystReading:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_reading.set()
        self.join()


@pytest.fixture(scope="module")
def in_process_warehouse(stack_dir, demo_site) -> Path:
    """The same demo crawled by `piawatch run --demo` in one process, without Airflow."""
    data = stack_dir / "in-process"
    env = {**os.environ, "PIAWATCH_DATA_DIR": str(data), "PIAWATCH_DEMO_URL": demo_site.url}
    env.pop("PIAWATCH_ALERT_WEBHOOK_URL", None)
    piawatch = str(Path(sys.executable).parent / "piawatch")
    subprocess.run([piawatch, "run", "--demo", "--city", *NIGHTLY_CITIES], env=env, check=True, cwd=PROJECT_ROOT,
                   stdout=subprocess.DEVNULL)
    return data / "warehouse" / "piawatch.duckdb"


def test_the_nightly_dag_runs_on_the_stack_like_it_runs_in_process(stack, api, webhook_receiver_module,
                                                                  in_process_warehouse):
    assert stack.warehouse.backend == "ducklake"
    with PeakSampler(lambda: stack_memory_bytes(stack.paths)) as memory, AnalystReading(stack.warehouse) as analyst:
        run_id = api.trigger(NIGHTLY, {"demo": True, "cities": NIGHTLY_CITIES})
        assert _wait_for_success(api, NIGHTLY, run_id, timeout=600)
    tasks = api.task_instances(NIGHTLY, run_id)
    mapped = [ti for ti in tasks if ti["task_id"] in ("crawl_cities", "parse_documents")]
    assert {ti["task_id"] for ti in mapped} == {"crawl_cities", "parse_documents"}
    assert {ti["hostname"].split("@")[0] for ti in mapped} <= set(stack.workers)
    assert {ti["queue"] for ti in mapped} == {"default"}

    # A parse that crashed or hit its limits is staged as a failure and the run still succeeds:
    # name them, since that is where a worker's environment differs from `make run`.
    from piawatch.pipeline import run_id_from_airflow

    staged = [json.loads(path.read_text()) for path in
              (stack.paths.data_dir / "staging" / run_id_from_airflow(run_id) / "parse").glob("*.json")]
    broken = {entry["sha256"][:12]: entry["error"]["reason"] for entry in staged
              if entry.get("error", {}).get("code") in ("parser_crash", "parse_limit")}
    assert not broken, f"the parser failed on the Celery workers: {broken}"
    # The DuckLake the workers wrote holds what the DuckDB file of the in-process run holds.
    on_stack = _warehouse_contents(stack.warehouse)
    assert on_stack["assessments"] and on_stack["findings"]
    assert on_stack == _warehouse_contents(in_process_warehouse)
    # …and an analyst read it all along: the empty lake first, the loaded one at the end.
    assert not analyst.errors, analyst.errors
    assert len(analyst.retried) <= 1, analyst.retried
    assert analyst.counts[0] == 0 and analyst.counts[-1] > 0, analyst.counts

    # The planted contradiction (しきい値判断結果 vs 対象人数) is alerted once, not once per worker or retry.
    threshold_alerts = [body for body in webhook_receiver_module.accepted
                        if "threshold.result_mismatch" in body["text"]]
    assert len(threshold_alerts) == 1, webhook_receiver_module.accepted
    assert memory.peak < STACK_MEMORY_BUDGET


def test_the_stack_creates_the_single_writer_pool(api):
    pool = api.pool(WAREHOUSE_POOL)
    assert pool["slots"] == WAREHOUSE_POOL_SLOTS == 1


def test_overlapping_runs_never_write_the_warehouse_at_the_same_time(stack, api):
    run_ids = [api.trigger("stack_probe_writer") for _ in range(3)]
    states = [api.wait_for_run("stack_probe_writer", run_id, timeout=120) for run_id in run_ids]
    assert states == ["success"] * 3
    import duckdb

    with duckdb.connect(str(stack.paths.data_dir / "warehouse" / "probe.duckdb"), read_only=True) as con:
        writes = con.execute("SELECT run_id, started, finished FROM writes ORDER BY started").fetchall()
    assert sorted(run_id for run_id, _, _ in writes) == sorted(run_ids)
    for (_, _, finished), (_, next_started, _) in zip(writes, writes[1:]):
        assert finished <= next_started


def test_a_run_completes_when_the_scheduler_is_stopped_and_started_mid_run(stack, api):
    run_id = api.trigger("stack_probe_mapped", {"items": 4, "seconds": 4})
    _running_on(api, "stack_probe_mapped", run_id, "square", timeout=60)
    assert stop_processes(stack.paths, ["airflow-scheduler"]) == ["airflow-scheduler"]
    time.sleep(3)
    start_airflow_service(stack.paths, stack.environ, "airflow-scheduler", api_port=stack.api_port)
    assert _wait_for_success(api, "stack_probe_mapped", run_id, timeout=180)
    assert api.xcom("stack_probe_mapped", run_id, "total") == sum(i * i for i in range(4))


def test_tasks_of_a_killed_worker_are_retried_on_the_other(stack, api):
    run_id = api.trigger("stack_probe_mapped", {"items": 4, "seconds": 8})
    running = _running_on(api, "stack_probe_mapped", run_id, "square", timeout=60)
    victim = running[0]["hostname"].split("@")[0]
    survivor = next(worker for worker in stack.workers if worker != victim)
    on_victim = {ti["map_index"] for ti in running if ti["hostname"].startswith(victim)}
    kill_process(stack.paths, victim)
    try:
        assert _wait_for_success(api, "stack_probe_mapped", run_id, timeout=240)
        final = {ti["map_index"]: ti for ti in api.task_instances("stack_probe_mapped", run_id)
                 if ti["task_id"] == "square"}
        for map_index in on_victim:
            assert final[map_index]["try_number"] >= 2, final[map_index]
            assert final[map_index]["hostname"].startswith(survivor), final[map_index]
        assert {ti["state"] for ti in final.values()} == {"success"}
        # Nothing lost, nothing counted twice.
        assert api.xcom("stack_probe_mapped", run_id, "total") == sum(i * i for i in range(4))
    finally:
        start_airflow_service(stack.paths, stack.environ, "airflow-worker", api_port=stack.api_port,
                              worker=victim)


def test_stop_ends_every_process_it_started(stack_dir):
    """Runs last: the stack's own teardown, checked by pid."""
    paths = StackPaths((stack_dir / "data").resolve())
    names = sorted(path.stem for path in paths.run.glob("*.json"))
    pids = {name: recorded_pid(paths, name) for name in names}
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "worker1", "worker2"} <= set(names)
    assert all(pids.values()), pids
    stopped = stop(stack_dir / "data")
    assert set(stopped) == set(names)
    assert not [name for name, pid in pids.items() if is_running(pid)]
    assert not list(paths.run.glob("*.json"))
    assert json.dumps(stop(stack_dir / "data")) == "[]"
