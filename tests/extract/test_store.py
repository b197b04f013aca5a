"""The content-addressed store and the PDF sniffing done before anything is stored."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from extract.fetch import check_pdf_bytes, read_validators, validators_path, write_validators
from extract.store import raw_path, store_pdf
from ground.errors import NotAPDF
from ground.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "demo" / "corpus"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_stored_under_its_sha256(settings):
    sha256 = store_pdf(settings.raw_dir, PDF)
    assert sha256 == hashlib.sha256(PDF).hexdigest()
    path = raw_path(settings.raw_dir, sha256)
    assert path == settings.raw_dir / sha256[:2] / f"{sha256}.pdf"
    assert path.read_bytes() == PDF
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_never_overwritten(settings):
    path = raw_path(settings.raw_dir, store_pdf(settings.raw_dir, PDF))
    before = path.stat()
    assert raw_path(settings.raw_dir, store_pdf(settings.raw_dir, PDF)) == path
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_concurrent_writers_of_the_same_bytes_create_it_once(settings):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store_pdf(settings.raw_dir, PDF), range(16)))
    assert set(results) == {hashlib.sha256(PDF).hexdigest()}
    assert len(list(settings.raw_dir.rglob("*"))) == 2  # the shard directory and the file, no temporary left
    assert raw_path(settings.raw_dir, results[0]).read_bytes() == PDF


def test_validators_round_trip_per_url(settings):
    url = "https://www.city.kani.lg.jp/secure/9237/kiso.pdf"
    write_validators(settings.http_state_dir, url, {"sha256": "ab" * 32, "etag": '"x"', "last_modified": None})
    assert validators_path(settings.http_state_dir, url).name == f"{hashlib.sha1(url.encode()).hexdigest()}.json"
    assert read_validators(settings.http_state_dir, url)["etag"] == '"x"'
    assert read_validators(settings.http_state_dir, url + "?v=2") is None


def test_real_pdf_passes_the_sniff():
    pdf = next((CORPUS / "pdf").glob("*.pdf")).read_bytes()
    check_pdf_bytes(pdf, "https://x.jp/a.pdf", "application/pdf")
    check_pdf_bytes(b"\r\n" + PDF, "https://x.jp/a.pdf", "application/octet-stream")


@pytest.mark.parametrize("body, content_type, reason", [
    ((CORPUS / "broken" / "html-error-page.pdf").read_bytes(), "application/pdf",
     "served as application/pdf but is an HTML page, not a PDF (no %PDF- header)"),
    (b"", "application/pdf", "served as application/pdf but is empty (0 bytes)"),
    (b"PK\x03\x04\x14\x00\x06\x00", "", "served without a Content-Type but has no %PDF- header (starts with 'PK\\\\x03"),
])
def test_what_is_not_a_pdf_is_named(body, content_type, reason):
    with pytest.raises(NotAPDF) as caught:
        check_pdf_bytes(body, "https://x.jp/a.pdf", content_type)
    assert caught.value.code == "not_a_pdf"
    assert caught.value.reason.startswith("https://x.jp/a.pdf: ") and reason in caught.value.reason


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_stored_pdf_gets_the_process_umask(tmp_path, umask, mode):
    """An analyst on another account must be able to open the PDF behind a finding (0644 by default)."""
    import subprocess
    import sys

    pdf = Path(__file__).resolve().parents[2] / "demo" / "corpus" / "pdf" / "111007-saitama-36-basic.pdf"
    code = (f"import os; os.umask({umask}); from extract.store import raw_path, store_pdf; "
            f"print(raw_path({str(tmp_path)!r}, store_pdf({str(tmp_path)!r}, open({str(pdf)!r}, 'rb').read())))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert Path(done.stdout.strip()).stat().st_mode & 0o777 == mode
