"""Cache and state files under the data root that heal themselves.

The parse cache (parsed/<sha256>.json) and the conditional-GET records (http/<sha1>.json) only
save work: losing one costs a parse or a download, nothing more. So a file that does not parse
(torn by a full disk or a crash, edited by hand) is not a reason to stop every later run: it is
moved aside to ``quarantine/`` beside it, logged with the reason, and the caller rebuilds it.
Files are written to a temporary name and renamed into place, so a reader sees a whole file or
the previous one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"


def write_json(path: Path, payload: dict) -> None:
    """Write atomically: a killed writer leaves the old file or none, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # per process and thread: two crawl threads may write the same URL's record at once
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def quarantine(path: Path, reason: str) -> Path:
    """Move ``path`` aside (``quarantine/<name>.<UTC time>``, kept for a look) and log why."""
    target_dir = path.parent / QUARANTINE
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = target_dir / f"{path.name}.{stamp}"
    try:
        path.replace(target)
    except FileNotFoundError:  # another process moved it first
        return target
    log.warning("quarantined %s: %s; moved to %s, it will be rebuilt", path, reason, target)
    return target


def read_state(path: Path, check: Callable[[dict], str | None] = lambda data: None) -> dict | None:
    """The JSON object in ``path``; None when there is none, or when it does not parse or
    ``check(data)`` names a problem — then the file is quarantined, and the caller rebuilds it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        quarantine(path, f"not valid UTF-8 JSON ({exc})")
        return None
    problem = "not a JSON object" if not isinstance(data, dict) else check(data)
    if problem:
        quarantine(path, problem)
        return None
    return data
