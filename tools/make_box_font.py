"""Write transform/fonts/piawatch-boxes.ttf: the font pdfium is given for every font a PDF does not embed.

    python tools/make_box_font.py      (needs fontTools: pip install fonttools)

A PDF that does not embed its fonts (reportlab's Heisei CID fonts, older Word exports) leaves
pdfium to take glyphs from whatever system font it substitutes, and its text layer then depends on
the machine: glyph boxes change and characters whose boxes look doubled are dropped. Character
positions and advances come from the PDF itself either way; only the glyph outlines are borrowed.
So transform.pdf gives pdfium this one font instead of any system font: every character is a plain
box, half an em wide for ASCII and half-width forms and a full em otherwise, so the same PDF gives
the same characters on every machine. The file is a few kilobytes and is committed; this script
rebuilds it byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

OUTPUT = Path(__file__).resolve().parent.parent / "transform" / "fonts" / "piawatch-boxes.ttf"
UNITS_PER_EM = 1000
ASCENT, DESCENT = 880, -120
# (first, last) code points drawn as half-width boxes; every other code point is a full-width box.
HALF_WIDTH = ((0x20, 0x7E), (0xA0, 0x24F), (0xFF61, 0xFFDC))


def _box(advance: int):
    """A box inset from its advance, so two equal neighbours never overlap (pdfium would take
    overlapping equal glyphs for fake bold and drop one)."""
    pen = TTGlyphPen(None)
    inset = advance // 10
    pen.moveTo((inset, DESCENT + 40))
    pen.lineTo((inset, ASCENT - 80))
    pen.lineTo((advance - inset, ASCENT - 80))
    pen.lineTo((advance - inset, DESCENT + 40))
    pen.closePath()
    return pen.glyph()


def build(path: Path = OUTPUT) -> Path:
    builder = FontBuilder(UNITS_PER_EM, isTTF=True)
    builder.setupGlyphOrder([".notdef", "half", "full"])
    builder.setupCharacterMap({})
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "half": _box(500), "full": _box(1000)})
    builder.setupHorizontalMetrics({".notdef": (1000, 0), "half": (500, 50), "full": (1000, 100)})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": "PIAWatchBoxes", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT)
    builder.setupPost()
    # cmap format 13 maps whole ranges to one glyph: the full Unicode range in a few groups
    ranges, start = [], 0x20
    for first, last in HALF_WIDTH:
        if start < first:
            ranges.append((start, first - 1, "full"))
        ranges.append((first, last, "half"))
        start = last + 1
    ranges.append((start, 0x10FFFF, "full"))
    subtable = CmapSubtable.newSubtable(13)
    subtable.platformID, subtable.platEncID, subtable.language = 3, 10, 0
    subtable.cmap = {}
    for first, last, glyph in ranges:
        subtable.cmap.update(dict.fromkeys(range(first, last + 1), glyph))
    builder.font["cmap"].tables = [subtable]
    builder.font["head"].created = builder.font["head"].modified = 0  # byte-for-byte reproducible
    path.parent.mkdir(parents=True, exist_ok=True)
    builder.save(str(path))
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
