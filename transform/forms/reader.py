"""Finding labelled values among a document's rows, and keeping account of what was found.

Every form parser works through a ``FormReader``: it looks a label up (optionally inside one
section; the labels live in transform.labels), takes its value — beside it, or below it as the
様式's cover prints them — and records the page it came from. A field whose label
cannot be found is marked unread — the parser never fills it with a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ground.text import clean, compact, nfkc
from transform import labels
from transform.layout import Cell, Row
from transform.normalize import bracket_value, section_numeral

_LEADING_NUMBER = re.compile(r"^\d+")
# A value below its label starts this close under it: on the shared border of ruled cells, or
# within this many line heights for text without rules.
BOXED_GAP = 2.0
FREE_GAP = 1.0


class Hit(NamedTuple):
    """A found label: its row's index, the row, and the cell the label stands in."""

    index: int
    row: Row
    cell: int = 0
    rest: str = ""  # the value printed after the label in its own cell


@dataclass
class FormReader:
    rows: list[Row]
    record: dict
    ocr: bool = False
    # (page, box in points) → digits read again from the page image; set for OCR documents
    reread_number: Callable[[int, tuple[float, float, float, float]], str] | None = None
    field_pages: dict[str, int] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)

    # --- bookkeeping ---------------------------------------------------------------------------
    def put(self, name: str, value, row: Row | None) -> None:
        self.record[name] = value
        if row is not None and name not in self.field_pages:
            self.field_pages[name] = row.page

    def mark_unread(self, name: str) -> None:
        if name not in self.unread:
            self.unread.append(name)

    # --- finding rows --------------------------------------------------------------------------
    def find(self, predicate, start: int = 0, end: int | None = None) -> int | None:
        stop = len(self.rows) if end is None else min(end, len(self.rows))
        for index in range(start, stop):
            if predicate(self.rows[index]):
                return index
        return None

    def section(self, number: int, title: str) -> tuple[int, int] | None:
        """(first row, end) of section 「Ⅱ しきい値判断項目」 / 「II …」: from its heading to the next
        numbered section heading. Headings on page 1 (the cover's table of contents) do not count."""
        title_key = compact(title)

        def is_heading(row: Row, wanted: int | None = number) -> bool:
            if row.page == 1 and len(self.rows) and self.rows[-1].page > 1:
                return False
            n = section_numeral(row.cells[0].text)
            return n is not None and (wanted is None or n == wanted) and (wanted is None or title_key in row.key)

        start = self.find(is_heading)
        if start is None and self.ocr:
            # OCR garbles the numerals (「上l しきい 値判断項目」): find the title alone
            start = self.find(lambda r: not r.boxed and r.page > 1 and title_key in _letters(r.key))
        if start is None:
            return None
        following = self.find(lambda r: is_heading(r, None) and section_numeral(r.cells[0].text) != number, start + 1)
        return start, (len(self.rows) if following is None else following)

    def heading_index(self, text: str, start: int = 0, end: int | None = None) -> int | None:
        """The first one-cell row after the cover whose text contains `text`, e.g. 「（別添3） 変更箇所」
        (on a one-page document, the cover counts)."""
        key = compact(text)
        first_page = 1 if self.rows and self.rows[-1].page == 1 else 2
        return self.find(lambda r: r.page >= first_page and len(r.cells) == 1 and key in r.key, start, end)

    def labelled(self, label: str | tuple[str, ...], start: int = 0, end: int | None = None,
                 how: str = "exact") -> Hit | None:
        """The first row holding the label (one of several printed forms, see transform.labels).
        how="exact": a cell that is the label (spaces, numbering and a stray glyph or two
        ignored), or a first cell that begins with it and goes on with its value; "prefix": a first
        cell that begins with it; "contains": a row whose text contains it."""
        variants = (label,) if isinstance(label, str) else label
        keys = [compact(v) for v in variants]

        def hit(row: Row) -> tuple[int, str] | None:
            first = row.cells[0].text
            if how == "contains":
                # the label is somewhere in the row; a selection in its first cell (OCR's one
                # piece) is the value, other text there is more of the label
                return (0, first if "[" in nfkc(first) else "") if any(k in row.key for k in keys) else None
            if how == "prefix":
                return (0, "") if labels.after(first, variants) is not None else None
            for number, cell in enumerate(row.cells):
                if labels.match(cell.text, variants):
                    return number, ""
            rest = labels.after(first, variants, spaced=True)
            if rest and not labels.is_label(first):
                return 0, rest  # label and value in one cell
            # OCR can miss a rule between label and value (they arrive in one piece) or add a
            # stray character to a label (「の1事務の名称」)
            if self.ocr:
                for key in keys:
                    if row.label().startswith(key):
                        return 0, labels.after(first, variants) or ""
                    if _near_label(row.label(), key):
                        return 0, ""
            return None

        stop = len(self.rows) if end is None else min(end, len(self.rows))
        for index in range(start, stop):
            found = hit(self.rows[index])
            if found is not None:
                return Hit(index, self.rows[index], *found)
        return None

    # --- values --------------------------------------------------------------------------------
    def value_at(self, found: Hit, label: str | tuple[str, ...]) -> str | None:
        """The value of a found label, from (in order) the rest of the label's own cell, the next
        cells of its row, or the cell directly below it; never past another label. None when the
        form leaves it blank."""
        parts = [found.rest]
        beside = found.row.cells[found.cell + 1:]
        for other in beside:
            if labels.is_label(other.text):
                break
            parts.append(other.text)
        text = clean(" ".join(p for p in parts if p))
        if text or beside:
            return text  # a value beside the label, or its empty cell
        below = self.below(found)
        return clean(" ".join(c.text for c in below)) if below else None

    def below(self, found: Hit) -> list[Cell]:
        """The cells of the row directly under a label that stands alone, overlapping it."""
        row, cell = found.row, found.row.cells[found.cell]
        reach = BOXED_GAP if row.boxed else FREE_GAP * max(row.bottom - row.top, 1.0)
        for following in self.rows[found.index + 1:found.index + 4]:
            if following.page != row.end_page or following.top < row.bottom - BOXED_GAP:
                continue  # beside the label (a cell further right), not below it
            if following.top - row.bottom > reach:
                return []
            under = [c for c in following.cells if c.x0 < cell.x1 - 1 and c.x1 > cell.x0 + 1]
            if not under or labels.is_label(under[0].text):
                return []
            return under
        return []

    def selection_at(self, found: Hit, label: str | tuple[str, ...]) -> str | None:
        """The selected choice of a found choice label: the bracketed text of its value block
        (beside or below); with a bracket left open, the text before the choice list."""
        return selected_text(self.value_at(found, label))

    def value(self, name: str, label, start: int = 0, end: int | None = None, how: str = "exact",
              convert=clean, anywhere: bool = False):
        """Find `label`, convert its value and store it as field `name`. anywhere=True looks in
        the whole document when the range has no such label (a section heading is a hint)."""
        found = self._find(label, start, end, how, anywhere)
        if found is None:
            self.mark_unread(name)
            return None
        value = convert(self.value_at(found, label))
        self.put(name, value, found.row)
        return value

    def choice(self, name: str, label, convert, start: int = 0, end: int | None = None,
               how: str = "exact", anywhere: bool = False):
        """Find the choice row `label`, convert its selection, store it as `name`."""
        found = self._find(label, start, end, how, anywhere)
        if found is None:
            self.mark_unread(name)
            return None
        value = convert(self.selection_at(found, label))
        self.put(name, value, found.row)
        return value

    def _find(self, label, start: int, end: int | None, how: str, anywhere: bool) -> Hit | None:
        """The label's first occurrence that has a value (a numbered sub-heading may repeat a
        label above the row that answers it), else its first occurrence."""
        found = self._first_with_value(label, start, end, how)
        if found is None and anywhere and (start, end) != (0, None):
            found = self._first_with_value(label, 0, None, how)
        return found

    def _first_with_value(self, label, start: int, end: int | None, how: str) -> Hit | None:
        first = found = self.labelled(label, start, end, how)
        while found is not None and not self.value_at(found, label):
            found = self.labelled(label, found.index + 1, end, how)
        return found or first


_CHOICE_LIST = re.compile(r"<\s*選択肢\s*>|\s1\s*\)")
_OPEN_BRACKET = re.compile(r"[\[［]")
_CLOSED_BRACKET = re.compile(r"[\[［][^\]］]*[\]］|」J]")


def selected_text(block: str | None) -> str | None:
    """The selection in a choice's value block: 「[ 30万人以上 ] <選択肢> 1) …」 → 「30万人以上」
    (an empty bracket: None); a bracket left open (「[ 30万人以上 <選択肢> …」) still gives the
    text between it and the choice list."""
    if not block:
        return None
    head = _CHOICE_LIST.split(nfkc(block), maxsplit=1)[0]
    if _CLOSED_BRACKET.search(head) or not _OPEN_BRACKET.search(head):
        return bracket_value(block)
    return clean(_OPEN_BRACKET.split(head)[-1])


def _near_label(found: str, key: str) -> bool:
    """An OCR label that holds the wanted one (its ①② optional) with at most two stray characters."""
    bare = _LEADING_NUMBER.sub("", key)
    return bool(bare) and bare in found and len(found) <= len(bare) + 3


def _letters(key: str) -> str:
    """A compact text without OCR's stray marks (「値?判断」 → 「値判断」)."""
    return re.sub(r"[?!|'\"`~^_.,:;-]", "", key)
