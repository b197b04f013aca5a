"""The parse cache: parsed/<sha256>.json, one entry per PDF version, keyed by parser version.

An unchanged PDF is never parsed twice. What is kept:
- a record;
- a failure the same bytes will always produce (``DETERMINISTIC_FAILURES``);
- a failure that might pass on another night but might also be a bomb (``RETRIED_FAILURES``: over
  the time or memory limit, a parser crash), with its number of attempts. It is parsed again on
  the next runs until it has failed ``MAX_ATTEMPTS`` times with the same parser version; then it
  is kept like a deterministic failure, and a new parser version tries it afresh.

Entries that do not parse or do not look like one are quarantined and rebuilt
(``ground.state_files``).
"""

from __future__ import annotations

from pathlib import Path

from ground.state_files import read_state, write_json
from transform.parse import PARSER_VERSION

DETERMINISTIC_FAILURES = {"not_a_pdf", "encrypted_pdf", "corrupt_pdf", "not_an_assessment"}
RETRIED_FAILURES = {"parse_limit", "parser_crash"}
MAX_ATTEMPTS = 3


def cache_path(parsed_dir: Path, sha256: str) -> Path:
    return Path(parsed_dir) / f"{sha256}.json"


def _problem(sha256: str):
    def check(entry: dict) -> str | None:
        if entry.get("sha256") != sha256 or not isinstance(entry.get("parser_version"), str):
            return f"not a parse cache entry for {sha256}"
        if ("record" in entry) == ("error" in entry):
            return "a cache entry needs exactly one of record and error"
        if "error" in entry and not isinstance((entry["error"] or {}).get("code"), str):
            return "its error has no code"
        return None
    return check


def _current(parsed_dir: Path, sha256: str) -> dict | None:
    entry = read_state(cache_path(parsed_dir, sha256), _problem(sha256))
    return entry if entry is not None and entry["parser_version"] == PARSER_VERSION else None


def entry_version(parsed_dir: Path, sha256: str) -> str | None:
    """The parser version of this PDF version's entry, current or not (None: no entry)."""
    entry = read_state(cache_path(parsed_dir, sha256), _problem(sha256))
    return entry["parser_version"] if entry is not None else None


def cached(parsed_dir: Path, sha256: str) -> dict | None:
    """The staged entry to reuse for this version (record or settled failure), or None: parse it."""
    entry = _current(parsed_dir, sha256)
    if entry is None:
        return None
    if "error" in entry and entry["error"]["code"] in RETRIED_FAILURES and entry.get("attempts", 0) < MAX_ATTEMPTS:
        return None
    return entry


def remember(parsed_dir: Path, staged: dict) -> dict:
    """Keep what this parse produced, if worth keeping; return ``staged`` (a retried failure's
    reason then says which attempt it was)."""
    if "record" in staged or staged["error"]["code"] in DETERMINISTIC_FAILURES:
        write_json(cache_path(parsed_dir, staged["sha256"]), staged)
        return staged
    if staged["error"]["code"] not in RETRIED_FAILURES:
        return staged
    before = _current(parsed_dir, staged["sha256"])
    attempts = 1
    if before is not None and "error" in before and before["error"]["code"] in RETRIED_FAILURES:
        attempts = before.get("attempts", 0) + 1
    then = ("tried again next run" if attempts < MAX_ATTEMPTS
            else "not tried again until the parser version changes")
    staged = {**staged, "attempts": attempts,
              "error": {**staged["error"],
                        "reason": f"{staged['error']['reason']} (attempt {attempts} of {MAX_ATTEMPTS}; {then})"}}
    write_json(cache_path(parsed_dir, staged["sha256"]), staged)
    return staged
