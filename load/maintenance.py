"""Keeping the warehouse small and quick after a night's writes (``piawatch maintain``, the DAG's
last task).

A DuckLake never deletes a Parquet file by itself: every write transaction adds small files (a
MERGE adds a delete file beside each data file it changes), and every snapshot keeps the files
it saw readable for time travel. Night after night that is thousands of small files and a
catalog that lists every one. Maintenance runs DuckLake's own functions, compaction first so
that one pass leaves the lake as small as the settings allow:

1. ``ducklake_flush_inlined_data``: rows the catalog holds inline (small inserts) into Parquet.
   Inline rows live in one catalog table per table and schema version; once a table's schema
   changed (a migration), the flush drops that table's older, emptied ones right after it commits,
   not after a grace like files, and a reader that listed such a table an instant before then
   fails (``... ducklake_inlined_data_<table>_<version> does not exist``, and every later
   statement of its transaction ``Current transaction is aborted``; a connection that had read the
   table keeps failing until it reconnects: duckdb/ducklake#1305, #1413). So maintenance first
   takes the older inline tables that are already empty out of DuckLake's list itself, and drops
   them only once they have been unlisted for the grace below (``retire_superseded_inline_tables``,
   ``drop_retired_inline_tables``). One that still holds rows is flushed and dropped by DuckLake:
   that happens once per migration that changes a table holding inline rows;
2. ``ducklake_merge_adjacent_files``: a table's small data files merged into larger ones;
3. ``ducklake_rewrite_data_files``: data files with many deleted rows rewritten without them
   (the warehouse upserts with MERGE, which adds a delete file beside each data file it changes;
   a file with deletes is not merged until it is rewritten);
4. ``ducklake_expire_snapshots``: snapshots older than the configured age are forgotten, so time
   travel reaches back that far and no further (the latest snapshot is always kept), and the
   files only they needed are given up;
5. ``ducklake_cleanup_old_files``: files given up (by expiry, or replaced by a merge) deleted from
   disk once they have been unneeded for ``CLEANUP_GRACE``, so a query that started before still
   finds them: what one night's maintenance gives up, the next night's deletes.

It logs the files on disk and in the catalog, and the snapshots, before and after.

A DuckDB file has no snapshots or side files: its maintenance is a CHECKPOINT (the write-ahead
log written into the file, freed blocks made reusable; the file itself never shrinks).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ground.settings import as_warehouse
from load.backend import LAKE_ALIAS, in_transaction, retrying_conflicts
from load.connection import connect
from load.sql import identifier

log = logging.getLogger(__name__)

# How long a file no snapshot needs stays on disk: longer than any query of the warehouse runs.
CLEANUP_GRACE = timedelta(hours=1)

# The catalog's own tables (DuckLake's specification), in the schema DuckLake attaches them as.
METADATA = f"__ducklake_metadata_{LAKE_ALIAS}"
INLINE_TABLES = f"{METADATA}.ducklake_inlined_data_tables"  # table_id, table_name, schema_version
# Ours, beside them: the older inline tables taken out of that list, and when, until they are dropped.
RETIRED_INLINE_TABLES = f"{METADATA}.piawatch_retired_inline_tables"


@dataclass(frozen=True)
class LakeState:
    """What maintenance is about: files on disk, files the catalog lists, snapshots."""

    files_on_disk: int
    bytes_on_disk: int
    data_files: int  # data files the latest snapshot reads
    delete_files: int  # delete files the latest snapshot applies
    catalog_files: int  # every data and delete file the catalog lists, for any snapshot
    scheduled_for_deletion: int
    snapshots: int

    def line(self) -> str:
        return (f"{self.files_on_disk} files on disk ({self.bytes_on_disk / 2**20:.1f} MiB), catalog: "
                f"{self.data_files} data + {self.delete_files} delete files current, {self.catalog_files} "
                f"listed in all, {self.scheduled_for_deletion} awaiting deletion; {self.snapshots} snapshots")


@dataclass(frozen=True)
class FileState:
    """A DuckDB file's size and its write-ahead log's."""

    file_bytes: int
    wal_bytes: int

    def line(self) -> str:
        return f"file {self.file_bytes / 2**20:.1f} MiB, write-ahead log {self.wal_bytes / 2**20:.1f} MiB"


def _files_under(directory: Path | None) -> tuple[int, int]:
    count = size = 0
    if directory is not None and directory.is_dir():
        for root, _, names in os.walk(directory):
            for name in names:
                count += 1
                size += os.stat(os.path.join(root, name)).st_size
    return count, size


def lake_state(con, data_path: Path | None) -> LakeState:
    """Count the lake's files (on disk under ``data_path`` and in the catalog) and snapshots."""
    on_disk, size = _files_under(data_path)
    (current_data, current_deletes, listed, scheduled, snapshots), = con.execute(f"""
        SELECT (SELECT count(*) FROM {METADATA}.ducklake_data_file WHERE end_snapshot IS NULL),
               (SELECT count(*) FROM {METADATA}.ducklake_delete_file WHERE end_snapshot IS NULL),
               (SELECT count(*) FROM {METADATA}.ducklake_data_file)
                 + (SELECT count(*) FROM {METADATA}.ducklake_delete_file),
               (SELECT count(*) FROM {METADATA}.ducklake_files_scheduled_for_deletion),
               (SELECT count(*) FROM {METADATA}.ducklake_snapshot)""").fetchall()
    return LakeState(on_disk, size, current_data, current_deletes, listed, scheduled, snapshots)


def _call(con, sql: str, parameters: list | None = None) -> list:
    """One maintenance function, run again if a writer committed to the same table meanwhile."""
    return retrying_conflicts(lambda: con.execute(sql, parameters or []).fetchall(),
                              describe=sql.split("(")[0].replace("CALL ", ""))


def retire_superseded_inline_tables(con) -> list[str]:
    """Take the empty inline tables of a table's older schema versions out of DuckLake's list, and
    note when: DuckLake would drop them at the next flush, under readers that listed them. A reader
    that starts later no longer lists them; one that listed them still finds them (until
    ``drop_retired_inline_tables``). Writers only insert into a table's newest inline table, so an
    older one that is empty stays empty. The names retired."""
    superseded = [name for (name,) in con.execute(f"""
        SELECT table_name FROM {INLINE_TABLES} t
        WHERE schema_version < (SELECT max(schema_version) FROM {INLINE_TABLES} n WHERE n.table_id = t.table_id)
        ORDER BY table_name""").fetchall()]
    empty = [name for name in superseded
             if not con.execute(f"SELECT count(*) FROM {METADATA}.{identifier(name)}").fetchall()[0][0]]
    if empty:
        def retire(c):
            c.executemany(f"INSERT INTO {RETIRED_INLINE_TABLES} VALUES (?, now())", [[name] for name in empty])
            c.execute(f"DELETE FROM {INLINE_TABLES} WHERE table_name IN (SELECT unnest(?))", [empty])
        in_transaction(con, retire)
    return empty


def drop_retired_inline_tables(con, *, grace: timedelta) -> list[str]:
    """Drop the inline tables retired at least ``grace`` ago (no reader started since lists them).
    The names dropped."""
    due = [name for (name,) in con.execute(
        f"SELECT DISTINCT table_name FROM {RETIRED_INLINE_TABLES} WHERE retired_at <= ? ORDER BY 1",
        [datetime.now(timezone.utc) - grace]).fetchall()]
    if due:
        def drop(c):
            for name in due:
                c.execute(f"DROP TABLE IF EXISTS {METADATA}.{identifier(name)}")
            c.execute(f"DELETE FROM {RETIRED_INLINE_TABLES} WHERE table_name IN (SELECT unnest(?))", [due])
        in_transaction(con, drop)
    return due


def maintain_lake(con, data_path: Path | None, *, keep: timedelta, grace: timedelta = CLEANUP_GRACE) -> dict:
    """Run the maintenance functions on the attached lake: snapshots older than ``keep`` expired,
    files unneeded for ``grace`` deleted. The counts before and after, and what each step did."""
    def ago(age: timedelta) -> datetime:
        return datetime.now(timezone.utc) - age

    before = lake_state(con, data_path)
    con.execute(f"CREATE TABLE IF NOT EXISTS {RETIRED_INLINE_TABLES} (table_name VARCHAR, retired_at TIMESTAMPTZ)")
    log.info("lake maintenance (snapshots older than %s expired, files unneeded for %s deleted): before: %s",
             keep, grace, before.line())
    lake = f"'{LAKE_ALIAS}'"
    steps = {
        "inline_tables_retired": len(retire_superseded_inline_tables(con)),
        "inlined_tables_flushed": len(_call(con, f"CALL ducklake_flush_inlined_data({lake})")),
        "tables_merged": len(_call(con, f"CALL ducklake_merge_adjacent_files({lake})")),
        "tables_rewritten": len(_call(con, f"CALL ducklake_rewrite_data_files({lake})")),
        "snapshots_expired": len(_call(con, f"CALL ducklake_expire_snapshots({lake}, older_than => ?)", [ago(keep)])),
        "files_deleted": len(_call(con, f"CALL ducklake_cleanup_old_files({lake}, older_than => ?)", [ago(grace)])),
        "inline_tables_dropped": len(drop_retired_inline_tables(con, grace=grace)),
    }
    after = lake_state(con, data_path)
    log.info("lake maintenance: after: %s (%s)", after.line(), ", ".join(f"{k} {v}" for k, v in steps.items()))
    return {"backend": "ducklake", "keep_seconds": keep.total_seconds(), "grace_seconds": grace.total_seconds(),
            "before": asdict(before),
            "after": asdict(after), "steps": steps}


def file_state(path: Path) -> FileState:
    wal = path.with_name(path.name + ".wal")
    return FileState(path.stat().st_size if path.exists() else 0, wal.stat().st_size if wal.exists() else 0)


def maintain_file(con, path: Path) -> dict:
    """CHECKPOINT a DuckDB file: all a file needs (no snapshots to expire, no side files)."""
    before = file_state(path)
    con.execute("CHECKPOINT")
    after = file_state(path)
    log.info("DuckDB file maintenance: CHECKPOINT (a DuckDB file keeps no snapshots or old files to "
             "expire): before: %s; after: %s", before.line(), after.line())
    return {"backend": "duckdb", "before": asdict(before), "after": asdict(after), "steps": {"checkpoint": 1}}


def maintain(warehouse, *, keep: timedelta, grace: timedelta = CLEANUP_GRACE) -> dict:
    """Maintain the warehouse (a ``Warehouse`` or a DuckDB file's path): ``maintain_lake`` or
    ``maintain_file``. ``keep``: how long snapshots are kept; ``grace``: how long unneeded files."""
    warehouse = as_warehouse(warehouse)
    with connect(warehouse) as con:
        if warehouse.is_lake:
            return maintain_lake(con, warehouse.lake_data_path, keep=keep, grace=grace)
        return maintain_file(con, warehouse.path)


def summary(result: dict) -> str:
    """The maintenance result in a few lines, for the CLI and the task log."""
    if result["backend"] == "duckdb":
        return (f"DuckDB file: CHECKPOINT (no snapshots or old files to expire)\n"
                f"  before  {FileState(**result['before']).line()}\n"
                f"  after   {FileState(**result['after']).line()}")
    steps = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in result["steps"].items())
    return (f"DuckLake: snapshots older than {timedelta(seconds=result['keep_seconds'])} expired, files unneeded for "
            f"{timedelta(seconds=result['grace_seconds'])} deleted\n"
            f"  before  {LakeState(**result['before']).line()}\n"
            f"  after   {LakeState(**result['after']).line()}\n"
            f"  steps   {steps}")
