"""Readers of a DuckLake (PostgreSQL catalog) while the night's maintenance runs.

DuckLake keeps small inserts inline, in one catalog table per table and schema version. After a
table's schema changed (the migrations of a new lake do that), ``ducklake_flush_inlined_data``
drops the table's older, emptied inline tables as soon as it commits. A reader that listed one
then fails: ``ducklake_inlined_data_<t>_<v> does not exist``, after which every statement of its
transaction reports ``Failed to get data file list from DuckLake: Current transaction is aborted``
(what the stack's analyst saw) or its DuckDB dies of a FATAL error, and its connection keeps
failing until it reconnects (duckdb/ducklake#1305, #1413). Maintenance takes those tables out of
DuckLake's list first and drops them only after the grace period; the test holds a reader, in
its own process, across it.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta

from load.connection import connect
from load.maintenance import INLINE_TABLES, METADATA, maintain
from tests.load.staged_runs import build_warehouse

READ = "SELECT count(*) FROM latest_assessments"


def _read(con):
    try:
        return con.execute(READ).fetchall()[0][0]
    except Exception as exc:  # the test reports what failed
        return f"{type(exc).__name__}: {exc}"


def _reader(warehouse, pipe) -> None:
    """An analyst's connection, in a process of its own: a query in a transaction begun before
    maintenance, then the same connection used again after it."""
    with connect(warehouse, read_only=True) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("SELECT count(*) FROM runs").fetchall()  # the transaction's catalog is read here
        pipe.send("reading")
        pipe.recv()  # maintenance has run
        in_that_transaction = _read(con)
        con.execute("ROLLBACK")
        pipe.send([in_that_transaction, _read(con)])


def _answer(pipe, process, timeout: float = 120.0):
    """The reader's next message; an assertion naming its exit code if it died instead."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.5):
        assert process.is_alive(), f"the reader process died (exit code {process.exitcode})"
        assert time.monotonic() < deadline, "the reader did not answer"
    return pipe.recv()


def _inline_tables(warehouse) -> tuple[set[str], set[str]]:
    """Inline tables DuckLake lists, and those that exist in the catalog's database."""
    with connect(warehouse) as con:
        listed = {name for (name,) in con.execute(f"SELECT table_name FROM {INLINE_TABLES}").fetchall()}
        existing = {name for (name,) in con.execute(
            "SELECT * FROM postgres_query(?, 'SELECT tablename FROM pg_tables "
            "WHERE tablename ~ ''^ducklake_inlined_data_[0-9]+_[0-9]+$''')", [METADATA]).fetchall()}
    return listed, existing


def test_a_reader_across_maintenance_reads_on_until_the_grace_is_over(lake, tmp_path):
    build_warehouse(tmp_path / "data", lake)  # a new lake (migrated) and two nights, inline as small nights are
    with connect(lake, read_only=True) as con:
        expected = con.execute(READ).fetchall()[0][0]
    listed_before, existing_before = _inline_tables(lake)
    assert expected > 0 and listed_before == existing_before

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    reader = context.Process(target=_reader, args=(lake, theirs))
    reader.start()
    try:
        assert _answer(ours, reader) == "reading"
        night = maintain(lake, keep=timedelta(days=7))
        ours.send("maintained")
        read = _answer(ours, reader)
    finally:
        reader.join(60)
    # Without the retirement, the flush dropped the older inline tables of `assessments` under the
    # reader: "Failed to get partition information from DuckLake: Current transaction is aborted",
    # or the reader's DuckDB died of a FATAL error ("Attempted to access index 0 within vector of size 0").
    assert read == [expected, expected]
    assert night["steps"]["inline_tables_retired"] > 0 and night["steps"]["inline_tables_dropped"] == 0
    assert night["steps"]["inlined_tables_flushed"] > 0
    listed, existing = _inline_tables(lake)
    assert len(existing - listed) == night["steps"]["inline_tables_retired"]  # unlisted, still there

    # A reader that starts now reads the lake as it is; the next maintenance after the grace drops them.
    with connect(lake, read_only=True) as con:
        assert con.execute(READ).fetchall()[0][0] == expected
    later = maintain(lake, keep=timedelta(days=7), grace=timedelta(0))
    assert later["steps"]["inline_tables_dropped"] == night["steps"]["inline_tables_retired"]
    assert later["steps"]["inline_tables_retired"] == 0
    listed, existing = _inline_tables(lake)
    assert listed == existing
    with connect(lake, read_only=True) as con:
        assert con.execute(READ).fetchall()[0][0] == expected
