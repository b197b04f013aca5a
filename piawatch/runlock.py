"""One `piawatch run` at a time per data root: an ``flock`` on ``<data dir>/run.lock``.

Taken before anything is crawled, so a second run is refused at once with one line, instead of
crawling everything and then failing at the warehouse. The kernel drops the lock when its process
dies, however it dies. The file keeps its holder (run id, pid, host, start) while held and is
emptied on a clean exit, so a run that finds a holder's name in it knows that holder was killed
before it finished: its row in ``runs`` is stale (``piawatch.lifecycle.mark_stale_runs``).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ground.errors import PiaWatchError


class RunLocked(PiaWatchError):
    code = "run_locked"


def _holder(text: str) -> dict | None:
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        return None
    return holder if isinstance(holder, dict) and holder.get("run_id") else None


@contextmanager
def run_lock(path: Path, run_id: str):
    """Hold the run lock for ``run_id``; yields the previous holder that never released it (or None).

    Raises ``RunLocked`` naming the holder when another process has it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(Path(path).read_text(encoding="utf-8", errors="replace")) or {}
            who = (f"run {holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, "
                   f"since {holder.get('started')}") if holder else "another process"
            raise RunLocked(f"another piawatch run is in progress ({who}; lock {path}): "
                            f"not started — wait for it to finish") from None
        previous = _holder(os.pread(fd, 65536, 0).decode("utf-8", errors="replace"))
        me = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield previous
        os.ftruncate(fd, 0)  # a clean end: nothing for the next run to clear up
    finally:
        os.close(fd)  # closing the descriptor releases the flock
