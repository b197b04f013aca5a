"""A small page-layout engine for filled-in government forms, drawn with reportlab.

The forms are Excel sheets exported to PDF: bordered rows of wrapped cells, grey label cells,
a running header and a "3 / 72" footer. A ``Sheet`` lays rows out into pages of drawing
operations first (so the footer knows the page count and the truth knows on which page each
answer landed), then ``draw`` writes them. Output is byte-for-byte deterministic: reportlab runs
with ``invariant=1`` and nothing here depends on time or dictionary order.

A ``Look`` is how one layout family prints the same content: page size, fonts (reportlab's
non-embedded CID fonts or embedded IPAex TrueType subsets), ruling lines, footer wording,
labels stacked above their values, fake bold. The default look is the original corpus ("grid").
The sheet also keeps the rows it laid out (``Sheet.rows``) so that another writer (the
spreadsheet one in ``spreadsheet.py``) can print the same pages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

MINCHO = "HeiseiMin-W3"
GOTHIC = "HeiseiKakuGo-W5"
for _font in (MINCHO, GOTHIC):
    pdfmetrics.registerFont(UnicodeCIDFont(_font))

# IPAex TrueType fonts (Debian fonts-ipaexfont), embedded as subsets by the families that need
# them; registered on first use so that the grid family works without them.
IPAEX_MINCHO = "IPAexMincho"
IPAEX_GOTHIC = "IPAexGothic"
IPAEX_FILES = {
    IPAEX_MINCHO: ("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
                   "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf"),
    IPAEX_GOTHIC: ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
                   "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
}

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 40.0
TOP_MARGIN = 52.0
CONTENT_BOTTOM = 48.0
CONTENT_TOP = PAGE_HEIGHT - TOP_MARGIN
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
FONT_SIZE = 8.5
LEADING = 11.0
PADDING = 3.0
LABEL_GREY = 0.88
FAKE_BOLD_OFFSET = 0.3
# Characters that must not start a line (禁則): they hang at the end of the previous one.
NO_LINE_START = set("、。，．）」』】〕・：；？！ー")


@dataclass(frozen=True)
class Cell:
    text: str
    width: float  # fraction of the content width
    font: str = MINCHO
    grey: bool = False
    size: float = FONT_SIZE


def ipaex_font_file(name: str) -> str | None:
    """The installed file of an IPAex font, or None when fonts-ipaexfont is missing."""
    import os

    return next((path for path in IPAEX_FILES[name] if os.path.exists(path)), None)


def register_ipaex() -> None:
    """Register the IPAex TrueType fonts with reportlab (embedded as subsets when drawn)."""
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    for name in IPAEX_FILES:
        if name not in registered:
            path = ipaex_font_file(name)
            if path is None:
                raise FileNotFoundError(f"{name} is not installed (Debian package fonts-ipaexfont)")
            pdfmetrics.registerFont(TTFont(name, path))


@dataclass(frozen=True)
class Look:
    """How a layout family prints a document; the grid look is the original corpus."""

    name: str = "grid"
    page_size: tuple[float, float] = A4
    mincho: str = MINCHO
    gothic: str = GOTHIC
    borders: bool = True          # ruling lines around every cell
    shading: bool = True          # grey label cells
    footer: str = "{n} / {total}"
    stacked: bool = False         # every label on its own row, its value in the row below
    stacked_cover: bool = False   # the cover's labels above their values, as the official 様式
    fake_bold: bool = False       # every glyph drawn twice, slightly offset
    margin_x: float = MARGIN_X
    top_margin: float = TOP_MARGIN
    bottom_margin: float = CONTENT_BOTTOM
    writer: str = "reportlab"     # or "calc": a spreadsheet exported by LibreOffice

    @property
    def embedded(self) -> bool:
        return self.mincho in IPAEX_FILES

    def font(self, name: str) -> str:
        """The look's font for a cell font name of the forms (MINCHO / GOTHIC)."""
        if self.embedded:
            register_ipaex()
        return {MINCHO: self.mincho, GOTHIC: self.gothic}.get(name, name)

    @property
    def width(self) -> float:
        return self.page_size[0]

    @property
    def height(self) -> float:
        return self.page_size[1]

    @property
    def content_width(self) -> float:
        return self.width - 2 * self.margin_x

    @property
    def content_top(self) -> float:
        return self.height - self.top_margin


GRID = Look()


@dataclass
class Style:
    """Office habits that change how a document looks, not what it says."""

    fake_bold: bool = False  # every glyph drawn twice, slightly offset
    rotated_pages: tuple[int, ...] = ()  # 1-based pages carrying /Rotate 90
    page_images: dict[int, bytes] = field(default_factory=dict)  # 1-based page → scan replacing it


@dataclass
class Sheet:
    header_left: str
    header_right: str
    look: Look = GRID
    quirks: frozenset[str] = frozenset()  # planted layout quirks of this document (families.py)
    pages: list[list[tuple]] = field(default_factory=lambda: [[]])
    marks: dict[str, int] = field(default_factory=dict)
    y: float | None = None
    # a table header row repeated at the top of each new page (Excel's "rows to repeat at top")
    repeated_header: list[Cell] | None = None
    # what was laid out, row by row, for writers that do not draw (page, kind, height, cells)
    rows: list[tuple] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.y is None:
            self.y = self.look.content_top

    def _font(self, cell: Cell) -> str:
        return self.look.font(cell.font)

    @property
    def page_number(self) -> int:
        return len(self.pages)

    def mark(self, name: str) -> None:
        """Remember the page the next content lands on (the truth's page numbers)."""
        self.marks.setdefault(name, self.page_number)

    def new_page(self) -> None:
        self.pages.append([])
        self.y = self.look.content_top
        if self.repeated_header:
            widths = [c.width * self.look.content_width for c in self.repeated_header]
            lines = [wrap(c.text, self._font(c), c.size, w - 2 * PADDING)
                     for c, w in zip(self.repeated_header, widths)]
            self._draw_row(self.repeated_header, widths, lines, max(map(len, lines)) * LEADING + 2 * PADDING)

    def spacer(self, height: float = 6.0) -> None:
        self.y -= height
        self.rows.append((self.page_number, "space", height, ()))
        if self.y < self.look.bottom_margin:
            self.new_page()

    def _ensure(self, height: float) -> None:
        if self.y - height < self.look.bottom_margin:
            self.new_page()

    def text(self, text: str, font: str = MINCHO, size: float = FONT_SIZE, center: bool = False) -> None:
        font = self.look.font(font)
        content_width = self.look.content_width
        for line in wrap(text, font, size, content_width):
            self._ensure(size + 4)
            width = pdfmetrics.stringWidth(line, font, size)
            x = self.look.margin_x + (content_width - width) / 2 if center else self.look.margin_x
            self.y -= size + 4
            self.pages[-1].append(("text", x, self.y + 2, line, font, size))
            self.rows.append((self.page_number, "center" if center else "text", size + 4,
                              ((line, font, size),)))

    def heading(self, text: str, size: float = 10.0) -> None:
        self._ensure(size + 12 + 2 * LEADING)  # never strand a heading at the foot of a page
        self.y -= 4
        self.text(text, GOTHIC, size)
        self.y -= 2

    def row(self, cells: list[Cell]) -> None:
        """One bordered table row; a row taller than the space left continues on the next page."""
        widths = [c.width * self.look.content_width for c in cells]
        lines = [wrap(c.text, self._font(c), c.size, w - 2 * PADDING) for c, w in zip(cells, widths)]
        while True:
            need = max(len(ls) for ls in lines) * LEADING + 2 * PADDING
            room = self.y - self.look.bottom_margin
            if need <= room:
                self._draw_row(cells, widths, lines, need)
                return
            fit = int((room - 2 * PADDING) // LEADING)
            if fit < 3:
                self.new_page()
                continue
            self._draw_row(cells, widths, [ls[:fit] for ls in lines], fit * LEADING + 2 * PADDING)
            lines = [ls[fit:] or [""] for ls in lines]
            self.new_page()

    def _draw_row(self, cells, widths, lines, height) -> None:
        top = self.y
        x = self.look.margin_x
        ops = self.pages[-1]
        for cell, width, cell_lines in zip(cells, widths, lines):
            ops.append(("rect", x, top - height, width, height, LABEL_GREY if cell.grey else None))
            for n, line in enumerate(cell_lines):
                if line:
                    ops.append(("text", x + PADDING, top - PADDING - (n + 1) * LEADING + 2.5, line,
                                self._font(cell), cell.size))
            x += width
        self.rows.append((self.page_number, "cells", height,
                          tuple((cell, tuple(cell_lines)) for cell, cell_lines in zip(cells, lines))))
        self.y = top - height


@lru_cache(maxsize=None)
def _char_width(char: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(char, font, size)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines that fit the width, character by character as Excel does for CJK."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for char in paragraph:
            w = _char_width(char, font, size)
            if used + w > width and line and char not in NO_LINE_START:
                lines.append(line)
                line, used = "", 0.0
            line += char
            used += w
        lines.append(line)
    return lines or [""]


def draw(sheet: Sheet, style: Style, title: str, author: str) -> bytes:
    """The PDF bytes of a laid-out sheet, with running header and page footer."""
    look = sheet.look
    width, height = look.page_size
    font = look.font(MINCHO)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=look.page_size, invariant=1, pageCompression=1)
    pdf.setTitle(title)
    pdf.setAuthor(author)
    pdf.setCreator("PIA Watch demo corpus")
    total = len(sheet.pages)
    offsets = (0.0, FAKE_BOLD_OFFSET) if style.fake_bold or look.fake_bold else (0.0,)
    for number, ops in enumerate(sheet.pages, 1):
        if number in style.page_images:
            # a page pasted in as a scan: no text layer, header and footer included in the image
            pdf.drawImage(ImageReader(io.BytesIO(style.page_images[number])), 0, 0, width, height)
            pdf.showPage()
            continue
        header_ops = [
            ("text", look.margin_x, height - 32, sheet.header_left, font, 7.0),
            ("text", width - look.margin_x - pdfmetrics.stringWidth(sheet.header_right, font, 7.0),
             height - 32, sheet.header_right, font, 7.0),
        ]
        footer = look.footer.format(n=number, total=total)
        footer_ops = [("text", (width - pdfmetrics.stringWidth(footer, font, 8.0)) / 2, 26,
                       footer, font, 8.0)]
        pdf.setLineWidth(0.5)
        for op in header_ops + ops + footer_ops:
            if op[0] == "rect":
                _, x, y, w, h, grey = op
                if not look.borders:
                    # a borderless (Word-like) table: no ruling lines, no shading
                    continue
                if grey is not None and look.shading:
                    pdf.setFillGray(grey)
                    pdf.rect(x, y, w, h, stroke=1, fill=1)
                    pdf.setFillGray(0)
                else:
                    pdf.rect(x, y, w, h, stroke=1, fill=0)
            else:
                _, x, y, text, font, size = op
                pdf.setFont(font, size)
                for dx in offsets:
                    pdf.drawString(x + dx, y, text)
        if number in style.rotated_pages:
            pdf.setPageRotation(90)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
