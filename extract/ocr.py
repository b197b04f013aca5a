"""OCR for pages without a text layer: Tesseract (jpn) on a 300 dpi grayscale render.

Measured here (STACK-FACTS "OCR"): `--psm 3` keeps single-line rows that `--psm 6` drops, 300 dpi
reads digits that 200 dpi confuses, and OMP_THREAD_LIMIT=1 keeps two parallel pages from
collapsing to 10+ s each. Tesseract's TSV gives every word's box, in page points here, so the
scanned page flows into the same row logic (transform.layout) as a
text page.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from extract.pdf import PageLayout, TextLine, render_gray

DPI = 300
TESSERACT_TIMEOUT_S = 120


@lru_cache(maxsize=1)
def available() -> bool:
    """Tesseract is installed with its Japanese model."""
    if shutil.which("tesseract") is None:
        return False
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    return "jpn" in languages.stdout.split()


def tesseract_tsv(image_path: Path) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(["tesseract", str(image_path), "stdout", "-l", "jpn", "--psm", "3",
                           "--dpi", str(DPI), "tsv"],
                          capture_output=True, text=True, env=env, timeout=TESSERACT_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed: {done.stderr.strip()[:200]}")
    return done.stdout


def words_from_tsv(tsv: str, scale: float) -> list[TextLine]:
    """Tesseract's words in points. Each word takes the top and bottom of its line, so the words
    of one line stay together and the gaps between them are judged against one line height
    (transform.layout turns a wide gap into a space or a cell boundary, a narrow one into
    nothing: Tesseract splits Japanese into single characters)."""
    lines: dict[tuple, list[dict]] = {}
    for word in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if word.get("level") != "5" or not (word.get("text") or "").strip():
            continue
        lines.setdefault((word["block_num"], word["par_num"], word["line_num"]), []).append(word)
    runs = []
    for words in lines.values():
        top = min(int(w["top"]) for w in words) * scale
        bottom = max(int(w["top"]) + int(w["height"]) for w in words) * scale
        for word in words:
            left = int(word["left"]) * scale
            runs.append(TextLine(word["text"].strip(), left, top, left + int(word["width"]) * scale, bottom))
    return runs


def ocr_page(path: str | Path, number: int) -> PageLayout:
    """The OCR text lines of page `number` (1-based) as a PageLayout (no cell boxes)."""
    image = render_gray(path, number, DPI)
    scale = 72 / DPI
    with tempfile.TemporaryDirectory(prefix="piawatch-ocr-") as directory:
        image_path = Path(directory) / f"page-{number}.png"
        image.save(image_path, dpi=(DPI, DPI))
        tsv = tesseract_tsv(image_path)
    return PageLayout(number, image.width * scale, image.height * scale, words_from_tsv(tsv, scale), [],
                      "ocr")
