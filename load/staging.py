"""A run's staged files (docs/architecture.md, "Staged files"): a parse staged, and a run read back.

``stage_parses`` is how every staged parse is written (the parse step a batch at a time, cached
parses, the tests and the benchmarks): each its JSON, and the records' rows in one typed file
(``load.typed``). ``read_staged_run`` reads a run for the loader: the crawl files and the parse
failures as JSON, the records from the typed files alone (a record's JSON is not decoded again).
No warehouse here. A file that is not valid JSON, does not follow the staged format, or lacks its
typed row raises ``BadStagedFile`` naming the file and the value, so the loader stops before it
writes anything rather than storing a guess. What a valid record is, and its values typed for the warehouse, is ``ground.rows``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ground.errors import BadStagedFile
from ground.state_files import write_json
from load.typed import BATCH_PREFIX, SCHEMA, SUFFIX, schema_difference, typed_name, typed_table, typed_values, write_typed

CRAWL_KEYS = ("city_code", "crawled_at", "pages", "links", "fetches", "documents", "failures")
PARSE_KEYS = ("sha256", "parser_version", "url")


@dataclass(frozen=True)
class StagedFile:
    path: Path
    data: dict


@dataclass(frozen=True)
class StagedRun:
    crawls: list[StagedFile]
    failures: list[StagedFile]  # the parse files that hold an error
    records: pa.Table           # one row of load.typed.SCHEMA per staged record
    record_files: dict[str, Path]  # each record's typed file, by sha256 (to name it)


def refused_record(staged: dict, exc: BadStagedFile) -> dict:
    """``staged`` without its record, as the document's ``invalid_record`` failure: a record the
    warehouse refuses (``ground.rows``) must not stop the night's load."""
    return {**{key: value for key, value in staged.items() if key != "record"},
            "error": {"code": "invalid_record",
                      "reason": f"the parser produced a record the warehouse refuses: {exc.reason}"}}


def checked_parse(staged: dict) -> tuple[dict, tuple | None]:
    """(what will be staged, its typed row or None): a record is typed here (``load.typed``); one
    the warehouse would refuse (a cached record of an older parser, say) becomes its document's
    ``refused_record`` failure."""
    if "record" not in staged:
        return staged, None
    try:
        return staged, typed_values(staged, f"{staged.get('url')} ({staged['sha256']})")
    except BadStagedFile as exc:
        return refused_record(staged, exc), None


def stage_checked_parses(staging_dir: Path, parses: list[tuple[dict, tuple | None]]) -> list[dict]:
    """Stage parses of one batch (each from ``checked_parse``) under ``staging_dir`` (their run's):
    ``parse/<sha256>.json`` for each (record or error, with its provenance) and the records' rows
    in one typed file (``load.typed.typed_name``); return what was staged.

    The typed file is written, or a previous one of the same parses removed, before the JSON, so a
    JSON that holds a record always has its row (a killed task leaves at worst rows without their
    JSON, which the loader refuses), and a batch staged again (a retried task) replaces its file
    whole: a document it now stages as a failure keeps no row. A document is staged again only in
    the same batch: the loader refuses two different rows of one document.
    """
    parse_dir = Path(staging_dir) / "parse"
    parse_dir.mkdir(parents=True, exist_ok=True)
    typed_path = parse_dir / typed_name([staged["sha256"] for staged, _ in parses])
    rows = [row for _, row in parses if row is not None]
    if rows:
        write_typed(typed_path, typed_table(rows))
    else:
        typed_path.unlink(missing_ok=True)
    for staged, _ in parses:
        write_json(parse_dir / f"{staged['sha256']}.json", staged)
    return [staged for staged, _ in parses]


def stage_parses(staging_dir: Path, parses: list[dict]) -> list[dict]:
    """Stage ``parses`` together (``stage_checked_parses``): how every staged parse is written."""
    return stage_checked_parses(staging_dir, [checked_parse(staged) for staged in parses])


def stage_parse(staging_dir: Path, staged: dict) -> dict:
    """Stage one document's parse alone: its JSON and, for a record, ``parse/<sha256>.arrows``."""
    return stage_parses(staging_dir, [staged])[0]


_CHUNK = 1 << 16


def _read_bytes(path: Path) -> bytes:
    """The file's bytes through the OS alone: read_bytes builds a buffered file object for each of
    a run's thousands of small files: opening and reading them that way cost more than half of what
    json.loads of them did (cProfile, 5,000 parse files). Read in chunks of 64 KiB, and a short
    read is the end of a regular file: os.read first allocates the whole size asked for, and 1 MiB
    is mapped from the OS and unmapped again on each call (50,000 typed files of 12 kB: 2.8 s of
    system CPU, against 1.5 s)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
            if len(chunk) < _CHUNK:
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


# An IPC stream is its schema's message, its batches' messages, then this end-of-stream marker.
# Every typed file begins with SCHEMA's own message, byte for byte: comparing those bytes is the
# exact schema check, without decoding a schema of ~70 nested fields for each of a run's files
# (a quarter of a millisecond each, the most of reading them with pyarrow.ipc.open_stream).
_SCHEMA_MESSAGE = SCHEMA.serialize().to_pybytes()
_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_CONCATENATED = 50  # batches concatenated at once (read_typed)


def _typed_batch(path: Path) -> pa.RecordBatch:
    """The rows of the typed file ``path``, or ``BadStagedFile`` naming what is wrong with it."""
    data = _read_bytes(path)
    if not data.startswith(_SCHEMA_MESSAGE):  # another schema, another writer's bytes, or torn early
        batch = _slowly_read_batch(path, data)
    else:
        body = pa.BufferReader(pa.py_buffer(data)[len(_SCHEMA_MESSAGE):])
        try:
            batch = pa.ipc.read_record_batch(pa.ipc.read_message(body), SCHEMA)
            batch.validate()
        except (pa.ArrowException, OSError, EOFError) as exc:
            raise BadStagedFile(f"{path}: not a whole typed staged file ({exc})") from exc
        if data[len(_SCHEMA_MESSAGE) + body.tell():] != _END_OF_STREAM:
            raise BadStagedFile(f"{path}: not a whole typed staged file (not one batch, then the end of the stream)")
    if batch.num_rows == 0:
        raise BadStagedFile(f"{path}: no row")
    if not path.name.startswith(BATCH_PREFIX):  # one parse's, named for its document
        expected = path.name.removesuffix(SUFFIX)
        found = batch.column("sha256").to_pylist()
        if found != [expected]:
            raise BadStagedFile(f"{path}: expected the row of document {expected} alone, found {', '.join(found)}")
    return batch


def _slowly_read_batch(path: Path, data: bytes) -> pa.RecordBatch:
    """Read ``data`` as any Arrow IPC stream: the same schema serialized differently (another
    pyarrow) is read; a different schema is refused, naming the first column that differs."""
    try:
        reader = pa.ipc.open_stream(data)
        if not reader.schema.equals(SCHEMA):
            raise BadStagedFile(f"{path}: not the typed row's schema (load.typed.SCHEMA): "
                                f"{schema_difference(reader.schema)}")
        table = reader.read_all()
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise BadStagedFile(f"{path}: not a whole typed staged file ({exc})") from exc
    if table.num_rows == 0:  # an empty table has no batch to return
        raise BadStagedFile(f"{path}: no row")
    return table.combine_chunks().to_batches()[0]


def read_typed(paths: list[Path]) -> pa.Table:
    """The rows of every typed file in ``paths``, in that order, as one table of ``SCHEMA``."""
    return _read_typed(paths)[0]


def _read_typed(paths: list[Path]) -> tuple[pa.Table, list[Path]]:
    """(the rows of every typed file in ``paths``, in that order, as one table of ``SCHEMA``; the
    file of each row).

    A file that is not a whole Arrow IPC stream, is not of ``SCHEMA`` exactly, holds no row, or
    (one parse's file) holds another document's row raises ``BadStagedFile`` naming it: no value
    is guessed.
    """
    batches = [_typed_batch(path) for path in paths]
    row_files = [path for path, batch in zip(paths, batches) for _ in range(batch.num_rows)]
    if not batches:
        return SCHEMA.empty_table(), row_files
    # One batch, not a chunk per file: DuckDB scans a table of 5,000 one-row chunks 100 times
    # slower. Concatenated a few dozen at a time, then those: 50,000 one-row batches concatenated
    # at once took three times as long (15 against 5 CPU s), the cost growing faster than their
    # number.
    while len(batches) > 1:
        batches = [pa.concat_batches(batches[i:i + _CONCATENATED]) for i in range(0, len(batches), _CONCATENATED)]
    return pa.Table.from_batches(batches), row_files


def _one_row_each(table: pa.Table, row_files: list[Path]) -> tuple[pa.Table, dict[str, Path]]:
    """``table`` with one row of each document, and each document's typed file. A document in two
    files (a batch staged again in another composition, its records cached) keeps its first row
    when the rows are equal; two different rows of one document raise ``BadStagedFile``."""
    files: dict[str, Path] = {}
    first: dict[str, int] = {}
    for i, sha in enumerate(table.column("sha256").to_pylist()):
        if sha not in first:
            first[sha], files[sha] = i, row_files[i]
        elif table.slice(i, 1).to_pylist() != table.slice(first[sha], 1).to_pylist():
            raise BadStagedFile(f"{row_files[i]}: document {sha} staged again, its row differing from the one "
                                f"in {files[sha]}")
    if len(first) < table.num_rows:
        table = table.take(sorted(first.values()))
    return table, files


def _read_json(path: Path) -> dict:
    try:
        # Bytes decoded at once: read_text's text layer costs a tenth of reading a run's files.
        data = json.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadStagedFile(f"{path}: not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadStagedFile(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _staged_files(paths: list[Path], required_keys: tuple[str, ...]):
    """(path, data) of each JSON file of ``paths``, each holding ``required_keys``."""
    for path in paths:
        data = _read_json(path)
        missing = [key for key in required_keys if key not in data]
        if missing:
            raise BadStagedFile(f"{path}: missing {', '.join(missing)}")
        yield path, data


def read_staged_run(staging_dir: Path) -> StagedRun:
    """Every crawl and parse file of one run, checked for the keys the loader needs.

    A parse with a row in a typed file is a record, read from the typed file alone; every other
    parse JSON is read and must hold an error.
    """
    crawls = []
    for path, data in _staged_files(sorted((staging_dir / "crawl").glob("*.json")), CRAWL_KEYS):
        for key in CRAWL_KEYS[2:]:
            if not isinstance(data[key], list):
                raise BadStagedFile(f"{path}: {key} must be a list, found {type(data[key]).__name__}")
        crawls.append(StagedFile(path, data))
    parse_dir = staging_dir / "parse"
    names = {path.name for path in parse_dir.glob("*")} if parse_dir.is_dir() else set()
    records, record_files = _one_row_each(*_read_typed(sorted(parse_dir / name for name in names
                                                              if name.endswith(SUFFIX))))
    orphans = [sha for sha in record_files if f"{sha}.json" not in names]
    if orphans:
        raise BadStagedFile(f"{record_files[orphans[0]]}: a typed row without its staged JSON {orphans[0]}.json")
    failures = []
    others = sorted(parse_dir / name for name in names
                    if name.endswith(".json") and name.removesuffix(".json") not in record_files)
    for path, data in _staged_files(others, PARSE_KEYS):
        if ("record" in data) == ("error" in data):
            raise BadStagedFile(f"{path}: needs exactly one of record and error")
        if "record" in data:
            raise BadStagedFile(f"{path}: a staged record without its row in a typed file")
        if data["sha256"] != path.stem:
            raise BadStagedFile(f"{path}: names {path.stem} but holds sha256 {data['sha256']}")
        failures.append(StagedFile(path, data))
    return StagedRun(crawls, failures, records, record_files)
