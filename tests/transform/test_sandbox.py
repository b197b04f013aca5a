"""A ``Sandbox`` parsing a batch: one zygote, each PDF in a child of its own, so a hostile or slow
PDF is contained to its own parse and the next PDF of the batch still parses, the same record as
without a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from ground.errors import ParseLimitExceeded
from tests.hostile import bombs
from transform.parse import parse_pdf
from transform.sandbox import Sandbox

CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus" / "pdf"
BASIC = CORPUS / "232017-toyohashi-02-basic.pdf"
OTHER_BASIC = CORPUS / "111007-saitama-36-basic.pdf"
FULL = CORPUS / "271403-sakai-01-full.pdf"  # 60+ pages: seconds to parse


def test_a_bomb_in_a_batch_is_its_own_failure_and_the_next_pdf_parses(tmp_path):
    bomb = bombs.decompression_bomb(tmp_path / "inflates-to-1.5GiB.pdf")
    with Sandbox(memory_mb=384, timeout_s=60) as sandbox:
        assert sandbox.parse(BASIC) == parse_pdf(BASIC)
        with pytest.raises(ParseLimitExceeded, match="the parser process died"):
            sandbox.parse(bomb)
        assert sandbox.parse(OTHER_BASIC, sha256="a" * 64) == parse_pdf(OTHER_BASIC, sha256="a" * 64)


def test_a_pdf_over_the_time_limit_is_killed_and_the_batch_goes_on():
    with Sandbox(timeout_s=60) as sandbox:
        assert sandbox.parse(BASIC)["title"] == parse_pdf(BASIC)["title"]  # the zygote is up
        sandbox.timeout_s = 0.2  # the full form takes seconds: its child is killed at 0.2 s
        with pytest.raises(ParseLimitExceeded, match="longer than 0.2 s"):
            sandbox.parse(FULL)
        sandbox.timeout_s = 60
        assert sandbox.parse(OTHER_BASIC) == parse_pdf(OTHER_BASIC)
