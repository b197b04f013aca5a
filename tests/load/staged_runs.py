"""Staged runs as the crawl and parse steps write them, and the warehouses the loader makes of them.

The staged files follow docs/architecture.md exactly, with records whose values come from the real
assessments in /work/shared/seeds (堺市 全項目, 熊谷市 全項目（案）, いわき市 基礎項目, さいたま市 重点項目) and
the planted problems of the demo cities. Shared by the tests of load/ and of the packages above it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from extract.registry import City, parse_city
from ground.schema import FIELDS, empty_record
from load.connection import connect
from load.loader import load_run
from load.merge import merge_rows
from load.staging import stage_parse
from load.runs import record_run_end, record_run_start, record_run_step
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
            stage_parse(run_dir, staged)
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
        merge_rows(con, "findings", FINDING_COLUMNS, [(
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

# --- comparing warehouse states --------------------------------------------------------------------
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
