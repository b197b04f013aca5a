"""The demo corpus: the rules on every truth record give exactly the findings demo/corpus/manifest.yaml
expects (extraction findings aside: truths are what a perfect parser reads, so nothing is unread).

Cross-document rules are judged per edition of the demo site, as the manifest says: edition 2
serves each ``edition: 2`` document in place of the one its spec ``replaces``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
MANIFEST = CORPUS / "manifest.yaml"


def _load():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    specs = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "specs").glob("*.yaml"))}
    truths = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "truth").glob("*.json"))}
    return manifest, specs, truths


def _editions(specs: dict) -> dict[int, list[str]]:
    first = [doc for doc, spec in specs.items() if spec.get("edition", 1) == 1]
    second_only = [doc for doc, spec in specs.items() if spec.get("edition", 1) == 2]
    replaced = {specs[doc]["replaces"] for doc in second_only if specs[doc].get("replaces")}
    return {1: first, 2: [doc for doc in first if doc not in replaced] + second_only}


@pytest.fixture(scope="module")
def corpus_findings():
    from quality import check_records

    manifest, specs, truths = _load()
    found: dict[int, dict[str, list[dict]]] = {}
    for edition, docs in _editions(specs).items():
        # The warehouse knows each document's 団体コード from the crawl; the truth does not carry it.
        records = [{**truths[doc], "city_code": specs[doc]["city_code"]} for doc in docs]
        findings = check_records(records, sources=docs, today=manifest["check_date"])
        found[edition] = {doc: [f for f in findings if f["source"] == doc] for doc in docs}
    return manifest, specs, found


def test_every_document_has_a_truth_and_a_manifest_entry():
    manifest, specs, truths = _load()
    assert set(specs) == set(truths) == set(manifest["documents"])


def test_findings_match_the_manifest(corpus_findings):
    manifest, specs, found = corpus_findings
    mismatches = {}
    for doc, expected in manifest["documents"].items():
        edition = specs[doc].get("edition", 1)
        got = found[edition][doc]
        want = {(e["rule"], e["severity"], e["key"]) for e in expected if e["rule"] != "extraction.unread_section"}
        have = {(f["rule"], f["severity"], f["key"]) for f in got}
        if want != have:
            mismatches[doc] = {"missing": sorted(want - have), "unexpected": sorted(have - want)}
    assert mismatches == {}


def test_evidence_names_the_fields_the_manifest_names(corpus_findings):
    manifest, specs, found = corpus_findings
    for doc, expected in manifest["documents"].items():
        by_key = {(f["rule"], f["key"]): f for f in found[specs[doc].get("edition", 1)][doc]}
        for entry in expected:
            if entry["rule"] == "extraction.unread_section":
                continue
            finding = by_key[(entry["rule"], entry["key"])]
            assert set(entry["fields"]) <= set(finding["evidence"]["values"]), (doc, entry["rule"])


def test_documents_in_both_editions_are_judged_alike(corpus_findings):
    _, _, found = corpus_findings
    for doc in set(found[1]) & set(found[2]):
        assert [(f["rule"], f["key"]) for f in found[1][doc]] == [(f["rule"], f["key"]) for f in found[2][doc]]
