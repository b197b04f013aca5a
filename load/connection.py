"""Opening the warehouse, and the one way to write it: a transaction checked before it commits.

Single-writer rule: DuckDB lets one process hold the database file for writing, and while it
does no other process can open the file at all, not even read-only. In PIA Watch the writer is
the pipeline (``load.loader.load_run``, then the check and alert steps, one after another).
Analysts read an export (``piawatch export``, ``load.export.export``), the copy the pipeline
publishes after each run (``load.export.publish_copy``), or open it with
``connect(path, read_only=True)`` while the pipeline is idle. Trying to open a file another
process holds raises ``WarehouseBusy``. A DuckLake takes readers and writers from many processes;
a write that collides with another is run again (``write_transaction``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ground.errors import PiaWatchError
from ground.settings import Warehouse, as_warehouse, mask_passwords
from load.backend import in_transaction, open_lake, retrying_conflicts
from load.schema import apply_migrations, check_integrity
from load.views import create_views


class WarehouseBusy(PiaWatchError):
    """Another process holds the warehouse file (DuckDB allows one writer and then no readers)."""

    code = "warehouse_busy"


class WarehouseMissing(PiaWatchError):
    code = "warehouse_missing"


class WarehouseUnavailable(PiaWatchError):
    """The DuckLake's catalog cannot be reached or read."""

    code = "warehouse_unavailable"


def connect(target, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (a ``Warehouse``, or a DuckDB file's path).

    A write connection first brings the schema and views up to date.
    """
    warehouse = as_warehouse(target)
    con = _open_lake(warehouse, read_only) if warehouse.is_lake else _open_file(warehouse.path, read_only)
    if not read_only:
        try:
            retrying_conflicts(lambda: (apply_migrations(con), create_views(con)),
                               describe=f"migrating {warehouse}")
        except Exception:
            con.close()
            raise
    return con


def _open_file(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise WarehouseMissing(f"no warehouse at {path}: run the pipeline (piawatch run) first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(f"{path} is open for writing by another process (DuckDB has a single "
                                f"writer); read an export or a copy, or wait for the pipeline") from exc
        raise


def _open_lake(warehouse: Warehouse, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = open_lake(warehouse, read_only)
    except duckdb.Error as exc:
        if read_only and "does not exist" in str(exc):
            raise WarehouseMissing(f"the DuckLake {warehouse} holds no warehouse yet: run the pipeline first") from None
        raise WarehouseUnavailable(f"cannot open the DuckLake {warehouse}: {mask_passwords(str(exc))}") from None
    if read_only and not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                     "AND table_name = 'schema_version'").fetchone()[0]:
        con.close()
        raise WarehouseMissing(f"the DuckLake {warehouse} holds no warehouse yet: run the pipeline first")
    return con


def write_transaction(con, work, *, describe: str = "write"):
    """``work(con)`` in one transaction that commits only if the warehouse keeps its integrity.

    ``check_integrity`` (keys and allowed values, which DuckLake cannot declare) runs before the
    COMMIT. On a DuckLake, a COMMIT refused because another writer changed the same table first
    is run again from the start, on the other writer's result.
    """
    return retrying_conflicts(lambda: in_transaction(con, work, before_commit=check_integrity),
                              describe=describe)
