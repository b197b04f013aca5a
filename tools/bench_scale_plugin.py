"""Airflow plugin used only by tools/bench_scale.py: when each task's own work began and ended.

Airflow records when a task instance started and ended on its worker, which includes starting the
task process, parsing the DAG file and pushing XComs. The listener hooks below run inside the task
process right before and right after the task's callable, so the time between them is the work
and the rest of the task instance's duration is Airflow's overhead. The bench puts this file in a
plugins folder of its own (beside the project's plugins) and names the output file in
``BENCH_TASK_TIMINGS``; one JSON line per task instance is appended there.
"""

from __future__ import annotations

import json
import os
import time

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

TIMINGS_VARIABLE = "BENCH_TASK_TIMINGS"


def _key(ti) -> tuple:
    return (ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), getattr(ti, "try_number", None))


class TaskWork:
    def __init__(self):
        self._began: dict[tuple, float] = {}

    def _write(self, ti, state: str) -> None:
        path = os.environ.get(TIMINGS_VARIABLE)
        began = self._began.pop(_key(ti), None)
        if not path or began is None:
            return
        line = json.dumps({"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id,
                           "map_index": getattr(ti, "map_index", -1), "try_number": getattr(ti, "try_number", None),
                           "began": began, "ended": time.time(), "state": state}) + "\n"
        # One write with O_APPEND: lines from tasks on several workers never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    @hookimpl
    def on_task_instance_running(self, previous_state, task_instance):
        self._began[_key(task_instance)] = time.time()

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance):
        self._write(task_instance, "success")

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error):
        self._write(task_instance, "failed")


class BenchTaskWorkPlugin(AirflowPlugin):
    name = "piawatch_bench_task_work"
    listeners = [TaskWork()]
