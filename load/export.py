"""Copies of the warehouse for readers: Parquet, CSV or Excel files, or a whole DuckDB file.

A DuckDB file has one writer and, while it writes, no readers (see ``load.backend``). ``export``
reads through a read-only connection, so on a file it needs the pipeline to be idle (a DuckLake
can be exported at any time, as of its latest commit); it writes one file per table or view,
shaped for the tool people open it with:

- ``<name>.parquet``: the columns' own types (lists as lists), readable by pandas/pyarrow, R, DuckDB;
- ``<name>.csv``: UTF-8 with a byte-order mark by default (Excel otherwise reads Japanese as
  mojibake), a header row, every text column quoted so codes keep their leading zeros
  (``"072044"``), list and JSON columns as JSON text, dates ISO;
- ``<name>.xlsx``: one sheet, through DuckDB's ``excel`` extension (loaded from its wheel);
  lists as JSON text, points in time in UTC.

``publish_copy`` is for the writer itself: at the end of a run it replaces a read-only copy of the
whole database that analysts can open at any time, even during the next run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ground.errors import PiaWatchError

from ground.settings import Warehouse
from load.backend import excel_extension_file, open_lake
from load.connection import WarehouseMissing, connect
from load.sql import identifier, literal

FORMATS = ("parquet", "csv", "xlsx")
UTF8_BOM = b"\xef\xbb\xbf"


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


def _columns(con, name: str) -> list[tuple[str, str]]:
    return con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {identifier(name)})").fetchall()


def _flat_select(con, name: str) -> tuple[str, list[str]]:
    """SELECT of ``name`` with lists, structs and JSON as JSON text and points in time in UTC
    (what a CSV or a spreadsheet cell can hold); and the names of its text columns."""
    expressions, text = [], []
    for column, data_type in _columns(con, name):
        quoted = identifier(column)
        if data_type.endswith("]") or data_type.startswith(("STRUCT", "MAP")) or data_type == "JSON":
            expressions.append(f"CAST(to_json({quoted}) AS VARCHAR) AS {quoted}")
            text.append(column)
        elif data_type == "TIMESTAMP WITH TIME ZONE":
            expressions.append(f"timezone('UTC', {quoted}) AS {quoted}")
        else:
            expressions.append(quoted)
            if data_type == "VARCHAR":
                text.append(column)
    return f'SELECT {", ".join(expressions)} FROM {identifier(name)}', text


def _write_csv(con, name: str, target: Path, bom: bool) -> None:
    select, text = _flat_select(con, name)
    quote = f", FORCE_QUOTE ({', '.join(identifier(c) for c in text)})" if text else ""
    plain = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    con.execute(f"COPY ({select}) TO {literal(plain)} (FORMAT csv, HEADER true{quote})")
    if not bom:
        os.replace(plain, target)
        return
    with open(target, "wb") as out, open(plain, "rb") as written:
        out.write(UTF8_BOM)
        shutil.copyfileobj(written, out)
    plain.unlink()


def export(warehouse, out_dir, fmt: str = "parquet", *, bom: bool = True) -> list[Path]:
    """Write one file per table and view to ``out_dir``; return their paths.

    ``bom`` (CSV only): start each file with the UTF-8 byte-order mark.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with open_read_only(warehouse) as con:
        if fmt == "xlsx":
            con.execute(f"LOAD {literal(excel_extension_file())}")
        for name in relations(con):
            target = out / f"{name}.{fmt}"
            if fmt == "csv":
                _write_csv(con, name, target, bom)
            elif fmt == "xlsx":
                con.execute(f"COPY ({_flat_select(con, name)[0]}) TO {literal(target)} "
                            f"(FORMAT xlsx, HEADER true, SHEET {literal(name[:31])})")
            else:
                con.execute(f"COPY (SELECT * FROM {identifier(name)}) TO {literal(target)} (FORMAT parquet)")
            written.append(target)
    return written


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
        con.execute(f"ATTACH {literal(partial)} AS published_copy")
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
        con.execute(f"ATTACH {literal(source)} AS copied_file (READ_ONLY)")
        con.execute("COPY FROM DATABASE copied_file TO warehouse")
    finally:
        con.close()
