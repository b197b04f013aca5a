"""Reading PDFs: the one module that opens them.

It checks the bytes (empty, HTML, not a PDF, truncated, encrypted), then reads every page's text
as positioned characters plus the ruled cell boxes, in page coordinates (top-down, points), so callers
work from geometry rather than from one reading-order string that a layout can scramble.

pypdfium2 reads every page (about 20× faster than pdfminer here, and it already drops the
doubled glyphs of fake bold). A page where doubled glyphs still come through is read again
with pdfplumber and ``dedupe_chars()``. Pages without a text layer are left to ``extract.ocr``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from piawatch.errors import CorruptPDF, EncryptedPDF, NotAPDF

# A PDF's trailer ends with %%EOF within its last bytes; a download cut short has none.
EOF_WINDOW = 4096
# Ruled cells are paths at least this big (points); thinner paths are lines and rules.
MIN_BOX_SIDE = 3.0
# Text fewer than this many characters on a page means there is no usable text layer.
MIN_TEXT_CHARS = 8
# Paths drawn per page above which a page is treated as a drawing, not a form (a hostile or
# vector-art page would otherwise cost seconds in box collection).
MAX_PATHS_PER_PAGE = 5000

_DOUBLED = re.compile(r"(.)\1")


@dataclass(frozen=True)
class TextLine:
    """A run of text with its box: one character (pdfium, pdfplumber) or one word (OCR)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float


@dataclass(frozen=True)
class Box:
    x0: float
    top: float
    x1: float
    bottom: float

    def holds(self, run: TextLine, tolerance: float = 1.0) -> bool:
        """The run starts inside the box. Its start, not its middle: a 「、」 allowed to hang past
        the end of a full line (禁則) reaches into the next cell."""
        start_x, middle_y = min(run.x0 + 1.0, (run.x0 + run.x1) / 2), (run.top + run.bottom) / 2
        return (self.x0 - tolerance <= start_x <= self.x1 + tolerance
                and self.top - tolerance <= middle_y <= self.bottom + tolerance)

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.bottom - self.top)


@dataclass
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    runs: list[TextLine] = field(default_factory=list)  # characters, or OCR lines
    boxes: list[Box] = field(default_factory=list)
    extractor: str = "pypdfium2"

    @property
    def char_count(self) -> int:
        return sum(len(run.text.strip()) for run in self.runs)

    @property
    def has_text(self) -> bool:
        return self.char_count >= MIN_TEXT_CHARS


def check_bytes(path: str | Path) -> None:
    """Raise NotAPDF / CorruptPDF for bytes that cannot be a readable PDF, before any parser runs."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise NotAPDF("empty file (0 bytes)")
    with path.open("rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - EOF_WINDOW))
        tail = handle.read()
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in stripped[:512]:
        raise NotAPDF("an HTML page, not a PDF (the server sent an error or landing page)")
    if b"%PDF-" not in head:
        raise NotAPDF(f"no %PDF- header (starts with {head[:16]!r})")
    if b"%%EOF" not in tail:
        raise CorruptPDF(f"truncated PDF: no %%EOF marker at the end of its {size} bytes")


@contextmanager
def open_pdf(path: str | Path):
    """The pypdfium2 document, closed on exit; EncryptedPDF / CorruptPDF name why it cannot open."""
    check_bytes(path)
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedPDF("encrypted PDF: it needs a password to open") from exc
        raise CorruptPDF(f"damaged PDF: pdfium cannot open it ({exc})") from exc
    try:
        if len(document) == 0:
            raise CorruptPDF("damaged PDF: it has no pages")
        yield document
    finally:
        document.close()


def page_count(path: str | Path) -> int:
    with open_pdf(path) as document:
        return len(document)


def _page_glyphs(page, height: float) -> tuple[list[TextLine], str]:
    """Every character with its advance box (pdfium's "loose" box: the ink of 「、」 or 「ィ」 ends
    well short of where the next character starts, and that distance tells a wrapped line from
    a short one), and the page's text in pdfium's reading order (for quick checks)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        glyphs = []
        for index, char in enumerate(text):
            # pdfium adds spaces and line breaks of its own (more of them on rotated pages);
            # only the characters the PDF draws count, gaps are judged in transform.layout
            if char in "\r\n\ufffe\x02" or pdfium_c.FPDFText_IsGenerated(textpage.raw, index) == 1:
                continue
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            glyphs.append(TextLine(char, left, height - top, right, height - bottom))
        return glyphs, text
    finally:
        textpage.close()


def _page_boxes(page, height: float) -> list[Box]:
    boxes = set()
    for count, path_object in enumerate(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1)):
        if count >= MAX_PATHS_PER_PAGE:
            return []
        left, bottom, right, top = path_object.get_bounds()
        if right - left >= MIN_BOX_SIDE and top - bottom >= MIN_BOX_SIDE:
            boxes.add(Box(round(left, 1), round(height - top, 1), round(right, 1), round(height - bottom, 1)))
    return sorted(boxes, key=lambda b: (b.top, b.x0))


def has_doubled_glyphs(text: str) -> bool:
    """Fake bold that slipped through: most characters of the longer lines come out twice
    (「特特定定個個人人」)."""
    long_lines = [line.replace(" ", "") for line in text.splitlines() if len(line.strip()) >= 8]
    if not long_lines:
        return False
    doubled = sum(1 for text in long_lines if 2 * len(_DOUBLED.findall(text)) >= 0.8 * len(text))
    return doubled >= max(2, len(long_lines) // 2)


def _plumber_layout(path: str | Path, number: int) -> PageLayout:
    """One page read through pdfplumber with doubled glyphs merged (dedupe_chars): slower, used
    only where pdfium's text shows fake bold."""
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        page = pdf.pages[number - 1].dedupe_chars(tolerance=1)
        glyphs = [TextLine(c["text"], c["x0"], c["top"], c["x1"], c["bottom"]) for c in page.chars]
        boxes = sorted({Box(round(r["x0"], 1), round(r["top"], 1), round(r["x1"], 1), round(r["bottom"], 1))
                        for r in page.rects
                        if r["width"] >= MIN_BOX_SIDE and r["height"] >= MIN_BOX_SIDE},
                       key=lambda b: (b.top, b.x0))
        return PageLayout(number, float(page.width), float(page.height), glyphs, boxes, "pdfplumber")


def read_layouts(path: str | Path, max_pages: int | None = None) -> list[PageLayout]:
    """Every page's positioned characters and cell boxes (at most max_pages pages)."""
    layouts = []
    with open_pdf(path) as document:
        total = len(document) if max_pages is None else min(len(document), max_pages)
        for index in range(total):
            page = document[index]
            try:
                width, height = page.get_size()
                glyphs, text = _page_glyphs(page, height)
                layout = PageLayout(index + 1, width, height, glyphs, _page_boxes(page, height))
            finally:
                page.close()
            if has_doubled_glyphs(text):
                layout = _plumber_layout(path, index + 1)
            layouts.append(layout)
    return layouts


def render_gray(path: str | Path, number: int, dpi: int = 300):
    """A page as a grayscale PIL image at `dpi` (for OCR)."""
    with open_pdf(path) as document:
        page = document[number - 1]
        try:
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            return bitmap.to_pil()
        finally:
            page.close()
