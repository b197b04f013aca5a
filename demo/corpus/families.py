"""The layout families: the same specs printed the ways municipalities really print them.

Each family is a ``Look`` (render.py) and has its own PDFs and truths; the truths differ only in
page numbers. ``grid`` is the original corpus (demo/corpus/pdf, demo/corpus/truth, served by the
demo websites). ``sheet`` is the held-out family: the official 様式 as a spreadsheet exported by
LibreOffice, whose files the parser's rules are never written against.

Some documents carry a planted quirk of real documents, listed in ``QUIRKS`` (the truth always
holds the true value):

- ``label_glyph``: one glyph of the wrapped heading above lands in a label (「①務事務の名称」);
- ``open_bracket``: the closing bracket of the 対象人数 selection is missing (「[ 1万人以上10万人未満」);
- ``selection_in_label_row``: the 基礎項目評価書's しきい値判断結果 is printed as a bracketed
  selection in the label's own row (「しきい値判断結果 | [ … ]」) instead of under its heading.
"""

from __future__ import annotations

from reportlab.lib.pagesizes import A4, landscape

from demo.corpus.render import GRID, IPAEX_GOTHIC, IPAEX_MINCHO, Look

FAMILIES: dict[str, Look] = {
    "grid": GRID,
    # the 様式 as an Excel/Calc sheet: cover labels above their values, merged cells, borders
    "sheet": Look(name="sheet", mincho=IPAEX_MINCHO, gothic=IPAEX_GOTHIC, stacked_cover=True,
                  top_margin=60.0, bottom_margin=60.0, writer="calc"),
    # a Word table with its borders switched off: no ruling lines, no shading
    "flow": Look(name="flow", borders=False, shading=False, footer="- {n} -"),
    # embedded TrueType subsets on A4 landscape, 「n ページ」 footers, running header
    "landscape": Look(name="landscape", page_size=landscape(A4), mincho=IPAEX_MINCHO, gothic=IPAEX_GOTHIC,
                      footer="{n} ページ"),
    # every label on its own ruled row, its value in the ruled row below
    "stacked": Look(name="stacked", stacked=True, stacked_cover=True),
    # fake bold (each glyph drawn twice 0.3 pt apart) with embedded fonts
    "bold": Look(name="bold", mincho=IPAEX_MINCHO, gothic=IPAEX_GOTHIC, fake_bold=True),
}

HELD_OUT = "sheet"

# The families with embedded IPAex subsets weigh ~190 KB per basic and ~800 KB per full document
# (the glyph outlines), about 25 MB per family: their PDFs are not committed but written on
# demand (``python -m demo.corpus --family NAME``; ``make eval`` does it for missing ones). Their
# truths are committed, and for the reportlab ones a SHA256SUMS file pins the bytes.
ON_DEMAND = ("sheet", "landscape", "bold")

# family -> quirk -> document ids (main corpus and wording specs alike)
QUIRKS: dict[str, dict[str, tuple[str, ...]]] = {
    "grid": {},
    "sheet": {
        "selection_in_label_row": ("111007-saitama-12-basic", "232017-toyohashi-05-basic",
                                   "w-kodaira-01-basic"),
        "open_bracket": ("152013-niigata-05-basic",),
        "label_glyph": ("271403-sakai-05-basic",),
    },
    "flow": {
        "selection_in_label_row": ("072044-iwaki-02-basic", "111007-saitama-04-basic",
                                   "232017-toyohashi-03-basic", "w-naka-01-basic"),
        "label_glyph": ("282014-himeji-03-basic",),
    },
    "landscape": {
        "selection_in_label_row": ("271403-sakai-02-basic", "152013-niigata-01-basic"),
        "open_bracket": ("112020-kumagaya-03-basic", "w-uchiko-08-basic"),
    },
    "stacked": {
        "label_glyph": ("152013-niigata-03-basic", "w-wako-01-basic"),
        "open_bracket": ("401005-kitakyushu-08-basic",),
    },
    "bold": {
        "label_glyph": ("401005-kitakyushu-02-basic",),
        "open_bracket": ("282014-himeji-01-basic",),
        "selection_in_label_row": ("232017-toyohashi-09-basic",),
    },
}

# Scanned variants (300 dpi, ±1.5° skew, speckles, JPEG, no text layer): family -> document ids.
# Basic documents only: a 300 dpi page weighs ~300 KB, and cover + threshold fields are what
# the scans are measured on. 232017-toyohashi-02-basic carries THE threshold contradiction.
SCANNED = {
    "grid": ("072044-iwaki-05-basic", "232017-toyohashi-02-basic", "401005-kitakyushu-08-basic"),
    "stacked": ("152013-niigata-03-basic", "232017-toyohashi-02-basic", "282014-himeji-12-basic"),
}
SCAN_SUFFIX = "-scan"


def look(family: str) -> Look:
    return FAMILIES[family]


def quirks_for(family: str, doc_id: str) -> frozenset[str]:
    return frozenset(quirk for quirk, ids in QUIRKS.get(family, {}).items() if doc_id in ids)


def scan_families() -> list[str]:
    return [family + SCAN_SUFFIX for family in SCANNED]
