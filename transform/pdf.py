"""Reading PDFs: the one module that opens them.

It checks the bytes (empty, HTML, not a PDF, truncated, encrypted), then reads every page's text
as positioned characters plus the table's cell boxes, in page coordinates (top-down, points), so
callers work from geometry rather than from one reading-order string that a layout can scramble.

pypdfium2 reads every page (about 20× faster than pdfminer here); the doubled glyphs of fake
bold are merged here (``dedupe_glyphs``), as pdfplumber's ``dedupe_chars()`` would. Pages
without a text layer are left to ``transform.ocr``.

pdfium never sees the machine's fonts: for a font the PDF does not embed it gets
``fonts/piawatch-boxes.ttf`` (see tools/make_box_font.py), so the characters and their boxes
come from the PDF's own positions and widths and a record is the same on every machine.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ground.errors import CorruptPDF, EncryptedPDF, NotAPDF
from ground.sniff import PDF_HEADER_WINDOW, not_a_pdf_reason

# A PDF's trailer ends with %%EOF within its last bytes; a download cut short has none.
EOF_WINDOW = 4096
# Ruled cells are paths at least this big (points); thinner paths are lines and rules.
MIN_BOX_SIDE = 3.0
# Ruled lines this close (points) are one line.
RULE_TOLERANCE = 1.5
# Text fewer than this many characters on a page means there is no usable text layer.
MIN_TEXT_CHARS = 8
# Paths drawn per page above which a page is treated as a drawing, not a form (a hostile or
# vector-art page would otherwise cost seconds in box collection).
MAX_PATHS_PER_PAGE = 5000


BOX_FONT = Path(__file__).resolve().parent / "fonts" / "piawatch-boxes.ttf"


class _BoxFontOnly(pdfium.PdfSysfontBase):
    """pdfium's source of fonts a PDF does not embed: always the one box font, never a system font.
    (With the system's fonts, the same PDF drops or keeps characters depending on which Japanese
    fonts are installed.)"""

    _NAME = b"PIAWatchBoxes\0"

    def __init__(self, data: bytes):
        super().__init__()
        self._data = data

    def EnumFonts(self, _, mapper):
        pass

    def MapFont(self, _, weight, italic, charset, pitch_family, face, exact):
        return 1  # one handle: the box font

    def GetFont(self, _, face):
        return 1

    def GetFontData(self, _, handle, table, buffer, size):
        if table != 0:  # 0 asks for the whole font file
            return 0
        if buffer and size >= len(self._data):
            ctypes.memmove(buffer, self._data, len(self._data))
        return len(self._data)

    def GetFaceName(self, _, handle, buffer, size):
        if buffer and size >= len(self._NAME):
            ctypes.memmove(buffer, self._NAME, len(self._NAME))
        return len(self._NAME)

    def GetFontCharset(self, _, handle):
        return 1  # DEFAULT_CHARSET

    def DeleteFont(self, _, handle):
        pass


@cache
def pin_fonts() -> None:
    """Install the box font as pdfium's only system font (once per process, before any page is read)."""
    _BoxFontOnly(BOX_FONT.read_bytes()).setup()


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
    with path.open("rb") as handle:
        head = handle.read(PDF_HEADER_WINDOW)
        handle.seek(max(0, size - EOF_WINDOW))
        tail = handle.read()
    reason = not_a_pdf_reason(head)
    if reason:
        raise NotAPDF(f"the file {reason}")
    if b"%%EOF" not in tail:
        raise CorruptPDF(f"truncated PDF: no %%EOF marker at the end of its {size} bytes")


@contextmanager
def open_pdf(path: str | Path):
    """The pypdfium2 document, closed on exit; EncryptedPDF / CorruptPDF name why it cannot open."""
    check_bytes(path)
    pin_fonts()
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


def _page_glyphs(page, height: float) -> list[TextLine]:
    """Every character with its advance box (pdfium's "loose" box: the ink of 「、」 or 「ィ」 ends
    well short of where the next character starts, and that distance tells a wrapped line from
    a short one)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        glyphs = []
        raw, box = textpage.raw, pdfium_c.FS_RECTF()
        for index, char in enumerate(text):
            # pdfium adds spaces and line breaks of its own (more of them on rotated pages);
            # only the characters the PDF draws count, gaps are judged in transform.layout
            if char in "\r\n\ufffe\x02" or pdfium_c.FPDFText_IsGenerated(raw, index) == 1:
                continue
            if not pdfium_c.FPDFText_GetLooseCharBox(raw, index, box):
                continue
            glyphs.append(TextLine(char, box.left, height - box.top, box.right, height - box.bottom))
        return glyphs
    finally:
        textpage.close()


def _page_boxes(page, height: float) -> list[Box]:
    """The page's table cells: rectangles drawn as such, and cells enclosed by separate ruled
    lines (how Excel exports its borders)."""
    boxes, rules = set(), []
    for count, path_object in enumerate(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1)):
        if count >= MAX_PATHS_PER_PAGE:
            return []
        left, bottom, right, top = path_object.get_bounds()
        box = Box(round(left, 1), round(height - top, 1), round(right, 1), round(height - bottom, 1))
        if right - left >= MIN_BOX_SIDE and top - bottom >= MIN_BOX_SIDE:
            boxes.add(box)
        elif max(right - left, top - bottom) >= MIN_BOX_SIDE:
            rules.append(box)
    boxes.update(boxes_from_rules(rules))
    return sorted(boxes, key=lambda b: (b.top, b.x0))


def near_groups(values: list[float], tolerance: float) -> list[list[float]]:
    """The values sorted, in groups of neighbours at most `tolerance` apart."""
    groups: list[list[float]] = []
    for value in sorted(values):
        if groups and value - groups[-1][-1] <= tolerance:
            groups[-1].append(value)
        else:
            groups.append([value])
    return groups


def _cluster(values: list[float], tolerance: float = RULE_TOLERANCE) -> list[float]:
    """Sorted values with near-equal ones merged (a border drawn twice, or 0.5 pt apart)."""
    return [sum(group) / len(group) for group in near_groups(values, tolerance)]


def boxes_from_rules(rules: list[Box]) -> set[Box]:
    """Cells enclosed by ruled lines: between two neighbouring horizontal rules, the stretches
    between vertical rules that run the full height, where a horizontal rule runs along the top."""
    horizontal = [r for r in rules if r.x1 - r.x0 >= r.bottom - r.top]
    vertical = [r for r in rules if r.x1 - r.x0 < r.bottom - r.top]
    cells = set()
    rows = _cluster([(r.top + r.bottom) / 2 for r in horizontal])
    for upper, lower in zip(rows, rows[1:]):
        columns = _cluster([(v.x0 + v.x1) / 2 for v in vertical
                            if v.top <= upper + RULE_TOLERANCE and v.bottom >= lower - RULE_TOLERANCE])
        for left, right in zip(columns, columns[1:]):
            if any(h.x0 <= left + RULE_TOLERANCE and h.x1 >= right - RULE_TOLERANCE
                   and abs((h.top + h.bottom) / 2 - upper) <= RULE_TOLERANCE for h in horizontal):
                cells.add(Box(round(left, 1), round(upper, 1), round(right, 1), round(lower, 1)))
    return cells


def dedupe_glyphs(glyphs: list[TextLine], tolerance: float = 1.0) -> list[TextLine]:
    """The glyphs without fake bold's copies: the same character drawn again within `tolerance`
    points of where it already stands (an office's bold is the text drawn twice, 0.3 pt apart).
    pdfium drops such copies only for some fonts; with embedded TrueType subsets they come
    through (「令令和和66年年」). A repeated character a full advance away (「1,000」) is kept."""
    kept: list[TextLine] = []
    # x positions of each character, by the whole point its top stands at
    seen: dict[tuple[str, int], list[float]] = {}
    for glyph in glyphs:
        row = int(glyph.top)
        if any(abs(x - glyph.x0) <= tolerance
               for key in ((glyph.text, row), (glyph.text, row - 1), (glyph.text, row + 1))
               for x in seen.get(key, ())):
            continue
        seen.setdefault((glyph.text, row), []).append(glyph.x0)
        kept.append(glyph)
    return kept


def read_layouts(path: str | Path, max_pages: int | None = None) -> list[PageLayout]:
    """Every page's positioned characters and cell boxes (at most max_pages pages)."""
    layouts = []
    with open_pdf(path) as document:
        total = len(document) if max_pages is None else min(len(document), max_pages)
        for index in range(total):
            page = document[index]
            try:
                width, height = page.get_size()
                glyphs = dedupe_glyphs(_page_glyphs(page, height))
                layouts.append(PageLayout(index + 1, width, height, glyphs, _page_boxes(page, height)))
            finally:
                page.close()
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
