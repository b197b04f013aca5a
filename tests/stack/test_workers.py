"""N Celery workers at concurrency 1 on one machine (`make bench-scale`'s configurations): each
worker is its own process with its own host name, log and pid file, and the stack runs exactly
N tasks at once — so a benchmark's ratio between stacks measures workers, not cores."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from ground.capabilities import check
from stack.native import DEMO_OVERRIDES, StackError, StackPaths, api_client, load_stack, recorded_pid, start, stop

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

PROBE = textwrap.dedent('''
    import time

    import pendulum
    from airflow.sdk import dag, task

    @dag(dag_id="stack_probe_slots", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False)
    def stack_probe_slots():
        @task
        def hold(item: int) -> int:
            time.sleep(4)
            return item

        hold.expand(item=list(range(6)))

    stack_probe_slots()
''')


def test_a_stack_needs_a_worker_with_a_slot(tmp_path):
    for workers, concurrency in ((0, 1), (2, 0)):
        with pytest.raises(StackError, match="at least 1 worker"):
            start(tmp_path, workers=workers, concurrency=concurrency)
    assert not StackPaths(tmp_path).run.exists()  # nothing was started


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_two_workers_at_concurrency_one_run_two_tasks_at_once_each_under_its_own_name():
    missing = [c.skip_reason for c in (check("postgresql"), check("redis")) if not c.available]
    if missing:
        pytest.skip("the native stack needs PostgreSQL and Redis: " + "; ".join(missing))
    # PostgreSQL runs as the postgres user when we are root: it must reach the directory.
    root = Path(tempfile.mkdtemp(prefix="piawatch-workers-"))
    root.chmod(0o755)
    dags = root / "dags"
    dags.mkdir()
    (dags / "stack_probe_slots.py").write_text(PROBE)
    data = root / "data"
    try:
        stack = start(data, workers=2, concurrency=1, dags_folder=dags, overrides=DEMO_OVERRIDES)
        assert stack.workers == ("worker1", "worker2") and stack.slots == 2
        assert load_stack(data).slots == 2  # as `python -m stack.native status|trigger` see it
        pids = {name: recorded_pid(stack.paths, name) for name in stack.workers}
        assert all(pids.values()) and len(set(pids.values())) == 2
        api = api_client(stack)
        api.wait_for_dag("stack_probe_slots")
        api.unpause("stack_probe_slots")
        run_id = api.trigger("stack_probe_slots")
        assert api.wait_for_run("stack_probe_slots", run_id, timeout=300) == "success"
        held = [ti for ti in api.task_instances("stack_probe_slots", run_id) if ti["task_id"] == "hold"]
        assert len(held) == 6 and {ti["state"] for ti in held} == {"success"}
        assert {ti["hostname"].split("@")[0] for ti in held} == {"worker1", "worker2"}
        from datetime import datetime

        intervals = [(datetime.fromisoformat(ti["start_date"]).timestamp(),
                      datetime.fromisoformat(ti["end_date"]).timestamp()) for ti in held]
        assert _max_overlap(intervals) == 2  # both slots used, never a third task at once
        for name in stack.workers:
            log = stack.paths.log_file(name).read_text(errors="replace")
            assert f"{name}@" in log and "concurrency: 1" in log
    finally:
        stop(data)
        shutil.rmtree(root, ignore_errors=True)
