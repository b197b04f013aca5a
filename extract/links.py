"""Reading a listing page: bytes and URL in, decoded text and links out. No network.

Japanese municipal sites still serve Shift_JIS and EUC-JP, often declared only in a <meta> tag or
not at all, so decoding follows a fixed order: an override from the registry, the HTTP charset,
a byte-order mark, <meta charset>/http-equiv, then detection by charset-normalizer.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup
from charset_normalizer import from_bytes

from ground.text import clean

# Where a <meta> charset may appear: browsers only look this far too.
META_SCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Decode with the superset a declared legacy charset really means on the web (①, ㈱, 髙 …).
_WEB_SUPERSET = {"shift_jis": "cp932", "euc_jp": "euc_jis_2004"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_SKIPPED_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "#")


@dataclass(frozen=True)
class Link:
    url: str
    text: str | None


@dataclass(frozen=True)
class ParsedPage:
    url: str
    encoding: str
    links: list[Link]


def canonical_encoding(name: str | None) -> str | None:
    """Python's name for a declared charset (``Shift-JIS`` → ``shift_jis``), None if unknown."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def sniff_encoding(body: bytes, http_charset: str | None = None, override: str | None = None) -> str:
    for declared in (override, http_charset):
        encoding = canonical_encoding(declared)
        if encoding:
            return encoding
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    match = _META_CHARSET.search(body[:META_SCAN_BYTES])
    if match:
        encoding = canonical_encoding(match.group(1).decode("ascii"))
        if encoding:
            return encoding
    guess = from_bytes(body[:65536]).best()
    return canonical_encoding(guess.encoding) if guess else "utf-8"


def decode_html(body: bytes, http_charset: str | None = None, override: str | None = None) -> tuple[str, str]:
    """(text, encoding name) — the name as declared or detected, e.g. ``shift_jis``."""
    encoding = sniff_encoding(body, http_charset, override)
    return body.decode(_WEB_SUPERSET.get(encoding, encoding), errors="replace"), encoding


def link_text(anchor) -> str | None:
    """What a reader sees for a link: its text, else an image's alt text; NFKC, spaces collapsed."""
    text = clean(anchor.get_text(" "))
    if not text:
        alts = [img.get("alt", "") for img in anchor.find_all("img")]
        text = clean(" ".join(alts))
    return text or clean(anchor.get("title"))


def parse_links(body: bytes, url: str, *, http_charset: str | None = None, encoding: str | None = None,
                selector: str | None = None) -> ParsedPage:
    """Every http(s) link on the page (inside ``selector`` when given), absolute, without fragment."""
    text, used = decode_html(body, http_charset, encoding)
    soup = BeautifulSoup(text, "html.parser")
    base = soup.find("base", href=True)
    try:
        base_url = urljoin(url, base["href"]) if base else url
    except ValueError:  # a malformed <base href>: links stay relative to the page itself
        base_url = url
    roots = soup.select(selector) if selector else [soup]
    links, seen = [], set()
    for root in roots:
        for anchor in root.find_all("a", href=True):
            href = anchor["href"].strip()
            if not href or href.lower().startswith(_SKIPPED_SCHEMES):
                continue
            try:
                target = urldefrag(urljoin(base_url, href)).url
                scheme = urlsplit(target).scheme
            except ValueError:  # e.g. http://[::1 — a hostile or broken link is no link
                continue
            if scheme not in ("http", "https"):
                continue
            key = (target, link_text(anchor))
            if key not in seen:
                seen.add(key)
                links.append(Link(url=target, text=key[1]))
    return ParsedPage(url=url, encoding=used, links=links)


def is_pdf_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".pdf")


# Links that are never HTML pages worth following (documents, images, archives).
_NOT_PAGES = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|csv|zip|lzh|jpe?g|png|gif|svg|mp[34]|txt|xml|ics)$",
                        re.IGNORECASE)


def may_be_page(url: str) -> bool:
    return not _NOT_PAGES.search(urlsplit(url).path)
