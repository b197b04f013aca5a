"""How much memory and CPU a set of processes uses, for the stack's 3 GiB budget and the benchmark."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _parent(pid_dir: Path) -> int | None:
    try:
        return int((pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def process_tree(roots: list[int]) -> set[int]:
    """``roots`` and all their descendants that still exist (walked through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := _parent(entry)) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = set(), [pid for pid in roots if Path(f"/proc/{pid}").exists()]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, []))
    return found


def memory_bytes(pids: set[int]) -> int:
    """Proportional set size of the processes: pages shared by forked workers are counted once."""
    total = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:  # exited meanwhile
            continue
        total += next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return total


def cpu_seconds(pids: set[int]) -> float:
    """CPU time the processes used, their reaped descendants' included (utime, stime, cutime and
    cstime of /proc/PID/stat): over a whole process tree, what the tree has used since it started,
    less what processes that have exited without being reaped, or were reparented away, used."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakSampler:
    """Samples ``measure()`` every ``every`` seconds in a thread while in the ``with`` block; ``peak``
    is the largest."""

    def __init__(self, measure, every: float = 0.5):
        self.measure, self.every, self.peak = measure, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.measure())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.measure())
