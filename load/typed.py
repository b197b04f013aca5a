"""The typed staged file: staged records as the warehouse's rows, in Arrow (docs/architecture.md).

``staging/<run_id>/parse/<name>.arrows``, an Arrow IPC stream beside the records' JSON, holds a row
for each record staged with it (``typed_name``: a parse batch's records share one file, a parse
staged alone has its own, named for its document): the document's provenance (sha256,
parser_version, url), the ``assessments`` values of ``ground.rows.record_rows`` (checked and typed
there), the document's number of pages, and one ``list<struct>`` column per child table
(``table_<name>``: that table's rows without the sha256/city_code key). The parse step writes it
(it has the records in hand and runs in parallel tasks); the loader reads a run's files with
``pyarrow.ipc`` (``load.staging.read_typed``) instead of decoding each record's JSON and typing it
again in Python, and checks each against ``SCHEMA`` exactly. One file a batch, not one a record:
reading and concatenating 50,000 one-row files was half of loading them (tools/bench_load.py).

``SCHEMA`` is derived from the column lists of ``ground.schema.FIELDS`` and ``ground.rows``, and
the Arrow type of each SQL type from ``load.merge.arrow_type``: nothing here declares a column.
"""

from __future__ import annotations

import hashlib
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
BATCH_PREFIX = "batch-"  # a typed file of several parses (typed_name)


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


def typed_values(staged: dict, where: str) -> tuple:
    """The staged record ``staged`` (sha256, parser_version, url, record) as the values of one row of
    ``SCHEMA``, in its order; a record the warehouse would refuse raises ``BadStagedFile`` naming ``where``."""
    values, children, pages = record_rows(staged["record"], where)
    return (*(staged[name] for name in PROVENANCE), *values, pages, *(children[table.name] for table in CHILD_TABLES))


def typed_table(rows: list[tuple]) -> pa.Table:
    """``rows`` (each ``typed_values``) as one table of ``SCHEMA``, in one chunk.

    Each row is one struct value, converted in one call (a child row tuple is a struct too): half
    the CPU of converting each of its ~40 columns on its own."""
    return pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array(rows, _ROW))])


def typed_name(shas: list[str]) -> str:
    """The typed file of the parses of ``shas`` staged together: one parse's is named for its
    document; a batch's for the digest of its documents, so a batch staged again (a retried task)
    replaces its own file, and two batches never share one."""
    if len(shas) == 1:
        return shas[0] + SUFFIX
    return BATCH_PREFIX + hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest() + SUFFIX


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
