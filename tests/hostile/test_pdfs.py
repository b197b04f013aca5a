"""Hostile PDFs against ``piawatch parse`` and ``piawatch check``: the pipeline's sandbox holds
the command line too — one line, exit 1, within the time and memory limits, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from . import bombs
from .cli import ROOT, run_cli

GOOD = ROOT / "demo" / "corpus" / "pdf" / "232017-toyohashi-02-basic.pdf"
# Small limits so each bomb trips them in seconds; the defaults (120 s, 1024 MB) work the same way.
MEMORY_MB, TIMEOUT_S = 384, 60
LIMITS = {"PIAWATCH_PARSE_MEMORY_MB": str(MEMORY_MB), "PIAWATCH_PARSE_TIMEOUT": str(TIMEOUT_S)}
# What one interpreter with the parser's imports takes before the parse (60–100 MB measured),
# on top of which the sandbox grants MEMORY_MB of address space.
INTERPRETER_MB = 200


@pytest.fixture(scope="module")
def made(bombs_dir):
    """Each hostile PDF, generated once for the module."""
    return {
        "decompression bomb": bombs.decompression_bomb(bombs_dir / "inflates-to-1.5GiB.pdf"),
        "a billion operands": bombs.operand_flood(bombs_dir / "billion-operands.pdf"),
        "200-inch page": bombs.giant_page(bombs_dir / "200-inch-page.pdf"),
        "self-listing page tree": bombs.self_listing_pages(bombs_dir / "pages-lists-itself.pdf"),
    }


@pytest.mark.parametrize("bomb, said", [
    ("decompression bomb", "piawatch parse: the parser process died"),
    ("a billion operands", "piawatch parse: the parser process died"),
    # OCR renders it at most transform.ocr.MAX_PIXELS big and finds nothing on it; were the render
    # unbounded, it would run into the memory limit instead. One line and the bounds, either way.
    ("200-inch page", ("piawatch parse: scanned PDF", "piawatch parse: parsing needed more than 384 MB")),
    ("self-listing page tree", "piawatch parse: damaged PDF: pdfium cannot read it"),
])
def test_parse_holds_a_hostile_pdf_in_one_line(made, bomb, said, tmp_path):
    ran = run_cli("parse", str(made[bomb]), tmp_path=tmp_path, env=LIMITS)
    assert ran.code == 1 and ran.out == ""
    assert len(ran.err_lines) == 1 and ran.err_lines[0].startswith(said), ran.err
    assert "Traceback" not in ran.err
    assert ran.seconds < TIMEOUT_S + 15
    assert ran.peak_mb < INTERPRETER_MB + MEMORY_MB, f"{ran.peak_mb:.0f} MB"
    print(f"{bomb}: {ran.seconds:.1f} s, {ran.peak_mb:.0f} MB")


@pytest.mark.parametrize("args, said", [
    (["parse", "no/such/file.pdf"], "piawatch parse: no such file"),
    (["parse", "demo"], "piawatch parse: a directory, not a PDF file"),
    (["discover", "http://[::1"], "piawatch discover: http://[::1: not a well-formed URL"),
    (["discover", "http://127.0.0.1:9\\@8.8.8.8/"], "piawatch discover: http://127.0.0.1:9\\@8.8.8.8/: its host reads as"),
])
def test_bad_arguments_are_one_line(args, said, tmp_path):
    ran = run_cli(*args, tmp_path=tmp_path)
    assert ran.code == 1 and len(ran.err_lines) == 1 and ran.err_lines[0].startswith(said), ran.err


@pytest.mark.slow  # two runs of every quality rule (Great Expectations)
def test_check_keeps_the_good_files_findings_beside_a_hostile_one(made, tmp_path):
    alone = run_cli("check", str(GOOD), tmp_path=tmp_path, env=LIMITS)
    mixed = run_cli("check", str(made["self-listing page tree"]), str(GOOD), "no/such/file.pdf",
                    tmp_path=tmp_path, env=LIMITS)
    assert alone.code == 0 and json.loads(alone.out)
    assert mixed.code == 0 and json.loads(mixed.out) == json.loads(alone.out)
    assert mixed.err_lines == [f"{made['self-listing page tree']}: damaged PDF: pdfium cannot read it "
                               f"(Failed to load page.)", "no/such/file.pdf: no such file"]


def test_check_of_only_hostile_files_exits_1(made, tmp_path):
    ran = run_cli("check", str(made["decompression bomb"]), tmp_path=tmp_path, env=LIMITS)
    assert ran.code == 1 and len(ran.err_lines) == 1 and "memory limit" in ran.err_lines[0]
    assert ran.peak_mb < INTERPRETER_MB + MEMORY_MB
