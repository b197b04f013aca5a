"""A record checked and typed as the warehouse's rows: the one place that says what a valid record is.

``record_rows`` turns a CONTRACT record into the ``assessments`` values (``ground.schema.FIELDS``
in order, then ``RECORD_EXTRA_COLUMNS``) and the rows of its child tables (``CHILD_TABLES``, whose
columns are declared here once: the loader's inserts are made from them, and a test checks the
migrated tables against them). A value of the wrong type or outside its closed set raises
``BadStagedFile`` naming where it is. The parse step calls it before staging a record (a record
the warehouse would refuse becomes that document's ``invalid_record`` failure), the loader again
on every staged record (a staged file can be damaged after it was written).

Everything here is pure: Python values in, Python values out. The loader runs it on every record
of a run, so the common case (a value already of its column's type) is checked without building
the text that would name it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from ground.errors import BadStagedFile
from ground.schema import CHANGE_TIMINGS, FIELDS, FILE_SUBJECT_BANDS

# Columns of assessments the loader derives from the record, after its FIELDS, and their SQL type.
RECORD_EXTRA_COLUMNS = ("unread_fields", "blank_fields")
RECORD_EXTRA_SQL_TYPE = "VARCHAR[]"
# The SQL type of a child row's positions (``ChildTable.index``) and page, and of a document's number of pages.
NUMBER_SQL_TYPE = "INTEGER"


# --- typed values --------------------------------------------------------------------------------
# Each reader returns the value typed for its column or raises BadStagedFile naming ``where``; its
# ``passes`` are the Python types it returns unchanged, so a caller may skip the call for them.
def _passing(*types):
    def mark(reader):
        reader.passes = frozenset(types)
        return reader
    return mark


@_passing(type(None), str)
def as_text(value, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadStagedFile(f"{where}: expected text, found {value!r}")


@_passing(type(None), int)
def as_int(value, where: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BadStagedFile(f"{where}: expected an integer, found {value!r}")


@_passing(type(None), bool)
def as_bool(value, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadStagedFile(f"{where}: expected true/false, found {value!r}")


@_passing(type(None))
def as_date(value, where: str) -> date | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise BadStagedFile(f"{where}: expected an ISO date YYYY-MM-DD, found {value!r}")


def as_timestamp(value, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            stamp = datetime.fromisoformat(value)
            if stamp.tzinfo is not None:
                return stamp
    except ValueError:
        pass
    raise BadStagedFile(f"{where}: expected an ISO timestamp with a UTC offset, found {value!r}")


def as_list(value, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise BadStagedFile(f"{where}: expected a list, found {value!r}")


# One encoder for every value: json.dumps would build one per call.
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


@_passing(type(None))
def as_json(value, where: str = "") -> str | None:
    return None if value is None else _JSON_TEXT(value)


def as_choice(value, choices: tuple[str, ...], where: str) -> str | None:
    """Checked here as well as by the integrity check, so the error names the staged file."""
    value = as_text(value, where)
    if value is None or value in choices:
        return value
    raise BadStagedFile(f"{where}: {value!r} is not one of {', '.join(choices)}")


def _choice_of(choices: tuple[str, ...]) -> Callable:
    return _passing(type(None))(lambda value, where: as_choice(value, choices, where))


@_passing(type(None), str)
def as_printed(value, where: str) -> str | None:
    """Band texts the form prints (「10人以上50人未満」); a parser may give a bare number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return as_text(value, where)


def _list_of(reader: Callable) -> Callable:
    return _passing()(lambda value, where: [reader(v, where) for v in as_list(value, where)])


_BY_SQL_TYPE = {"VARCHAR": as_text, "INTEGER": as_int, "BOOLEAN": as_bool, "DATE": as_date,
                "VARCHAR[]": _list_of(as_text), "DATE[]": _list_of(as_date),
                "JSON": _passing()(lambda value, where: as_json(value))}


# --- the assessments row --------------------------------------------------------------------------
# Fields every record has whatever its form says: they are never blank or unread.
_ALWAYS_SET = ("kind", "source")


def _field_reader(field) -> Callable:
    if field.choices:
        return _choice_of(field.choices)
    if field.json_type == "list" and field.sql_type == "JSON":
        return _passing()(lambda value, where: as_json(as_list(value, where)))
    if field.sql_type not in _BY_SQL_TYPE:
        raise ValueError(f"no conversion for SQL type {field.sql_type} ({field.name})")
    return _BY_SQL_TYPE[field.sql_type]


_FIELD_READERS = tuple((field, _field_reader(field)) for field in FIELDS)
_FIELD_NAMES = frozenset(field.name for field in FIELDS)


def unread_fields(record: dict, where: str) -> list[str]:
    """The fields of its form the parser could not locate (record.source.unread_fields)."""
    source = record.get("source") or {}
    at = f"{where} record.source.unread_fields"
    return sorted({as_text(name, at) for name in as_list(source.get("unread_fields"), at)})


def blank_fields(record: dict, unread: list[str]) -> list[str]:
    """The fields its kind's form has (FIELDS.kinds), that were read, and that the document left empty.

    The parser gives a field its form does not have the same null (or []) as a blank one, so the
    kind decides which of the two a null is; an unread field is neither (its value is unknown).
    """
    kind = record.get("kind")
    return [f.name for f in FIELDS if f.name not in _ALWAYS_SET and kind in f.kinds
            and f.name not in unread and record.get(f.name) in (None, [])]


def record_values(record: dict, where: str, unread: list[str] | None = None) -> list:
    """The record's fields in FIELDS order, typed for the assessments columns.

    A list field the document's form does not have, or that could not be read, is NULL; a list
    the form has and the document leaves empty is [] (so "no public comment" is answerable).
    """
    unknown = sorted(set(record) - _FIELD_NAMES)
    if unknown:
        raise BadStagedFile(f"{where}: fields not in ground.schema.FIELDS: {', '.join(unknown)}")
    if unread is None:
        unread = unread_fields(record, where)
    kind = record.get("kind")
    values = []
    for field, reader in _FIELD_READERS:
        value = record.get(field.name)
        if field.json_type == "list" and not value and (kind not in field.kinds or field.name in unread):
            values.append(None)
        else:
            values.append(value if type(value) in reader.passes else reader(value, f"{where} record.{field.name}"))
    return values


# --- the child tables -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ChildColumn:
    name: str           # the warehouse column
    key: str            # the item's key in the record's list
    read: Callable      # value, where -> the typed value
    sql_type: str


@dataclass(frozen=True)
class ChildTable:
    """A table of one row per item of a record's list: keyed (sha256, city_code, ``index``…)."""

    name: str
    list_field: str              # the record's list; file_outsourcing: each file's ``outsourcing``
    index: tuple[str, ...]       # the item's position(s), from 1
    columns: tuple[ChildColumn, ...]
    # Where an item without a page of its own is printed: "section" (the page its list starts
    # on, record.source.field_pages), "parent" (its file's page), or None (unknown).
    page_from: str | None

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every column of the table, in the table's order."""
        return ("sha256", "city_code", *self.index, *(c.name for c in self.columns), "page")

    @property
    def row_types(self) -> tuple[tuple[str, str], ...]:
        """(column, SQL type) of what ``child_rows`` gives for a row: every column after the key."""
        return (*((name, NUMBER_SQL_TYPE) for name in self.index), *((c.name, c.sql_type) for c in self.columns),
                ("page", NUMBER_SQL_TYPE))


def _column(name: str, sql_type: str, key: str | None = None, read: Callable | None = None) -> ChildColumn:
    return ChildColumn(name, key or name, read or _BY_SQL_TYPE[sql_type], sql_type)


CHILD_TABLES = (
    ChildTable("assessment_files", "files", ("file_index",), (
        _column("name", "VARCHAR"),
        _column("subject_band", "VARCHAR", read=_choice_of(FILE_SUBJECT_BANDS)),
        _column("record_items_count", "VARCHAR", read=as_printed),
        _column("held_since", "DATE"),
        _column("provisions", "JSON")), page_from="section"),
    ChildTable("file_outsourcing", "outsourcing", ("file_index", "outsourcing_index"), (
        _column("contractor", "VARCHAR"),
        _column("handler_count", "VARCHAR", read=as_printed),
        _column("subcontracting", "BOOLEAN")), page_from="parent"),
    ChildTable("risk_answers", "risk_answers", ("answer_index",), (
        _column("section", "VARCHAR"),
        _column("question", "VARCHAR"),
        _column("answer", "VARCHAR")), page_from=None),
    ChildTable("change_rows", "changes", ("change_index",), (
        _column("change_date", "DATE", key="date"),
        _column("item", "VARCHAR"),
        _column("before_text", "VARCHAR", key="before"),
        _column("after_text", "VARCHAR", key="after"),
        _column("timing", "VARCHAR", read=_choice_of(CHANGE_TIMINGS)),
        _column("note", "VARCHAR")), page_from="section"),
)
CHILD = {table.name: table for table in CHILD_TABLES}


def _obj(value, where: str) -> dict:
    if isinstance(value, dict):
        return value
    raise BadStagedFile(f"{where}: expected an object, found {value!r}")


def _section_page(record: dict, list_field: str) -> int | None:
    """The page a list's table or section starts on (record.source.field_pages)."""
    start = ((record.get("source") or {}).get("field_pages") or {}).get(list_field)
    return start if isinstance(start, int) and not isinstance(start, bool) else None


def _item_rows(table: ChildTable, items, where: str, prefix: tuple, fallback_page: int | None) -> list[tuple]:
    """One row per item of ``items`` (the list at ``where``): (*prefix, position, columns…, page)."""
    rows = []
    columns = [(column.key, column.read, column.read.passes) for column in table.columns]
    for i, item in enumerate(as_list(items, where), start=1):
        if type(item) is not dict:
            _obj(item, f"{where}[{i - 1}]")
        row = [*prefix, i]
        for key, read, passes in columns:
            value = item.get(key)
            row.append(value if type(value) in passes else read(value, f"{where}[{i - 1}].{key}"))
        page = item.get("page")
        if type(page) not in as_int.passes:
            page = as_int(page, f"{where}[{i - 1}].page")
        if table.page_from == "parent":
            page = page or fallback_page  # an outsourcing entry's page 0 is no page: its file's
        elif page is None:
            page = fallback_page
        row.append(page)
        rows.append(tuple(row))
    return rows


def child_rows(record: dict, where: str) -> dict[str, list[tuple]]:
    """Each child table's rows, without the sha256/city_code key, in ``ChildTable.column_names`` order."""
    files = _item_rows(CHILD["assessment_files"], record.get("files"), f"{where} files", (),
                       _section_page(record, "files"))
    outsourcing = []
    for file_row, item in zip(files, record.get("files") or []):
        outsourcing += _item_rows(CHILD["file_outsourcing"], item.get("outsourcing"),
                                  f"{where} files[{file_row[0] - 1}].outsourcing", (file_row[0],), file_row[-1])
    return {"assessment_files": files, "file_outsourcing": outsourcing,
            "risk_answers": _item_rows(CHILD["risk_answers"], record.get("risk_answers"),
                                       f"{where} risk_answers", (), None),
            "change_rows": _item_rows(CHILD["change_rows"], record.get("changes"), f"{where} changes", (),
                                      _section_page(record, "changes"))}


def record_rows(record: dict, where: str) -> tuple[list, dict[str, list[tuple]], int | None]:
    """Check a CONTRACT record and type it for the warehouse: (assessments values, child rows, pages).

    The assessments values are the FIELDS in order, then ``RECORD_EXTRA_COLUMNS``.
    """
    if not isinstance(record, dict):
        raise BadStagedFile(f"{where}: record must be an object")
    values = record_values(record, where)
    unread = unread_fields(record, where)
    values += [unread, blank_fields(record, unread)]
    pages = as_int((record.get("source") or {}).get("pages"), f"{where} record.source.pages")
    return values, child_rows(record, where), pages
