"""Where the warehouse lives: a DuckDB file (the default) or a DuckLake.

``PIAWATCH_WAREHOUSE`` is either the path of a DuckDB file or a DuckLake in DuckDB's own ATTACH
syntax:

- ``ducklake:postgres:dbname=piawatch_lake host=db.internal user=piawatch`` (or
  ``ducklake:postgres:postgresql://piawatch:…@db.internal:5432/piawatch_lake``) keeps the catalog
  in PostgreSQL (libpq settings; the password may also come from ``PGPASSWORD`` or ``~/.pgpass``):
  the distributed backend, for workers on several hosts;
- ``ducklake:/srv/piawatch/catalog.ducklake`` keeps it in a DuckDB file: a lake on one machine.

A lake stores its tables as Parquet files under ``PIAWATCH_LAKE_DATA_PATH`` (default
``<data dir>/lake/``), a directory every writer must reach.

They differ in who may open them. A DuckDB file has one writing process and, meanwhile, no reader.
A lake with a PostgreSQL catalog takes readers and writers from many processes at once, each
transaction a snapshot: a reader never waits, and writers never wait for each other either;
two transactions that changed the same table find out at COMMIT, where the second one fails
and is run again (``load.connection.write_transaction``).

The ``ducklake`` and ``postgres`` extensions come from their PyPI wheels
(``duckdb-extension-ducklake``/``-postgres``), built for exactly the pinned DuckDB release;
DuckDB cannot download extensions at run time on machines without internet access.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import tempfile
import time
from pathlib import Path

import duckdb

from ground.errors import ConfigError
from ground.settings import LAKE_PREFIX, Warehouse
from load.sql import literal

log = logging.getLogger(__name__)

# The name a connection gives an attached lake; queries name no database, so it never shows.
LAKE_ALIAS = "warehouse"


def _extension_file(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the DuckLake backend needs the {package.replace('_', '-')} package "
                          f"(pip install {package.replace('_', '-')}=={duckdb.__version__})")
    found = sorted((Path(spec.origin).parent / "extensions").rglob(f"{name}.duckdb_extension"))
    if not found:
        raise ConfigError(f"{package} holds no {name}.duckdb_extension")
    return found[-1]


def lake_extension_files() -> list[Path]:
    """The extension files to LOAD, in order: postgres first, then ducklake.

    DuckDB finds an extension's entry point from its file name, and the postgres extension's is
    ``postgres_scanner``, so it is loaded through a link of that name.
    """
    links = Path(tempfile.gettempdir()) / f"piawatch-duckdb-{duckdb.__version__}-{os.getuid()}"
    links.mkdir(mode=0o700, exist_ok=True)
    postgres = links / "postgres_scanner.duckdb_extension"
    target = _extension_file("duckdb_extension_postgres", "postgres")
    if not postgres.exists() or postgres.resolve() != target.resolve():
        partial = links / f".postgres_scanner.{os.getpid()}"
        partial.unlink(missing_ok=True)
        partial.symlink_to(target)
        os.replace(partial, postgres)
    return [postgres, _extension_file("duckdb_extension_ducklake", "ducklake")]


def excel_extension_file() -> Path:
    """The ``excel`` extension (xlsx export), from its wheel like the lake's extensions."""
    return _extension_file("duckdb_extension_excel", "excel")


def open_lake(warehouse: Warehouse, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached and in use."""
    con = duckdb.connect()
    try:
        for extension in lake_extension_files():
            con.execute(f"LOAD {literal(str(extension))}")
        options = [f"DATA_PATH {literal(str(warehouse.lake_data_path) + os.sep)}"]
        if read_only:
            options.append("READ_ONLY")
        else:
            warehouse.lake_data_path.mkdir(parents=True, exist_ok=True)
        con.execute(f"ATTACH {literal(warehouse.location)} AS {LAKE_ALIAS} ({', '.join(options)})")
        con.execute(f"USE {LAKE_ALIAS}")
    except Exception:
        con.close()
        raise
    return con


POSTGRES_CATALOG = LAKE_PREFIX + "postgres:"


def create_catalog_database(warehouse: Warehouse) -> bool:
    """Create the PostgreSQL database a ``ducklake:postgres:`` catalog names, if it is missing.

    DuckLake creates its own tables in that database, but not the database. True when created.
    """
    if not warehouse.location.startswith(POSTGRES_CATALOG):
        return False
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import parse_dsn

    settings = parse_dsn(warehouse.location[len(POSTGRES_CATALOG):])
    name = settings.pop("dbname", None)
    if not name:
        raise ConfigError(f"{warehouse}: the catalog needs a dbname")
    try:
        connection = psycopg2.connect(**settings, dbname="postgres")
    except psycopg2.Error as exc:
        raise ConfigError(f"cannot reach the catalog's PostgreSQL for {warehouse}: "
                          f"{mask_passwords(str(exc)).strip()}") from None
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def backend_of(con) -> str:
    """'ducklake' or 'duckdb': what the connection's current database is."""
    return con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]


def is_write_conflict(exc: BaseException) -> bool:
    """A DuckLake COMMIT refused because another transaction changed the same table first."""
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def in_transaction(con, work, *, before_commit=None):
    """``work(con)`` in one transaction: committed whole (after ``before_commit(con)``) or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        result = work(con)
        if before_commit is not None:
            before_commit(con)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # a COMMIT that failed has already rolled the transaction back
        raise
    return result


# How long a writer keeps trying after conflicts before it gives up (a nightly load can wait).
CONFLICT_PATIENCE_S = 180.0
CONFLICT_WAIT_CAP_S = 4.0


def retrying_conflicts(run, *, patience: float = CONFLICT_PATIENCE_S, describe: str = "write"):
    """``run()``, run again after a DuckLake write conflict (another writer committed first).

    Each attempt starts a new transaction, so it sees what the other writer committed. Every
    round of colliding writers lets one of them commit, so all get through; the waits grow (up
    to a few seconds) and are random so that they spread out, and after ``patience`` seconds of
    conflicts the last one is raised.
    """
    deadline = time.monotonic() + patience
    attempt = 0
    while True:
        attempt += 1
        try:
            return run()
        except Exception as exc:
            if not is_write_conflict(exc) or time.monotonic() > deadline:
                raise
            log.info("%s: another writer committed first; trying again (attempt %d)", describe, attempt + 1)
            time.sleep(random.uniform(0, min(CONFLICT_WAIT_CAP_S, 0.25 * 2 ** attempt)))
