"""Lake maintenance (load.maintenance, `piawatch maintain`) on a real DuckLake with a PostgreSQL
catalog, after several nights written by the real loader; and its CHECKPOINT on a DuckDB file.

The test nights stage a few rows per table, which DuckLake would keep inline in its catalog
rather than in Parquet files; a national night writes thousands of rows per table, which it never
inlines. So the lake here is told to inline nothing, and each night writes files as a national
night does.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import duckdb
import pytest

from load.backend import open_lake
from load.maintenance import lake_state, maintain
from load.connection import connect
from load.loader import load_run
from tests.load.test_lake import contents
from tests.load.staged_runs import CITIES, build_warehouse, run_2_documents, stage_run

NIGHTS = ("20261125T010000Z", "20261126T010000Z", "20261127T010000Z")


def _state(lake):
    with connect(lake, read_only=True) as con:
        return lake_state(con, lake.lake_data_path)


def _runs_at(lake, snapshot: int) -> int:
    """Rows of `runs` as of ``snapshot`` (time travel)."""
    with connect(lake, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM runs AT (VERSION => {snapshot})").fetchall()[0][0]


def test_maintenance_after_several_nights_merges_expires_and_deletes(lake, tmp_path, caplog):
    con = open_lake(lake)
    con.execute("CALL warehouse.set_option('data_inlining_row_limit', 0)")
    con.close()
    build_warehouse(tmp_path / "data", lake)  # two nights
    with connect(lake, read_only=True) as con:
        (after_two_nights,), = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('warehouse')").fetchall()
    for run_id in NIGHTS:  # three more, with nothing new
        load_run(lake, run_id, stage_run(tmp_path / "data", run_id, run_2_documents(), dead_link_fixed=True),
                 cities=CITIES)
    nights, before = contents(lake), _state(lake)
    assert before.files_on_disk == before.catalog_files > 40  # files for every table and night
    assert _runs_at(lake, after_two_nights) == 2

    # A week of history kept: small files merged; every snapshot, and every file one needs, kept.
    with caplog.at_level(logging.INFO, logger="load.maintenance"):
        week = maintain(lake, keep=timedelta(days=7))
    merged = _state(lake)
    assert contents(lake) == nights
    assert merged.data_files < before.data_files and week["steps"]["tables_merged"] > 0
    assert week["steps"]["snapshots_expired"] == week["steps"]["files_deleted"] == 0
    assert merged.snapshots >= before.snapshots and _runs_at(lake, after_two_nights) == 2
    assert merged.files_on_disk >= before.files_on_disk  # the merged-away files wait out the grace
    assert week["before"] == before.__dict__ and week["after"] == merged.__dict__
    assert f"before: {before.files_on_disk} files on disk" in caplog.text
    assert f"after: {merged.files_on_disk} files on disk" in caplog.text

    # No history kept and no grace: one snapshot, and on disk only the files it reads.
    none = maintain(lake, keep=timedelta(0), grace=timedelta(0))
    after = _state(lake)
    assert contents(lake) == nights
    assert after.snapshots == 1 and none["steps"]["snapshots_expired"] > 20
    with pytest.raises(duckdb.Error, match="snapshot|version|VERSION"):
        _runs_at(lake, after_two_nights)
    assert after.files_on_disk < before.files_on_disk / 2
    assert after.files_on_disk == after.catalog_files == after.data_files + after.delete_files
    assert after.scheduled_for_deletion == 0
    assert none["steps"]["files_deleted"] >= merged.files_on_disk - after.files_on_disk

    # and the pipeline carries on in the maintained lake
    run_id = "20261128T010000Z"
    load_run(lake, run_id, stage_run(tmp_path / "data", run_id, run_2_documents(), dead_link_fixed=True),
             cities=CITIES)
    with connect(lake, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == len(nights["runs"]) + 1


def test_a_duckdb_file_is_checkpointed(tmp_path, caplog):
    db = build_warehouse(tmp_path / "data")
    with duckdb.connect(str(db)) as con:  # leave something in the write-ahead log
        con.execute("SET checkpoint_threshold = '1GB'")
        con.execute("UPDATE municipalities SET name = name")
    before_contents = contents(db)
    wal = db.with_name(db.name + ".wal")
    with caplog.at_level(logging.INFO, logger="load.maintenance"):
        result = maintain(db, keep=timedelta(days=7))
    assert result["backend"] == "duckdb" and result["steps"] == {"checkpoint": 1}
    assert result["after"]["wal_bytes"] == 0 and not (wal.exists() and wal.stat().st_size)
    assert contents(db) == before_contents
    assert "CHECKPOINT" in caplog.text


def test_piawatch_maintain_prints_what_it_did(tmp_path, monkeypatch, capsys):
    from piawatch.cli import main

    db = build_warehouse(tmp_path / "data")
    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(db))
    assert main(["maintain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("DuckDB file: CHECKPOINT") and "before  file" in out and "after   file" in out
    assert main(["maintain", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "duckdb"
