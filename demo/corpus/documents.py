"""Specs in, PDFs out: where the corpus lives and how one document is laid out and rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from demo.corpus.forms.basic import BasicForm
from demo.corpus.forms.detailed import FocusedForm, FullForm
from demo.corpus.render import Sheet, Style, draw
from demo.corpus.wording import KIND_TITLE

CORPUS_DIR = Path(__file__).resolve().parent
SPEC_DIR = CORPUS_DIR / "specs"
PDF_DIR = CORPUS_DIR / "pdf"
TRUTH_DIR = CORPUS_DIR / "truth"
BROKEN_DIR = CORPUS_DIR / "broken"
MANIFEST = CORPUS_DIR / "manifest.yaml"

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


def spec_paths() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.yaml"))


def load_specs() -> list[dict]:
    return [load_spec(path) for path in spec_paths()]


def lay_out(spec: dict) -> Layout:
    sheet = Sheet(header_left=f"{spec['business_name']}　{KIND_TITLE[spec['kind']]}",
                  header_right=spec["organization"])
    form = FORMS[spec["kind"]](spec, sheet)
    form.build()
    if not sheet.pages[-1]:
        sheet.pages.pop()
    return Layout(len(sheet.pages), dict(sheet.marks), form.risk_answers, sheet)


def style_of(spec: dict) -> Style:
    variants = spec.get("variants") or {}
    return Style(fake_bold=bool(variants.get("fake_bold")),
                 rotated_pages=tuple(variants.get("rotated_pages") or ()))


def render(spec: dict, layout: Layout | None = None) -> bytes:
    """The document's PDF bytes; scanned variants replace all or some pages by images without text."""
    layout = layout or lay_out(spec)
    variants = spec.get("variants") or {}
    style = style_of(spec)
    pdf = draw(layout.sheet, style, title=spec["title"], author=spec["organization"])
    if variants.get("scanned") or variants.get("image_pages"):
        from demo.corpus.scan import scan, scanned_pages  # pypdfium2 and Pillow only for these documents

        if variants.get("scanned"):
            return scan(pdf, seed=spec["id"])
        style.page_images = scanned_pages(pdf, variants["image_pages"], seed=spec["id"])
        pdf = draw(layout.sheet, style, title=spec["title"], author=spec["organization"])
    return pdf
