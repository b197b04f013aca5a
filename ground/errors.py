"""Named exceptions shared by every stage.

Each carries a short machine-readable ``code`` (stored in the failures table) and a one-line,
human ``reason``. They are turned into messages only at the edges: the CLI and the Airflow tasks.
"""

from __future__ import annotations


class PiaWatchError(Exception):
    code = "error"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def failure_row(stage: str, url: str | None, code: str, reason: str) -> dict:
    """A staged failure as the loader's ``failures`` table takes it: where it happened, and why."""
    return {"stage": stage, "url": url, "code": code, "reason": reason}


class ConfigError(PiaWatchError):
    code = "config"


# --- fetching -------------------------------------------------------------------------------
class FetchError(PiaWatchError):
    code = "fetch"


class DisallowedURL(FetchError):
    """Scheme, host, private address or robots.txt forbids the request."""

    code = "disallowed"


class HTTPStatusError(FetchError):
    code = "http_status"


class FetchTimeout(FetchError):
    code = "timeout"


class TooLarge(FetchError):
    code = "too_large"


# --- reading and parsing PDFs ----------------------------------------------------------------
class UnreadablePDF(PiaWatchError):
    """The bytes are not a PDF we can read (empty, HTML, truncated, encrypted…)."""

    code = "unreadable_pdf"


class NotAPDF(UnreadablePDF):
    code = "not_a_pdf"


class EncryptedPDF(UnreadablePDF):
    code = "encrypted_pdf"


class CorruptPDF(UnreadablePDF):
    code = "corrupt_pdf"


class NoTextLayer(UnreadablePDF):
    """A scanned PDF, and OCR is unavailable or produced nothing."""

    code = "no_text_layer"


class NotAnAssessment(PiaWatchError):
    """A readable PDF that is not a 特定個人情報保護評価書 (minutes, a notice…)."""

    code = "not_an_assessment"


class ParseLimitExceeded(PiaWatchError):
    """Parsing ran over its time or memory budget."""

    code = "parse_limit"


class ParserCrash(PiaWatchError):
    """The parser raised something unexpected on this file (a parser bug the file revealed)."""

    code = "parser_crash"


class BadStagedFile(PiaWatchError):
    """A staged file that is not JSON or does not follow the staged format, or a record the
    warehouse would refuse (``ground.rows.record_rows``)."""

    code = "bad_staged_file"
