"""Parse PDFs in a sandbox: each PDF in a process of its own, with a wall-clock and a memory limit.

A hostile PDF must not stall or exhaust the night, nor a command line: the pipeline's parse step
and ``piawatch parse`` / ``piawatch check`` all parse through a ``Sandbox`` (``parse_pdf_limited``
for one file). What a bomb costs stays in the child: a decompression bomb or a flood of operands
runs into the memory limit (the address space the parse may add to the interpreter's own), a slow
one into the time limit, and both come back as ``ParseLimitExceeded`` with one line. A page tree
pdfium refuses is ``CorruptPDF``; any other exception in the parser is ``ParserCrash`` naming it.
The caller never sees a traceback.

A new interpreter that imports the parser (pdfium, pdfplumber, OpenCV, NumPy) costs about 0.55 s
of CPU, several times a 5-page basic assessment's parse (about 0.07 s). So a ``Sandbox`` starts one
*zygote*, a ``python -m transform.sandbox`` subprocess that imports the parser once and opens no
PDF itself, and for each PDF the zygote forks a child that parses that one file and exits: every
PDF still gets a fresh process, its own limits and nothing left over from another file, at the
cost of a fork. The zygote is a plain subprocess rather than a ``multiprocessing`` child: Celery's
prefork workers are daemonic processes, which may not have multiprocessing children, and a spawned
child would re-import the worker's ``__main__`` (Airflow itself). It runs in a session of its own
and each child in a process group of its own, so a timeout ends the child and whatever it started.

The zygote reads one JSON request a line on stdin and answers ``{"pid": …}`` when it has forked
and ``{"exit": …}`` when the child has ended; the child writes its result, the record or the named
error, to a file the request names, and its stderr to another (only the tail is read back).

Limits: ``PIAWATCH_PARSE_TIMEOUT`` seconds (default 120) and ``PIAWATCH_PARSE_MEMORY_MB``
(default 1024) unless the caller passes its own. The time limit is kept by the caller, which kills
the child at its deadline; a child whose caller was killed first (an Airflow task killed, a
Ctrl-C'd command) is ended by the kernel instead, at ``cpu_backstop_seconds`` of CPU.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import ground.errors as errors
from ground.errors import ConfigError, ParseLimitExceeded, ParserCrash, PiaWatchError, UnreadablePDF

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_MB = 1024
# Only the end of what the child wrote to stderr is kept: a hostile file can make a library warn
# without end, and that must not fill the parent's memory.
STDERR_TAIL_BYTES = 4096


def cpu_backstop_seconds(timeout_s: float) -> int:
    """The CPU a child may use before the kernel ends it (RLIMIT_CPU): twice its wall-clock limit
    and a little, so that a parse its caller would still wait for is never cut short (it runs on
    one thread, so its CPU time trails its wall time) while an orphaned one still ends."""
    return math.ceil(2 * timeout_s) + 2


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
    """``transform.parse.parse_pdf`` of one file in a sandbox of its own (see ``Sandbox.parse``)."""
    with Sandbox(timeout_s=timeout_s, memory_mb=memory_mb) as sandbox:
        return sandbox.parse(path, sha256=sha256)


class Sandbox:
    """Parses PDFs one at a time, each in a child forked from one zygote (started on first use,
    ended by ``close`` or the ``with`` block). Thread-safe: parses from several threads queue."""

    def __init__(self, *, timeout_s: float | None = None, memory_mb: int | None = None):
        default_timeout, default_memory = configured_limits()
        self.timeout_s = default_timeout if timeout_s is None else timeout_s
        self.memory_mb = default_memory if memory_mb is None else memory_mb
        self._lock = threading.Lock()
        self._zygote: subprocess.Popen | None = None
        self._answers = b""
        self._dir = tempfile.TemporaryDirectory(prefix="piawatch-sandbox-")
        self._zygote_err = Path(self._dir.name) / "zygote-stderr.txt"

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._stop_zygote()
            self._dir.cleanup()

    def parse(self, path: str | Path, *, sha256: str | None = None) -> dict:
        """``transform.parse.parse_pdf`` in a child process; ParseLimitExceeded when a limit is hit,
        the same named errors as parse_pdf otherwise (never another exception)."""
        path = check_input(path)
        with self._lock:
            status, payload = self._run(path, sha256)
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

    def _run(self, path: Path, sha256: str | None) -> tuple[str, object]:
        """One PDF through the zygote: the child's (status, payload)."""
        deadline = time.monotonic() + self.timeout_s  # the zygote's start counts, as a new interpreter's did
        if self._zygote is None or self._zygote.poll() is not None:
            self._start_zygote()
        out, err = Path(self._dir.name) / "result.json", Path(self._dir.name) / "stderr.txt"
        out.unlink(missing_ok=True)
        request = {"path": os.fspath(path), "sha256": sha256, "memory_mb": self.memory_mb,
                   "cpu_seconds": cpu_backstop_seconds(self.timeout_s), "out": os.fspath(out), "err": os.fspath(err)}
        try:
            self._zygote.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self._zygote.stdin.flush()
        except BrokenPipeError:
            raise ParserCrash(f"the parser sandbox died before it took the file{self._zygote_said()}") from None
        forked = self._answer(deadline)
        if forked is None:  # still starting (or gone) at the deadline: no child of this file exists yet
            self._stop_zygote()
            raise ParseLimitExceeded(f"parsing took longer than {self.timeout_s:g} s")
        if "pid" not in forked:
            raise ParserCrash(f"the parser sandbox could not start{self._zygote_said()}")
        ended = self._answer(deadline)
        if ended is None:
            _kill_group(forked["pid"])
            if self._answer(time.monotonic() + 10) is None:  # the zygote reaps the child; if not, start afresh
                self._stop_zygote()
            raise ParseLimitExceeded(f"parsing took longer than {self.timeout_s:g} s")
        if "exit" not in ended:
            self._stop_zygote()
            raise ParserCrash(f"the parser sandbox died while it parsed the file{self._zygote_said()}")
        result = out.read_text(encoding="utf-8") if out.exists() else ""
        if ended["exit"] == -signal.SIGXCPU:
            raise ParseLimitExceeded(f"parsing used more than {request['cpu_seconds']} s of CPU")
        if ended["exit"] != 0 or not result:
            said = _tail(err)
            said = f": {said[-1][:200]}" if said else ""
            raise ParseLimitExceeded(f"the parser process died (exit code {ended['exit']}{said}); "
                                     f"probably over its {self.memory_mb} MB memory limit")
        return tuple(json.loads(result))

    def _start_zygote(self) -> None:
        self._stop_zygote()
        with open(self._zygote_err, "wb") as stderr:
            # "--zygote" is for ps and top only: the module has no other mode
            self._zygote = subprocess.Popen([sys.executable, "-m", "transform.sandbox", "--zygote"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                            start_new_session=True, env={**os.environ, **SINGLE_THREADED})
        self._answers = b""

    def _stop_zygote(self) -> None:
        zygote, self._zygote = self._zygote, None
        if zygote is None:
            return
        try:
            zygote.stdin.close()  # its loop ends at end of input
            zygote.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            _kill_group(zygote.pid)
            zygote.wait()
        zygote.stdout.close()

    def _answer(self, deadline: float) -> dict | None:
        """The zygote's next answer line; None at the deadline; {} when it is gone."""
        fd = self._zygote.stdout.fileno()
        while b"\n" not in self._answers:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return {}
            self._answers += chunk
        line, self._answers = self._answers.split(b"\n", 1)
        return json.loads(line)

    def _zygote_said(self) -> str:
        said = _tail(self._zygote_err)
        return f": {said[-1][:200]}" if said else ""


# The zygote and its children parse in one thread: a fork copies only the forking thread, so a
# library that had started worker threads (OpenBLAS, OpenMP) would fork with its pool missing.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path) -> list[str]:
    """The last lines of what a process wrote to ``path`` (only its end is read)."""
    try:
        with open(path, "rb") as said:
            said.seek(max(0, said.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
            return said.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return []


def _virtual_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(path: str, sha256: str | None, memory_mb: int, cpu_seconds: int) -> tuple[str, object]:
    # imported by the zygote before it forked (free here); the parent (a pipeline step, the CLI)
    # never loads pdfium
    import pypdfium2

    from transform.parse import parse_pdf

    # the budget is for the parse itself: on top of what the interpreter and its imports map
    limit = _virtual_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # SIGXCPU at the soft limit, SIGKILL a second later; no core file of a parse ended that way
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
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


def _serve() -> None:
    """The zygote: the parser imported once, then a forked child for each request on stdin."""
    import pypdfium2  # noqa: F401 - imported before the forks, so every child starts with them
    import transform.parse  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)


def _run_child(request: dict) -> None:
    """In the forked child: parse one PDF, write the result where the request says, and exit
    (never return into the zygote's loop)."""
    code = 1
    try:
        os.setpgid(0, 0)  # a group of its own: a timeout kills it and whatever it started
        err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(err, 2)
        os.dup2(os.open(os.devnull, os.O_RDWR), 0)
        os.dup2(os.open(os.devnull, os.O_RDWR), 1)  # a library's print must not reach the zygote's answers
        result = _child(request["path"], request["sha256"], request["memory_mb"], request["cpu_seconds"])
        with open(request["out"], "w", encoding="utf-8") as out:
            out.write(json.dumps(result, ensure_ascii=False, default=str))
        code = 0
    except BaseException:  # noqa: BLE001 - said on stderr, whose tail the parent reports
        traceback.print_exc()
    finally:
        os._exit(code)


if __name__ == "__main__":
    _serve()
