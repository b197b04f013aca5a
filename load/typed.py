"""The typed staged file: a staged record as the warehouse's row, in Arrow (docs/architecture.md).

``staging/<run_id>/parse/<sha256>.arrows``, an Arrow IPC stream, sits beside the record's JSON: one
row holding the document's provenance (sha256, parser_version, url), the ``assessments`` values of
``ground.rows.record_rows`` (checked and typed there), the document's number of pages, and one
``list<struct>`` column per child table (``table_<name>``: that table's rows without the
sha256/city_code key). The parse step writes it (it has the record in hand and runs in parallel
tasks); the loader reads a run's files with ``pyarrow.ipc`` (``load.staging.read_typed``) instead of
decoding each record's JSON and typing it again in Python, and checks each against ``SCHEMA`` exactly.

``SCHEMA`` is derived from the column lists of ``ground.schema.FIELDS`` and ``ground.rows``, and
the Arrow type of each SQL type from ``load.merge.arrow_type``: nothing here declares a column.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pyarrow as pa

from ground.errors import BadStagedFile
from ground.rows import CHILD_TABLES, NUMBER_SQL_TYPE, RECORD_EXTRA_COLUMNS, RECORD_EXTRA_SQL_TYPE, record_rows
from ground.schema import FIELDS
from load.merge import arrow_type

SUFFIX = ".arrows"  # an Arrow IPC stream
# The staged provenance of a record, before its values: what the loader would otherwise read from the JSON.
PROVENANCE = ("sha256", "parser_version", "url")
CHILD_PREFIX = "table_"


def child_column(table) -> str:
    """The typed file's column holding ``table``'s rows (a child table and a field may share a name)."""
    return CHILD_PREFIX + table.name


SCHEMA = pa.schema([
    *(pa.field(name, pa.string()) for name in PROVENANCE),
    *(pa.field(field.name, arrow_type(field.sql_type)) for field in FIELDS),
    *(pa.field(name, arrow_type(RECORD_EXTRA_SQL_TYPE)) for name in RECORD_EXTRA_COLUMNS),
    pa.field("pages", arrow_type(NUMBER_SQL_TYPE)),
    *(pa.field(child_column(table), pa.list_(pa.struct([pa.field(name, arrow_type(sql_type))
                                                       for name, sql_type in table.row_types])))
      for table in CHILD_TABLES),
])


_ROW = pa.struct(SCHEMA)


def typed_row(staged: dict, where: str) -> pa.Table:
    """The staged record ``staged`` (sha256, parser_version, url, record) as one row of ``SCHEMA``;
    a record the warehouse would refuse raises ``BadStagedFile`` naming ``where``."""
    values, children, pages = record_rows(staged["record"], where)
    row = (*(staged[name] for name in PROVENANCE), *values, pages, *(children[table.name] for table in CHILD_TABLES))
    # The row as one struct value, converted in one call (a child row tuple is a struct too):
    # half the CPU of converting each of its ~40 columns on its own.
    return pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array([row], _ROW))])


def write_typed(path: Path, table: pa.Table) -> None:
    """Write ``table`` as an Arrow IPC stream, atomically (a temporary name renamed into place): a
    killed writer leaves the old file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(path)


def schema_difference(found: pa.Schema) -> str:
    """The first column that differs from ``SCHEMA``, named."""
    for i, expected in enumerate(SCHEMA):
        if i >= len(found):
            return f"column {i} ({expected.name}) is missing"
        if not found.field(i).equals(expected):
            return (f"column {i} is {found.field(i).name}: {found.field(i).type}, "
                    f"expected {expected.name}: {expected.type}")
    return f"extra columns {', '.join(found.names[len(SCHEMA):])}"
