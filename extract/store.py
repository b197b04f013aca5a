"""The content-addressed store of downloaded PDFs: raw/<sha[:2]>/<sha256>.pdf, never overwritten.

A file appears there complete or not at all (written to a temporary name, then hard-linked into
place, which fails rather than replaces when the file exists), so parallel crawls that download
the same bytes and a crash mid-write are both harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def process_umask() -> int:
    """This process's umask, read without changing it (os.umask can only set, which races with threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def raw_path(raw_dir: Path, sha256: str) -> Path:
    return Path(raw_dir) / sha256[:2] / f"{sha256}.pdf"


def store_pdf(raw_dir: Path, data: bytes) -> str:
    """Keep ``data`` under its SHA-256 (at ``raw_path``) unless it is there already; return the SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = raw_path(raw_dir, sha256)
    if path.exists():
        return sha256
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{sha256}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a stored PDF is for every analyst: the process umask decides.
        os.fchmod(handle, 0o666 & ~process_umask())
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass  # another writer stored the same bytes first: they are the same file
    finally:
        os.unlink(tmp)
    return sha256
