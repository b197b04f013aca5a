"""The operator's small things, through the real CLI in real processes: output piped into a reader
that stops early, and reading the warehouse while another process holds it for writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warehouse(tmp_path):
    """A DuckDB warehouse holding two finished runs, and the read-only copy a run publishes."""
    from load.export import publish_copy
    from load.connection import connect, write_transaction
    from load.runs import record_run_end, record_run_start

    path = tmp_path / "data" / "warehouse" / "piawatch.duckdb"
    with connect(path) as con:
        for run_id, status, error in (("20261101T170000Z", "partial", "1 of 8 cities and 3 pages or documents failed"),
                                      ("20261102T170000Z", "failed", "KeyboardInterrupt: ")):
            write_transaction(con, lambda c: record_run_start(c, run_id))
            write_transaction(con, lambda c: record_run_end(c, run_id, status=status, error=error))
            time.sleep(0.01)
    publish_copy(path)
    return path


def environment(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAWATCH_")}
    return {**env, "PIAWATCH_DATA_DIR": str(tmp_path / "data")}


def piped_into_a_reader_that_quits(env, *args) -> tuple[int, str]:
    """``piawatch ARGS | true``: the reader is gone before the first line is written."""
    command = " ".join([sys.executable, "-m", "piawatch.cli", *args])
    done = subprocess.run(["bash", "-c", f"{command} 2>{env['ERR']} | true; exit ${{PIPESTATUS[0]}}"],
                          env=env, cwd=PROJECT_ROOT, timeout=120)
    return done.returncode, Path(env["ERR"]).read_text()


@pytest.mark.parametrize("args", [["cities"], ["report", "--format", "json"], ["runs"], ["export", "{out}"]])
def test_output_into_a_closed_pipe_is_not_a_traceback(tmp_path, warehouse, args):
    env = {**environment(tmp_path), "ERR": str(tmp_path / "stderr.txt")}
    code, stderr = piped_into_a_reader_that_quits(env, *[a.format(out=tmp_path / "out") for a in args])
    assert (code, stderr) == (0, "")


def test_report_runs_and_export_read_the_published_copy_while_a_run_writes(tmp_path, warehouse):
    env = environment(tmp_path)
    # another process holds the warehouse for writing, as the loader does during a run
    writer = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys, time; con = duckdb.connect({str(warehouse)!r}); "
                               f"print('open', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        report = subprocess.run([sys.executable, "-m", "piawatch.cli", "report"], env=env, cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=120)
        assert report.returncode == 0, report.stderr
        lines = report.stdout.splitlines()
        assert lines[0] == "PIA Watch run 20261102T170000Z — failed"
        assert lines[1] == "  why                  KeyboardInterrupt: "
        assert any(line.startswith(f"  read from            {warehouse.with_name('piawatch-readonly.duckdb')} "
                                   f"(a run is writing the warehouse") for line in lines)

        runs = subprocess.run([sys.executable, "-m", "piawatch.cli", "runs", "--format", "json"], env=env,
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
        assert [(r["run_id"], r["status"]) for r in json.loads(runs.stdout)] == [
            ("20261102T170000Z", "failed"), ("20261101T170000Z", "partial")]

        export = subprocess.run([sys.executable, "-m", "piawatch.cli", "export", str(tmp_path / "out"), "--format", "csv"],
                                env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
        assert export.returncode == 0, export.stderr
        assert "20261101T170000Z" in (tmp_path / "out" / "runs.csv").read_text(encoding="utf-8-sig")
    finally:
        writer.kill()
        writer.wait()


def test_runs_lists_one_line_per_run_newest_first(tmp_path, warehouse):
    done = subprocess.run([sys.executable, "-m", "piawatch.cli", "runs"], env=environment(tmp_path), cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    first, second = done.stdout.splitlines()
    assert first.startswith("20261102T170000Z") and " failed " in first and first.endswith("KeyboardInterrupt: ")
    assert second.startswith("20261101T170000Z") and " partial " in second
    assert second.endswith("1 of 8 cities and 3 pages or documents failed")
