"""A worker notices its task's end when the task process ends, not up to 5 s later.

Airflow's task supervisor (apache-airflow-task-sdk 1.3, ``WatchedSubprocess``) waits for its task
process in a ``select`` over the process's four sockets (stdout, stderr, logs, requests), at most
``[workers] min_heartbeat_interval`` (5 s) at a time, and after each wakeup checks whether the
process has exited. A task process closes those sockets as its interpreter shuts down and exits a
moment later. When the supervisor reads the last EOF inside that moment, the process is not yet
reapable; the supervisor closes the last socket and selects again on nothing, which nothing can
wake: it sleeps the full 5 s while the worker's slot stays taken. On a busy machine the moment is
long enough to be hit often: 7 and 15 of 81 task instances a night in ``make bench-scale --scale
300`` with two workers (each ~5.05 s between the task's end and its Celery task's), 0 and 3 with one.

``wait_for_exit_when_no_socket_is_left`` fills that gap: with every socket closed and the process
not yet reaped, the supervisor waits on a pidfd of the process, which becomes readable the moment
it exits; Airflow's own code then reaps it as before. Imported by each Celery worker before it forks
its pool (``stack.celery_config``), so every task the worker supervises gets it. Without pidfds
(not Linux: nothing is changed; Linux before 5.3: the supervisor waits as before) the upstream
behaviour stays.
"""

from __future__ import annotations

import os
import select

from airflow.sdk.execution_time.supervisor import WatchedSubprocess

_select_then_check_exit = WatchedSubprocess._service_subprocess


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Block until child ``pid`` has exited (without reaping it) or ``timeout`` seconds pass;
    whether it has exited."""
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()  # not select.select: a descriptor past FD_SETSIZE is fine here
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(pidfd)


def wait_for_exit_when_no_socket_is_left(self, max_wait_time: float, raise_on_timeout: bool = False,
                                         expect_signal: int | None = None):
    """``WatchedSubprocess._service_subprocess`` that, once every socket is closed, waits for the
    process itself rather than in a ``select`` over no socket at all."""
    if self._exit_code is None and not self._open_sockets:
        try:
            wait_for_exit(self.pid, max_wait_time)
        except ProcessLookupError:  # already gone: Airflow's check below reaps it
            pass
        except OSError:  # a kernel without pidfds (before Linux 5.3): Airflow's own wait
            return _select_then_check_exit(self, max_wait_time, raise_on_timeout, expect_signal)
        max_wait_time = 0  # the select over no socket below must not sleep again
    return _select_then_check_exit(self, max_wait_time, raise_on_timeout, expect_signal)


if hasattr(os, "pidfd_open"):
    WatchedSubprocess._service_subprocess = wait_for_exit_when_no_socket_is_left
