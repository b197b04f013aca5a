"""``check_warehouse`` on a real DuckDB warehouse filled by the real loader from staged runs.

The staging helpers here (a 豊橋市 crawl with its parsed records, one night after another) are
also what tests/alerts/test_send.py builds its runs with.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from extract.registry import parse_city

from alerts import send_alerts
from ground.schema import empty_record
from load.connection import connect
from load.loader import load_run
from load.staging import stage_parse
from quality import check_records, check_warehouse
from quality.check import latest_records

TODAY = date(2026, 11, 23)

TOYOHASHI = parse_city({"code": "232017", "slug": "toyohashi", "name": "豊橋市", "prefecture": "愛知県",
                        "urls": ["http://127.0.0.1/toyohashi/"], "demo": True}, where="test city", environment={})
BASIC_URL = "http://127.0.0.1/toyohashi/pia/01-basic.pdf"
FULL_URL = "http://127.0.0.1/toyohashi/pia/02-full.pdf"


def toyohashi_basic(band: str) -> dict:
    """豊橋市 basic document No. 1; with band 300k_plus its stated result contradicts the table."""
    record = empty_record()
    record.update({
        "kind": "basic", "assessment_number": 1, "title": "住民基本台帳に関する事務 基礎項目評価書",
        "organization": "豊橋市長", "published_on": "2025-04-01", "form_version": "令和6年10月 様式2",
        "is_draft": False, "subject_count_band": band, "subject_count_as_of": "2025-03-01",
        "handler_count_500_or_more": False, "serious_incident_past_year": False,
        "threshold_result": "basic_only", "submitted_kinds": ["basic"],
        "changes": [{"date": "2025-06-01", "item": "Ⅰ 関連情報", "before": "旧", "after": "新",
                     "timing": "post", "note": None}],
        "source": {"pages": 6, "extractor": "pdfplumber", "ocr": False,
                   "field_pages": {"subject_count_band": 2, "threshold_result": 3, "published_on": 1,
                                   "changes": 6},
                   "unread_fields": []},
    })
    return record


def toyohashi_full() -> dict:
    """A complete, consistent full document (No. 2): no error findings."""
    record = empty_record()
    record.update({
        "kind": "full", "assessment_number": 2, "title": "個人住民税に関する事務 全項目評価書",
        "organization": "豊橋市長", "published_on": "2025-04-01", "form_version": "令和6年10月 様式4",
        "is_draft": False, "business_name": "個人住民税に関する事務", "subject_count_band": "300k_plus",
        "threshold_result": "basic_and_full", "basic_assessment_date": "2024-10-01",
        "public_comment_start": "2024-11-01", "public_comment_end": "2024-11-30",
        "third_party_review_dates": ["2025-01-20"],
        "source": {"pages": 60, "field_pages": {}, "unread_fields": []},
    })
    return record


def stage_run(settings, run_id: str, fetched_at: datetime, documents: list[tuple[str, dict]]) -> str:
    """Stage one crawl of 豊橋市 and the parsed records, as the crawl and parse steps would."""
    run_dir = settings.run_staging_dir(run_id)
    staged_docs = []
    for url, record in documents:
        content = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
        sha = hashlib.sha256(content).hexdigest()  # stands for the PDF's bytes: new content, new version
        record = {**record, "source": {**record["source"], "sha256": sha}}
        staged_docs.append({"url": url, "sha256": sha, "bytes": len(content), "link_text": record["title"],
                            "found_on": TOYOHASHI.urls[0], "content_type": "application/pdf", "etag": None,
                            "last_modified": None, "fetched_at": fetched_at.isoformat(), "is_new_version": True})
        stage_parse(run_dir, {"sha256": sha, "parser_version": "test", "url": url, "record": record})
    (run_dir / "crawl").mkdir(parents=True, exist_ok=True)
    (run_dir / "crawl" / f"{TOYOHASHI.code}.json").write_text(json.dumps({
        "city_code": TOYOHASHI.code, "crawled_at": fetched_at.isoformat(),
        "pages": [{"url": TOYOHASHI.urls[0], "status": 200, "encoding": "utf-8", "found_on": None}],
        "links": [{"url": d["url"], "link_text": d["link_text"], "found_on": d["found_on"]} for d in staged_docs],
        "fetches": [{"url": url, "method": "GET", "status": 200, "bytes": 2048, "sha256": None,
                     "elapsed_ms": 15, "conditional": False, "not_modified": False, "error": None,
                     "fetched_at": fetched_at.isoformat()} for url in (TOYOHASHI.urls[0], *(d["url"] for d in staged_docs))],
        "documents": staged_docs, "failures": []}, ensure_ascii=False))
    load_run(settings.warehouse, run_id, run_dir, cities=[TOYOHASHI])
    return run_id


class Nightly:
    """Stage, load, check and alert one run after another, as the pipeline does."""

    def __init__(self, settings, alert_retry_delays=(0.0, 0.0)):
        self.settings = settings
        self.alert_retry_delays = alert_retry_delays
        self.day = datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc)
        self.runs = 0

    def load(self, documents) -> str:
        """Stage and load the next night's crawl; return its run id."""
        self.runs += 1
        self.day += timedelta(days=1)
        return stage_run(self.settings, f"run{self.runs}", self.day, documents)

    def check(self, run_id: str, **kwargs) -> dict:
        with connect(self.settings.warehouse) as con:
            return check_warehouse(con, run_id, today=TODAY, **kwargs)

    def run(self, documents, channels):
        """Load, check and alert: (check counts, alert counts)."""
        run_id = self.load(documents)
        with connect(self.settings.warehouse) as con:
            checked = check_warehouse(con, run_id, today=TODAY)
            return checked, send_alerts(con, run_id, channels, retry_delays=self.alert_retry_delays)

    def query(self, sql, params=()):
        with connect(self.settings.warehouse) as con:
            return con.execute(sql, list(params)).fetchall()


@pytest.fixture
def nightly(settings):
    return Nightly(settings)


def test_findings_are_upserted_idempotently_and_reported_by_rule(nightly, tmp_path):
    run_id = nightly.load([(BASIC_URL, toyohashi_basic("300k_plus")), (FULL_URL, toyohashi_full())])
    docs_dir = tmp_path / "reports" / run_id / "data-docs"
    checked = nightly.check(run_id, data_docs_dir=docs_dir)
    assert checked["documents"] == 2
    assert checked["by_rule"] == {"dates.change_after_publication": 1, "threshold.result_mismatch": 1}
    assert checked["by_severity"] == {"error": 1, "warning": 1}
    assert Path(checked["data_docs"]) == docs_dir / "index.html"
    assert "piawatch_documents" in (docs_dir / "index.html").read_text(encoding="utf-8")
    # Each validated suite's results have their page (built once, after every suite ran).
    result_pages = list(docs_dir.glob("validations/piawatch_documents/**/*.html"))
    assert len(result_pages) == 1 and "threshold_result" in result_pages[0].read_text(encoding="utf-8")

    rows = nightly.query("SELECT rule, source, city_code, finding_key, first_seen_run, last_seen_run, evidence "
                         "FROM findings ORDER BY rule")
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("dates.change_after_publication", BASIC_URL, "232017", "changes[0]", "run1", "run1"),
        ("threshold.result_mismatch", BASIC_URL, "232017", "threshold_result", "run1", "run1")]
    assert json.loads(rows[1][6])["pages"] == {"subject_count_band": 2, "threshold_result": 3}

    # Checking the same run again changes nothing; the next night keeps first_seen_run.
    assert nightly.check(run_id)["findings"] == 2
    assert nightly.query("SELECT count(*) FROM findings")[0][0] == 2
    run2 = nightly.load([(BASIC_URL, toyohashi_basic("300k_plus")), (FULL_URL, toyohashi_full())])
    nightly.check(run2)
    assert nightly.query("SELECT DISTINCT first_seen_run, last_seen_run FROM findings") == [("run1", "run2")]
    assert nightly.query("SELECT count(*) FROM open_findings")[0][0] == 2
    assert nightly.query("SELECT findings, checked_at IS NOT NULL FROM runs WHERE run_id = 'run2'") == [(2, True)]


def test_a_fixed_version_closes_the_finding(nightly):
    nightly.check(nightly.load([(BASIC_URL, toyohashi_basic("300k_plus"))]))
    run2 = nightly.load([(BASIC_URL, toyohashi_basic("1k_to_10k"))])
    assert "threshold.result_mismatch" not in nightly.check(run2)["by_rule"]
    assert nightly.query("SELECT rule FROM open_findings") == [("dates.change_after_publication",)]
    assert nightly.query("SELECT last_seen_run FROM findings WHERE rule = 'threshold.result_mismatch'") == [("run1",)]


def test_warehouse_and_records_give_the_same_findings(nightly):
    """One implementation: the warehouse's rows, turned back into records, are checked like parser output."""
    documents = [(BASIC_URL, toyohashi_basic("300k_plus")), (FULL_URL, toyohashi_full())]
    nightly.check(nightly.load(documents))
    with connect(nightly.settings.warehouse) as con:
        records, provenance = latest_records(con)
    from_files = check_records(records, sources=[p["source"] for p in provenance], today=TODAY)
    in_warehouse = nightly.query("SELECT finding_id, rule, message FROM findings ORDER BY finding_id")
    assert sorted((f["finding_id"], f["rule"], f["message"]) for f in from_files) == in_warehouse
