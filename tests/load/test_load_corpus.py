"""The demo corpus' ground truth (demo/corpus/truth/*.json), staged as the parse step would, loads
into the warehouse without losing a value, and its republished edition-2 documents become versions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from ground.schema import FIELDS
from load.connection import connect
from load.loader import load_run
from load.staging import stage_parse
from tests.load.staged_runs import stored_record, write_json

CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
TRUTH = sorted((CORPUS / "truth").glob("*.json"))
SITE = "http://127.0.0.1:8765"

pytestmark = pytest.mark.skipif(not TRUTH, reason="demo/corpus/truth/*.json is not committed yet")


def _spec(doc_id: str) -> dict:
    path = CORPUS / "specs" / f"{doc_id}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}


def _sha256(doc_id: str) -> str:
    pdf = CORPUS / "pdf" / f"{doc_id}.pdf"
    content = pdf.read_bytes() if pdf.exists() else doc_id.encode()
    return hashlib.sha256(content).hexdigest()


def _corpus_documents() -> list[dict]:
    documents = []
    for path in TRUTH:
        doc_id = path.stem
        spec = _spec(doc_id)
        if spec.get("published", True) is False:
            continue
        city_code, slug = doc_id.split("-")[:2]
        edition = spec.get("edition", 2 if doc_id.endswith("-ed2") else 1)
        base_id = doc_id.removesuffix("-ed2")
        documents.append({"id": doc_id, "city_code": city_code, "edition": edition, "sha256": _sha256(doc_id),
                          "url": f"{SITE}/{slug}/pdf/{base_id}.pdf",
                          "record": json.loads(path.read_text(encoding="utf-8"))})
    return documents


def _stage(data_dir: Path, run_id: str, documents: list[dict]) -> Path:
    run_dir = data_dir / "staging" / run_id
    stamp = f"2026-11-{run_id[6:8]}T01:00:00+00:00"
    for city_code in sorted({d["city_code"] for d in documents}):
        mine = [d for d in documents if d["city_code"] == city_code]
        listing = f"{SITE}/{mine[0]['url'].split('/')[3]}/index.html"
        write_json(run_dir / "crawl" / f"{city_code}.json", {
            "city_code": city_code, "crawled_at": stamp,
            "pages": [{"url": listing, "status": 200, "encoding": "utf-8", "found_on": None}],
            "links": [{"url": d["url"], "link_text": d["record"].get("title"), "found_on": listing} for d in mine],
            "fetches": [{"url": d["url"], "method": "GET", "status": 200, "bytes": 1000, "sha256": d["sha256"],
                         "elapsed_ms": 5, "conditional": False, "not_modified": False, "error": None,
                         "fetched_at": stamp} for d in mine],
            "documents": [{"url": d["url"], "sha256": d["sha256"], "bytes": 1000, "link_text": d["record"].get("title"),
                           "found_on": listing, "content_type": "application/pdf", "etag": None,
                           "last_modified": None, "fetched_at": stamp, "is_new_version": True} for d in mine],
            "failures": []})
        for d in mine:
            stage_parse(run_dir, {"sha256": d["sha256"], "parser_version": "truth", "url": d["url"], "record": d["record"]})
    return run_dir


def test_the_corpus_truth_loads_without_losing_a_value(tmp_path):
    documents = [d for d in _corpus_documents() if d["edition"] == 1]
    db = tmp_path / "warehouse.duckdb"
    counts = load_run(db, "20261123T010000Z", _stage(tmp_path, "20261123T010000Z", documents))
    assert counts["assessments_loaded"] == len({(d["sha256"], d["city_code"]) for d in documents})
    with connect(db, read_only=True) as con:
        for d in documents:
            stored = stored_record(con, d["sha256"], d["city_code"])
            assert {key: stored[key] for key in d["record"]} == _as_stored(d["record"]), d["id"]


def _as_stored(record: dict) -> dict:
    """The record as the warehouse keeps it: a list field its kind's form does not have is NULL,
    not [] (ground.rows.record_values)."""
    kinds = {f.name: f.kinds for f in FIELDS}
    return {key: None if value == [] and record["kind"] not in kinds.get(key, (record["kind"],)) else value
            for key, value in record.items()}


def test_edition_two_republications_become_versions_with_diffs(tmp_path):
    documents = _corpus_documents()
    republished = [d for d in documents if d["edition"] == 2]
    if not republished:
        pytest.skip("the corpus has no edition-2 documents yet")
    db = tmp_path / "warehouse.duckdb"
    first = [d for d in documents if d["edition"] == 1]
    load_run(db, "20261123T010000Z", _stage(tmp_path, "20261123T010000Z", first))
    replaced = {d["url"] for d in republished}
    second = [d for d in first if d["url"] not in replaced] + republished
    load_run(db, "20261124T010000Z", _stage(tmp_path, "20261124T010000Z", second))
    with connect(db, read_only=True) as con:
        for d in republished:
            assert con.execute("SELECT sha256, versions FROM latest_assessments WHERE sha256 = ?",
                               [d["sha256"]]).fetchone() == (d["sha256"], 2), d["id"]
            assert con.execute("SELECT count(*) FROM assessment_version_diffs WHERE new_sha256 = ?",
                               [d["sha256"]]).fetchone()[0] > 0, d["id"]
