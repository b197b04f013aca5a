"""Finding labelled values among a document's rows, and keeping account of what was found.

Every form parser works through a ``FormReader``: it looks a label up (optionally inside one
section), takes the value beside it, and records the page it came from. A field whose label
cannot be found is marked unread — the parser never fills it with a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from transform.layout import Row
from transform.normalize import bracket_value, clean, compact, nfkc, section_numeral

_LEADING_NUMBER = re.compile(r"^\d+")


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

    def labelled(self, label: str, start: int = 0, end: int | None = None,
                 how: str = "exact") -> tuple[int, Row] | None:
        """The first row whose label (first cell, spaces ignored) is `label` (how="exact"),
        starts with it ("prefix"), contains it ("contains") or is it after a ①/1 ("numbered")."""
        key = compact(label)
        tests = {"exact": lambda k: k == key, "prefix": lambda k: k.startswith(key),
                 "contains": lambda k: key in k,
                 # ①②… shift between the focused and full forms: compare without them
                 "numbered": lambda k: _LEADING_NUMBER.sub("", k) == _LEADING_NUMBER.sub("", key)}
        test = tests[how]
        index = self.find(lambda r: test(r.label()) or (len(r.cells) == 1 and test(r.key))
                          # OCR can miss a rule between label and value (they arrive in one
                          # piece) or add a stray character to a label (「の1事務の名称」)
                          or (self.ocr and (r.label().startswith(key) or _near_label(r.label(), key))),
                          start, end)
        return None if index is None else (index, self.rows[index])

    # --- values --------------------------------------------------------------------------------
    @staticmethod
    def value_of(row: Row, label: str) -> str | None:
        """The value beside a label: the next cells, or (one-cell rows, OCR lines) the text after
        the label."""
        key = compact(label)
        first = row.cells[0]
        rest = " ".join(c.text for c in row.cells[1:] if c.text)
        if first.key.startswith(key) and first.key != key:  # label and value in one cell (OCR)
            rest = f"{_drop_prefix(first.text, key)} {rest}"
        return clean(rest) if len(row.cells) > 1 or first.key != key else None

    @staticmethod
    def selection_of(row: Row) -> str | None:
        """The bracketed selection of a choice row (the cell with 「[ … ]」 after the label)."""
        for cell in row.cells[1:]:
            if "[" in cell.text or "［" in cell.text:
                return bracket_value(cell.text)
        return bracket_value(row.text)

    def value(self, name: str, label: str, start: int = 0, end: int | None = None, how: str = "exact",
              convert=clean):
        """Find `label`, convert the value beside it and store it as field `name`."""
        found = self.labelled(label, start, end, how)
        if found is None:
            self.mark_unread(name)
            return None
        _, row = found
        value = convert(self.value_of(row, label))
        self.put(name, value, row)
        return value

    def choice(self, name: str, label: str, convert, start: int = 0, end: int | None = None,
               how: str = "exact"):
        """Find the choice row `label`, convert its bracketed selection, store it as `name`."""
        found = self.labelled(label, start, end, how)
        if found is None:
            self.mark_unread(name)
            return None
        _, row = found
        value = convert(self.selection_of(row))
        self.put(name, value, row)
        return value


def _near_label(found: str, key: str) -> bool:
    """An OCR label that holds the wanted one (its ①② optional) with at most two stray characters."""
    bare = _LEADING_NUMBER.sub("", key)
    return bool(bare) and bare in found and len(found) <= len(bare) + 3


def _letters(key: str) -> str:
    """A compact text without OCR's stray marks (「値?判断」 → 「値判断」)."""
    return re.sub(r"[?!|'\"`~^_.,:;-]", "", key)


def _drop_prefix(text: str, key: str) -> str:
    """`text` without its leading characters that spell `key` (spaces between them allowed)."""
    text = nfkc(text)
    consumed = 0
    for position, char in enumerate(text):
        if char.isspace():
            continue
        consumed += 1
        if consumed == len(key):
            return text[position + 1:]
    return ""
