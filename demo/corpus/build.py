"""Write each document's PDF and truth JSON, per layout family and collection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from demo.corpus.documents import in_family, lay_out, load_specs, output_dirs, render
from demo.corpus.families import FAMILIES, ON_DEMAND, SCAN_SUFFIX, SCANNED
from demo.corpus.truth import truth_record

CHECKSUMS = "SHA256SUMS"


def truth_json(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def family_ids(family: str, specs: list[dict]) -> list[str]:
    """The documents a family (or scan family) holds, in id order."""
    if family.endswith(SCAN_SUFFIX):
        wanted = set(SCANNED[family.removesuffix(SCAN_SUFFIX)])
        return [spec["id"] for spec in specs if spec["id"] in wanted]
    return [spec["id"] for spec in specs if in_family(spec, family)]


def _write(pdf_dir, truth_dir, spec: dict, layout, pdf: bytes) -> None:
    pdf_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    (pdf_dir / f"{spec['id']}.pdf").write_bytes(pdf)
    (truth_dir / f"{spec['id']}.json").write_text(truth_json(truth_record(spec, layout)), encoding="utf-8")


def write_document(spec: dict, family: str = "grid", collection: str = "corpus") -> None:
    write_documents([spec], family, collection)


def write_documents(specs: list[dict], family: str = "grid", collection: str = "corpus") -> None:
    pdf_dir, truth_dir = output_dirs(family, collection)
    layouts = [(spec, lay_out(spec, family)) for spec in specs]
    if family.endswith(SCAN_SUFFIX):
        from demo.corpus.scan import scan_300dpi

        for spec, layout in layouts:
            _write(pdf_dir, truth_dir, spec, layout, scan_300dpi(render(spec, layout), seed=f"{spec['id']}{family}"))
    elif FAMILIES[family].writer == "calc":
        from demo.corpus.spreadsheet import export_pdfs

        pdfs = export_pdfs(layouts)
        for spec, layout in layouts:
            _write(pdf_dir, truth_dir, spec, layout, pdfs[spec["id"]])
    else:
        for spec, layout in layouts:
            _write(pdf_dir, truth_dir, spec, layout, render(spec, layout))


def checksums_path(family: str, collection: str = "corpus") -> Path:
    return output_dirs(family, collection)[0].parent / CHECKSUMS


def read_checksums(family: str, collection: str = "corpus") -> dict[str, str]:
    """{document id: sha256} committed for an on-demand reportlab family ({} when there is none)."""
    path = checksums_path(family, collection)
    if not path.exists():
        return {}
    pairs = (line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {name.removesuffix(".pdf"): digest for digest, name in pairs}


def _write_checksums(family: str, collection: str, ids: list[str]) -> None:
    pdf_dir, _ = output_dirs(family, collection)
    lines = [f"{hashlib.sha256((pdf_dir / f'{doc_id}.pdf').read_bytes()).hexdigest()}  {doc_id}.pdf"
             for doc_id in ids]
    checksums_path(family, collection).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_all(family: str = "grid", collection: str = "corpus") -> list[str]:
    """Every document of a family, in id order; stale PDFs and truths of removed specs are deleted."""
    specs = load_specs(collection)
    ids = family_ids(family, specs)
    pdf_dir, truth_dir = output_dirs(family, collection)
    for stale in list(pdf_dir.glob("*.pdf")) + list(truth_dir.glob("*.json")):
        if stale.stem not in ids:
            stale.unlink()
    wanted = [spec for spec in specs if spec["id"] in ids]
    write_documents(wanted, family, collection)
    if family in ON_DEMAND and FAMILIES[family].writer == "reportlab":
        _write_checksums(family, collection, ids)
    return ids


def ensure_pdfs(family: str, collection: str = "corpus") -> list[str]:
    """Write the PDFs of a family that are missing, or differ from the committed SHA256SUMS (the
    on-demand families are not committed); returns the ids written."""
    specs = load_specs(collection)
    pdf_dir, _ = output_dirs(family, collection)
    pinned = read_checksums(family, collection)

    def current(doc_id: str) -> bool:
        path = pdf_dir / f"{doc_id}.pdf"
        if not path.exists():
            return False
        return doc_id not in pinned or hashlib.sha256(path.read_bytes()).hexdigest() == pinned[doc_id]

    missing = [spec for spec in specs if spec["id"] in family_ids(family, specs) and not current(spec["id"])]
    if missing:
        write_documents(missing, family, collection)
    return [spec["id"] for spec in missing]
