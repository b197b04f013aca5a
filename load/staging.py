"""Reading a run's staged JSON files (docs/architecture.md, "Staged files").

Everything here is pure: files in, Python values out, no warehouse. A file that is not valid JSON
or does not follow the staged format raises ``BadStagedFile`` naming the file and the value, so
the loader stops before it writes anything rather than storing a guess. What a valid record is,
and its values typed for the warehouse, is ``ground.rows``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ground.errors import BadStagedFile

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


def _read_bytes(path: Path) -> bytes:
    """The file's bytes through the OS alone: read_bytes builds a buffered file object for each of
    a run's thousands of small files: opening and reading them that way cost more than half of what
    json.loads of them did (cProfile, 5,000 parse files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict:
    try:
        # Bytes decoded at once: read_text's text layer costs a tenth of reading a run's files.
        data = json.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadStagedFile(f"{path}: not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadStagedFile(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _staged_files(directory: Path, required_keys: tuple[str, ...]):
    """(path, data) of every JSON file in ``directory`` in name order, each holding ``required_keys``."""
    for path in sorted(directory.glob("*.json"), key=lambda p: p.name):
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
