"""Writing many rows at once: rows go to DuckDB as an Arrow table, then one INSERT or MERGE reads it.

DuckDB binds a statement's parameters one value at a time, so a country's staged run written
as ``VALUES (?, …)`` statements spent most of its time there (tools/bench_load.py: about 10 ms an
assessment with its child rows). An Arrow table registered on the connection is read by the
engine as a table, column by column, on both backends, and inside the caller's transaction.
"""

from __future__ import annotations

import itertools
import re

import pyarrow as pa

from load.schema import KEYS

# Names registered on a connection for the duration of one statement.
_names = itertools.count()


_ARROW_TYPES = {"VARCHAR": pa.string(), "JSON": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
                "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "DOUBLE": pa.float64(),
                "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC")}


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type a column of ``sql_type`` is written from (DuckDB reads JSON from text)."""
    if sql_type.endswith("[]"):
        return pa.list_(arrow_type(sql_type[:-2]))
    return _ARROW_TYPES[sql_type]


def column_types(con, table: str) -> dict[str, pa.DataType]:
    """The Arrow type of each of ``table``'s columns, read from the warehouse: Arrow told the type
    converts a column of Python values many times faster than when it has to infer it."""
    return {name: arrow_type(sql_type) for name, sql_type in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ?", [table]).fetchall()}


def arrow_table(columns: tuple[str, ...], rows: list, types: dict[str, pa.DataType]) -> pa.Table:
    """``rows`` (tuples in ``columns`` order) as an Arrow table of the ``types`` given."""
    # zip(*rows) turns the rows into columns in C; indexing each row per column is a Python step per value.
    return pa.table({column: pa.array(values, types[column]) for column, values in zip(columns, zip(*rows))})


class Registered:
    """``with Registered(con, table) as name:`` the Arrow table queryable as ``name``."""

    def __init__(self, con, table: pa.Table):
        self.con, self.table, self.name = con, table, f"staged_rows_{next(_names)}"

    def __enter__(self) -> str:
        self.con.register(self.name, self.table)
        return self.name

    def __exit__(self, *exc) -> None:
        self.con.unregister(self.name)


def insert_rows(con, table: str, columns: tuple[str, ...], rows: list) -> None:
    """Append ``rows`` to ``table`` in one statement (keys are the caller's to keep distinct)."""
    if not rows:
        return
    with Registered(con, arrow_table(columns, rows, column_types(con, table))) as staged:
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {staged}")


def merge_rows(con, table: str, columns: tuple[str, ...], rows: list, *, update: str | None) -> None:
    """Upsert ``rows`` (tuples in ``columns`` order) on the table's key (``load.schema.KEYS``).

    A new key is inserted; a key already there gets ``update``, a SET list that reads the new
    values as ``staged.<column>`` and the old ones as ``<table>.<column>`` (None: left as it is).
    MERGE rather than INSERT … ON CONFLICT, because DuckLake tables have no key constraints.
    MERGE refuses a key that appears twice in its source: staged rows are de-duplicated first.
    """
    if not rows:
        return
    on = " AND ".join(f"{table}.{column} = staged.{column}" for column in KEYS[table])
    when_matched = f"WHEN MATCHED THEN UPDATE SET {update} " if update else ""
    with Registered(con, arrow_table(columns, rows, column_types(con, table))) as source:
        con.execute(f"""
            MERGE INTO {table} USING {source} AS staged ON {on}
            {when_matched}WHEN NOT MATCHED THEN INSERT ({', '.join(columns)})
                VALUES ({', '.join(f'staged.{column}' for column in columns)})""")


def update_rows(con, table: str, columns: tuple[str, ...], rows: list) -> None:
    """Set the non-key ``columns`` of the rows whose key (``KEYS[table]``, leading ``columns``) is given."""
    if not rows:
        return
    key = KEYS[table]
    sets = ", ".join(f"{column} = staged.{column}" for column in columns if column not in key)
    match = " AND ".join(f"{table}.{column} = staged.{column}" for column in key)
    with Registered(con, arrow_table(columns, rows, column_types(con, table))) as source:
        con.execute(f"UPDATE {table} SET {sets} FROM {source} AS staged WHERE {match}")


_ONE_ROW = re.compile(r"VALUES\s*(\([^()]*\))")
_ROWS_PER_STATEMENT = 500


def execute_many(con, sql: str, rows: list) -> None:
    """Run a statement written for one ``VALUES (…)`` row on many rows, a few hundred at a time.

    For statements that are not a plain insert or upsert (the alert ledger's); DuckDB's
    executemany runs the statement once per row, one multi-row VALUES list is one statement.
    """
    match = _ONE_ROW.search(sql)
    if match is None:
        raise ValueError(f"no VALUES (…) row to repeat in: {sql}")
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start:start + _ROWS_PER_STATEMENT]
        values = ", ".join([match.group(1)] * len(chunk))
        statement = sql[:match.start(1)] + values + sql[match.end(1):]
        con.execute(statement, [value for row in chunk for value in row])
