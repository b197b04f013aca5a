"""Specs in, PDFs out: where the corpus lives and how one document is laid out and rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from demo.corpus.families import FAMILIES, SCAN_SUFFIX, quirks_for
from demo.corpus.forms.basic import BasicForm
from demo.corpus.forms.detailed import FocusedForm, FullForm
from demo.corpus.render import Sheet, Style, draw
from ground.vocabulary import KIND_TEXT

CORPUS_DIR = Path(__file__).resolve().parent
SPEC_DIR = CORPUS_DIR / "specs"
PDF_DIR = CORPUS_DIR / "pdf"
TRUTH_DIR = CORPUS_DIR / "truth"
BROKEN_DIR = CORPUS_DIR / "broken"
MANIFEST = CORPUS_DIR / "manifest.yaml"
FAMILIES_DIR = CORPUS_DIR / "families"
# specs with real wording of other bodies: rendered in every family, never served by the demo sites
WORDING_DIR = CORPUS_DIR / "wording"
WORDING_SPEC_DIR = WORDING_DIR / "specs"
WORDING_MANIFEST = WORDING_DIR / "manifest.yaml"
COLLECTIONS = {"corpus": (SPEC_DIR, MANIFEST), "wording": (WORDING_SPEC_DIR, WORDING_MANIFEST)}

FORMS = {"basic": BasicForm, "focused": FocusedForm, "full": FullForm}


@dataclass
class Layout:
    """A document laid out: its pages, the page of each marked field, its risk answers as printed."""

    pages: int
    field_pages: dict[str, int]
    risk_answers: list[dict]
    sheet: Sheet


def load_spec(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def spec_paths(collection: str = "corpus") -> list[Path]:
    return sorted(COLLECTIONS[collection][0].glob("*.yaml"))


def load_specs(collection: str = "corpus") -> list[dict]:
    return [load_spec(path) for path in spec_paths(collection)]


def output_dirs(family: str = "grid", collection: str = "corpus") -> tuple[Path, Path]:
    """(pdf dir, truth dir) of a family (or a scan family, ``<family>-scan``) in a collection."""
    if collection == "corpus" and family == "grid":
        return PDF_DIR, TRUTH_DIR
    base = (FAMILIES_DIR if collection == "corpus" else WORDING_DIR / "families") / family
    return base / "pdf", base / "truth"


def in_family(spec: dict, family: str) -> bool:
    """The scanned seed document exists only as it was scanned (family grid)."""
    return family == "grid" or not (spec.get("variants") or {}).get("scanned")


def lay_out(spec: dict, family: str = "grid") -> Layout:
    family = family.removesuffix(SCAN_SUFFIX)
    sheet = Sheet(header_left=f"{spec['business_name']}　{KIND_TEXT[spec['kind']]}",
                  header_right=spec["organization"], look=FAMILIES[family],
                  quirks=quirks_for(family, spec["id"]))
    form = FORMS[spec["kind"]](spec, sheet)
    form.build()
    if not sheet.pages[-1]:
        sheet.pages.pop()
    return Layout(len(sheet.pages), dict(sheet.marks), form.risk_answers, sheet)


def style_of(spec: dict) -> Style:
    variants = spec.get("variants") or {}
    return Style(fake_bold=bool(variants.get("fake_bold")),
                 rotated_pages=tuple(variants.get("rotated_pages") or ()))


def image_pages(spec: dict, layout: Layout) -> tuple[int, ...]:
    """The pages pasted in as scans: the spec names them for the grid layout; in another family
    they are the pages where the same fields landed."""
    pages = tuple((spec.get("variants") or {}).get("image_pages") or ())
    if not pages or layout.sheet.look.name == "grid":
        return pages
    grid = lay_out(spec, "grid")
    names = [name for name, page in grid.field_pages.items() if page in pages]
    return tuple(sorted({layout.field_pages[name] for name in names}))


def render(spec: dict, layout: Layout | None = None) -> bytes:
    """The document's PDF bytes; scanned variants replace all or some pages by images without text.

    A calc-family layout is written as a spreadsheet and exported by LibreOffice (spreadsheet.py).
    """
    layout = layout or lay_out(spec)
    variants = spec.get("variants") or {}
    style = style_of(spec)
    if layout.sheet.look.writer == "calc":
        from demo.corpus.spreadsheet import export_pdfs

        return export_pdfs([(spec, layout)])[spec["id"]]
    pdf = draw(layout.sheet, style, title=spec["title"], author=spec["organization"])
    pasted = image_pages(spec, layout)
    if variants.get("scanned") or pasted:
        from demo.corpus.scan import scan, scanned_pages  # pypdfium2 and Pillow only for these documents

        if variants.get("scanned"):
            return scan(pdf, seed=spec["id"])
        style.page_images = scanned_pages(pdf, pasted, seed=spec["id"])
        pdf = draw(layout.sheet, style, title=spec["title"], author=spec["organization"])
    return pdf
