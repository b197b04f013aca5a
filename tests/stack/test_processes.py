"""How the native stack records, identifies and stops its processes (no PostgreSQL needed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from stack.usage import PeakSampler, memory_bytes, process_tree
from stack.native import (StackError, StackPaths, is_running, kill_process, recorded_pid, spawn_recorded,
                          stack_cpu_seconds, stop, stop_processes)
from stack.secrets import SECRET_NAMES, load_or_create_secrets
from stack.services import SERVICES

# A parent that forks a child: stands in for an Airflow service and its task processes.
PARENT_WITH_CHILD = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
# A service that ignores SIGTERM, as a hung one would.
DEAF = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def spawn(paths: StackPaths, name: str, code: str) -> int:
    paths.root.mkdir(parents=True, exist_ok=True)
    return spawn_recorded(paths, name, [sys.executable, "-c", code], dict(os.environ))


@pytest.fixture
def paths(tmp_path):
    paths = StackPaths(tmp_path)
    yield paths
    stop(tmp_path)  # never leave a process behind, even when a test fails


def wait_for_children(pid: int, count: int) -> set[int]:
    deadline = time.monotonic() + 10
    while len(tree := process_tree([pid])) < count + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return tree


def test_stop_ends_a_service_and_the_processes_it_forked(paths):
    pid = spawn(paths, "airflow-scheduler", PARENT_WITH_CHILD)
    tree = wait_for_children(pid, 1)
    assert len(tree) == 2 and recorded_pid(paths, "airflow-scheduler") == pid
    assert stop(paths.data_dir) == ["airflow-scheduler"]
    assert not [p for p in tree if is_running(p)]
    assert not paths.pid_file("airflow-scheduler").exists()


def test_a_service_deaf_to_sigterm_is_killed_after_the_timeout(paths):
    pid = spawn(paths, "airflow-dag-processor", DEAF)
    time.sleep(0.3)  # let it install its handler
    started = time.monotonic()
    assert stop_processes(paths, ["airflow-dag-processor"], timeout=1.0) == ["airflow-dag-processor"]
    assert not is_running(pid) and time.monotonic() - started < 5


def test_a_recycled_pid_is_never_signalled(paths):
    """The pid file names another process now (different start time): stop must leave it alone."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        paths.run.mkdir(parents=True)
        paths.pid_file("worker1").write_text(json.dumps({"pid": bystander.pid, "started": "1", "group": True}))
        assert recorded_pid(paths, "worker1") is None
        assert stop(paths.data_dir) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_kill_process_sigkills_the_whole_group_at_once(paths):
    pid = spawn(paths, "worker1", PARENT_WITH_CHILD)
    tree = wait_for_children(pid, 1)
    assert kill_process(paths, "worker1") == pid
    deadline = time.monotonic() + 5
    while any(is_running(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in tree if is_running(p)]
    with pytest.raises(StackError, match="worker1 is not running"):
        kill_process(paths, "worker1")


def test_memory_counts_a_process_and_its_children(paths):
    pid = spawn(paths, "worker1", PARENT_WITH_CHILD)
    tree = wait_for_children(pid, 1)
    with PeakSampler(lambda: memory_bytes(process_tree([pid]))) as sampler:
        time.sleep(0.6)
    # Two Python interpreters: several MiB each, far from a GiB.
    assert 4 * 2**20 < sampler.peak < 2**30
    assert memory_bytes(tree) >= memory_bytes({pid})
    os.killpg(pid, signal.SIGKILL)


# A child it waits for (as a worker reaps a finished task) uses 0.6 s of CPU, start-up included,
# then it uses 0.3 s itself, says so in a file and idles.
BURNS_0_9_S = ("import subprocess, sys, time\n"
               "subprocess.run([sys.executable, '-c', 'import time\\nwhile time.process_time() < 0.6: pass'])\n"
               "while time.process_time() < 0.3: pass\n"
               "open(sys.argv[1], 'w').close()\n"
               "time.sleep(60)")


def test_cpu_counts_each_service_with_the_children_it_reaped(paths, tmp_path):
    done = tmp_path / "burnt"
    spawn_recorded(paths, "worker1", [sys.executable, "-c", BURNS_0_9_S, str(done)], dict(os.environ))
    spawn(paths, "scheduler", "import time; time.sleep(60)")
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = stack_cpu_seconds(paths)
    assert set(cpu) == {"worker1", "scheduler"}
    # 0.9 s (less a clock tick of rounding in each of the two); the idle one only its start-up.
    assert 0.88 <= cpu["worker1"] < 1.5
    assert cpu["scheduler"] < 0.5
    later = stack_cpu_seconds(paths)  # idle since: the difference of two readings is about nothing
    assert later["worker1"] - cpu["worker1"] < 0.05


def test_secrets_are_made_once_private_and_kept(tmp_path):
    path = tmp_path / "stack" / "secrets.env"
    first = load_or_create_secrets(path)
    assert set(first) == set(SECRET_NAMES) and all(first.values())
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secrets(path) == first


def test_every_service_name_is_unique_and_workers_are_the_only_replicated_one():
    assert len({service.name for service in SERVICES}) == len(SERVICES)
    assert [service.name for service in SERVICES if service.replicas > 1] == ["airflow-worker"]


def _state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]


def test_a_zombie_is_not_running():
    """A child that exited but was never waited for (a PID 1 that does not reap, in a container)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _state(child.pid) == "Z"
        assert not is_running(child.pid)
    finally:
        child.wait()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare(1) for a PID namespace")
def test_stop_works_under_a_pid_1_that_never_reaps(tmp_path):
    """The forked child, orphaned when stop() kills its parent, is re-parented to PID 1, which here
    (pytest itself, as in a container without an init) never reaps it: it stays a zombie, and
    stop() must still count it as gone."""
    test = f"{__file__}::test_stop_ends_a_service_and_the_processes_it_forked"
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "pytest", "-q",
                           "-p", "no:cacheprovider", test], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed" in done.stdout
