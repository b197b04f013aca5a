"""Copies of the warehouse for readers: Parquet/CSV files, or a whole DuckDB file.

A DuckDB file has one writer and, while it writes, no readers (see ``load.backend``). ``export``
reads through a read-only connection, so on a file it needs the pipeline to be idle (a DuckLake
can be exported at any time, as of its latest commit); it writes one file per
table or view: ``<name>.parquet`` or ``<name>.csv`` (UTF-8, header row; list and JSON columns as
their text form). ``publish_copy`` is for the writer itself: at the end of a run it replaces a
read-only copy of the whole database that analysts can open at any time, even during the next run.
"""

from __future__ import annotations

import os
from pathlib import Path

from piawatch.errors import PiaWatchError

from load.backend import Warehouse, open_lake
from load.warehouse import WarehouseMissing, connect

FORMATS = {"parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER true)"}


def open_read_only(warehouse):
    """A read-only connection; for a DuckDB file it fails with WarehouseBusy while the pipeline writes."""
    return connect(warehouse, read_only=True)


def relations(con) -> list[str]:
    """The warehouse's tables and views, by name."""
    rows = con.execute("""
        SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
        UNION ALL
        SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main'
                                              AND NOT internal
        ORDER BY 1""").fetchall()
    return [name for (name,) in rows]


def export(warehouse, out_dir, fmt: str = "parquet") -> list[Path]:
    """Write one file per table and view to ``out_dir``; return their paths."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with open_read_only(warehouse) as con:
        for name in relations(con):
            target = out / f"{name}.{fmt}"
            con.execute(f'COPY (SELECT * FROM "{name}") TO {_literal(target)} {FORMATS[fmt]}')
            written.append(target)
    return written


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def publish_copy(db_path, target=None) -> Path:
    """Replace ``target`` (default: ``piawatch-readonly.duckdb`` beside the warehouse) with a copy.

    Needs the write lock, so the pipeline calls it after its last write of the run. The copy is
    written beside the target and renamed over it, so a reader never sees half a file; a reader
    that has the old copy open keeps reading the old one.
    """
    source = Path(db_path)
    target = Path(target) if target else source.with_name(f"{source.stem}-readonly.duckdb")
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    with connect(source) as con:
        database = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH {_literal(partial)} AS published_copy")
        try:
            con.execute(f'COPY FROM DATABASE "{database}" TO published_copy')
        finally:
            con.execute("DETACH published_copy")
    os.replace(partial, target)
    return target


class LakeNotEmpty(PiaWatchError):
    code = "lake_not_empty"


def copy_into_lake(db_path, lake: Warehouse) -> None:
    """Copy a DuckDB file warehouse, history and all, into a new, empty DuckLake.

    The way to switch an existing deployment to the lake: afterwards the lake is at the file's
    schema version and the pipeline carries on in it. The file must not be open for writing.
    """
    source = Path(db_path)
    if not source.exists():
        raise WarehouseMissing(f"no warehouse at {source}")
    con = open_lake(lake)
    try:
        if con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()").fetchone()[0]:
            raise LakeNotEmpty(f"the DuckLake {lake} already holds tables; copy into a new one")
        con.execute(f"ATTACH {_literal(source)} AS copied_file (READ_ONLY)")
        con.execute("COPY FROM DATABASE copied_file TO warehouse")
    finally:
        con.close()
