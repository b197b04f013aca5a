"""Reading a run's staged JSON (docs/architecture.md, "Staged files") into checked, typed rows.

Everything here is pure: files in, Python values out, no warehouse. A file that is not valid JSON
or does not follow the staged format raises ``BadStagedFile`` naming the file and the value, so
the loader stops before it writes anything rather than storing a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ground.errors import PiaWatchError
from ground.schema import CHANGE_TIMINGS, FIELDS, FILE_SUBJECT_BANDS


class BadStagedFile(PiaWatchError):
    """A staged file that is not JSON or does not follow the staged format."""

    code = "bad_staged_file"


# Columns of assessments the loader derives from the record, after its FIELDS.
RECORD_EXTRA_COLUMNS = ("unread_fields", "blank_fields")

CRAWL_KEYS = ("city_code", "crawled_at", "pages", "links", "fetches", "documents", "failures")
PARSE_KEYS = ("sha256", "parser_version", "url")


@dataclass(frozen=True)
class StagedFile:
    path: Path
    data: dict


@dataclass(frozen=True)
class StagedRun:
    crawls: list[StagedFile]
    parses: list[StagedFile]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadStagedFile(f"{path}: not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadStagedFile(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _staged_files(directory: Path, required_keys: tuple[str, ...]):
    """(path, data) of every JSON file in ``directory``, each holding ``required_keys``."""
    for path in sorted(directory.glob("*.json")):
        data = _read_json(path)
        missing = [key for key in required_keys if key not in data]
        if missing:
            raise BadStagedFile(f"{path}: missing {', '.join(missing)}")
        yield path, data


def read_staged_run(staging_dir: Path) -> StagedRun:
    """Every crawl and parse file of one run, checked for the keys the loader needs."""
    crawls = []
    for path, data in _staged_files(staging_dir / "crawl", CRAWL_KEYS):
        for key in CRAWL_KEYS[2:]:
            if not isinstance(data[key], list):
                raise BadStagedFile(f"{path}: {key} must be a list, found {type(data[key]).__name__}")
        crawls.append(StagedFile(path, data))
    parses = []
    for path, data in _staged_files(staging_dir / "parse", PARSE_KEYS):
        if ("record" in data) == ("error" in data):
            raise BadStagedFile(f"{path}: needs exactly one of record and error")
        if data["sha256"] != path.stem:
            raise BadStagedFile(f"{path}: names {path.stem} but holds sha256 {data['sha256']}")
        parses.append(StagedFile(path, data))
    return StagedRun(crawls, parses)


# --- typed values ------------------------------------------------------------------------------
def as_text(value, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadStagedFile(f"{where}: expected text, found {value!r}")


def as_int(value, where: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BadStagedFile(f"{where}: expected an integer, found {value!r}")


def as_bool(value, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadStagedFile(f"{where}: expected true/false, found {value!r}")


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


def as_json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_choice(value, choices: tuple[str, ...], where: str) -> str | None:
    """Checked here as well as by the table's CHECK, so the error names the staged file."""
    value = as_text(value, where)
    if value is None or value in choices:
        return value
    raise BadStagedFile(f"{where}: {value!r} is not one of {', '.join(choices)}")


def _as_column(sql_type: str, value, where: str):
    if sql_type == "VARCHAR":
        return as_text(value, where)
    if sql_type == "INTEGER":
        return as_int(value, where)
    if sql_type == "BOOLEAN":
        return as_bool(value, where)
    if sql_type == "DATE":
        return as_date(value, where)
    if sql_type == "VARCHAR[]":
        return [as_text(v, where) for v in as_list(value, where)]
    if sql_type == "DATE[]":
        return [as_date(v, where) for v in as_list(value, where)]
    if sql_type == "JSON":
        return as_json(value)
    raise ValueError(f"no conversion for SQL type {sql_type} ({where})")


# Fields every record has whatever its form says: they are never blank or unread.
_ALWAYS_SET = ("kind", "source")


def unread_fields(record: dict, where: str) -> list[str]:
    """The fields of its form the parser could not locate (record.source.unread_fields)."""
    source = record.get("source") or {}
    names = [as_text(name, f"{where} record.source.unread_fields") for name in
             as_list(source.get("unread_fields"), f"{where} record.source.unread_fields")]
    return sorted(set(names))


def blank_fields(record: dict, unread: list[str]) -> list[str]:
    """The fields its kind's form has (FIELDS.kinds), that were read, and that the document left empty.

    The parser gives a field its form does not have the same null (or []) as a blank one, so the
    kind decides which of the two a null is; an unread field is neither (its value is unknown).
    """
    kind = record.get("kind")
    return [f.name for f in FIELDS if f.name not in _ALWAYS_SET and kind in f.kinds
            and f.name not in unread and record.get(f.name) in (None, [])]


def _not_known(field, record: dict, unread: list[str]) -> bool:
    """A field whose value is unknown, not empty: not on this kind's form, or not read."""
    return record.get("kind") not in field.kinds or field.name in unread


def record_values(record: dict, where: str) -> list:
    """The record's fields in FIELDS order, typed for the assessments columns.

    A list field the document's form does not have, or that could not be read, is NULL; a list
    the form has and the document leaves empty is [] (so "no public comment" is answerable).
    """
    unknown = sorted(set(record) - {f.name for f in FIELDS})
    if unknown:
        raise BadStagedFile(f"{where}: fields not in ground.schema.FIELDS: {', '.join(unknown)}")
    unread = unread_fields(record, where)
    values = []
    for f in FIELDS:
        value = record.get(f.name)
        if f.json_type == "list" and _not_known(f, record, unread) and not value:
            values.append(None)
        elif f.choices:
            values.append(as_choice(value, f.choices, f"{where} record.{f.name}"))
        elif f.json_type == "list" and f.sql_type == "JSON":
            values.append(as_json(as_list(value, f"{where} record.{f.name}")))
        else:
            values.append(_as_column(f.sql_type, value, f"{where} record.{f.name}"))
    return values


def _obj(value, where: str) -> dict:
    if isinstance(value, dict):
        return value
    raise BadStagedFile(f"{where}: expected an object, found {value!r}")


def _printed(value, where: str) -> str | None:
    """Band texts the form prints (「10人以上50人未満」); a parser may give a bare number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return as_text(value, where)


def row_page(item: dict, record: dict, list_field: str, where: str, default: int | None = None) -> int | None:
    """The page a list item is printed on: its own ``page`` when the parser gives one, else the
    page its table or section starts on (record.source.field_pages), else ``default``."""
    page = as_int(item.get("page"), f"{where}.page")
    if page is not None:
        return page
    field_pages = (record.get("source") or {}).get("field_pages") or {}
    start = field_pages.get(list_field)
    return start if isinstance(start, int) and not isinstance(start, bool) else default


def file_rows(record: dict, where: str) -> tuple[list[tuple], list[tuple]]:
    """(assessment_files rows, file_outsourcing rows), without the sha256/city_code key."""
    files, outsourcing = [], []
    for i, item in enumerate(as_list(record.get("files"), f"{where} files"), start=1):
        at = f"{where} files[{i - 1}]"
        item = _obj(item, at)
        file_page = row_page(item, record, "files", at)
        files.append((i, as_text(item.get("name"), f"{at}.name"),
                      as_choice(item.get("subject_band"), FILE_SUBJECT_BANDS, f"{at}.subject_band"),
                      _printed(item.get("record_items_count"), f"{at}.record_items_count"),
                      as_date(item.get("held_since"), f"{at}.held_since"),
                      as_json(item.get("provisions")), file_page))
        for j, entry in enumerate(as_list(item.get("outsourcing"), f"{at}.outsourcing"), start=1):
            here = f"{at}.outsourcing[{j - 1}]"
            entry = _obj(entry, here)
            outsourcing.append((i, j, as_text(entry.get("contractor"), f"{here}.contractor"),
                                _printed(entry.get("handler_count"), f"{here}.handler_count"),
                                as_bool(entry.get("subcontracting"), f"{here}.subcontracting"),
                                as_int(entry.get("page"), f"{here}.page") or file_page))
    return files, outsourcing


def change_rows(record: dict, where: str) -> list[tuple]:
    rows = []
    for i, item in enumerate(as_list(record.get("changes"), f"{where} changes"), start=1):
        at = f"{where} changes[{i - 1}]"
        item = _obj(item, at)
        rows.append((i, as_date(item.get("date"), f"{at}.date"), as_text(item.get("item"), f"{at}.item"),
                     as_text(item.get("before"), f"{at}.before"), as_text(item.get("after"), f"{at}.after"),
                     as_choice(item.get("timing"), CHANGE_TIMINGS, f"{at}.timing"),
                     as_text(item.get("note"), f"{at}.note"), row_page(item, record, "changes", at)))
    return rows


def risk_answer_rows(record: dict, where: str) -> list[tuple]:
    rows = []
    for i, item in enumerate(as_list(record.get("risk_answers"), f"{where} risk_answers"), start=1):
        at = f"{where} risk_answers[{i - 1}]"
        item = _obj(item, at)
        rows.append((i, as_text(item.get("section"), f"{at}.section"),
                     as_text(item.get("question"), f"{at}.question"),
                     as_text(item.get("answer"), f"{at}.answer"), as_int(item.get("page"), f"{at}.page")))
    return rows


def record_rows(record: dict, where: str) -> tuple[list, dict[str, list[tuple]], int | None]:
    """Check a CONTRACT record and type it for the warehouse: (assessments values, child rows, pages).

    The assessments values are the FIELDS in order, then ``RECORD_EXTRA_COLUMNS``.

    The parse step calls this before staging, so a record the warehouse would refuse becomes that
    document's parse failure instead of stopping the night's load.
    """
    if not isinstance(record, dict):
        raise BadStagedFile(f"{where}: record must be an object")
    values = record_values(record, where)
    unread = unread_fields(record, where)
    values += [unread, blank_fields(record, unread)]
    files, outsourcing = file_rows(record, where)
    rows = {"assessment_files": files, "file_outsourcing": outsourcing,
            "change_rows": change_rows(record, where),
            "risk_answers": risk_answer_rows(record, where)}
    pages = as_int((record.get("source") or {}).get("pages"), f"{where} record.source.pages")
    return values, rows, pages

