"""What a file's first bytes say it is: a PDF by its ``%PDF-`` header, or the HTML page a server
sent in its place (an error or landing page under a .pdf URL).

The crawler asks before it stores bytes, the PDF reader before it opens a file: one answer for both.
"""

from __future__ import annotations

# The header may follow a few bytes of junk (a BOM, blank lines); PDF readers look this far.
PDF_HEADER_WINDOW = 1024

_HTML_STARTS = (b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")


def not_a_pdf_reason(head: bytes) -> str | None:
    """Why bytes starting with ``head`` are not a PDF («is empty…», «has no %PDF- header…»), or None."""
    head = head[:PDF_HEADER_WINDOW]
    if b"%PDF-" in head:
        return None
    if not head:
        return "is empty (0 bytes)"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(_HTML_STARTS) or b"<html" in stripped[:512]:
        return "is an HTML page, not a PDF (no %PDF- header)"
    start = head[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"has no %PDF- header (starts with {start!r})"
