"""Parse one PDF in a separate interpreter, with a wall-clock and a memory limit.

A hostile PDF must not stall or exhaust the night, so the pipeline never parses in its own
process. The child is a plain ``python -m transform.limited`` subprocess rather than a
``multiprocessing`` child: Celery's prefork workers are daemonic processes, which may not have
multiprocessing children, and a spawned child would re-import the worker's ``__main__`` (Airflow
itself). The child prints one JSON line: the record, or the named error.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import piawatch.errors as errors
from piawatch.errors import ParseLimitExceeded, PiaWatchError


def parse_pdf_limited(path: str | Path, *, sha256: str | None = None, timeout_s: float = 120,
                      memory_mb: int = 1024) -> dict:
    """``transform.parse.parse_pdf`` in a child process; ParseLimitExceeded when a limit is hit,
    the same named errors as parse_pdf otherwise. ``memory_mb`` is the address space the parse
    may add to the child interpreter's own."""
    command = [sys.executable, "-m", "transform.limited", os.fspath(path), sha256 or "", str(memory_mb)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ParseLimitExceeded(f"parsing took longer than {timeout_s:g} s") from None
    lines = done.stdout.decode("utf-8", errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        stderr = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        said = f": {stderr[-1][:200]}" if stderr else ""
        raise ParseLimitExceeded(f"the parser process died (exit code {done.returncode}{said}); "
                                 f"probably over its {memory_mb} MB memory limit")
    status, payload = json.loads(lines[-1])
    if status == "ok":
        return payload
    if status == "limit":
        raise ParseLimitExceeded(payload)
    if status == "error":
        name, reason = payload
        raise getattr(errors, name)(reason)
    raise RuntimeError(f"parser crashed on {os.fspath(path)}: {payload}")


def _virtual_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(path: str, sha256: str | None, memory_mb: int) -> tuple[str, object]:
    from transform.parse import parse_pdf

    # the budget is for the parse itself: on top of what the interpreter and its imports map
    limit = _virtual_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        return "ok", parse_pdf(path, sha256=sha256)
    except MemoryError:
        return "limit", f"parsing needed more than {memory_mb} MB of memory"
    except PiaWatchError as exc:
        return "error", (type(exc).__name__, exc.reason)
    except Exception as exc:  # handed to the parent, which raises it as a crash of this file
        return "crash", f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    pdf_path, sha, memory = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
    print(json.dumps(_child(pdf_path, sha, memory), ensure_ascii=False, default=str), flush=True)
