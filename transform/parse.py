"""PDF → CONTRACT record: the parser the pipeline and the CLI call.

    parse_pdf(path, sha256=None) -> dict            every field of ground.schema, plus `source`

(transform.sandbox.parse_pdf_limited runs it in a child process with a time and memory limit.)

Pages are read as positioned lines and cell boxes (transform.pdf); pages without a text layer are
OCRed (transform.ocr). The rows of the document (transform.layout) go to the parser of its kind
(transform.forms). Raises the named errors of ground.errors for files that are not readable
assessments.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ground.errors import NoTextLayer, NotAnAssessment
from ground.schema import FIELDS, empty_record
from transform import ocr
from transform.forms.basic import parse_basic
from transform.forms.cover import kind_of, parse_cover
from transform.forms.detailed import parse_detailed
from transform.forms.reader import FormReader
from transform.layout import document_rows
from transform.pdf import PageLayout, read_layouts

# Bump whenever the output for the same bytes changes: the parse cache keys on it.
PARSER_VERSION = "2026.11.30-3"

# The longest real assessments run to about 150 pages; a PDF far beyond is read only this far.
MAX_PAGES = 400
# OCR takes about a second a page: a scan longer than this is read only this far.
MAX_OCR_PAGES = 80
# A document is a scan when at least this share of its pages has no text layer.
SCANNED_SHARE = 0.5


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _with_ocr(path: Path, layouts: list[PageLayout]) -> tuple[list[PageLayout], bool]:
    """A scanned document (most pages without a text layer) with its pages OCRed; (layouts,
    whether OCR was used). A text document with a page pasted in as an image keeps that page
    blank: its fields come out unread (an `extraction` finding), as the manifest of the demo
    corpus expects, rather than mixing OCR guesses into a text document."""
    blank = [layout for layout in layouts if not layout.has_text]
    if len(blank) < SCANNED_SHARE * len(layouts):
        return layouts, False
    if not ocr.available():
        raise NoTextLayer(f"scanned PDF: {len(blank)} of its {len(layouts)} pages have no text layer, "
                          "and Tesseract (jpn) is not installed for OCR")
    read = {layout.number: ocr.ocr_page(path, layout.number) for layout in blank[:MAX_OCR_PAGES]}
    merged = [read.get(layout.number, layout) for layout in layouts]
    if not any(layout.has_text for layout in merged):
        raise NoTextLayer(f"scanned PDF: OCR found no text on its {len(layouts)} pages")
    return merged, True


def parse_pdf(path: str | Path, *, sha256: str | None = None) -> dict:
    """The CONTRACT record of one assessment PDF (see ground/schema.py)."""
    path = Path(path)
    layouts = read_layouts(path, max_pages=MAX_PAGES)
    layouts, used_ocr = _with_ocr(path, layouts)
    rows = document_rows(layouts)
    record = empty_record()
    reader = FormReader(rows, record, ocr=used_ocr,
                        reread_number=(lambda page, box: ocr.read_number(path, page, box)) if used_ocr else None)
    kind = kind_of(reader)
    if kind is None:
        first = next((row.text for row in rows if row.page == 1), "")
        raise NotAnAssessment(f"not a 特定個人情報保護評価書: page 1 has no assessment title "
                              f"(it begins 「{first[:40]}」)")
    record["kind"] = kind
    parse_cover(reader)
    if kind == "basic":
        parse_basic(reader)
    else:
        parse_detailed(reader, kind)
    _keep_to_kind(record, kind)
    record["source"] = {
        "sha256": sha256 or _sha256(path),
        "pages": len(layouts),
        "parser_version": PARSER_VERSION,
        "extractor": "ocr" if used_ocr else "pypdfium2",
        "ocr": used_ocr,
        "field_pages": dict(sorted(reader.field_pages.items())),
        "unread_fields": [name for name in reader.unread if kind in _KINDS_OF[name]],
    }
    return record


_KINDS_OF = {f.name: f.kinds for f in FIELDS}


def _keep_to_kind(record: dict, kind: str) -> None:
    """A field the kind's form does not have stays unknown."""
    for name, kinds in _KINDS_OF.items():
        if kind not in kinds and name != "source":
            record[name] = [] if isinstance(record[name], list) else None

