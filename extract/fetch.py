"""Downloading one PDF into the content-addressed store, conditionally.

The validators a server gave for a URL (ETag, Last-Modified) and the sha256 of what it served are
kept in http/<sha1(url)>.json, so the next crawl asks "changed since?" and an unchanged PDF costs
a 304 and no bytes. A record that does not parse is quarantined and the PDF fetched again
(ground.state_files). Bytes that do not start like a PDF are refused before they are stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from extract.http import PoliteSession, require_success
from extract.store import raw_path, store_pdf
from ground.errors import NotAPDF
from ground.sniff import not_a_pdf_reason
from ground.state_files import read_state, write_json


def validators_path(http_state_dir: Path, url: str) -> Path:
    return Path(http_state_dir) / f"{hashlib.sha1(url.encode('utf-8')).hexdigest()}.json"


def _record_problem(state: dict) -> str | None:
    if not isinstance(state.get("url"), str) or not isinstance(state.get("sha256"), str):
        return "not a conditional-GET record (url and sha256 missing)"
    return None


def read_validators(http_state_dir: Path, url: str) -> dict | None:
    """What the server said about ``url`` last time; None (fetch it unconditionally) when nothing
    is known, or when the record is corrupt — then it is quarantined and rewritten by this fetch."""
    state = read_state(validators_path(http_state_dir, url), _record_problem)
    return state if state is not None and state["url"] == url else None


def write_validators(http_state_dir: Path, url: str, state: dict) -> None:
    write_json(validators_path(http_state_dir, url), {"url": url, **state})


def check_pdf_bytes(body: bytes, url: str, content_type: str) -> None:
    """NotAPDF unless ``body`` carries the %PDF- header, with what it looks like instead."""
    reason = not_a_pdf_reason(body)
    if reason:
        served_as = f"served as {content_type}" if content_type else "served without a Content-Type"
        raise NotAPDF(f"{url}: {served_as} but {reason}")


def fetch_pdf(session: PoliteSession, url: str, *, raw_dir: Path, http_state_dir: Path,
              max_bytes: int) -> dict:
    """Fetch ``url`` into the store; return its document row (without link text / found_on).

    Raises the named fetch errors (HTTPStatusError, FetchTimeout, TooLarge, NotAPDF, DisallowedURL).
    """
    previous = read_validators(http_state_dir, url)
    headers = {}
    if previous and raw_path(raw_dir, previous["sha256"]).exists():
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    response = require_success(session.get(url, headers=headers, max_bytes=max_bytes))
    fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    if response.status == 304:
        return {"url": url, "sha256": previous["sha256"], "bytes": previous.get("bytes"),
                "content_type": previous.get("content_type"),
                "etag": response.headers.get("ETag", previous.get("etag")),
                "last_modified": response.headers.get("Last-Modified", previous.get("last_modified")),
                "fetched_at": fetched_at, "is_new_version": False}

    check_pdf_bytes(response.body, response.url, response.content_type)
    sha256 = store_pdf(raw_dir, response.body)
    response.log_row["sha256"] = sha256
    state = {"sha256": sha256, "bytes": len(response.body), "content_type": response.content_type or None,
             "etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified"),
             "fetched_at": fetched_at}
    write_validators(http_state_dir, url, state)
    return {"url": url, **state, "is_new_version": previous is None or previous["sha256"] != sha256}
