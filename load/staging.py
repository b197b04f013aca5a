"""A run's staged files (docs/architecture.md, "Staged files"): a parse staged, and a run read back.

``stage_parse`` is how every staged parse is written (the parse step, cached parses, the tests and
the benchmarks): its JSON and, for a record, its typed file (``load.typed``). ``read_staged_run``
reads a run for the loader: the crawl files and the parse failures as JSON, the records from their
typed files alone (a record's JSON is not decoded again). No warehouse here. A file that is not
valid JSON, does not follow the staged format, or lacks its typed file raises ``BadStagedFile``
naming the file and the value, so the loader stops before it writes anything rather than storing
a guess. What a valid record is, and its values typed for the warehouse, is ``ground.rows``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ground.errors import BadStagedFile
from ground.state_files import write_json
from load.typed import SCHEMA, SUFFIX, schema_difference, typed_row, write_typed

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


def stage_parse(staging_dir: Path, staged: dict) -> dict:
    """Stage one document's parse under ``staging_dir`` (its run's): ``parse/<sha256>.json`` (record
    or error, with its provenance) and, for a record, ``parse/<sha256>.arrow``; return what was staged.

    A record the warehouse would refuse (``ground.rows``: a cached record of an older parser, say) is
    staged as that document's ``invalid_record`` failure, as the parse step does with a fresh one.
    The typed file is written or removed before the JSON is written, so a JSON that holds a record
    always has its typed file (a killed task leaves at worst a record without its JSON, which the
    loader refuses), and a failure restaged over a record (a retried batch) never keeps one.
    """
    parse_dir = Path(staging_dir) / "parse"
    typed_path = parse_dir / f"{staged['sha256']}{SUFFIX}"
    table = None
    if "record" in staged:
        try:
            table = typed_row(staged, f"{staged.get('url')} ({staged['sha256']})")
        except BadStagedFile as exc:
            staged = {key: value for key, value in staged.items() if key != "record"}
            staged["error"] = {"code": "invalid_record",
                               "reason": f"the parser produced a record the warehouse refuses: {exc.reason}"}
    parse_dir.mkdir(parents=True, exist_ok=True)
    if table is not None:
        write_typed(typed_path, table)
    else:
        typed_path.unlink(missing_ok=True)
    write_json(parse_dir / f"{staged['sha256']}.json", staged)
    return staged


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
    """The one row of the typed file ``path``, or ``BadStagedFile`` naming what is wrong with it."""
    data = _read_bytes(path)
    if not data.startswith(_SCHEMA_MESSAGE):  # another schema, another writer's bytes, or torn early
        return _slowly_read_batch(path, data)
    body = pa.BufferReader(pa.py_buffer(data)[len(_SCHEMA_MESSAGE):])
    try:
        batch = pa.ipc.read_record_batch(pa.ipc.read_message(body), SCHEMA)
        batch.validate()
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise BadStagedFile(f"{path}: not a whole typed staged file ({exc})") from exc
    if data[len(_SCHEMA_MESSAGE) + body.tell():] != _END_OF_STREAM:
        raise BadStagedFile(f"{path}: not a whole typed staged file (not one batch, then the end of the stream)")
    if batch.num_rows != 1:
        raise BadStagedFile(f"{path}: expected one row, found {batch.num_rows}")
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
    if table.num_rows != 1:
        raise BadStagedFile(f"{path}: expected one row, found {table.num_rows}")
    return table.combine_chunks().to_batches()[0]


def read_typed(paths: list[Path]) -> pa.Table:
    """The rows of every typed file in ``paths``, in that order, as one table of ``SCHEMA``.

    A file that is not a whole Arrow IPC stream, is not of ``SCHEMA`` exactly, does not hold one
    row, or holds another document's row raises ``BadStagedFile`` naming it: no value is guessed.
    """
    batches = [_typed_batch(path) for path in paths]
    if not batches:
        return SCHEMA.empty_table()
    # One batch, not a chunk per file: DuckDB scans a table of 5,000 one-row chunks 100 times
    # slower. Concatenated a few dozen at a time, then those: 50,000 one-row batches concatenated
    # at once took three times as long (15 against 5 CPU s), the cost growing faster than their
    # number (and concatenating each few dozen as they were read was slower again).
    while len(batches) > 1:
        batches = [pa.concat_batches(batches[i:i + _CONCATENATED]) for i in range(0, len(batches), _CONCATENATED)]
    table = pa.Table.from_batches(batches)
    for path, sha in zip(paths, table.column("sha256").to_pylist()):
        if sha != path.name.removesuffix(SUFFIX):
            raise BadStagedFile(f"{path}: expected the row of document {path.name.removesuffix(SUFFIX)}, "
                                f"found document {sha}")
    return table


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

    A parse whose typed file is there is a record, read from the typed file alone; every other
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
    typed = sorted(name.removesuffix(SUFFIX) for name in names if name.endswith(SUFFIX))
    orphans = [sha for sha in typed if f"{sha}.json" not in names]
    if orphans:
        raise BadStagedFile(f"{parse_dir / (orphans[0] + SUFFIX)}: a typed file without its staged JSON "
                            f"{orphans[0]}.json")
    typed_set = set(typed)
    failures = []
    others = sorted(parse_dir / name for name in names
                    if name.endswith(".json") and name.removesuffix(".json") not in typed_set)
    for path, data in _staged_files(others, PARSE_KEYS):
        if ("record" in data) == ("error" in data):
            raise BadStagedFile(f"{path}: needs exactly one of record and error")
        if "record" in data:
            raise BadStagedFile(f"{path}: a staged record without its typed file {path.stem}{SUFFIX}")
        if data["sha256"] != path.stem:
            raise BadStagedFile(f"{path}: names {path.stem} but holds sha256 {data['sha256']}")
        failures.append(StagedFile(path, data))
    record_files = {sha: parse_dir / f"{sha}{SUFFIX}" for sha in typed}
    return StagedRun(crawls, failures, read_typed(list(record_files.values())), record_files)
