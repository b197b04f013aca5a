"""The DuckLake backend: what only a lake does, and that it holds what a DuckDB file holds.

The loader's own tests (tests/load/test_loader.py) and the data-dictionary queries run on both
backends already. Each test here gets a new lake whose catalog is a database of a private
PostgreSQL (the ``postgres`` fixture), with its Parquet files under the test's tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ground.errors import ConfigError
from ground.settings import Warehouse, warehouse_from
from load.backend import backend_of, open_lake
from load.schema import check_integrity, migrations
from load.connection import WarehouseMissing, WarehouseUnavailable, connect, write_transaction
from load.loader import load_run
from load.runs import record_run_start, record_run_step
from stack.native import free_port
from tests.conftest import PROJECT_ROOT
from tests.load.staged_runs import CITIES, RUN_1, build_warehouse, run_1_documents, stage_run


def test_a_new_lake_is_migrated_and_has_the_views(lake):
    with connect(lake) as con:
        assert backend_of(con) == "ducklake"
        tables = {name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        views = {name for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
        ).fetchall()}
    assert {"documents", "assessments", "findings", "runs", "schema_version"} <= tables
    assert {"latest_assessments", "open_findings", "city_summary"} <= views


def test_reading_a_lake_that_holds_no_warehouse_says_so(lake):
    with pytest.raises(WarehouseMissing, match="holds no warehouse yet"):
        connect(lake, read_only=True)


def test_reading_a_lake_that_was_created_but_never_migrated_says_so(lake):
    open_lake(lake).close()  # the catalog exists now, with no tables in it
    with pytest.raises(WarehouseMissing, match="holds no warehouse yet"):
        connect(lake, read_only=True)


# --- the same warehouse on both backends ------------------------------------------------------------
# Stamped with the loader's clock, so they differ between any two builds.
CLOCK_COLUMNS = {"runs": ("started_at", "finished_at", "loaded_at", "checked_at", "alerted_at",
                          "load_seconds", "check_seconds", "alert_seconds")}


def contents(target) -> dict[str, list]:
    """Every row of every table and view, in one order, the clock's stamps left out."""
    with connect(target, read_only=True) as con:
        relations = [name for (name,) in con.execute("""
            SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()
            UNION ALL
            SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
            ORDER BY 1""").fetchall()]
        state = {}
        for name in relations:
            if name in ("schema_version", "schema_views"):
                continue
            excluded = [c for c in CLOCK_COLUMNS.get(name, ()) if c in _columns(con, name)]
            select = f"* EXCLUDE ({', '.join(excluded)})" if excluded else "*"
            state[name] = con.execute(f"SELECT {select} FROM {name} ORDER BY ALL").fetchall()
        return state


def _columns(con, relation: str) -> list[str]:
    return [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = "
                                      "current_database() AND table_name = ?", [relation]).fetchall()]


def test_two_nights_on_a_lake_hold_exactly_what_they_hold_in_a_duckdb_file(tmp_path, lake):
    in_file = build_warehouse(tmp_path / "file")
    in_lake = build_warehouse(tmp_path / "lake-staging", lake)
    file_state, lake_state = contents(in_file), contents(in_lake)
    assert sorted(file_state) == sorted(lake_state)
    for relation in file_state:
        assert lake_state[relation] == file_state[relation], relation
    assert len(file_state["assessments"]) > 5 and file_state["findings"]


# --- many writers, many readers ------------------------------------------------------------------------
def test_a_writer_whose_commit_conflicts_runs_again_on_the_other_writers_result(lake):
    """Two writers update the same table; the one that commits second is refused and retried."""
    with connect(lake) as first, connect(lake) as second:
        for run_id in ("run-a", "run-b"):
            write_transaction(first, lambda c, run_id=run_id: record_run_start(c, run_id))
        attempts = []

        def count_pages(con):
            attempts.append(con.execute("SELECT pages FROM runs WHERE run_id = 'run-a'").fetchone()[0])
            record_run_step(con, "run-b", "load", counts={"pages": 7})
            if len(attempts) == 1:  # meanwhile the other writer commits a change to the same table
                first.execute("BEGIN TRANSACTION")
                record_run_step(first, "run-a", "load", counts={"pages": 3})
                first.execute("COMMIT")

        write_transaction(second, count_pages)
        assert attempts == [None, 3], "the retry must see what the other writer committed"
        assert second.execute("SELECT run_id, pages FROM runs ORDER BY run_id").fetchall() == [
            ("run-a", 3), ("run-b", 7)]


def test_a_reader_is_never_blocked_and_sees_only_committed_data(tmp_path, lake):
    staged = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    load_run(lake, RUN_1, staged, cities=CITIES)
    with connect(lake) as writer:
        before = writer.execute("SELECT count(*) FROM runs").fetchone()[0]
        writer.execute("BEGIN TRANSACTION")
        record_run_start(writer, "run-in-progress")
        with connect(lake, read_only=True) as reader:  # while the writer's transaction is open
            assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == before
            assert reader.execute("SELECT count(*) FROM latest_assessments").fetchone()[0] > 0
        writer.execute("COMMIT")
    with connect(lake, read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == before + 1


WRITER = """
import sys
from ground.settings import Warehouse
from load.connection import connect, write_transaction
from load.runs import record_run_start, record_run_step
lake = Warehouse(sys.argv[1], __import__("pathlib").Path(sys.argv[2]))
prefix = sys.argv[3]
with connect(lake) as con:
    for i in range(8):
        run_id = f"{prefix}-{i:02d}"
        write_transaction(con, lambda c: record_run_start(c, run_id))
        write_transaction(con, lambda c: record_run_step(c, run_id, "load", counts={"pages": i}))
"""


def test_writers_in_several_processes_at_once_lose_nothing_and_repeat_nothing(lake):
    with connect(lake):
        pass  # migrated once, so that the writers race on the data, not on creating the schema
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, lake.location, str(lake.lake_data_path), prefix],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for prefix in ("alpha", "beta", "gamma")]
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
    with connect(lake, read_only=True) as con:
        rows = con.execute("SELECT run_id, pages FROM runs ORDER BY run_id").fetchall()
        assert check_integrity(con) is None
    assert rows == sorted((f"{prefix}-{i:02d}", i) for prefix in ("alpha", "beta", "gamma") for i in range(8))


# --- configuration and errors ---------------------------------------------------------------------------
def test_the_warehouse_setting_names_a_file_or_a_lake(tmp_path):
    assert warehouse_from({}, tmp_path) == Warehouse(str(tmp_path / "warehouse" / "piawatch.duckdb"))
    assert warehouse_from({"PIAWATCH_WAREHOUSE": str(tmp_path / "w.duckdb")}, tmp_path).backend == "duckdb"
    lake = warehouse_from({"PIAWATCH_WAREHOUSE": "ducklake:postgres:dbname=lake host=db user=piawatch password=s3cret"},
                          tmp_path)
    assert (lake.backend, lake.lake_data_path) == ("ducklake", tmp_path / "lake")
    assert "s3cret" not in str(lake) and "s3cret" not in repr(lake)
    uri = warehouse_from({"PIAWATCH_WAREHOUSE": "ducklake:postgres:postgresql://piawatch:s3cret@db:5432/lake",
                          "PIAWATCH_LAKE_DATA_PATH": "/srv/lake"}, tmp_path)
    assert uri.lake_data_path == Path("/srv/lake") and "s3cret" not in str(uri)
    with pytest.raises(ConfigError, match="needs a catalog"):
        warehouse_from({"PIAWATCH_WAREHOUSE": "ducklake:"}, tmp_path)


def test_migrate_creates_the_catalog_database_then_the_schema(postgres, tmp_path, monkeypatch, capsys):
    from piawatch.cli import main

    location = (f"ducklake:postgres:postgresql://airflow:{postgres.password}@127.0.0.1:{postgres.port}"
                f"/migrated_lake")
    monkeypatch.setenv("PIAWATCH_WAREHOUSE", location)
    monkeypatch.setenv("PIAWATCH_LAKE_DATA_PATH", str(tmp_path / "lake"))
    assert main(["migrate"]) == 0
    first = capsys.readouterr().out
    assert "created the catalog database" in first and f"schema version {migrations()[-1].version} " in first
    assert postgres.password not in first
    assert main(["migrate"]) == 0
    assert "created" not in capsys.readouterr().out


def test_an_unreachable_catalog_is_a_clear_error_without_the_password(tmp_path):
    closed_port = free_port()
    lake = Warehouse(f"ducklake:postgres:dbname=lake host=127.0.0.1 port={closed_port} user=u password=s3cret",
                     tmp_path / "lake")
    with pytest.raises(WarehouseUnavailable, match="cannot open the DuckLake") as caught:
        connect(lake)
    assert "s3cret" not in str(caught.value)


def test_a_lake_with_a_duckdb_file_catalog_works_on_one_machine(tmp_path):
    lake = Warehouse(f"ducklake:{tmp_path / 'catalog.ducklake'}", tmp_path / "lake")
    build_warehouse(tmp_path / "data", lake)
    with connect(lake, read_only=True) as con:
        assert backend_of(con) == "ducklake"
        assert con.execute("SELECT count(*) FROM open_findings").fetchone()[0] > 0


def test_migrate_copies_a_file_warehouse_into_a_new_lake(tmp_path, postgres, monkeypatch, capsys):
    from piawatch.cli import main

    in_file = build_warehouse(tmp_path / "file")
    lake = postgres.new_lake(tmp_path / "lake")
    monkeypatch.setenv("PIAWATCH_WAREHOUSE", lake.location)
    monkeypatch.setenv("PIAWATCH_LAKE_DATA_PATH", str(lake.lake_data_path))
    assert main(["migrate", "--copy-from", str(in_file)]) == 0
    assert contents(lake) == contents(in_file)
    assert main(["migrate", "--copy-from", str(in_file)]) == 1
    assert "already holds tables" in capsys.readouterr().err
    with connect(lake) as con:  # and the pipeline carries on in the lake
        write_transaction(con, lambda c: record_run_start(c, "20261125T010000Z"))
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
