"""Write each document's PDF and truth JSON next to its spec."""

from __future__ import annotations

import json

from demo.corpus.documents import PDF_DIR, TRUTH_DIR, lay_out, load_specs, render
from demo.corpus.truth import truth_record


def truth_json(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def write_document(spec: dict) -> None:
    layout = lay_out(spec)
    PDF_DIR.mkdir(exist_ok=True)
    TRUTH_DIR.mkdir(exist_ok=True)
    (PDF_DIR / f"{spec['id']}.pdf").write_bytes(render(spec, layout))
    (TRUTH_DIR / f"{spec['id']}.json").write_text(truth_json(truth_record(spec, layout)), encoding="utf-8")


def write_all() -> list[str]:
    """Every document, in id order; stale PDFs and truths of removed specs are deleted."""
    specs = load_specs()
    ids = {spec["id"] for spec in specs}
    for stale in list(PDF_DIR.glob("*.pdf")) + list(TRUTH_DIR.glob("*.json")):
        if stale.stem not in ids:
            stale.unlink()
    for spec in specs:
        write_document(spec)
    return [spec["id"] for spec in specs]
