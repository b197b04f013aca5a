"""Turn a rendered PDF into what a scanner in a city office makes of a printout.

Each page becomes a grayscale image (150 dpi) with a slight skew, speckle noise and JPEG
artefacts, and the PDF holds only those images: no text layer at all. ``scan_300dpi`` is the
harsher office copier of the scanned layout families: 300 dpi, up to ±1.5° skew. The noise comes from a
generator seeded with the document id, so the bytes are the same on every run on one machine
(pdfium's rasteriser and libjpeg versions are part of that promise).
"""

from __future__ import annotations

import hashlib
import io
import random

import pypdfium2
from PIL import Image, ImageFilter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

SCAN_DPI = 150
JPEG_QUALITY = 50
MAX_SKEW_DEGREES = 0.8
SPECKLES_PER_PAGE = 900


FAMILY_SCAN_DPI = 300
FAMILY_MAX_SKEW_DEGREES = 1.5
FAMILY_JPEG_QUALITY = 40


def _degrade(image: Image.Image, rng: random.Random, max_skew: float = MAX_SKEW_DEGREES,
             speckles: int = SPECKLES_PER_PAGE) -> Image.Image:
    image = image.convert("L")
    angle = rng.uniform(-max_skew, max_skew)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
    pixels = image.load()
    width, height = image.size
    for _ in range(speckles):
        x, y = rng.randrange(width), rng.randrange(height)
        pixels[x, y] = rng.choice((0, 90, 170))
    # toner spread and a slightly grey paper
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    return image.point(lambda v: min(v, 238))


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big"))


def scanned_pages(pdf: bytes, pages, seed: str, dpi: int = SCAN_DPI, max_skew: float = MAX_SKEW_DEGREES,
                  quality: int = JPEG_QUALITY) -> dict[int, bytes]:
    """JPEG scans of the given 1-based pages of a PDF."""
    rng = _rng(seed)
    source = pypdfium2.PdfDocument(pdf)
    # the same speckle density per area at any resolution
    speckles = int(SPECKLES_PER_PAGE * (dpi / SCAN_DPI) ** 2)
    try:
        images = {}
        for number in pages:
            image = _degrade(source[number - 1].render(scale=dpi / 72, grayscale=True).to_pil(), rng,
                             max_skew, speckles)
            jpeg = io.BytesIO()
            image.save(jpeg, format="JPEG", quality=quality, optimize=False)
            images[number] = jpeg.getvalue()
        return images
    finally:
        source.close()


def scan(pdf: bytes, seed: str, **options) -> bytes:
    """An image-only PDF of the same pages, each degraded as if printed and scanned."""
    with pypdfium2.PdfDocument(pdf) as source:
        sizes = [source[index].get_size() for index in range(len(source))]
    images = scanned_pages(pdf, range(1, len(sizes) + 1), seed, **options)
    buffer = io.BytesIO()
    out = canvas.Canvas(buffer, invariant=1, pageCompression=1)
    out.setCreator("PIA Watch demo corpus (scanner)")
    for number, (width, height) in enumerate(sizes, 1):
        out.setPageSize((width, height))
        out.drawImage(ImageReader(io.BytesIO(images[number])), 0, 0, width, height)
        out.showPage()
    out.save()
    return buffer.getvalue()


def scan_300dpi(pdf: bytes, seed: str) -> bytes:
    """The scanned layout families' copier: 300 dpi, up to ±1.5° skew, speckles, JPEG."""
    return scan(pdf, seed, dpi=FAMILY_SCAN_DPI, max_skew=FAMILY_MAX_SKEW_DEGREES, quality=FAMILY_JPEG_QUALITY)
