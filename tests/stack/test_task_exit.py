"""stack/task_exit.py: Airflow's task supervisor notices a task process's end when it ends.

The supervisor here is Airflow's own (``ActivitySubprocess``, as a Celery worker runs it),
supervising a real forked process that does what a task process does at its end: closes its
sockets to the supervisor, then takes a moment longer to exit.
"""

from __future__ import annotations

import errno
import os
import time
import uuid

import pytest
from airflow.sdk.execution_time.supervisor import ActivitySubprocess, WatchedSubprocess

from stack import task_exit
from stack.celery_config import CELERY_CONFIG

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd_open here: the module changes nothing")

LINGER_S = 1.0  # how long the process lives on after closing its sockets


def _close_sockets_then_linger():
    os.closerange(0, 1024)  # the supervisor reads EOF on all four sockets
    time.sleep(LINGER_S)  # ...and the process is still there, as an interpreter shutting down
    os._exit(0)


def _supervised_seconds() -> tuple[float, int]:
    """How long Airflow's supervisor takes to return after starting the process, and its exit code."""
    proc = WatchedSubprocess.start.__func__(ActivitySubprocess, target=_close_sockets_then_linger,
                                           id=uuid.uuid4(), client=None)
    # Heartbeat "just sent": no API call falls inside the few seconds this takes (there is no API).
    proc._last_heartbeat_attempt = proc._last_successful_heartbeat = time.monotonic()
    started = time.monotonic()
    proc._monitor_subprocess()
    return time.monotonic() - started, proc._exit_code


def test_the_supervisor_returns_when_the_process_exits():
    seconds, exit_code = _supervised_seconds()
    assert exit_code == 0
    assert LINGER_S <= seconds < LINGER_S + 0.5


def test_without_it_the_supervisor_sleeps_out_its_heartbeat_interval(monkeypatch):
    # The upstream behaviour this module exists for; if this fails, Airflow has fixed it and
    # stack/task_exit.py can go.
    monkeypatch.setattr(WatchedSubprocess, "_service_subprocess", task_exit._select_then_check_exit)
    seconds, exit_code = _supervised_seconds()
    assert exit_code == 0
    assert seconds >= 4.5  # [workers] min_heartbeat_interval, 5 s


def test_a_kernel_without_pidfds_gets_the_upstream_wait(monkeypatch):
    def no_pidfds(pid, timeout):  # what os.pidfd_open raises there
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(task_exit, "wait_for_exit", no_pidfds)
    seconds, exit_code = _supervised_seconds()
    assert exit_code == 0
    assert seconds >= 4.5


def test_wait_for_exit_neither_reaps_nor_waits_past_the_end():
    pid = os.fork()
    if pid == 0:
        time.sleep(0.5)
        os._exit(3)
    assert task_exit.wait_for_exit(pid, 0.05) is False  # still running
    started = time.monotonic()
    assert task_exit.wait_for_exit(pid, 5) is True
    assert time.monotonic() - started < 1
    assert os.waitpid(pid, 0) == (pid, 3 << 8)  # still there to be reaped, with its status


def test_every_worker_imports_it_before_forking_its_pool():
    assert "stack.task_exit" in CELERY_CONFIG["imports"]
    assert WatchedSubprocess._service_subprocess is task_exit.wait_for_exit_when_no_socket_is_left
