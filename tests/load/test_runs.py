"""The runs table, the findings the latest checked run counts as open, and the single writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.connection import WarehouseBusy, connect
from load.loader import load_run
from load.runs import record_run_start, record_run_step
from tests.load.staged_runs import (CITIES, RUN_1, RUN_2, build_warehouse, run_1_documents, run_2_documents,
                                    stage_run, write_findings)


def test_runs_record_counts_timings_and_status(two_runs):
    with connect(two_runs, read_only=True) as con:
        rows = con.execute("""
            SELECT run_id, status, documents_new, failures_resolved, findings, check_seconds,
                   finished_at >= started_at, loaded_at IS NOT NULL, checked_at IS NOT NULL
            FROM runs ORDER BY started_at""").fetchall()
    assert rows == [(RUN_1, "success", 8, 0, 5, 2.5, True, True, True),
                    (RUN_2, "success", 1, 2, 5, 2.5, True, True, True)]


def test_record_run_step_refuses_unknown_counts(db):
    with connect(db) as con, pytest.raises(ValueError, match="documents_parsed"):
        record_run_step(con, RUN_1, "load", counts={"documents_parsed": 3})


def test_open_findings_are_the_ones_the_latest_checked_run_found(tmp_path):
    db = build_warehouse(tmp_path / "data")
    run_3 = "20261125T010000Z"
    with connect(db) as con:
        record_run_start(con, run_3)
        stale = con.execute("SELECT finding_id FROM findings WHERE rule = 'procedure.stale_full_assessment'").fetchone()[0]
        con.execute("UPDATE findings SET last_seen_run = ? WHERE finding_id <> ?", [run_3, stale])
        record_run_step(con, run_3, "check", seconds=1.0, counts={"findings": 4})
        open_rules = {rule for (rule,) in con.execute("SELECT rule FROM open_findings").fetchall()}
    assert "procedure.stale_full_assessment" not in open_rules
    assert len(open_rules) == 4


def test_without_a_checked_run_the_latest_findings_are_open(tmp_path, db):
    """Until the check step stamps runs.checked_at, the latest run that wrote findings decides."""
    data = tmp_path / "data"
    for run_id, docs in ((RUN_1, run_1_documents()), (RUN_2, run_2_documents())):
        with connect(db) as con:
            record_run_start(con, run_id)
        load_run(db, run_id, stage_run(data, run_id, docs), cities=CITIES)
    with connect(db) as con:
        write_findings(con, RUN_1)
        write_findings(con, RUN_2)
        con.execute("UPDATE findings SET last_seen_run = ? WHERE rule LIKE 'procedure.%'", [RUN_1])
        assert sorted(rule for (rule,) in con.execute("SELECT rule FROM open_findings").fetchall()) == [
            "dates.change_after_publication", "required.missing_field", "threshold.result_mismatch"]


def test_a_second_writer_is_told_the_single_writer_rule(tmp_path, db_file):
    import subprocess
    import sys

    with connect(db_file) as con:
        con.execute("SELECT 1")
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from load.connection import connect; connect(sys.argv[1])", str(db_file)],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert holder.returncode == 1
    assert "WarehouseBusy" in holder.stderr and "single writer" in holder.stderr
    assert WarehouseBusy.code == "warehouse_busy"
