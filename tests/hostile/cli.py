"""Running the ``piawatch`` command line as a user does, in a fresh process, and measuring it:
exit code, stdout, stderr, wall-clock seconds and the peak memory of the command and everything
it started (the sandbox child included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs piawatch.cli.main, then writes the peak resident memory of itself and of its children to
# the file named by the first argument (stderr stays exactly what a user would see).
# Its own peak is VmHWM, not RUSAGE_SELF: Linux keeps ru_maxrss across execve, so a process forked
# from a large pytest would report pytest's size (VmHWM belongs to the new program's memory).
_MEASURED = """
import json, re, resource, sys
from piawatch.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status:
        own_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
    peak = max(own_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    open(sys.argv[1], "w").write(json.dumps({"peak_mb": peak / 1024}))
sys.exit(code)
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def run_cli(*args: str, tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Ran:
    measure = tmp_path / f"measure-{time.monotonic_ns()}.json"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _MEASURED, str(measure), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})
    seconds = time.monotonic() - started
    peak = json.loads(measure.read_text())["peak_mb"] if measure.exists() else float("nan")
    return Ran(done.returncode, done.stdout, done.stderr, seconds, peak)
