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


# The caller of a Sandbox, killed while its child parses: prints the child's pid and the sandbox's
# directory (where the child would write its result), then SIGKILLs itself as a killed task would be.
KILLED_CALLER = """
import os, signal, sys, threading, time
from stack.usage import process_tree
from transform.sandbox import Sandbox

basic, big = sys.argv[1:3]
sandbox = Sandbox(timeout_s=60)
sandbox.parse(basic)  # the zygote is up: the slow PDF's child is forked at once
sandbox.timeout_s = 3
threading.Thread(target=sandbox.parse, args=(big,), daemon=True).start()
zygote = sandbox._zygote.pid
while not (children := process_tree([zygote]) - {zygote}):
    time.sleep(0.01)
print(min(children), sandbox._dir.name, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_child_whose_caller_was_killed_ends_at_its_cpu_backstop(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    import time

    import pypdfium2 as pdfium

    from transform.sandbox import cpu_backstop_seconds

    # Sixty full forms in one file: 4,000 pages, some 35 s of CPU to parse here (twenty took 12 s).
    big, full = pdfium.PdfDocument.new(), pdfium.PdfDocument(FULL)
    for _ in range(60):
        big.import_pages(full)
    big.save(tmp_path / "sixty-full-forms.pdf")
    caller = subprocess.run([sys.executable, "-c", KILLED_CALLER, str(BASIC), str(tmp_path / "sixty-full-forms.pdf")],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    child, directory = caller.stdout.split()
    # Nobody is left to kill the orphan at its 3 s deadline: the kernel ends it at 8 s of CPU.
    assert cpu_backstop_seconds(3) == 8
    deadline = time.monotonic() + 120
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists()
    assert not (Path(directory) / "result.json").exists()  # ended, not finished
    assert os.listdir(directory)  # the killed caller could not clean up: the child's stderr is there
    shutil.rmtree(directory)
