"""Hostile PDFs, generated rather than committed: each maker writes one small file whose cost
appears only when a reader opens it. New cases plug in as one more function that writes a PDF
through ``write_pdf``.

Sizes are parameters so a test can pick one that trips a limit quickly; the defaults are the
shapes observed in the attack on the project (issue 18).
"""

from __future__ import annotations

import zlib
from pathlib import Path

CHUNK = 1 << 20


def write_pdf(path: Path, objects: list[bytes], *, root: int = 1) -> Path:
    """A PDF file of ``objects`` (object n is objects[n-1], without the "n 0 obj" wrapper), with
    a correct cross-reference table, so a reader fails on the content and not on the file's
    structure."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    path.write_bytes(bytes(out))
    return path


def deflated(pattern: bytes, total: int) -> bytes:
    """A zlib stream of ``pattern`` repeated to ``total`` bytes, made in well under a second:
    one block is deflated after a full flush (so it refers to nothing before it) and its bytes
    repeated; the checksum is summed over the repeated input. A stream 1000× smaller than what
    it inflates to."""
    block = pattern * (CHUNK // len(pattern))
    count, rest = divmod(total, len(block))
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw.compress(block)
    raw.flush(zlib.Z_FULL_FLUSH)
    repeated = raw.compress(block) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.compress(block[:rest]) + raw.flush()
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(block[:rest], checksum)
    return b"\x78\xda" + repeated * count + tail + checksum.to_bytes(4, "big")


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def one_page(path: Path, content: bytes, *, media_box: bytes = b"0 0 595 842", extra_objects=()) -> Path:
    """A one-page PDF whose page draws ``content`` (an already encoded stream object)."""
    return write_pdf(path, [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R /Resources << >> >>" % media_box,
        content, *extra_objects,
    ])


def decompression_bomb(path: Path, inflated_bytes: int = 1536 << 20) -> Path:
    """A page content stream that inflates from about a thousandth of its size (1.5 GiB from
    1.5 MB by default): blank space, so only the reader's memory notices."""
    return one_page(path, stream(deflated(b" ", inflated_bytes)))


def operand_flood(path: Path, operands: int = 1_000_000_000) -> Path:
    """A content stream of ``operands`` numbers and no operator to consume them: a reader that
    keeps its operand stack grows without bound."""
    return one_page(path, stream(deflated(b"0 ", 2 * operands)))


def giant_page(path: Path, inches: float = 200) -> Path:
    """A page ``inches`` square with no text: a scan to OCR, which would render it at 300 dpi
    (60 000 × 60 000 pixels, 3.6 GB grey, at 200 inches)."""
    side = b"%g" % (inches * 72)
    art = stream(zlib.compress(b"0.5 g 10 10 100 100 re f\n"))
    return one_page(path, art, media_box=b"0 0 " + side + b" " + side)


def self_listing_pages(path: Path) -> Path:
    """A page tree whose Pages node lists itself among its kids: a reader that walks it naively
    never ends, pdfium refuses the document."""
    return write_pdf(path, [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
        stream(zlib.compress(b"0 g 10 10 100 100 re f\n")),
    ])
