"""Write pages only when what they show changed.

Every output file has a content hash of its inputs (the page's context, or a chart's spec) plus
the templates and assets it is made with, kept in ``.build-manifest.json`` at the site's root. A
rebuild renders and writes only the files whose hash differs or that are missing, and removes
the files an earlier build wrote that this one no longer makes (a city that left the registry).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".build-manifest.json"


def content_hash(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, ensure_ascii=False,
                                                                      default=str).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class Writer:
    out_dir: Path
    old: dict[str, str] = field(default_factory=dict)
    new: dict[str, str] = field(default_factory=dict)
    rendered: int = 0
    skipped: int = 0

    @classmethod
    def open(cls, out_dir: Path) -> "Writer":
        path = out_dir / MANIFEST
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(out_dir, old)

    def put(self, relative: str, key: str, make) -> bool:
        """Write ``make()`` (str or bytes) to ``relative`` unless ``key`` matches the last build's."""
        self.new[relative] = key
        target = self.out_dir / relative
        if self.old.get(relative) == key and target.exists():
            self.skipped += 1
            return False
        content = make()
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(target)  # a reader never sees half a page
        self.rendered += 1
        return True

    def close(self) -> int:
        """Remove what the last build wrote and this one did not; save the manifest. Returns removals."""
        removed = 0
        for relative in set(self.old) - set(self.new):
            (self.out_dir / relative).unlink(missing_ok=True)
            removed += 1
        path = self.out_dir / MANIFEST
        path.write_text(json.dumps(self.new, sort_keys=True, indent=0), encoding="utf-8")
        return removed
