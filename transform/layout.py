"""Page geometry → table rows: the document as an ordered list of rows of cell texts.

A form page is a stack of bordered rows; each row is a few cells side by side (label, selection,
choice list). Text runs (characters, or OCR words) are put into the cell box that holds them,
cells with the same top and bottom make one row, and rows are ordered top to bottom, then page
by page. That order comes from positions only, so a PDF whose content stream (or whose /Rotate)
scrambles the reading order still yields label and value side by side. Runs outside any box
(headings, the form version) become rows too, grouped by the line they stand on.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ground.text import clean, compact, nfkc
from transform.labels import is_label
from transform.normalize import is_page_footer, running_lines
from transform.pdf import Box, PageLayout, TextLine, near_groups

# Lines within this share of the page height from the top or bottom edge may be running
# headers and footers.
MARGIN_SHARE = 0.07
# A wrapped line ends less than one full-width glyph (its widest advance on the line) short of
# the cell's right edge; a line that ends further left ends its paragraph. Advances come from the
# PDF's widths, so embedded and substituted fonts are judged alike.
WRAP_SLACK = 1.1
ROW_TOLERANCE = 2.0
# Gaps between runs on one line, in line heights: wider than SPACE_GAP is a space, wider than
# CELL_GAP separates two pieces of free text (e.g. a label and its value without ruled cells).
SPACE_GAP = 0.6
CELL_GAP = 2.5
CELL_PADDING = 3.0
HEADER_MIN_CELLS = 4
HANGING_REACH = 2.0  # line heights a 禁則 character may hang past a row's last cell
SAME_LINE_TOLERANCE = 3.0
# Text without rules: a column starts where pieces begin at the same left edge (within
# COLUMN_TOLERANCE points) on at least COLUMN_LINES lines, after a gap of COLUMN_GAP line
# heights; a line continues the block above it when the gap between them is at most BLOCK_GAP
# line heights (wider gaps separate rows).
COLUMN_TOLERANCE = 1.5
COLUMN_LINES = 2
COLUMN_GAP = 0.25
BLOCK_GAP = 0.45


@dataclass(frozen=True)
class Cell:
    text: str  # NFKC, whitespace collapsed; "" for a blank cell
    x0: float
    x1: float
    wrapped: bool = False  # its last line runs to the right edge (the text goes on)

    @property
    def key(self) -> str:
        """The text with every space removed, for comparing labels (「公 表 日」 = 「公表日」)."""
        return compact(self.text)


@dataclass(frozen=True)
class Row:
    page: int
    top: float
    cells: tuple[Cell, ...]
    boxed: bool  # inside the ruled table (False for headings and free text)
    end_page: int = 0  # the page it ends on, when continued on the next page
    bottom: float = 0.0

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.cells]

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells if c.text)

    @property
    def key(self) -> str:
        return compact(self.text)

    def label(self) -> str:
        return self.cells[0].key if self.cells else ""


def _visual_lines(runs: list[TextLine]) -> list[list[TextLine]]:
    """Runs standing on the same line (their vertical middles within tolerance), left to right."""
    grouped: list[list[TextLine]] = []
    for run in sorted(runs, key=lambda r: ((r.top + r.bottom) / 2, r.x0)):
        middle = (run.top + run.bottom) / 2
        if grouped and abs(grouped[-1][0].top + grouped[-1][0].bottom - 2 * middle) / 2 <= SAME_LINE_TOLERANCE:
            grouped[-1].append(run)
        else:
            grouped.append([run])
    return [sorted(group, key=lambda r: r.x0) for group in grouped]


def _line_text(visual: list[TextLine]) -> str:
    """The runs of one line joined; a visible gap between two runs becomes a space (pdfium
    reports its spaces as characters, pdfplumber's characters and OCR words do not)."""
    text = ""
    previous = None
    height = max(run.bottom - run.top for run in visual)
    for run in visual:
        if previous is not None and not text.endswith(" ") and not run.text.startswith(" "):
            if run.x0 - previous.x1 > SPACE_GAP * height:
                text += " "
        text += run.text
        previous = run
    return text


def _reaches_edge(visual: list[TextLine], right_edge: float | None) -> bool:
    """The line was wrapped: it ends (at its last glyph's advance) closer to the cell's right
    edge than one more full-width glyph would need."""
    if right_edge is None:
        return False
    ink = [run for run in visual if run.text.strip()]
    if not ink:
        return False
    em = max(run.x1 - run.x0 for run in ink)
    return right_edge - ink[-1].x1 < WRAP_SLACK * em


def cell_text(runs: list[TextLine], right_edge: float | None) -> tuple[str, bool]:
    """(text, wrapped at its end) of one cell: its lines in order. A line that reaches the
    right edge was wrapped and joins the next directly (Japanese wraps anywhere and has no
    spaces; a wrap at a space keeps that space); a line ending further left ends a paragraph,
    which becomes a space as in the record's whitespace rule."""
    text = ""
    wrapped = False
    for visual in _visual_lines(runs):
        line = _line_text(visual)
        if text and not wrapped:
            text += " "
        text += line
        wrapped = _reaches_edge(visual, right_edge)
    return clean(text) or "", wrapped


def _free_cells(visual: list[TextLine]) -> list[Cell]:
    """Text outside the table on one line, split where a wide gap separates two pieces."""
    pieces: list[list[TextLine]] = []
    height = max(run.bottom - run.top for run in visual)
    for run in visual:
        if pieces and run.x0 - pieces[-1][-1].x1 <= CELL_GAP * height:
            pieces[-1].append(run)
        else:
            pieces.append([run])
    cells = []
    for piece in pieces:
        text = clean(_line_text(piece))
        if text:
            cells.append(Cell(text, piece[0].x0, piece[-1].x1))
    return cells


def _rows_of_boxes(boxes: list[Box]) -> list[list[Box]]:
    """Cell boxes grouped into table rows: same top and bottom, left to right. A box that holds
    other boxes (a frame around the table) is not a cell."""
    cells = [b for b in boxes
             if not any(o is not b and o.area < b.area and b.x0 - 1 <= o.x0 and o.x1 <= b.x1 + 1
                        and b.top - 1 <= o.top and o.bottom <= b.bottom + 1 for o in boxes)]
    rows: list[list[Box]] = []
    for box in sorted(cells, key=lambda b: (b.top, b.bottom, b.x0)):
        for row in rows:
            if abs(row[0].top - box.top) <= ROW_TOLERANCE and abs(row[0].bottom - box.bottom) <= ROW_TOLERANCE:
                row.append(box)
                break
        else:
            rows.append([box])
    return [sorted(row, key=lambda b: b.x0) for row in rows]


def _box_of(run: TextLine, box_rows: list[list[Box]], tops: list[float]) -> tuple[int, int] | None:
    """(row, column) of the cell box holding the run, found by bisecting the rows' tops. A run
    just right of a row's last cell is a character that may not start a line (「・」「。」) hanging
    past the border: it belongs to that cell."""
    middle = (run.top + run.bottom) / 2
    at = bisect.bisect_right(tops, middle + 1.0) - 1
    for row in (at, at - 1):
        if 0 <= row < len(box_rows):
            for column, box in enumerate(box_rows[row]):
                if box.holds(run):
                    return row, column
    if 0 <= at < len(box_rows):
        last = box_rows[at][-1]
        if last.top <= middle <= last.bottom and 0 <= run.x0 - last.x1 <= HANGING_REACH * (run.bottom - run.top):
            return at, len(box_rows[at]) - 1
    return None


def page_rows(layout: PageLayout, skip: set[str] = frozenset()) -> list[Row]:
    """The rows of one page, top to bottom; running headers (compact text in `skip`) and page
    footers are left out."""
    margin, runs = _split_margin(layout)
    runs += [run for visual in _visual_lines(margin) if not _is_running(visual, layout, skip) for run in visual]
    box_rows = _rows_of_boxes(layout.boxes)
    tops = [boxes[0].top for boxes in box_rows]
    inside: dict[tuple[int, int], list[TextLine]] = {}
    free: list[TextLine] = []
    for run in runs:
        cell = _box_of(run, box_rows, tops)
        if cell is None:
            free.append(run)
        else:
            inside.setdefault(cell, []).append(run)
    rows: list[Row] = []
    for number, boxes in enumerate(box_rows):
        cells = []
        for column, box in enumerate(boxes):
            text, wrapped = cell_text(inside.get((number, column), []), box.x1 - CELL_PADDING)
            cells.append(Cell(text, box.x0, box.x1, wrapped))
        if any(c.text for c in cells):
            rows.append(Row(layout.number, boxes[0].top, tuple(cells), True, layout.number, boxes[0].bottom))
    rows += (_ocr_lines if layout.extractor == "ocr" else _text_rows)(free, layout.number)
    rows.sort(key=lambda r: (r.top, r.cells[0].x0))
    return rows


def _ocr_lines(runs: list[TextLine], page: int) -> list[Row]:
    """OCR words outside the ruled cells, one row per line (its words are too unsteady to align
    into columns)."""
    rows = []
    for visual in _visual_lines(runs):
        cells = tuple(_free_cells(visual))
        if cells:
            rows.append(Row(page, visual[0].top, cells, False, page, max(run.bottom for run in visual)))
    return rows


@dataclass
class _Block:
    """Lines of text outside any ruled cell that stand in one column one under the other: a
    cell of a table drawn without rules (or a paragraph)."""

    x0: float
    top: float
    bottom: float
    runs: list[TextLine]

    @property
    def x1(self) -> float:
        return max(run.x1 for run in self.runs)


def _text_rows(runs: list[TextLine], page: int) -> list[Row]:
    """Rows of a table without rules (and of free text): each line is cut into pieces at the
    page's column starts, a piece continues the block above it in its column when it follows
    closely and does not start a cell of its own (a label, a selection, a numbered heading),
    and blocks whose lines overlap in height make one row."""
    lines = _visual_lines(runs)
    if not lines:
        return []
    columns = _column_starts(lines)
    right_margin = max(run.x1 for run in runs)
    blocks: list[_Block] = []
    open_blocks: list[_Block] = []
    for visual in lines:
        pieces = _pieces(visual, columns)
        height = max(run.bottom - run.top for run in visual)
        row_start = any(_starts_cell(_line_text(piece)) for piece in pieces)
        for piece in pieces:
            top, bottom = min(r.top for r in piece), max(r.bottom for r in piece)
            above = None if row_start else next(
                (b for b in open_blocks if abs(b.x0 - piece[0].x0) <= COLUMN_TOLERANCE
                 and -ROW_TOLERANCE <= top - b.bottom <= BLOCK_GAP * height), None)
            if above is None:
                above = _Block(piece[0].x0, top, bottom, [])
                blocks.append(above)
                open_blocks = [b for b in open_blocks if abs(b.x0 - piece[0].x0) > COLUMN_TOLERANCE]
                open_blocks.append(above)
            above.runs.extend(piece)
            above.bottom = max(above.bottom, bottom)
    rows: list[list[_Block]] = []
    for block in sorted(blocks, key=lambda b: (b.top, b.x0)):
        if rows and block.top < max(b.bottom for b in rows[-1]) - ROW_TOLERANCE:
            rows[-1].append(block)
        else:
            rows.append([block])
    # where a column's lines wrap: its widest line on the page, short of the next column
    widest: dict[float, float] = {}
    for block in blocks:
        widest[block.x0] = max(widest.get(block.x0, 0.0), block.x1)
    result = []
    for members in rows:
        members.sort(key=lambda b: b.x0)
        cells = []
        for block in members:
            following = next((c for c in columns if c > block.x0 + COLUMN_TOLERANCE), right_margin + CELL_PADDING)
            reach = max(x1 for x0, x1 in widest.items() if abs(x0 - block.x0) <= COLUMN_TOLERANCE)
            text, wrapped = cell_text(block.runs, min(following - CELL_PADDING, reach))
            if text:
                cells.append(Cell(text, block.x0, block.x1, wrapped))
        if cells:
            result.append(Row(page, min(b.top for b in members), tuple(cells), len(cells) > 1, page,
                              max(b.bottom for b in members)))
    return result


def _column_starts(lines: list[list[TextLine]]) -> list[float]:
    """Left edges where pieces of text start on at least COLUMN_LINES lines of the page: the
    columns of a table drawn without rules."""
    starts: list[float] = []
    for visual in lines:
        height = max(run.bottom - run.top for run in visual)
        previous = None
        for run in visual:
            if run.text.strip() and (previous is None or run.x0 - previous.x1 >= COLUMN_GAP * height):
                starts.append(run.x0)
            if run.text.strip():
                previous = run
    return [group[0] for group in near_groups(starts, COLUMN_TOLERANCE) if len(group) >= COLUMN_LINES]


def _pieces(visual: list[TextLine], columns: list[float]) -> list[list[TextLine]]:
    """One line cut where a wide gap separates two pieces, or where a piece begins at a column
    start after a visible gap."""
    height = max(run.bottom - run.top for run in visual)
    pieces: list[list[TextLine]] = []
    for run in visual:
        if pieces:
            gap = run.x0 - pieces[-1][-1].x1
            at_column = any(abs(run.x0 - c) <= COLUMN_TOLERANCE for c in columns)
            if gap <= CELL_GAP * height and not (at_column and gap >= COLUMN_GAP * height and run.text.strip()):
                pieces[-1].append(run)
                continue
        pieces.append([run])
    return [piece for piece in pieces if any(run.text.strip() for run in piece)]


_CELL_START = re.compile(r"^(?:[\[［]|<\s*選択肢|\d{1,2}\.\s|[①-⑳])")


def _starts_cell(text: str) -> bool:
    """A piece that begins a cell of its own: a selection, a choice list, a numbered heading or
    item, or one of the forms' labels."""
    plain = nfkc(text).strip()
    return bool(_CELL_START.match(plain)) or is_label(plain)


def _split_margin(layout: PageLayout) -> tuple[list[TextLine], list[TextLine]]:
    """(runs in the top and bottom margins, the others)."""
    top, bottom = layout.height * MARGIN_SHARE, layout.height * (1 - MARGIN_SHARE)
    margin, body = [], []
    for run in layout.runs:
        (margin if run.bottom < top or run.top > bottom else body).append(run)
    return margin, body


def _is_running(visual: list[TextLine], layout: PageLayout, skip: set[str]) -> bool:
    """A running header or footer (of the margin's lines): a page number or a text that repeats."""
    return any(is_page_footer(cell.text) or cell.key in skip for cell in _free_cells(visual))


def document_rows(layouts: list[PageLayout]) -> list[Row]:
    """All rows of a document in reading order, running headers and footers removed."""
    margin_lines = [[cell.text for visual in _visual_lines(_split_margin(layout)[0]) for cell in _free_cells(visual)]
                    for layout in layouts]
    skip = running_lines(margin_lines)
    rows: list[Row] = []
    wide_rows: set[tuple[str, ...]] = set()
    for layout in layouts:
        page = page_rows(layout, skip)
        if page and _repeated_header(page[0], wide_rows):
            page = page[1:]
        wide_rows.update(tuple(row.texts) for row in page if len(row.cells) >= HEADER_MIN_CELLS)
        if rows and page and _continues(rows[-1], page[0]):
            rows[-1] = _joined(rows[-1], page[0])
            page = page[1:]
        rows.extend(page)
    return rows


def _repeated_header(first: Row, seen: set[tuple[str, ...]]) -> bool:
    """A table header printed again at the top of a page (変更日 | 項目 | 変更前の記載 …): a wide
    row of filled cells, the same as one met before."""
    return (first.boxed and len(first.cells) >= HEADER_MIN_CELLS and all(c.text for c in first.cells)
            and tuple(first.texts) in seen)


def _continues(previous: Row, first: Row) -> bool:
    """A table row too tall for its page goes on at the top of the next: same columns, and its
    first cell (the label or the date) already said everything on the page before. Without rules
    only the cells that go on are printed: each stands under a cell of the row, none under its
    first."""
    if first.page != previous.end_page + 1 or len(previous.cells) < 2 or not previous.cells[0].text:
        return False
    if previous.boxed and first.boxed and len(first.cells) == len(previous.cells):
        return (all(abs(a.x0 - b.x0) <= ROW_TOLERANCE for a, b in zip(first.cells, previous.cells))
                and not first.cells[0].text)
    return (not first.boxed or len(first.cells) < len(previous.cells)) and all(
        _column_of(cell, previous) not in (None, 0) for cell in first.cells if cell.text)


def _column_of(cell: Cell, row: Row) -> int | None:
    return next((n for n, other in enumerate(row.cells) if abs(other.x0 - cell.x0) <= ROW_TOLERANCE), None)


def _joined(previous: Row, continuation: Row) -> Row:
    following = {_column_of(cell, previous): cell for cell in continuation.cells}
    cells = []
    for number, before in enumerate(previous.cells):
        after = following.get(number)
        if after is None:
            cells.append(before)
            continue
        joiner = "" if before.wrapped or not before.text or not after.text else " "
        cells.append(Cell(before.text + joiner + after.text, before.x0, before.x1, after.wrapped))
    return Row(previous.page, previous.top, tuple(cells), previous.boxed, continuation.page, continuation.bottom)
