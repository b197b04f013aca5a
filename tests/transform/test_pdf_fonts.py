"""A record does not depend on the fonts installed on the machine (transform.pdf pins pdfium's fonts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, PROJECT_ROOT
from transform.parse import parse_pdf
from transform.pdf import BOX_FONT

# Non-embedded Heisei fonts (every grid document) and the wrapped 変更箇所 header that lost a
# character without system fonts.
DOCUMENTS = ("072044-iwaki-01-full", "232017-toyohashi-02-basic", "111007-saitama-36-focused")
SYSTEM_FONTS = Path("/usr/share/fonts")

_PARSE = ("import json, sys; from transform.parse import parse_pdf; "
          "print(json.dumps([parse_pdf(p) for p in sys.argv[1:]], ensure_ascii=False, default=str))")


def _without_system_fonts_reason() -> str | None:
    if os.geteuid() != 0:
        return "hiding /usr/share/fonts needs root (a private mount namespace)"
    if shutil.which("unshare") is None or not SYSTEM_FONTS.is_dir():
        return "needs unshare(1) and a /usr/share/fonts to hide"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"unshare -m is not permitted here: {probe.stderr.decode(errors='replace').strip()}"
    return None


@pytest.mark.slow
def test_records_are_identical_with_and_without_system_fonts(tmp_path):
    reason = _without_system_fonts_reason()
    if reason:
        pytest.skip(reason)
    paths = [str(CORPUS / "pdf" / f"{doc_id}.pdf") for doc_id in DOCUMENTS]
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    script = (f"mount --bind {empty} {SYSTEM_FONTS} && test -z \"$(ls {SYSTEM_FONTS})\" && "
              f"exec {sys.executable} -c '{_PARSE}' \"$@\"")
    hidden = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *paths], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert hidden.returncode == 0, hidden.stderr[-2000:]
    without_fonts = json.loads(hidden.stdout)
    with_fonts = json.loads(json.dumps([parse_pdf(path) for path in paths], ensure_ascii=False, default=str))
    assert without_fonts == with_fonts
    # the wrapped header cell 「提出時 / 期」 is read whole, so the change rows are there
    assert with_fonts[0]["changes"] and "changes" not in with_fonts[0]["source"]["unread_fields"]


def test_box_font_rebuilds_byte_for_byte(tmp_path):
    pytest.importorskip("fontTools")
    sys.path.insert(0, str(PROJECT_ROOT / "tools"))
    try:
        from make_box_font import build
    finally:
        sys.path.remove(str(PROJECT_ROOT / "tools"))
    assert build(tmp_path / "boxes.ttf").read_bytes() == BOX_FONT.read_bytes()
