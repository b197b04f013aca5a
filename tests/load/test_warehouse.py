"""The DuckDB warehouse: loading staged runs, history, idempotency, crash safety, failures, export.

The staged files are written exactly as the crawl and parse steps write them
(docs/architecture.md), with records whose values come from the real assessments in
/work/shared/seeds (堺市 全項目, 熊谷市 全項目（案）, いわき市 基礎項目, さいたま市 重点項目) and
the planted problems of the demo cities.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from extract.registry import City, parse_city

from ground.schema import FIELDS, empty_record
from ground.settings import as_warehouse
from load import warehouse
from load.export import export
from load.schema import ALLOWED_VALUES, KEYS, IntegrityError
from load.staging import RECORD_EXTRA_COLUMNS, BadStagedFile
from load.warehouse import (WarehouseBusy, connect, load_run, record_run_end, record_run_start, record_run_step,
                            write_transaction)
from quality.check import FINDING_COLUMNS

RUN_1 = "20261123T010000Z"
RUN_2 = "20261124T010000Z"
SITE = "http://127.0.0.1:8765"
PARSER_VERSION = "0.3.0"




def demo_city(code: str, slug: str, name: str, prefecture: str, url: str) -> City:
    """A demo registry entry, read by the registry's own reader."""
    return parse_city({"code": code, "slug": slug, "name": name, "prefecture": prefecture, "urls": [url],
                       "demo": True}, where=f"test city {slug}", environment={})


CITIES = [
    demo_city("271403", "sakai", "堺市", "大阪府", f"{SITE}/sakai/pia/index.html"),
    demo_city("112020", "kumagaya", "熊谷市", "埼玉県", f"{SITE}/kumagaya/hyoka.html"),
    demo_city("072044", "iwaki", "いわき市", "福島県", f"{SITE}/iwaki/list.html"),
    demo_city("111007", "saitama", "さいたま市", "埼玉県", f"{SITE}/saitama/list.html"),
    demo_city("232017", "toyohashi", "豊橋市", "愛知県", f"{SITE}/toyohashi/pia.html"),
    demo_city("401005", "kitakyushu", "北九州市", "福岡県", f"{SITE}/kitakyushu/pia.html"),
]


def sha_of(doc_id: str, edition: int = 1) -> str:
    return hashlib.sha256(f"{doc_id} edition {edition}".encode()).hexdigest()


def _record(**fields) -> dict:
    record = empty_record()
    record.update(fields)
    return record


RISK_SECTIONS = ("III 2 特定個人情報の入手", "III 3 特定個人情報の使用", "III 4 特定個人情報ファイルの取扱いの委託",
                 "III 7 特定個人情報の保管・消去")


def _risk_answers(*answers: str, first_page: int = 20) -> list[dict]:
    return [{"section": section, "question": "リスクへの対策は十分か", "answer": answer, "page": first_page + i}
            for i, (section, answer) in enumerate(zip(RISK_SECTIONS, answers))]


def sakai_full(edition: int = 1) -> dict:
    """Seed 000: 堺市 住民基本台帳に関する事務 全項目評価書; edition 2 republishes it changed."""
    record = _record(
        kind="full", assessment_number=1, title="住民基本台帳に関する事務 全項目評価書", organization="堺市長",
        published_on="2024-03-25", form_version="平成30年5月 様式4", is_draft=False,
        business_name="住民基本台帳に関する事務", subject_count_band="300k_plus",
        serious_incident_past_3_years=False, threshold_result="basic_and_full", threshold_result_voluntary=False,
        basic_assessment_date="2023-11-01", public_comment_start="2023-12-01", public_comment_end="2024-01-05",
        third_party_review_dates=["2024-02-09"],
        files=[
            {"name": "住民基本台帳ファイル", "subject_band": "100k_to_1m", "record_items_count": "50項目以上100項目未満",
             "held_since": "2015-08-01", "provisions": [{"kind": "provision", "recipient": "地方公共団体情報システム機構"},
                                                              {"kind": "transfer", "recipient": "市民税課"}],
             "outsourcing": [
                 {"contractor": "富士フィルムシステムサービス株式会社", "handler_count": "10人以上50人未満",
                  "subcontracting": False}]},
            {"name": "本人確認情報ファイル", "subject_band": "100k_to_1m", "record_items_count": "10項目以上50項目未満",
             "held_since": "2015-08-01", "provisions": None, "outsourcing": []},
            {"name": "送付先情報ファイル", "subject_band": "100k_to_1m", "record_items_count": "50項目以上100項目未満",
             "held_since": "2015-10-02", "provisions": None, "outsourcing": []},
        ],
        changes=[{"date": "2023-04-01", "item": "I 基本情報 7. 評価実施機関における担当部署", "before": "市民人権局市民生活部",
                  "after": "市民人権局市民生活部戸籍住民課", "timing": "post", "note": "組織改正による"}],
        risk_answers=_risk_answers("特に力を入れている", "特に力を入れている", "特に力を入れている", "十分である"),
        source={"sha256": sha_of("271403-sakai-01-full", edition), "pages": 72, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False,
                "field_pages": {"published_on": 1, "threshold_result": 70, "changes": 71, "files": 7},
                "unread_fields": []},
    )
    if edition == 2:
        record.update(published_on="2025-04-01", basic_assessment_date="2025-01-10",
                      public_comment_start="2025-01-15", public_comment_end="2025-02-14",
                      third_party_review_dates=["2025-03-05"])
        record["changes"] = record["changes"] + [
            {"date": "2025-03-01", "item": "II 3. 特定個人情報の入手・使用", "before": "紙",
             "after": "紙、オンライン申請", "timing": "pre", "note": None}]
        record["risk_answers"] = _risk_answers("特に力を入れている", "特に力を入れている", "十分である", "十分である")
    return record


def sakai_basic() -> dict:
    return _record(
        kind="basic", assessment_number=1, title="住民基本台帳に関する事務 基礎項目評価書", organization="堺市長",
        published_on="2024-03-25", form_version="平成31年1月 様式2", is_draft=False,
        business_name="住民基本台帳に関する事務", subject_count_band="300k_plus", subject_count_as_of="2023-10-01",
        handler_count_500_or_more=True, serious_incident_past_year=False, threshold_result="basic_and_full",
        threshold_result_voluntary=False, submitted_kinds=["basic", "full"],
        risk_answers=_risk_answers("特に力を入れている", "十分である", first_page=3),
        source={"sha256": sha_of("271403-sakai-01-basic"), "pages": 5, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False, "field_pages": {}, "unread_fields": []},
    )


def kumagaya_draft() -> dict:
    """Seed 001: the full draft （案） for public comment: 公表日 blank."""
    return _record(
        kind="full", assessment_number=1, title="住民基本台帳に関する事務 全項目評価書(案)", organization="熊谷市長",  # NFKC, as parsed
        published_on=None, form_version="令和6年10月 様式4", is_draft=True, business_name="住民基本台帳に関する事務",
        subject_count_band="100k_to_300k", serious_incident_past_3_years=False, threshold_result="basic_and_full",
        threshold_result_voluntary=True, basic_assessment_date="2024-12-01",
        public_comment_start="2025-01-23", public_comment_end="2025-02-21",
        files=[{"name": "住民基本台帳ファイル", "subject_band": "100k_to_1m", "record_items_count": "100項目以上",
                "held_since": "2015-10-05", "provisions": None,
                "outsourcing": [{"contractor": None, "handler_count": "50人以上100人未満", "subcontracting": True}]}],
        risk_answers=_risk_answers("十分である", "十分である", "十分である", "十分である", first_page=30),
        source={"sha256": sha_of("112020-kumagaya-01-full-draft"), "pages": 69, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False, "field_pages": {}, "unread_fields": []},
    )


def iwaki_basic(doc_id: str = "072044-iwaki-01-basic", *, ocr: bool = False) -> dict:
    """Seed 002: いわき市 住民基本台帳事務 基礎項目評価書."""
    return _record(
        kind="basic", assessment_number=1, title="住民基本台帳事務 基礎項目評価書", organization="いわき市長",
        published_on="2024-09-10", form_version="平成31年1月 様式2", is_draft=False,
        business_name="住民基本台帳に関する事務", subject_count_band="300k_plus", subject_count_as_of="2024-04-01",
        handler_count_500_or_more=False, serious_incident_past_year=False, threshold_result="basic_and_full",
        threshold_result_voluntary=False, submitted_kinds=["basic", "full"],
        risk_answers=_risk_answers("十分である", "十分である", first_page=3),
        source={"sha256": sha_of(doc_id), "pages": 6, "parser_version": PARSER_VERSION,
                "extractor": "ocr" if ocr else "pdfplumber", "ocr": ocr, "field_pages": {},
                "unread_fields": ["subject_count_as_of"] if ocr else []},
    )


def saitama_focused() -> dict:
    """Seed 004: さいたま市 評価書番号 36, 重点項目."""
    return _record(
        kind="focused", assessment_number=36, title="低所得者支援及び定額減税補足給付金の支給に関する事務 重点項目評価書",
        organization="さいたま市長", published_on="2024-05-31", form_version="令和6年4月 様式3", is_draft=False,
        business_name="低所得者支援及び定額減税補足給付金の支給に関する事務", subject_count_band="100k_to_300k",
        serious_incident_past_3_years=False, threshold_result="basic_and_focused", threshold_result_voluntary=False,
        basic_assessment_date="2024-05-20",
        files=[{"name": "低所得者支援及び定額減税補足給付金ファイル", "subject_band": "100k_to_1m",
                "record_items_count": "50項目以上100項目未満", "held_since": "2024-06-03", "provisions": None,
                "outsourcing": [{"contractor": "株式会社ぎょうせい", "handler_count": "100人以上500人未満",
                                 "subcontracting": False}]}],
        risk_answers=_risk_answers("十分である", "課題が残されている", "十分である", first_page=8),
        source={"sha256": sha_of("111007-saitama-36-focused"), "pages": 18, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False, "field_pages": {}, "unread_fields": []},
    )


def toyohashi_threshold_contradiction() -> dict:
    """THE planted contradiction: 30万人以上 yet the document says only a basic assessment is required."""
    return _record(
        kind="basic", assessment_number=3, title="国民健康保険に関する事務 基礎項目評価書", organization="豊橋市長",
        published_on="2024-06-28", form_version="平成31年1月 様式2", is_draft=False,
        business_name="国民健康保険に関する事務", subject_count_band="300k_plus", subject_count_as_of="2024-04-01",
        handler_count_500_or_more=False, serious_incident_past_year=False, threshold_result="basic_only",
        threshold_result_voluntary=False, submitted_kinds=["basic"],
        changes=[{"date": "2024-08-01", "item": "Ⅱ 1 対象人数", "before": "10万人以上30万人未満", "after": "30万人以上",
                  "timing": "post", "note": None}],
        risk_answers=_risk_answers("課題が残されている", "十分である", first_page=3),
        source={"sha256": sha_of("232017-toyohashi-03-basic"), "pages": 5, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False, "field_pages": {"subject_count_band": 2,
                                                                         "threshold_result": 3},
                "unread_fields": []},
    )


def toyohashi_stale_full() -> dict:
    return _record(
        kind="full", assessment_number=1, title="住民基本台帳に関する事務 全項目評価書", organization="豊橋市長",
        published_on="2019-03-29", form_version="平成30年5月 様式4", is_draft=False,
        business_name="住民基本台帳に関する事務", subject_count_band="300k_plus", serious_incident_past_3_years=False,
        threshold_result="basic_and_full", threshold_result_voluntary=False, basic_assessment_date="2018-11-30",
        public_comment_start=None, public_comment_end=None, third_party_review_dates=[],
        risk_answers=_risk_answers("十分である", "十分である", "十分である", "十分である", first_page=25),
        source={"sha256": sha_of("232017-toyohashi-01-full"), "pages": 60, "parser_version": PARSER_VERSION,
                "extractor": "pdfplumber", "ocr": False, "field_pages": {}, "unread_fields": []},
    )


@dataclass
class Doc:
    doc_id: str
    record: dict | None  # None: the PDF could not be parsed
    edition: int = 1
    error: tuple[str, str] | None = None

    @property
    def city_code(self) -> str:
        return self.doc_id[:6]

    @property
    def sha256(self) -> str:
        return sha_of(self.doc_id, self.edition)

    @property
    def url(self) -> str:
        slug = self.doc_id.split("-")[1]
        return f"{SITE}/{slug}/pdf/{self.doc_id.replace('-ed2', '')}.pdf"


def run_1_documents() -> list[Doc]:
    return [
        Doc("271403-sakai-01-full", sakai_full(1)),
        Doc("271403-sakai-01-basic", sakai_basic()),
        Doc("112020-kumagaya-01-full-draft", kumagaya_draft()),
        Doc("072044-iwaki-01-basic", iwaki_basic()),
        Doc("072044-iwaki-02-basic-scanned", None,
            error=("no_text_layer", "scanned PDF without a text layer, and OCR is not available")),
        Doc("111007-saitama-36-focused", saitama_focused()),
        Doc("232017-toyohashi-03-basic", toyohashi_threshold_contradiction()),
        Doc("232017-toyohashi-01-full", toyohashi_stale_full()),
    ]


def run_2_documents() -> list[Doc]:
    """The sites a day later: 堺市 republished its full assessment; OCR now reads the scanned one."""
    docs = [d for d in run_1_documents() if d.doc_id not in ("271403-sakai-01-full", "072044-iwaki-02-basic-scanned")]
    scanned = iwaki_basic("072044-iwaki-02-basic-scanned", ocr=True)
    scanned.update(assessment_number=2, title="住民基本台帳ネットワークシステムに関する事務 基礎項目評価書",
                   business_name="住民基本台帳ネットワークシステムに関する事務")
    return docs + [Doc("271403-sakai-01-full", sakai_full(2), edition=2),
                   Doc("072044-iwaki-02-basic-scanned", scanned)]


def _stamp(run_id: str, minute: int = 0) -> str:
    day = run_id[6:8]
    return f"2026-11-{day}T01:{minute:02d}:00+00:00"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def stage_run(data_dir: Path, run_id: str, docs: list[Doc], *, dead_link_fixed: bool = False) -> Path:
    """Write staging/<run_id>/crawl/<city>.json and parse/<sha>.json as the pipeline does."""
    run_dir = data_dir / "staging" / run_id
    for city in CITIES:
        listing = city.urls[0]
        encoding = "shift_jis" if city.slug == "kumagaya" else "utf-8"
        crawl = {"city_code": city.code, "crawled_at": _stamp(run_id), "pages": [], "links": [], "fetches": [],
                 "documents": [], "failures": []}
        crawl["pages"].append({"url": listing, "status": 200, "encoding": encoding, "found_on": None})
        crawl["fetches"].append({"url": listing, "method": "GET", "status": 200, "bytes": 18234, "sha256": None,
                                 "elapsed_ms": 14, "conditional": False, "not_modified": False, "error": None,
                                 "fetched_at": _stamp(run_id, 1)})
        for minute, doc in enumerate((d for d in docs if d.city_code == city.code), start=2):
            link_text = f"{doc.record['title'] if doc.record else '住民基本台帳ネットワークシステムに関する事務 基礎項目評価書'}（PDF:175KB）"
            crawl["links"].append({"url": doc.url, "link_text": link_text, "found_on": listing})
            crawl["fetches"].append({"url": doc.url, "method": "GET", "status": 200, "bytes": 179200,
                                     "sha256": doc.sha256, "elapsed_ms": 35, "conditional": False,
                                     "not_modified": False, "error": None, "fetched_at": _stamp(run_id, minute)})
            crawl["documents"].append({"url": doc.url, "sha256": doc.sha256, "bytes": 179200, "link_text": link_text,
                                       "found_on": listing, "content_type": "application/pdf",
                                       "etag": f'"{doc.sha256[:16]}"', "last_modified": "Mon, 02 Nov 2026 03:00:00 GMT",
                                       "fetched_at": _stamp(run_id, minute), "is_new_version": True})
            staged = {"sha256": doc.sha256, "parser_version": PARSER_VERSION, "url": doc.url}
            if doc.record is not None:
                staged["record"] = doc.record
            else:
                staged["error"] = {"code": doc.error[0], "reason": doc.error[1]}
            write_json(run_dir / "parse" / f"{doc.sha256}.json", staged)
        if city.slug == "kitakyushu":
            dead = f"{SITE}/kitakyushu/pdf/401005-kitakyushu-02-basic.pdf"
            crawl["links"].append({"url": dead, "link_text": "児童手当に関する事務 基礎項目評価書", "found_on": listing})
            if dead_link_fixed:
                crawl["fetches"].append({"url": dead, "method": "GET", "status": 200, "bytes": 90112,
                                         "sha256": None, "elapsed_ms": 20, "conditional": False,
                                         "not_modified": False, "error": None, "fetched_at": _stamp(run_id, 9)})
            else:
                crawl["fetches"].append({"url": dead, "method": "GET", "status": 404, "bytes": 512, "sha256": None,
                                         "elapsed_ms": 9, "conditional": False, "not_modified": False,
                                         "error": "404 Not Found", "fetched_at": _stamp(run_id, 9)})
                crawl["failures"].append({"stage": "fetch", "url": dead, "code": "http_status",
                                          "reason": f"HTTP 404 for {dead}"})
            error_page = f"{SITE}/kitakyushu/pdf/401005-kitakyushu-03-full.pdf"
            crawl["fetches"].append({"url": error_page, "method": "GET", "status": 200, "bytes": 2048, "sha256": None,
                                     "elapsed_ms": 8, "conditional": False, "not_modified": False,
                                     "error": None, "fetched_at": _stamp(run_id, 10)})
            crawl["failures"].append({"stage": "fetch", "url": error_page, "code": "not_a_pdf",
                                      "reason": "the server sent an HTML page (text/html), not a PDF"})
        write_json(run_dir / "crawl" / f"{city.code}.json", crawl)
    return run_dir


FINDINGS = [
    ("232017-toyohashi-03-basic", "threshold.result_mismatch", "threshold", "error", "threshold_result",
     "対象人数「30万人以上」ではしきい値判断結果は「基礎項目評価及び全項目評価」だが、評価書は「基礎項目評価のみ」としている",
     {"values": {"subject_count_band": "300k_plus", "threshold_result": "basic_only",
                 "expected_threshold_result": "basic_and_full"},
      "pages": {"subject_count_band": 2, "threshold_result": 3}}),
    ("232017-toyohashi-03-basic", "dates.change_after_publication", "dates", "warning", "changes[0]",
     "変更日 2024-08-01 が公表日 2024-06-28 より後になっている",
     {"values": {"changes[0]": {"date": "2024-08-01"}, "published_on": "2024-06-28"}, "pages": {}}),
    ("232017-toyohashi-01-full", "procedure.no_public_comment", "procedure", "error", "public_comment_start",
     "全項目評価書に意見の聴取の実施日がない", {"values": {"public_comment_start": None}, "pages": {}}),
    ("232017-toyohashi-01-full", "procedure.stale_full_assessment", "procedure", "warning", "published_on",
     "公表日 2019-03-29 から5年以上経過している", {"values": {"published_on": "2019-03-29"}, "pages": {"published_on": 1}}),
    ("112020-kumagaya-01-full-draft", "required.missing_field", "required", "info", "published_on",
     "（案）の評価書に公表日がない", {"values": {"published_on": None}, "pages": {}}),
]


def write_findings(con, run_id: str) -> None:
    """Findings as the quality step writes them (its own tests cover how they are found)."""
    for doc_id, rule, family, severity, key, message, evidence in FINDINGS:
        sha = sha_of(doc_id)
        finding_id = hashlib.sha256(f"{sha}|{rule}|{key}".encode()).hexdigest()
        organization, number, title, source = con.execute(
            "SELECT organization, assessment_number, title, url FROM assessments WHERE sha256 = ?", [sha]).fetchone()
        warehouse.merge_rows(con, "findings", FINDING_COLUMNS, [(
            finding_id, run_id, sha, doc_id[:6], rule, family, severity, message, source, organization, number,
            title, json.dumps(evidence, ensure_ascii=False), key, run_id, run_id,
            sorted(set(evidence["pages"].values())))],
            update="run_id = staged.run_id, last_seen_run = staged.last_seen_run")


def build_warehouse(data_dir: Path, target=None):
    """A warehouse after two nightly runs, with findings: what analysts query.

    ``target`` is where to build it (a ``load.backend.Warehouse``); by default a DuckDB file.
    """
    db = target or data_dir / "warehouse" / "piawatch.duckdb"
    for run_id, docs, fixed in ((RUN_1, run_1_documents(), False), (RUN_2, run_2_documents(), True)):
        with connect(db) as con:
            record_run_start(con, run_id)
        load_run(db, run_id, stage_run(data_dir, run_id, docs, dead_link_fixed=fixed), cities=CITIES)
        with connect(db) as con:
            write_findings(con, run_id)
            record_run_step(con, run_id, "check", seconds=2.5, counts={"findings": len(FINDINGS)})
            record_run_end(con, run_id)
    return db


# --- helpers for the assertions --------------------------------------------------------------------
TABLES = ("municipalities", "sources", "documents", "assessments", "assessment_files", "file_outsourcing",
          "risk_answers", "change_rows", "fetch_log", "failures", "findings", "alerts", "alert_deliveries", "dismissals",
          "runs")


def row_counts(db: Path) -> dict[str, int]:
    with connect(db, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def snapshot(db: Path) -> dict[str, list]:
    """Every row of every data table (runs' timings aside), to compare states."""
    with connect(db, read_only=True) as con:
        state = {}
        for table in TABLES:
            rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            if table == "runs":
                rows = [row[:5] for row in rows]
            state[table] = rows
        return state


@pytest.fixture
def db_file(tmp_path) -> Path:
    return tmp_path / "data" / "warehouse" / "piawatch.duckdb"


@pytest.fixture(params=["duckdb", "ducklake"])
def db(request, tmp_path):
    """A new warehouse on each backend: the loader's tests hold for both."""
    return tmp_path / "data" / "warehouse" / "piawatch.duckdb" if request.param == "duckdb" else request.getfixturevalue("lake")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    """A warehouse after two runs, shared by the tests that only read it."""
    return build_warehouse(tmp_path_factory.mktemp("two-runs") / "data")


# --- schema ----------------------------------------------------------------------------------------
def test_assessment_columns_agree_with_record_fields(db):
    with connect(db) as con:
        columns = con.execute("""
            SELECT column_name, data_type FROM duckdb_columns()
            WHERE table_name = 'assessments' AND database_name = current_database() ORDER BY column_index
            """).fetchall()
    record_columns = [(name, sql_type) for name, sql_type in columns
                      if name not in ("sha256", "city_code", "url", "parser_version", "loaded_run")]
    expected_types = {"VARCHAR[]": "VARCHAR[]", "DATE[]": "DATE[]"}
    assert record_columns == [(f.name, expected_types.get(f.sql_type, f.sql_type)) for f in FIELDS] + [
        (name, "VARCHAR[]") for name in RECORD_EXTRA_COLUMNS]
    for field in (f for f in FIELDS if f.choices):
        assert ALLOWED_VALUES[("assessments", field.name)] == field.choices


@pytest.mark.parametrize("field", [f for f in FIELDS if f.choices], ids=lambda f: f.name)
def test_a_write_with_a_value_outside_the_record_choices_is_rolled_back(db, field):
    with connect(db) as con:
        with pytest.raises(IntegrityError, match=f"assessments.{field.name} = 'bogus'"):
            write_transaction(con, lambda c: c.execute(
                f"INSERT INTO assessments (sha256, city_code, {field.name}) VALUES ('x', '271403', 'bogus')"))
        assert con.execute("SELECT count(*) FROM assessments").fetchone()[0] == 0


@pytest.mark.parametrize("table", sorted(KEYS))
def test_a_write_that_repeats_a_key_is_rolled_back(db, table):
    """The migrations declare no keys (DuckLake has none): the check before COMMIT holds them."""
    with connect(db) as con:
        required = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND table_name = ? AND NOT is_nullable ORDER BY column_index", [table]).fetchall()
        literals = {"BOOLEAN": "true", "INTEGER": "1", "BIGINT": "1", "TIMESTAMP WITH TIME ZONE": "now()"}
        values = ", ".join(literals.get(data_type) or f"'{ALLOWED_VALUES.get((table, column), ('x',))[0]}'"
                           for column, data_type in required)
        columns = [column for column, _ in required]
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"
        with pytest.raises(IntegrityError, match=rf"{table}: \d+ rows with key"):
            write_transaction(con, lambda c: (c.execute(insert), c.execute(insert)))
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before


def test_migrations_are_recorded_once_and_a_changed_migration_is_refused(db, tmp_path):
    from load.schema import SchemaError, apply_migrations, migrations

    with connect(db) as con:
        versions = con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert versions == [(m.version, m.name) for m in migrations()]
    with connect(db) as con:  # a second connection applies nothing new
        assert apply_migrations(con) == []

    changed = tmp_path / "migrations"
    changed.mkdir()
    for m in migrations():
        (changed / m.name).write_text(m.sql + "\n-- edited after release\n", encoding="utf-8")
    with connect(db) as con, pytest.raises(SchemaError, match="changed after it was applied"):
        apply_migrations(con, changed)


def test_a_later_numbered_migration_is_applied_in_order(db, tmp_path):
    from load.schema import apply_migrations, migrations
    from load.views import create_views

    directory = tmp_path / "migrations"
    directory.mkdir()
    for m in migrations():
        (directory / m.name).write_text(m.sql, encoding="utf-8")
    (directory / "999_reviewer.sql").write_text("ALTER TABLE assessments ADD COLUMN reviewer VARCHAR;",
                                                encoding="utf-8")
    with connect(db) as con:
        assert apply_migrations(con, directory) == ["999_reviewer.sql"]
        create_views(con)  # latest_assessments selects a.*: re-created, it shows the new column
        assert ("reviewer",) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'latest_assessments'").fetchall()


def test_migration_030_brings_rows_of_an_older_warehouse_to_the_new_rules(db, tmp_path):
    """Rows loaded before the page, blank and status columns existed get them from what they held."""
    from load.backend import open_lake
    from load.schema import apply_migrations, migrations

    older = tmp_path / "migrations-020"
    older.mkdir()
    for m in migrations():
        if m.version <= 20:
            (older / m.name).write_text(m.sql, encoding="utf-8")
    target = as_warehouse(db)
    if target.is_lake:
        con = open_lake(target)
    else:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(target.path))
    try:
        apply_migrations(con, older)
        source = {"field_pages": {"changes": 69, "files": 7}, "unread_fields": ["risk_answers"]}
        con.execute("""INSERT INTO assessments (sha256, city_code, kind, assessment_number, title, public_comment_start,
                         submitted_kinds, third_party_review_dates, files, changes, risk_answers, source)
                       VALUES ('s1', '232017', 'full', 1, 'T', NULL, [], [], '[]', '[{"item": "x"}]', '[]', ?)""",
                    [json.dumps(source)])
        con.execute("INSERT INTO change_rows (sha256, city_code, change_index, item) VALUES ('s1', '232017', 1, 'x')")
        con.execute("""INSERT INTO findings (finding_id, run_id, sha256, city_code, rule, family, severity, message,
                         evidence, first_seen_run, last_seen_run)
                       VALUES ('f1', 'r', 's1', '232017', 'threshold.result_mismatch', 'threshold', 'error', 'm',
                               '{"values": {}, "pages": {"threshold_result": 3, "subject_count_band": 2, "x": 3}}',
                               'r', 'r')""")
        con.execute("""INSERT INTO failures (failure_id, run_id, stage, code, first_seen_run, last_seen_run,
                         occurrences, resolved) VALUES ('x1', 'r', 'fetch', 'timeout', 'r', 'r', 1, false),
                                                       ('x2', 'r', 'fetch', 'timeout', 'r', 'r', 1, true)""")
    finally:
        con.close()
    with connect(db) as con:  # applies 030 and later
        assert con.execute("""SELECT submitted_kinds, third_party_review_dates, files, changes, risk_answers,
                                     unread_fields, list_contains(blank_fields, 'public_comment_start'),
                                     list_contains(blank_fields, 'risk_answers')
                              FROM assessments""").fetchone() == (
            None, [], "[]", '[{"item": "x"}]', None, ["risk_answers"], True, False)
        assert con.execute("SELECT page FROM change_rows").fetchall() == [(69,)]
        assert con.execute("SELECT pages FROM findings").fetchall() == [([2, 3],)]
        assert con.execute("SELECT failure_id, status FROM failures ORDER BY 1").fetchall() == [
            ("x1", "open"), ("x2", "resolved")]


# --- loading -----------------------------------------------------------------------------------------
def test_load_run_stores_every_staged_fact(tmp_path, db):
    counts = load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    assert counts == {"cities": 6, "pages": 6, "documents_seen": 8, "documents_new": 8, "assessments_loaded": 7,
                      "fetches": 16, "fetch_failures": 2, "parse_failures": 1, "failures_resolved": 0}
    with connect(db, read_only=True) as con:
        sakai = con.execute("""
            SELECT kind, assessment_number, published_on, subject_count_band, threshold_result,
                   third_party_review_dates, json_array_length(files)
            FROM assessments WHERE sha256 = ?""", [sha_of("271403-sakai-01-full")]).fetchone()
        assert sakai == ("full", 1, date(2024, 3, 25), "300k_plus", "basic_and_full", [date(2024, 2, 9)], 3)
        assert con.execute("SELECT kind, pages, link_text, found_on FROM documents WHERE sha256 = ?",
                           [sha_of("271403-sakai-01-full")]).fetchone() == (
            "full", 72, "住民基本台帳に関する事務 全項目評価書（PDF:175KB）", f"{SITE}/sakai/pia/index.html")
        assert con.execute("SELECT contractor, handler_count, subcontracting FROM file_outsourcing "
                           "WHERE city_code = '271403'").fetchall() == [
            ("富士フィルムシステムサービス株式会社", "10人以上50人未満", False)]
        assert con.execute("SELECT count(*) FROM assessment_files WHERE city_code = '271403'").fetchone() == (3,)
        assert con.execute("SELECT city_code, section FROM risk_answers WHERE answer = '課題が残されている' "
                           "ORDER BY 1").fetchall() == [("111007", "III 3 特定個人情報の使用"),
                                                        ("232017", "III 2 特定個人情報の入手")]
        assert con.execute("SELECT encoding FROM sources WHERE city_code = '112020'").fetchone() == ("shift_jis",)
        assert con.execute("SELECT stage, code, sha256 IS NOT NULL FROM failures ORDER BY code").fetchall() == [
            ("fetch", "http_status", False), ("parse", "no_text_layer", True), ("fetch", "not_a_pdf", False)]
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE demo) FROM municipalities").fetchone() == (6, 6)
        assert con.execute("SELECT status, documents_new, load_seconds IS NOT NULL, loaded_at IS NOT NULL "
                           "FROM runs").fetchone() == ("running", 8, True, True)


def stored_record(con, sha256: str, city_code: str) -> dict:
    """An assessments row turned back into a CONTRACT record."""
    cursor = con.execute(f"SELECT {', '.join(f.name for f in FIELDS)} FROM assessments "
                         "WHERE sha256 = ? AND city_code = ?", [sha256, city_code])
    row = cursor.fetchone()
    record = {}
    for field, value in zip(FIELDS, row):
        if field.sql_type == "DATE" and value is not None:
            value = value.isoformat()
        elif field.sql_type == "DATE[]" and value is not None:
            value = [d.isoformat() for d in value]
        elif field.sql_type == "JSON" and value is not None:
            value = json.loads(value)
        record[field.name] = value
    return record


def test_every_field_of_every_record_survives_the_round_trip(tmp_path, db):
    docs = [d for d in run_1_documents() if d.record is not None]
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    with connect(db, read_only=True) as con:
        for doc in docs:
            # The parser gives a list its form does not have as []; the warehouse stores NULL.
            expected = {f.name: None if f.json_type == "list" and doc.record["kind"] not in f.kinds
                        else doc.record[f.name] for f in FIELDS}
            assert stored_record(con, doc.sha256, doc.city_code) == expected, doc.doc_id


def test_a_blank_field_is_told_apart_from_one_the_form_does_not_have(tmp_path, db):
    """豊橋市 #1 (full) left 意見の聴取 and 第三者点検 empty; いわき市 #1 (basic) has no such fields;
    the OCR edition of いわき市 #2 could not read いつ時点の計数か."""
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    load_run(db, RUN_2, stage_run(tmp_path / "data", RUN_2, run_2_documents()), cities=CITIES)
    with connect(db, read_only=True) as con:
        rows = {doc: con.execute("""
            SELECT third_party_review_dates, files, submitted_kinds,
                   list_contains(blank_fields, 'public_comment_start'), unread_fields
            FROM assessments WHERE sha256 = ?""", [sha_of(doc)]).fetchone()
            for doc in ("232017-toyohashi-01-full", "072044-iwaki-01-basic", "072044-iwaki-02-basic-scanned")}
        skipped = con.execute("""
            SELECT m.name, l.assessment_number FROM latest_assessments l JOIN municipalities m USING (city_code)
            WHERE l.kind = 'full' AND list_contains(l.blank_fields, 'public_comment_start')""").fetchall()
        unknown = con.execute("""
            SELECT count(*) FROM latest_assessments
            WHERE public_comment_start IS NULL AND NOT list_contains(blank_fields, 'public_comment_start')
              AND kind = 'full'""").fetchone()[0]
    assert rows["232017-toyohashi-01-full"] == ([], "[]", None, True, [])
    assert rows["072044-iwaki-01-basic"] == (None, None, ["basic", "full"], False, [])
    assert rows["072044-iwaki-02-basic-scanned"][4] == ["subject_count_as_of"]
    # Full assessments that skipped public comment: only 豊橋市 #1; 熊谷市's draft states its period.
    assert skipped == [("豊橋市", 1)]
    assert unknown == 0


def test_rows_carry_the_page_they_were_read_on(tmp_path, db):
    record = sakai_full(1)
    record["source"]["field_pages"].update(changes=69, files=7)
    record["changes"][0]["page"] = 71  # a parser that knows the row's own page
    docs = [Doc("271403-sakai-01-full", record)]
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, docs), cities=CITIES)
    with connect(db, read_only=True) as con:
        changes = con.execute("SELECT change_index, page FROM change_rows ORDER BY 1").fetchall()
        files = con.execute("SELECT file_index, page FROM assessment_files ORDER BY 1").fetchall()
        outsourcing = con.execute("SELECT file_index, page FROM file_outsourcing").fetchall()
        location = con.execute("SELECT url, first_url, raw_path FROM document_locations").fetchone()
    sha = sha_of("271403-sakai-01-full")
    assert changes == [(1, 71)]
    assert files == [(1, 7), (2, 7), (3, 7)]
    assert outsourcing == [(1, 7)]
    assert location == (docs[0].url, docs[0].url, f"raw/{sha[:2]}/{sha}.pdf")


def test_loading_the_same_run_twice_changes_nothing(tmp_path, db):
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    first = load_run(db, RUN_1, staging_dir, cities=CITIES)
    state = snapshot(db)
    assert load_run(db, RUN_1, staging_dir, cities=CITIES) == first
    assert snapshot(db) == state


def test_duplicates_within_a_run_are_resolved_before_writing(tmp_path, db):
    """The same PDF linked twice and the same page read twice: one row each, first link wins."""
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    path = staging_dir / "crawl" / "271403.json"
    crawl = json.loads(path.read_text(encoding="utf-8"))
    again = copy.deepcopy(crawl["documents"][0])
    again.update(link_text="全項目評価書（再掲）", found_on=f"{SITE}/sakai/pia/detail1.html",
                 fetched_at=_stamp(RUN_1, 30))
    crawl["documents"].append(again)
    crawl["pages"].append({**crawl["pages"][0], "status": 200})
    crawl["failures"] += [{"stage": "discover", "url": f"{SITE}/sakai/pia/old.html", "code": "http_status",
                           "reason": "HTTP 503"}] * 2
    write_json(path, crawl)
    counts = load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert counts["documents_seen"] == 8
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT link_text, last_seen_at FROM documents WHERE sha256 = ?",
                           [sha_of("271403-sakai-01-full")]).fetchone()[0] == "住民基本台帳に関する事務 全項目評価書（PDF:175KB）"
        assert con.execute("SELECT count(*) FROM sources WHERE city_code = '271403'").fetchone() == (1,)
        assert con.execute("SELECT occurrences FROM failures WHERE stage = 'discover'").fetchone() == (1,)


def test_a_city_whose_crawl_crashed_is_loaded_as_a_failure(tmp_path, db):
    """What piawatch.pipeline.crawl_step stages when crawling a city raised: nothing but the failure."""
    staging_dir = tmp_path / "data" / "staging" / RUN_1
    write_json(staging_dir / "crawl" / "401005.json", {
        "city_code": "401005", "crawled_at": _stamp(RUN_1), "pages": [], "links": [], "fetches": [],
        "documents": [], "failures": [{"stage": "crawl", "url": f"{SITE}/kitakyushu/pia.html",
                                       "code": "timeout", "reason": "FetchTimeout: no answer within 10 s"}]})
    counts = load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert counts == {"cities": 1, "pages": 0, "documents_seen": 0, "documents_new": 0, "assessments_loaded": 0,
                      "fetches": 0, "fetch_failures": 1, "parse_failures": 0, "failures_resolved": 0}
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT stage, city_code, code, resolved FROM failures").fetchall() == [
            ("crawl", "401005", "timeout", False)]
        assert con.execute("SELECT open_failures FROM city_summary WHERE city_code = '401005'").fetchone() == (1,)
    # The next night the city answers again: the crash is resolved.
    load_run(db, RUN_2, stage_run(tmp_path / "data", RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT resolved, resolved_run FROM failures WHERE stage = 'crawl'").fetchone() == (
            True, RUN_2)


def test_a_republished_pdf_adds_a_version_and_the_diff_view_names_the_changes(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    counts = load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert counts["documents_new"] == 1
    old, new = sha_of("271403-sakai-01-full"), sha_of("271403-sakai-01-full", 2)
    with connect(db, read_only=True) as con:
        versions = con.execute("""
            SELECT sha256, first_seen_run, last_seen_run FROM documents
            WHERE city_code = '271403' AND kind = 'full' ORDER BY first_seen_at""").fetchall()
        assert versions == [(old, RUN_1, RUN_1), (new, RUN_2, RUN_2)]
        assert con.execute("SELECT published_on FROM assessments WHERE sha256 = ?", [old]).fetchone()[0].isoformat() \
            == "2024-03-25"  # the first version is kept as it was
        latest = con.execute("SELECT sha256, versions FROM latest_assessments "
                             "WHERE city_code = '271403' AND kind = 'full'").fetchall()
        assert latest == [(new, 2)]
        unchanged = con.execute("SELECT last_seen_run FROM documents WHERE sha256 = ?",
                                [sha_of("111007-saitama-36-focused")]).fetchone()
        assert unchanged == (RUN_2,)
        diffs = con.execute("""
            SELECT old_sha256, new_sha256, field, old_value, new_value FROM assessment_version_diffs
            ORDER BY field""").fetchall()
    fields = {field: (old_value, new_value) for _, _, field, old_value, new_value in diffs}
    assert {(o, n) for o, n, *_ in diffs} == {(old, new)}
    assert set(fields) == {"published_on", "basic_assessment_date", "public_comment_start", "public_comment_end",
                           "third_party_review_dates", "changes", "risk_answers"}
    assert fields["published_on"] == ("2024-03-25", "2025-04-01")
    assert fields["third_party_review_dates"] == ("[2024-02-09]", "[2025-03-05]")


def test_a_withdrawn_pdf_stays_in_history_but_is_no_longer_linked(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    withdrawn = [d for d in run_2_documents() if d.doc_id != "232017-toyohashi-01-full"]
    load_run(db, RUN_2, stage_run(data, RUN_2, withdrawn, dead_link_fixed=True), cities=CITIES)
    with connect(db, read_only=True) as con:
        linked = dict(con.execute("SELECT kind, currently_linked FROM latest_assessments "
                                  "WHERE city_code = '232017'").fetchall())
        assert linked == {"basic": True, "full": False}
        assert con.execute("SELECT basic_documents, full_documents, document_versions FROM city_summary "
                           "WHERE city_code = '232017'").fetchone() == (1, 0, 2)
        # 堺市's crawl of run 2 found everything: nothing of it looks withdrawn.
        assert con.execute("SELECT bool_and(currently_linked) FROM latest_assessments "
                           "WHERE city_code = '271403'").fetchone() == (True,)


def test_failures_are_resolved_when_a_later_run_succeeds(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    counts = load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert counts["failures_resolved"] == 2
    with connect(db, read_only=True) as con:
        rows = con.execute("""
            SELECT code, first_seen_run, last_seen_run, occurrences, resolved, resolved_run FROM failures
            ORDER BY code""").fetchall()
        assert rows == [
            ("http_status", RUN_1, RUN_1, 1, True, RUN_2),  # the dead link answers 200 now
            ("no_text_layer", RUN_1, RUN_1, 1, True, RUN_2),  # OCR read the scanned document
            ("not_a_pdf", RUN_1, RUN_2, 2, False, None),  # still an HTML page
        ]
        assert con.execute("SELECT extractor FROM (SELECT source->>'extractor' AS extractor FROM assessments "
                           "WHERE sha256 = ?)", [sha_of("072044-iwaki-02-basic-scanned")]).fetchone() == ("ocr",)


def test_a_failure_whose_url_is_no_longer_linked_is_closed_as_gone(tmp_path, db):
    """The next night 北九州市 no longer links its HTML-instead-of-PDF page, and いわき市 took the
    scanned PDF down: neither will be retried, so neither stays open."""
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    docs = [d for d in run_2_documents() if d.doc_id != "072044-iwaki-02-basic-scanned"]
    run_dir = stage_run(data, RUN_2, docs, dead_link_fixed=True)
    crawl_file = run_dir / "crawl" / "401005.json"
    crawl = json.loads(crawl_file.read_text(encoding="utf-8"))
    crawl["fetches"] = [f for f in crawl["fetches"] if not f["url"].endswith("03-full.pdf")]
    crawl["failures"] = []
    write_json(crawl_file, crawl)
    load_run(db, RUN_2, run_dir, cities=CITIES)
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT code, status, resolved, resolved_run FROM failures ORDER BY code").fetchall()
        open_failures = con.execute("SELECT sum(open_failures) FROM city_summary").fetchone()[0]
    assert rows == [("http_status", "resolved", True, RUN_2), ("no_text_layer", "gone", False, RUN_2),
                    ("not_a_pdf", "gone", False, RUN_2)]
    assert open_failures == 0


def test_a_failure_that_comes_back_is_reopened(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    run_3 = "20261125T010000Z"
    load_run(db, run_3, stage_run(data, run_3, run_2_documents(), dead_link_fixed=False), cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT occurrences, resolved, resolved_run, last_seen_run FROM failures "
                           "WHERE code = 'http_status'").fetchone() == (2, False, None, run_3)


def test_an_older_run_is_not_loaded_over_a_newer_one(tmp_path, db):
    """An Airflow clear of yesterday's load after today's: refused, nothing rewound."""
    from load.warehouse import OutOfOrderLoad

    data = tmp_path / "data"
    yesterday = stage_run(data, RUN_1, run_1_documents())
    load_run(db, RUN_1, yesterday, cities=CITIES)
    load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    before = snapshot(db)
    with pytest.raises(OutOfOrderLoad, match=f"before run {RUN_2}"):
        load_run(db, RUN_1, yesterday, cities=CITIES)
    assert snapshot(db) == before


def test_a_crash_between_statements_leaves_the_previous_state(tmp_path, db, monkeypatch):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)

    def crash(*args, **kwargs):
        raise RuntimeError("killed after documents and assessments were written")

    monkeypatch.setattr(warehouse, "_load_fetch_log", crash)
    with pytest.raises(RuntimeError, match="killed"):
        load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert snapshot(db) == before


def test_a_corrupt_staged_record_aborts_the_load_and_names_the_file(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)
    staging_dir = stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True)
    bad = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full', 2)}.json"
    staged = json.loads(bad.read_text(encoding="utf-8"))
    staged["record"]["threshold_result"] = "全項目評価の実施が義務付けられる"  # not one of the record's choices
    write_json(bad, staged)
    with pytest.raises(BadStagedFile, match=bad.name):
        load_run(db, RUN_2, staging_dir, cities=CITIES)
    assert snapshot(db) == before


def test_a_process_killed_mid_load_leaves_the_previous_state(tmp_path, db):
    """A hard exit (no rollback, no close) between two statements of the transaction."""
    import subprocess
    import sys

    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)
    staging_dir = stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True)
    script = (
        "import os, sys\n"
        "from load import warehouse\n"
        "from ground.settings import load_settings\n"
        "warehouse._load_fetch_log = lambda *args: os._exit(9)\n"
        "warehouse.load_run(load_settings().warehouse, sys.argv[1], sys.argv[2])\n"
    )
    target = as_warehouse(db)
    settings = {"PIAWATCH_WAREHOUSE": target.location, "PIAWATCH_LAKE_DATA_PATH": str(target.lake_data_path)}
    killed = subprocess.run([sys.executable, "-c", script, RUN_2, str(staging_dir)], env={**os.environ, **settings},
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert snapshot(db) == before
    load_run(db, RUN_2, staging_dir, cities=CITIES)  # and the next attempt loads the run
    assert row_counts(db)["documents"] == 9


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "not valid UTF-8 JSON"),
    (lambda text: text.replace('"published_on": "2024-03-25"', '"published_on": "令和6年3月25日"'), "ISO date"),
    (lambda text: text.replace('"assessment_number": 1,', '"assessment_number": "1",'), "expected an integer"),
    (lambda text: text.replace('"business_name":', '"jimu_name":'), "not in ground.schema.FIELDS: jimu_name"),
    (lambda text: text.replace('"subcontracting": false', '"subcontracting": "再委託しない"'), "expected true/false"),
    (lambda text: text.replace('"record": {', '"error": {"code": "parser_crash"}, "record": {'), "exactly one of"),
])
def test_a_damaged_parse_file_is_refused_before_anything_is_written(tmp_path, db, damage, message):
    connect(db).close()
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    path = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full')}.json"
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(BadStagedFile, match=message):
        load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert sum(row_counts(db).values()) == 0


def test_a_newer_parser_replaces_the_record_of_the_same_bytes(tmp_path, db):
    data = tmp_path / "data"
    staging_dir = stage_run(data, RUN_1, run_1_documents())
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    path = staging_dir / "parse" / f"{sha_of('232017-toyohashi-03-basic')}.json"
    staged = json.loads(path.read_text(encoding="utf-8"))
    staged["parser_version"] = "0.4.0"
    staged["record"]["risk_answers"] = staged["record"]["risk_answers"][:1]
    write_json(path, staged)
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT parser_version FROM assessments WHERE city_code = '232017' "
                           "AND assessment_number = 3").fetchone() == ("0.4.0",)
        assert con.execute("SELECT count(*) FROM risk_answers WHERE sha256 = ?",
                           [sha_of("232017-toyohashi-03-basic")]).fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM documents WHERE city_code = '232017'").fetchone() == (2,)


# --- runs, open findings, single writer ---------------------------------------------------------------
def test_runs_record_counts_timings_and_status(two_runs):
    with connect(two_runs, read_only=True) as con:
        rows = con.execute("""
            SELECT run_id, status, documents_new, failures_resolved, findings, check_seconds,
                   finished_at >= started_at, loaded_at IS NOT NULL, checked_at IS NOT NULL
            FROM runs ORDER BY started_at""").fetchall()
    assert rows == [(RUN_1, "success", 8, 0, 5, 2.5, True, True, True),
                    (RUN_2, "success", 1, 2, 5, 2.5, True, True, True)]


def test_record_run_step_refuses_unknown_counts(db):
    with connect(db) as con, pytest.raises(ValueError, match="documents_parsed"):
        record_run_step(con, RUN_1, "load", counts={"documents_parsed": 3})


def test_open_findings_are_the_ones_the_latest_checked_run_found(tmp_path):
    db = build_warehouse(tmp_path / "data")
    run_3 = "20261125T010000Z"
    with connect(db) as con:
        record_run_start(con, run_3)
        stale = con.execute("SELECT finding_id FROM findings WHERE rule = 'procedure.stale_full_assessment'").fetchone()[0]
        con.execute("UPDATE findings SET last_seen_run = ? WHERE finding_id <> ?", [run_3, stale])
        record_run_step(con, run_3, "check", seconds=1.0, counts={"findings": 4})
        open_rules = {rule for (rule,) in con.execute("SELECT rule FROM open_findings").fetchall()}
    assert "procedure.stale_full_assessment" not in open_rules
    assert len(open_rules) == 4


def test_without_a_checked_run_the_latest_findings_are_open(tmp_path, db):
    """Until the check step stamps runs.checked_at, the latest run that wrote findings decides."""
    data = tmp_path / "data"
    for run_id, docs in ((RUN_1, run_1_documents()), (RUN_2, run_2_documents())):
        with connect(db) as con:
            record_run_start(con, run_id)
        load_run(db, run_id, stage_run(data, run_id, docs), cities=CITIES)
    with connect(db) as con:
        write_findings(con, RUN_1)
        write_findings(con, RUN_2)
        con.execute("UPDATE findings SET last_seen_run = ? WHERE rule LIKE 'procedure.%'", [RUN_1])
        assert sorted(rule for (rule,) in con.execute("SELECT rule FROM open_findings").fetchall()) == [
            "dates.change_after_publication", "required.missing_field", "threshold.result_mismatch"]


def test_a_second_writer_is_told_the_single_writer_rule(tmp_path, db_file):
    import subprocess
    import sys

    with connect(db_file) as con:
        con.execute("SELECT 1")
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from load.warehouse import connect; connect(sys.argv[1])", str(db_file)],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert holder.returncode == 1
    assert "WarehouseBusy" in holder.stderr and "single writer" in holder.stderr
    assert WarehouseBusy.code == "warehouse_busy"


# --- export --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_every_table_and_view_readable_back(two_runs, tmp_path, fmt):
    db = two_runs
    out = tmp_path / "export"
    paths = export(db, out, fmt=fmt)
    names = {p.stem for p in paths}
    assert set(TABLES) | {"schema_version", "schema_views", "latest_assessments", "open_findings", "city_summary",
                          "assessment_version_diffs", "document_locations"} == names
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    with connect(db, read_only=True) as con, duckdb.connect() as files:
        for path in paths:
            exported = files.execute(f"SELECT count(*) FROM {reader}('{path}')").fetchone()[0]
            assert exported == con.execute(f"SELECT count(*) FROM {path.stem}").fetchone()[0], path.name
        if fmt == "parquet":
            titles = files.execute(f"SELECT title FROM read_parquet('{out / 'latest_assessments.parquet'}') "
                                   "WHERE organization = '堺市長' ORDER BY kind").fetchall()
            assert titles == [("住民基本台帳に関する事務 基礎項目評価書",), ("住民基本台帳に関する事務 全項目評価書",)]


def test_piawatch_export_command_writes_the_files(two_runs, tmp_path, monkeypatch, capsys):
    from piawatch.cli import main

    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(two_runs))
    assert main(["export", str(tmp_path / "csv"), "--format", "csv", "--no-bom"]) == 0
    printed = capsys.readouterr().out.split()
    assert str(tmp_path / "csv" / "city_summary.csv") in printed
    raw = (tmp_path / "csv" / "city_summary.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    header = next(__import__("csv").reader(raw.decode("utf-8").splitlines()))
    assert header[:5] == ["city_code", "name", "prefecture", "demo", "basic_documents"]


def test_csv_export_fits_a_spreadsheet(two_runs, tmp_path):
    """UTF-8 with a BOM, codes with their leading zero as quoted text, lists as JSON."""
    import csv
    import pandas as pd

    export(two_runs, tmp_path, fmt="csv")
    raw = (tmp_path / "assessments.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    iwaki = next(r for r in rows if r["sha256"] == sha_of("072044-iwaki-01-basic"))
    assert iwaki["city_code"] == "072044"
    assert json.loads(iwaki["submitted_kinds"]) == ["basic", "full"]
    assert iwaki["third_party_review_dates"] == ""  # not on the basic form: NULL, not []
    assert '"072044"' in raw.decode("utf-8-sig")
    frame = pd.read_csv(tmp_path / "municipalities.csv", encoding="utf-8-sig", dtype={"city_code": str})
    assert "072044" in set(frame["city_code"]) and frame.columns[0] == "city_code"
    assert json.loads(frame.loc[frame["city_code"] == "072044", "urls"].iloc[0]) == [f"{SITE}/iwaki/list.html"]


def test_parquet_export_reads_in_pandas(two_runs, tmp_path):
    import pandas as pd

    export(two_runs, tmp_path, fmt="parquet")
    frame = pd.read_parquet(tmp_path / "latest_assessments.parquet")
    iwaki = frame[frame["sha256"] == sha_of("072044-iwaki-01-basic")].iloc[0]
    assert iwaki["city_code"] == "072044"
    assert list(iwaki["submitted_kinds"]) == ["basic", "full"]
    assert iwaki["published_on"] == date(2024, 9, 10)


def test_xlsx_export_opens_with_codes_as_text(two_runs, tmp_path, monkeypatch, capsys):
    from load.backend import excel_extension_file
    from piawatch.cli import main

    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(two_runs))
    assert main(["export", str(tmp_path), "--format", "xlsx"]) == 0
    assert str(tmp_path / "city_summary.xlsx") in capsys.readouterr().out.split()
    with duckdb.connect() as files:
        files.execute(f"LOAD '{excel_extension_file()}'")
        rows = files.execute(f"SELECT city_code, title, submitted_kinds FROM read_xlsx('{tmp_path / 'assessments.xlsx'}', "
                             "all_varchar = true) WHERE sha256 = ?", [sha_of("072044-iwaki-01-basic")]).fetchall()
        sheets = files.execute(f"SELECT count(*) FROM read_xlsx('{tmp_path / 'findings.xlsx'}')").fetchone()[0]
    assert [(code, json.loads(kinds)) for code, _, kinds in rows] == [("072044", ["basic", "full"])]
    with connect(two_runs, read_only=True) as con:
        assert sheets == con.execute("SELECT count(*) FROM findings").fetchone()[0]


def test_a_published_copy_can_be_read_while_the_pipeline_writes(tmp_path):
    import subprocess
    import sys

    from load.export import publish_copy

    db = build_warehouse(tmp_path / "data")
    with connect(db, read_only=True) as con:
        latest = con.execute("SELECT count(*) FROM latest_assessments").fetchone()[0]
    copy_path = publish_copy(db)
    assert copy_path == db.with_name("piawatch-readonly.duckdb")
    read = ("import sys, duckdb\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print(con.execute('SELECT count(*) FROM latest_assessments').fetchone()[0])\n")
    with connect(db) as writer:
        writer.execute("UPDATE runs SET alerts_sent = 0")  # the next run is busy writing
        reader = subprocess.run([sys.executable, "-c", read, str(copy_path)], capture_output=True, text=True)
        blocked = subprocess.run([sys.executable, "-c", read, str(db)], capture_output=True, text=True)
    assert reader.returncode == 0, reader.stderr
    assert int(reader.stdout) == latest == 8
    assert blocked.returncode != 0 and "lock" in blocked.stderr.lower()
    assert publish_copy(db) == copy_path  # replacing an existing copy works too
