"""The static site's page builders, on a small real warehouse.

豊橋市's ground-truth records (demo/corpus/truth) are staged under the sha256 of their real PDFs,
loaded by the real loader, checked by the real rules and published, night after night; the PDFs
are put in the raw store, so the site's links can be followed to real files. The planted document
is parsed for real, so its fields carry the pages they were read from. Night 2 republishes
No. 2 (the planted threshold contradiction) with the result fixed, as the demo's edition 2 does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest

from load.export import publish_copy
from load.connection import connect
from load.loader import load_run
from load.staging import stage_parse
from quality import check_warehouse
from quality.rules import RULES
from transform.parse import parse_pdf
from website import build_site
from website.labels import RULE_TEXTS, printed, wareki

CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
PLANTED = "232017-toyohashi-02-basic"


@dataclass(frozen=True)
class Registered:
    code: str = "232017"
    slug: str = "toyohashi"
    name: str = "豊橋市"
    prefecture: str = "愛知県"
    urls: tuple = ("http://127.0.0.1:9/toyohashi/pia.html",)
    demo: bool = True


def _night(settings, run_id: str, day: datetime, ids: list[str]) -> dict[str, str]:
    """Stage one crawl of 豊橋市 finding the corpus documents ``ids``; load, check, publish.

    Returns {document id: sha256}. An ``-ed2`` id is the republished version of its document,
    served at the same URL.
    """
    city = Registered()
    run_dir = settings.run_staging_dir(run_id)
    (run_dir / "parse").mkdir(parents=True)
    (run_dir / "crawl").mkdir(parents=True)
    documents, shas = [], {}
    for doc_id in ids:
        pdf = CORPUS / "pdf" / f"{doc_id}.pdf"
        sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
        shas[doc_id] = sha
        (settings.raw_dir / sha[:2]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, settings.raw_dir / sha[:2] / f"{sha}.pdf")
        if doc_id.startswith(PLANTED):  # parsed for real: its record carries the page of every field
            record = parse_pdf(pdf, sha256=sha)
        else:
            record = json.loads((CORPUS / "truth" / f"{doc_id}.json").read_text(encoding="utf-8"))
            record["source"] = {**record.get("source", {}), "sha256": sha}
        url = f"http://127.0.0.1:9/toyohashi/pia/pdf/{doc_id.removesuffix('-ed2')}.pdf"
        stage_parse(run_dir, {"sha256": sha, "parser_version": "test", "url": url, "record": record})
        documents.append({"url": url, "sha256": sha, "bytes": pdf.stat().st_size, "link_text": record["title"],
                          "found_on": city.urls[0], "content_type": "application/pdf", "etag": None,
                          "last_modified": None, "fetched_at": day.isoformat(), "is_new_version": True})
    (run_dir / "crawl" / f"{city.code}.json").write_text(json.dumps({
        "city_code": city.code, "crawled_at": day.isoformat(),
        "pages": [{"url": city.urls[0], "status": 200, "encoding": "utf-8", "found_on": None}],
        "links": [{"url": d["url"], "link_text": d["link_text"], "found_on": d["found_on"]} for d in documents],
        "fetches": [], "documents": documents, "failures": []}, ensure_ascii=False))
    load_run(settings.warehouse, run_id, run_dir, cities=[city])
    with connect(settings.warehouse) as con:
        check_warehouse(con, run_id, today=date(2026, 11, 23))
    publish_copy(settings.warehouse.path)
    return shas


def _edition_1() -> list[str]:
    return sorted(p.stem for p in (CORPUS / "truth").glob("232017-toyohashi-*.json") if not p.stem.endswith("-ed2"))


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Night 1 (edition 1), its site; night 2 (No. 2 republished), the rebuilt site and its counts."""
    import os

    from ground.settings import load_settings

    data_dir = tmp_path_factory.mktemp("site") / "data"
    saved = os.environ.get("PIAWATCH_DATA_DIR"), os.environ.pop("PIAWATCH_WAREHOUSE", None)
    os.environ["PIAWATCH_DATA_DIR"] = str(data_dir)
    try:
        settings = load_settings()
        day = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
        shas1 = _night(settings, "night1", day, _edition_1())
        first = build_site(settings)
        site1 = _snapshot(first.index.parent)
        again = build_site(settings)
        edition_2 = [i for i in _edition_1() if i != PLANTED] + [f"{PLANTED}-ed2"]
        shas2 = _night(settings, "night2", day + timedelta(days=1), edition_2)
        second = build_site(settings)
        yield {"settings": settings, "first": first, "again": again, "second": second, "site1": site1,
               "site": first.index.parent, "shas1": shas1, "shas2": shas2}
    finally:
        if saved[0] is None:
            os.environ.pop("PIAWATCH_DATA_DIR", None)
        else:
            os.environ["PIAWATCH_DATA_DIR"] = saved[0]
        if saved[1] is not None:
            os.environ["PIAWATCH_WAREHOUSE"] = saved[1]


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in root.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".svg", ".css")}


class _Links(HTMLParser):
    """Every URL a page loads (link, script, img) or points to (a)."""

    def __init__(self):
        super().__init__()
        self.loads, self.anchors = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("link", "script", "img") and (attrs.get("href") or attrs.get("src")):
            self.loads.append(attrs.get("href") or attrs.get("src"))
        if tag == "a" and attrs.get("href"):
            self.anchors.append((attrs["href"], attrs.get("class") or ""))


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_planted_contradiction_is_shown_with_its_values_and_a_link_to_its_pdf_page(nights):
    html = nights["site1"][f"doc/{PLANTED}.html"]
    text = _text(html)
    assert "対象人数が30万人以上であるのに、しきい値判断結果が「基礎項目評価の実施が義務付けられる」となっている" in text
    assert "基礎項目評価及び全項目評価の実施が義務付けられる" in text  # what the rule table gives
    sha = nights["shas1"][PLANTED]
    pdf_links = [href for href, cls in _links(html).anchors if "pdf-link" in cls and "#page=" in href]
    assert pdf_links, "no link to a page of the stored PDF"
    target, fragment = urldefrag(pdf_links[0])
    assert fragment == "page=3"  # 対象人数 and しきい値判断結果 are printed on page 3 of this PDF
    resolved = (nights["site"] / "doc" / target).resolve()
    assert resolved == (nights["settings"].raw_dir / sha[:2] / f"{sha}.pdf").resolve()
    assert resolved.read_bytes().startswith(b"%PDF-")
    source_links = [href for href, cls in _links(html).anchors if "source-link" in cls]
    assert "http://127.0.0.1:9/toyohashi/pia/pdf/232017-toyohashi-02-basic.pdf#page=3" in source_links


def test_every_field_of_the_form_is_shown_as_printed_and_typed_with_its_page(nights):
    truth = json.loads((CORPUS / "truth" / f"{PLANTED}.json").read_text(encoding="utf-8"))
    html = nights["site1"][f"doc/{PLANTED}.html"]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(.*?)</td><td><code>(.*?)</code></td><td>(.*?)</td></tr>',
                      html.split('id="fields"')[1].split("</table>")[0])
    by_label = {label: (shown, typed, page) for label, shown, typed, page in rows}
    assert by_label["対象人数"][0] == "30万人以上" and by_label["対象人数"][1] == "&#34;300k_plus&#34;"
    assert by_label["公表日"][0] == wareki(truth["published_on"])
    assert by_label["しきい値判断結果"][0] == printed("threshold_result", truth["threshold_result"])
    page = parse_pdf(CORPUS / "pdf" / f"{PLANTED}.pdf")["source"]["field_pages"]["threshold_result"]
    assert f"#page={page}\">{page}</a>" in by_label["しきい値判断結果"][2]
    assert {"評価書番号", "評価書名", "評価実施機関名", "取扱者数", "重大事故", "提出する評価書の種類"} <= set(by_label)
    assert "重大事故の発生" not in by_label  # a focused/full question, not on the basic form


def test_a_rebuild_with_nothing_changed_renders_nothing(nights):
    first, again = nights["first"], nights["again"]
    assert first.rendered > 20 and first.skipped == 0
    assert (again.rendered, again.removed) == (0, 0) and again.skipped == first.rendered


def test_the_next_night_rerenders_only_the_pages_whose_content_changed(nights):
    site, before = nights["site"], nights["site1"]
    after = _snapshot(site)
    changed = {path for path in after if after[path] != before.get(path)}
    assert f"doc/{PLANTED}.html" in changed and "city/232017.html" in changed and "index.html" in changed
    assert "rule/threshold.result_mismatch.html" in changed  # the document is no longer flagged
    assert "doc/232017-toyohashi-01-basic.html" not in changed  # same version, same findings
    assert "rule/procedure.no_third_party_review.html" not in changed
    assert nights["second"].rendered == len(changed) < len(after) / 2


def test_the_version_history_shows_what_the_republished_document_changed(nights):
    html = nights["site"].joinpath(f"doc/{PLANTED}.html").read_text(encoding="utf-8")
    history = _text(html.split('id="history"')[1])
    assert "第2版" in history and "第1版" in history
    diff = re.search(r"しきい値判断結果 (.*?) (.*?) ", history.split("前の版からの変更")[1])
    assert "基礎項目評価の実施が義務付けられる" in history and "基礎項目評価及び全項目評価の実施が義務付けられる" in history
    assert diff, history
    assert "解消済み" in _text(html)  # the finding of version 1 is shown as resolved


def test_a_rule_page_cites_the_guideline_and_lists_every_document_it_flags(nights):
    html = nights["site1"]["rule/threshold.result_mismatch.html"]
    text = _text(html)
    assert "指針 第5の2（しきい値判断）" in text
    assert f"doc/{PLANTED}.html" in html and "評価書番号2" in text
    assert set(RULE_TEXTS) == set(RULES)
    for rule in RULES:
        assert f"rule/{rule}.html" in nights["site1"]


def test_the_city_page_sets_required_kinds_against_published_ones(nights):
    text = _text(nights["site1"]["city/232017.html"])
    required = text.split("しきい値判断結果が求める評価書と公表済みの評価書")[1].split("未解決の問題")[0]
    # No. 3: the basic document requires a full one that 豊橋市 has not published (a planted finding).
    assert re.search(r"3 [^ ]+ 基礎項目評価及び全項目評価の実施が義務付けられる 全項目評価書 基礎項目評価書 不足", required), required
    assert "収集の状況" in text and "版の時系列" in text


def test_the_overview_counts_what_the_warehouse_holds(nights):
    text = _text(nights["site1"]["index.html"])
    assert re.search(r"自治体 1 評価書（最新版） %d " % len(_edition_1()), text), text[:400]
    assert "豊橋市" in text and "最初の実行です" in text
    after = _text(nights["site"].joinpath("index.html").read_text(encoding="utf-8"))
    assert "解消した問題" in after and "新しい評価書・版 1 件" in after


def test_every_page_loads_only_local_files(nights):
    site = nights["site"]
    for path, html in _snapshot(site).items():
        if not path.endswith(".html"):
            continue
        for url in _links(html).loads:
            if url == "data:,":  # the empty favicon: no request for /favicon.ico
                continue
            assert not re.match(r"^[a-z]+:", url), (path, url)
            assert (site / Path(path).parent / url).resolve().is_file(), (path, url)
    for chart in site.joinpath("charts").glob("*.svg"):
        svg = chart.read_text(encoding="utf-8")
        assert set(re.findall(r"(?:href|src)=\"([^\"]+)\"", svg)) <= set(), chart  # nothing to load


def test_the_search_index_holds_every_document_with_its_rules(nights):
    js = nights["site1"]["assets/search-index.js"]
    index = json.loads(js.removeprefix("window.PIAWATCH_INDEX = ").rstrip(";\n"))
    slug = index["columns"].index("slug")
    docs = {d[slug]: d for d in index["docs"]}
    assert len(docs) == len(_edition_1())
    assert "threshold.result_mismatch" in docs[PLANTED][index["columns"].index("rules")]
    assert index["cities"]["232017"] == ["豊橋市", "愛知県"]
