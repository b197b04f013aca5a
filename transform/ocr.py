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

import numpy as np
from PIL import Image

from transform.pdf import Box, PageLayout, TextLine, render_gray

DPI = 300
TESSERACT_TIMEOUT_S = 120
# Ruled lines of the form's table, found on the deskewed page image: a dark pixel is below this
# grey level (the scanner's blur greys thin rules; the grey label cells stay above it); a
# horizontal rule darkens at least LINE_SHARE of a pixel row, a vertical one at least
# COLUMN_SHARE of the height between two rules.
DARK = 190
LINE_SHARE = 0.5
COLUMN_SHARE = 0.85
MIN_ROW_PX = 20
# Skew is searched in COARSE steps over ±MAX_SKEW degrees, then in FINE steps around the best.
MAX_SKEW, COARSE, FINE = 1.2, 0.2, 0.05


@lru_cache(maxsize=1)
def available() -> bool:
    """Tesseract is installed with its Japanese model."""
    if shutil.which("tesseract") is None:
        return False
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    return "jpn" in languages.stdout.split()


def tesseract(image_path: Path, *options: str) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(["tesseract", str(image_path), "stdout", "-l", "jpn", "--dpi", str(DPI), *options],
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
            # 「|」 is a ruled line read as a character (the forms print none)
            text = word["text"].replace("|", "").strip()
            if text:
                left = int(word["left"]) * scale
                runs.append(TextLine(text, left, top, left + int(word["width"]) * scale, bottom))
    return runs


def _projection_score(image: Image.Image, angle: float) -> float:
    dark = np.asarray(image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)) < DARK
    return float(np.var(dark.sum(axis=1)))


def skew_angle(image: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes the page's rows horizontal: the angle
    whose row profile is the most peaked (ruled lines and text lines line up)."""
    half = image.resize((image.width // 2, image.height // 2))
    steps = round(MAX_SKEW / COARSE)
    coarse = max((n * COARSE for n in range(-steps, steps + 1)), key=lambda a: _projection_score(half, a))
    fine_steps = round(COARSE / FINE)
    return max((coarse + n * FINE for n in range(-fine_steps, fine_steps + 1)),
               key=lambda a: _projection_score(half, a))


def _runs(indices: np.ndarray, gap: int = 3) -> list[tuple[int, int]]:
    """Consecutive indices grouped into (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for index in indices.tolist():
        if runs and index - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def ruled_boxes(dark: np.ndarray, scale: float) -> list[Box]:
    """The table's cells from its ruled lines: between two horizontal rules, the stretches between
    vertical rules that run the full height. Boxes in points, border to border like a PDF's rects."""
    height, width = dark.shape
    rules = _runs(np.where(dark.sum(axis=1) >= LINE_SHARE * width)[0])
    boxes = []
    for (upper_start, upper_end), (lower_start, lower_end) in zip(rules, rules[1:]):
        band = dark[upper_end + 1:lower_start]
        if band.shape[0] < MIN_ROW_PX:
            continue
        columns = _runs(np.where(band.sum(axis=0) >= COLUMN_SHARE * band.shape[0])[0])
        for (left, _), (_, right) in zip(columns, columns[1:]):
            boxes.append(Box(round(left * scale, 1), round(upper_start * scale, 1),
                             round(right * scale, 1), round(lower_end * scale, 1)))
    return boxes


def ocr_page(path: str | Path, number: int) -> PageLayout:
    """Page `number` (1-based) deskewed and OCRed: Tesseract's words and the ruled cells found on
    the image, in points, so the row logic pairs labels and values as on a text page."""
    image = render_gray(path, number, DPI)
    image = image.rotate(skew_angle(image), resample=Image.Resampling.BILINEAR, fillcolor=255)
    scale = 72 / DPI
    boxes = ruled_boxes(np.asarray(image) < DARK, scale)
    with tempfile.TemporaryDirectory(prefix="piawatch-ocr-") as directory:
        image_path = Path(directory) / f"page-{number}.png"
        image.save(image_path, dpi=(DPI, DPI))
        tsv = tesseract(image_path, "--psm", "3", "tsv")
    return PageLayout(number, image.width * scale, image.height * scale, words_from_tsv(tsv, scale), boxes,
                      "ocr")


def read_number(path: str | Path, number: int, box: tuple[float, float, float, float]) -> str:
    """The digits in one region of page `number` (box in points: x0, top, x1, bottom), read as a
    single line. Whole-page OCR drops a lone short number in a wide cell (評価書番号); reading
    just that cell finds it."""
    image = render_gray(path, number, DPI)
    scale = DPI / 72
    x0, top, x1, bottom = box
    crop = image.crop((max(0, int(x0 * scale)), max(0, int(top * scale)),
                       min(image.width, int(x1 * scale)), min(image.height, int(bottom * scale))))
    with tempfile.TemporaryDirectory(prefix="piawatch-ocr-") as directory:
        image_path = Path(directory) / "region.png"
        crop.save(image_path, dpi=(DPI, DPI))
        text = tesseract(image_path, "--psm", "7", "-c", "tessedit_char_whitelist=0123456789")
    return "".join(ch for ch in text if ch.isdigit())
