"""The `piawatch` command line, as a user calls it, on real corpus PDFs and the real demo websites."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from demo.server import DemoServer
from piawatch.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "demo" / "corpus" / "pdf"
BROKEN = ROOT / "demo" / "corpus" / "broken"


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    names = []
    for name, parser in sub.choices.items():
        nested = [a for a in parser._actions if getattr(a, "choices", None) and a.dest == "demo_command"]
        names += [f"{name} {child}" for child in nested[0].choices] if nested else [name]
    return names


def test_every_command_is_documented_in_the_readme_and_has_help():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in _commands():
        assert f"piawatch {command}" in readme, f"`piawatch {command}` is not in README.md"
        done = subprocess.run([sys.executable, "-m", "piawatch.cli", *command.split(), "--help"],
                              capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0 and "usage: piawatch" in done.stdout


def test_parse_prints_the_record(capsys):
    assert main(["parse", str(PDF / "232017-toyohashi-02-basic.pdf")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "basic"
    assert record["organization"] == "豊橋市長"
    assert record["subject_count_band"] == "300k_plus"
    assert record["threshold_result"] == "basic_only"


@pytest.mark.parametrize("name, reason", [
    ("html-error-page.pdf", "HTML"),
    ("encrypted.pdf", "password"),
    ("minutes.pdf", "not a 特定個人情報保護評価書"),
    ("empty.pdf", "empty"),
])
def test_parse_refuses_an_unreadable_file_in_one_line(capsys, name, reason):
    assert main(["parse", str(BROKEN / name)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and reason in err


def test_check_prints_the_findings_of_the_planted_contradiction(capsys):
    files = [str(PDF / "232017-toyohashi-02-basic.pdf"), str(PDF / "111007-saitama-36-basic.pdf"),
             str(PDF / "111007-saitama-36-focused.pdf")]
    assert main(["check", *files]) == 0
    findings = json.loads(capsys.readouterr().out)
    assert [(f["rule"], f["severity"], Path(f["source"]).name) for f in findings] == [
        ("threshold.result_mismatch", "error", "232017-toyohashi-02-basic.pdf")]
    assert {"message", "organization", "assessment_number", "title"} <= set(findings[0])


def test_discover_lists_pdf_links_of_a_demo_city(capsys):
    with DemoServer(port=0) as server:
        assert main(["discover", f"{server.url}/sakai/pia/index.html", "--allow-private"]) == 0
    links = json.loads(capsys.readouterr().out)
    assert links and all(set(link) == {"url", "link_text", "found_on"} for link in links)
    assert any(link["url"].endswith("271403-sakai-01-full.pdf") and "全項目評価書" in link["link_text"]
               for link in links)


def test_discover_refuses_a_loopback_address_without_the_flag(capsys):
    with DemoServer(port=0) as server:
        assert main(["discover", f"{server.url}/sakai/pia/index.html"]) == 1
    assert "loopback" in capsys.readouterr().err


def test_cities_validates_and_lists_the_registry(capsys):
    assert main(["cities", "--format", "json"]) == 0
    cities = json.loads(capsys.readouterr().out)
    assert {c["code"] for c in cities if c["demo"]} == {
        "271403", "112020", "072044", "111007", "282014", "401005", "152013", "232017"}
