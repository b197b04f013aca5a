"""Text as PIA Watch compares and keeps it: NFKC, whitespace collapsed or removed.

Every package that reads text (links on a web page, PDF text, form labels) normalises it here, so
「公 表 日」, 「公表日」 and full-width 「ＰＤＦ」 compare the same wherever they are read.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def clean(value: str | None) -> str | None:
    """A string as the record holds it: NFKC, whitespace collapsed to single spaces, blank → None."""
    if value is None:
        return None
    return _WHITESPACE.sub(" ", nfkc(value)).strip() or None


def compact(value: str | None) -> str:
    """NFKC with every space removed: the form used to compare labels («公 表 日» = «公表日»)."""
    if not value:
        return ""
    return _WHITESPACE.sub("", nfkc(value))
