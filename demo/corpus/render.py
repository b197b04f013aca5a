"""A small page-layout engine for filled-in government forms, drawn with reportlab.

The forms are Excel sheets exported to PDF: bordered rows of wrapped cells, grey label cells,
a running header and a "3 / 72" footer. A ``Sheet`` lays rows out into pages of drawing
operations first (so the footer knows the page count and the truth knows on which page each
answer landed), then ``draw`` writes them. Output is byte-for-byte deterministic: reportlab runs
with ``invariant=1`` and nothing here depends on time or dictionary order.
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

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 40.0
CONTENT_TOP = PAGE_HEIGHT - 52.0
CONTENT_BOTTOM = 48.0
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
    pages: list[list[tuple]] = field(default_factory=lambda: [[]])
    marks: dict[str, int] = field(default_factory=dict)
    y: float = CONTENT_TOP
    # a table header row repeated at the top of each new page (Excel's "rows to repeat at top")
    repeated_header: list[Cell] | None = None

    @property
    def page_number(self) -> int:
        return len(self.pages)

    def mark(self, name: str) -> None:
        """Remember the page the next content lands on (the truth's page numbers)."""
        self.marks.setdefault(name, self.page_number)

    def new_page(self) -> None:
        self.pages.append([])
        self.y = CONTENT_TOP
        if self.repeated_header:
            widths = [c.width * CONTENT_WIDTH for c in self.repeated_header]
            lines = [wrap(c.text, c.font, c.size, w - 2 * PADDING) for c, w in zip(self.repeated_header, widths)]
            self._draw_row(self.repeated_header, widths, lines, max(map(len, lines)) * LEADING + 2 * PADDING)

    def spacer(self, height: float = 6.0) -> None:
        self.y -= height
        if self.y < CONTENT_BOTTOM:
            self.new_page()

    def _ensure(self, height: float) -> None:
        if self.y - height < CONTENT_BOTTOM:
            self.new_page()

    def text(self, text: str, font: str = MINCHO, size: float = FONT_SIZE, center: bool = False) -> None:
        for line in wrap(text, font, size, CONTENT_WIDTH):
            self._ensure(size + 4)
            width = pdfmetrics.stringWidth(line, font, size)
            x = MARGIN_X + (CONTENT_WIDTH - width) / 2 if center else MARGIN_X
            self.y -= size + 4
            self.pages[-1].append(("text", x, self.y + 2, line, font, size))

    def heading(self, text: str, size: float = 10.0) -> None:
        self._ensure(size + 12 + 2 * LEADING)  # never strand a heading at the foot of a page
        self.y -= 4
        self.text(text, GOTHIC, size)
        self.y -= 2

    def row(self, cells: list[Cell]) -> None:
        """One bordered table row; a row taller than the space left continues on the next page."""
        widths = [c.width * CONTENT_WIDTH for c in cells]
        lines = [wrap(c.text, c.font, c.size, w - 2 * PADDING) for c, w in zip(cells, widths)]
        while True:
            need = max(len(ls) for ls in lines) * LEADING + 2 * PADDING
            room = self.y - CONTENT_BOTTOM
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
        x = MARGIN_X
        ops = self.pages[-1]
        for cell, width, cell_lines in zip(cells, widths, lines):
            ops.append(("rect", x, top - height, width, height, LABEL_GREY if cell.grey else None))
            for n, line in enumerate(cell_lines):
                if line:
                    ops.append(("text", x + PADDING, top - PADDING - (n + 1) * LEADING + 2.5, line,
                                cell.font, cell.size))
            x += width
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
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(title)
    pdf.setAuthor(author)
    pdf.setCreator("PIA Watch demo corpus")
    total = len(sheet.pages)
    offsets = (0.0, FAKE_BOLD_OFFSET) if style.fake_bold else (0.0,)
    for number, ops in enumerate(sheet.pages, 1):
        if number in style.page_images:
            # a page pasted in as a scan: no text layer, header and footer included in the image
            pdf.drawImage(ImageReader(io.BytesIO(style.page_images[number])), 0, 0, PAGE_WIDTH, PAGE_HEIGHT)
            pdf.showPage()
            continue
        header_ops = [
            ("text", MARGIN_X, PAGE_HEIGHT - 32, sheet.header_left, MINCHO, 7.0),
            ("text", PAGE_WIDTH - MARGIN_X - pdfmetrics.stringWidth(sheet.header_right, MINCHO, 7.0),
             PAGE_HEIGHT - 32, sheet.header_right, MINCHO, 7.0),
        ]
        footer = f"{number} / {total}"
        footer_ops = [("text", (PAGE_WIDTH - pdfmetrics.stringWidth(footer, MINCHO, 8.0)) / 2, 26,
                       footer, MINCHO, 8.0)]
        pdf.setLineWidth(0.5)
        for op in header_ops + ops + footer_ops:
            if op[0] == "rect":
                _, x, y, w, h, grey = op
                if grey is not None:
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
