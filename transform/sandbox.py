"""Parse one PDF in a sandbox: a separate interpreter with a wall-clock and a memory limit.

A hostile PDF must not stall or exhaust the night, nor a command line: the pipeline's parse step
and ``piawatch parse`` / ``piawatch check`` all parse through ``parse_pdf_limited``. What a bomb
costs stays in the child: a decompression bomb or a flood of operands runs into the memory limit
(the address space the parse may add to the child interpreter's own), a slow one into the time
limit, and both come back as ``ParseLimitExceeded`` with one line. A page tree pdfium refuses is
``CorruptPDF``; any other exception in the parser is ``ParserCrash`` naming it. The caller never
sees a traceback.

The child is a plain ``python -m transform.sandbox`` subprocess rather than a
``multiprocessing`` child: Celery's prefork workers are daemonic processes, which may not have
multiprocessing children, and a spawned child would re-import the worker's ``__main__`` (Airflow
itself). It runs in a session of its own, so a timeout ends whatever it started too. It prints one
JSON line: the record, or the named error.

Limits: ``PIAWATCH_PARSE_TIMEOUT`` seconds (default 120) and ``PIAWATCH_PARSE_MEMORY_MB``
(default 1024) unless the caller passes its own.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import ground.errors as errors
from ground.errors import ConfigError, ParseLimitExceeded, ParserCrash, PiaWatchError, UnreadablePDF

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_MB = 1024
# Only the end of what the child wrote to stderr is kept: a hostile file can make a library warn
# without end, and that must not fill the parent's memory.
STDERR_TAIL_BYTES = 4096


def configured_limits() -> tuple[float, int]:
    """(seconds, MB) from PIAWATCH_PARSE_TIMEOUT / PIAWATCH_PARSE_MEMORY_MB, else the defaults."""
    values = []
    for name, default, kind in (("PIAWATCH_PARSE_TIMEOUT", DEFAULT_TIMEOUT_S, float),
                                ("PIAWATCH_PARSE_MEMORY_MB", DEFAULT_MEMORY_MB, int)):
        raw = os.environ.get(name, "").strip()
        try:
            value = kind(raw) if raw else default
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected a positive number") from None
        if value <= 0:
            raise ConfigError(f"{name}={raw!r}: expected a positive number")
        values.append(value)
    return values[0], values[1]


def check_input(path: str | Path) -> Path:
    """The path as a readable file, or UnreadablePDF saying what it is instead."""
    path = Path(path)
    if not path.exists():
        raise UnreadablePDF("no such file")
    if path.is_dir():
        raise UnreadablePDF("a directory, not a PDF file")
    if not path.is_file():
        raise UnreadablePDF("not a regular file")
    if not os.access(path, os.R_OK):
        raise UnreadablePDF("not readable (permission denied)")
    return path


def parse_pdf_limited(path: str | Path, *, sha256: str | None = None, timeout_s: float | None = None,
                      memory_mb: int | None = None) -> dict:
    """``transform.parse.parse_pdf`` in a child process; ParseLimitExceeded when a limit is hit,
    the same named errors as parse_pdf otherwise (never another exception)."""
    path = check_input(path)
    default_timeout, default_memory = configured_limits()
    timeout_s = default_timeout if timeout_s is None else timeout_s
    memory_mb = default_memory if memory_mb is None else memory_mb
    command = [sys.executable, "-m", "transform.sandbox", os.fspath(path), sha256 or "", str(memory_mb)]
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
        try:
            stdout, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise ParseLimitExceeded(f"parsing took longer than {timeout_s:g} s") from None
        stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
        said_lines = stderr.read().decode("utf-8", errors="replace").strip().splitlines()
    lines = stdout.decode("utf-8", errors="replace").strip().splitlines()
    if child.returncode != 0 or not lines:
        said = f": {said_lines[-1][:200]}" if said_lines else ""
        raise ParseLimitExceeded(f"the parser process died (exit code {child.returncode}{said}); "
                                 f"probably over its {memory_mb} MB memory limit")
    status, payload = json.loads(lines[-1])
    if status == "ok":
        return payload
    if status == "limit":
        raise ParseLimitExceeded(payload)
    if status == "error":
        name, reason = payload
        error = getattr(errors, name, None)
        if isinstance(error, type) and issubclass(error, PiaWatchError):
            raise error(reason)
        raise ParserCrash(f"{name}: {reason}")
    raise ParserCrash(f"the parser crashed on this file: {payload}")


def _virtual_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(path: str, sha256: str | None, memory_mb: int) -> tuple[str, object]:
    # imported here, in the child only: the parent (a pipeline step, the CLI) never loads pdfium
    import pypdfium2

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
    except pypdfium2.PdfiumError as exc:  # e.g. a page tree that lists itself: pdfium refuses the page
        return "error", ("CorruptPDF", f"damaged PDF: pdfium cannot read it ({exc})")
    except Exception as exc:  # handed to the parent, which raises it as a crash of this file
        return "crash", f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    pdf_path, sha, memory = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
    print(json.dumps(_child(pdf_path, sha, memory), ensure_ascii=False, default=str), flush=True)
