"""The crawler against the demo websites on a real HTTP server on 127.0.0.1.

The registry used is the project's own config/cities.yaml, pointed at the test server through
PIAWATCH_DEMO_URL, so these tests also check that the registry and the demo sites agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import unicodedata
from datetime import datetime

import pytest

from demo.server import DemoServer
from demo.sites.site import load_description
from extract.crawl import crawl_city
from extract.discover import discover_pdf_links
from extract.http import HttpLimits
from extract.registry import load_registry
from extract.store import raw_path
from ground.errors import DisallowedURL
from ground.settings import PROJECT_ROOT, load_settings

SITES = {site["slug"]: site for site in load_description()["cities"]}
# Fast but still polite: no delay between requests to the local server, short timeouts.
FAST = HttpLimits(connect_timeout=2, read_timeout=2, delay_seconds=0, backoff_seconds=0.05)
CRAWL_KEYS = {"city_code", "crawled_at", "pages", "links", "fetches", "documents", "failures"}
FETCH_KEYS = {"url", "method", "status", "bytes", "sha256", "elapsed_ms", "conditional", "not_modified",
              "error", "fetched_at"}
DOCUMENT_KEYS = {"url", "sha256", "bytes", "link_text", "found_on", "content_type", "etag", "last_modified",
                 "fetched_at", "is_new_version"}




@pytest.fixture(scope="module")
def server(corpus):
    with DemoServer(corpus_dir=corpus, slow_seconds=1.0, retry_after=1) as running:
        yield running


@pytest.fixture(scope="module")
def cities(server):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIAWATCH_DEMO_URL", server.url)
        return {c.slug: c for c in load_registry(PROJECT_ROOT / "config" / "cities.yaml") if c.demo}


@pytest.fixture(scope="module")
def first_crawl(server, cities, tmp_path_factory):
    """Every demo city crawled once into one data directory (the crawl other tests look at)."""
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIAWATCH_DATA_DIR", str(data_dir))
        settings = load_settings()
    server.clear_log()
    results = {}
    for slug, city in cities.items():
        # the slow page must time out well before the server answers it
        city = dataclasses.replace(city, read_timeout=0.3) if slug == "kitakyushu" else city
        results[slug] = crawl_city(city, settings, limits=FAST)
    return {"settings": settings, "results": results, "requests": server.requests}


def published(specs, slug, edition=1):
    return [s for s in specs if s["city_slug"] == slug and s.get("published", True) and s.get("edition", 1) <= edition]


def failures_by_code(result) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for failure in result["failures"]:
        grouped.setdefault(failure["code"], []).append(failure)
    return grouped


def test_output_is_the_staged_crawl_format(first_crawl):
    for slug, result in first_crawl["results"].items():
        assert set(result) == CRAWL_KEYS, slug
        json.dumps(result)  # staged as JSON as is
        assert all(set(row) == FETCH_KEYS for row in result["fetches"]), slug
        assert all(set(doc) == DOCUMENT_KEYS for doc in result["documents"]), slug
        assert all(set(link) == {"url", "link_text", "found_on"} for link in result["links"]), slug
        assert all({"url", "status", "encoding", "found_on"} <= set(page) for page in result["pages"]), slug
        assert all(set(f) == {"stage", "url", "code", "reason"} for f in result["failures"]), slug


def test_every_published_document_is_fetched_into_the_store(first_crawl, specs, corpus):
    for slug, result in first_crawl["results"].items():
        expected = {hashlib.sha256((corpus / "pdf" / f"{s['id']}.pdf").read_bytes()).hexdigest()
                    for s in published(specs, slug)}
        extras = tuple(extra["path"] for extra in SITES[slug].get("extra_links", []))
        assessments = [d for d in result["documents"] if not d["url"].endswith(extras)]
        assert {d["sha256"] for d in assessments} == expected, slug
        for document in result["documents"]:
            stored = raw_path(first_crawl["settings"].raw_dir, document["sha256"])
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == document["sha256"]
            assert document["is_new_version"] and document["etag"] and document["last_modified"]
            assert document["content_type"] == "application/pdf"


def test_user_agent_names_the_project_and_a_contact(first_crawl):
    agents = {r.user_agent for r in first_crawl["requests"]}
    assert agents == {first_crawl["settings"].user_agent}
    assert "PIAWatch" in agents.pop()


def test_robots_txt_is_obeyed(first_crawl, specs):
    paths = [r.path for r in first_crawl["requests"]]
    assert paths.count("/robots.txt") == len(first_crawl["results"])  # read once per crawl, then cached
    assert not [p for p in paths if p.startswith("/himeji/private/")]
    refused = failures_by_code(first_crawl["results"]["himeji"])["disallowed"]
    assert [f["url"].split("127.0.0.1", 1)[1].split("/", 1)[1] for f in refused] == ["himeji/private/index.html"]
    assert "robots.txt" in refused[0]["reason"]
    unpublished = [s["id"] for s in specs if s["city_slug"] == "himeji" and not s.get("published", True)]
    assert unpublished and not any(u in json.dumps(first_crawl["results"]["himeji"]) for u in unpublished)


def test_redirect_from_the_old_address_is_followed(first_crawl, specs):
    himeji = first_crawl["results"]["himeji"]
    listing = himeji["pages"][0]
    assert listing["url"].endswith("/himeji/soshiki/pia_old.html") and listing["status"] == 200
    assert listing["redirected_to"].endswith("/himeji/pia/index.html")
    assert [r["status"] for r in himeji["fetches"][:3]] == [200, 301, 200]  # robots, old, new
    assert len(himeji["documents"]) == len(published(specs, "himeji"))
    assert all(d["found_on"].startswith(listing["redirected_to"].rsplit("/", 1)[0]) for d in himeji["documents"])


def test_dead_link_and_slow_page_are_failures_not_crashes(first_crawl, specs):
    kitakyushu = first_crawl["results"]["kitakyushu"]
    failures = failures_by_code(kitakyushu)
    (dead,) = failures["http_status"]
    assert dead["stage"] == "fetch" and dead["url"].endswith("/jido-teate-kiso.pdf") and "404" in dead["reason"]
    (slow,) = failures["timeout"]
    assert slow["stage"] == "discover" and slow["url"].endswith("/kitakyushu/pia/kako.html")
    assert len(kitakyushu["documents"]) == len(published(specs, "kitakyushu"))
    assert kitakyushu["pages"][-1]["status"] is None  # the slow page was given up on


def test_503_then_200_is_retried_after_retry_after(first_crawl):
    kitakyushu = first_crawl["results"]["kitakyushu"]
    listing_rows = [r for r in kitakyushu["fetches"] if r["url"].endswith("/kitakyushu/pia/")]
    assert [r["status"] for r in listing_rows] == [503, 200]
    assert kitakyushu["pages"][0]["status"] == 200
    waited = (datetime.fromisoformat(listing_rows[1]["fetched_at"])
              - datetime.fromisoformat(listing_rows[0]["fetched_at"])).total_seconds()
    assert waited >= 1.0  # Retry-After: 1


def test_html_served_as_pdf_is_rejected_with_a_clear_reason(first_crawl):
    kitakyushu = first_crawl["results"]["kitakyushu"]
    (fake,) = failures_by_code(kitakyushu)["not_a_pdf"]
    assert fake["stage"] == "fetch" and fake["url"].endswith("/kaiji-2023.pdf")
    assert "served as application/pdf but is an HTML page" in fake["reason"]
    assert fake["url"] not in {d["url"] for d in kitakyushu["documents"]}


def test_minutes_pdf_is_fetched_like_any_pdf(first_crawl, corpus):
    toyohashi = first_crawl["results"]["toyohashi"]
    (minutes,) = [d for d in toyohashi["documents"] if d["url"].endswith("/shingikai-kaigiroku.pdf")]
    assert minutes["sha256"] == hashlib.sha256((corpus / "broken" / "minutes.pdf").read_bytes()).hexdigest()


def test_shift_jis_link_text_is_decoded(first_crawl, specs):
    kumagaya = first_crawl["results"]["kumagaya"]
    assert kumagaya["pages"][0]["encoding"] == "shift_jis"
    texts = {d["link_text"] for d in kumagaya["documents"]}
    for spec in published(specs, "kumagaya"):
        title = " ".join(unicodedata.normalize("NFKC", spec["title"]).split())
        assert any(text.startswith(f"{title}(PDF:") for text in texts), spec["title"]


def test_pagination_is_followed(first_crawl, specs):
    saitama = first_crawl["results"]["saitama"]
    assert any(page["url"].endswith("/saitama/list.html?page=2") for page in saitama["pages"])
    on_page_2 = [d for d in saitama["documents"] if d["found_on"].endswith("?page=2")]
    assert on_page_2 and len(saitama["documents"]) == len(published(specs, "saitama"))


def test_list_detail_documents_are_found_on_detail_pages(first_crawl):
    iwaki = first_crawl["results"]["iwaki"]
    assert {d["found_on"].rsplit("/", 2)[1] for d in iwaki["documents"]} == {"jimu"}


def test_second_crawl_only_asks_whether_pdfs_changed(server, cities, first_crawl):
    settings = first_crawl["settings"]
    server.clear_log()
    again = crawl_city(cities["niigata"], settings, limits=FAST)
    pdf_requests = [r for r in server.requests if r.path.endswith(".pdf")]
    assert pdf_requests and all(r.conditional and r.status == 304 for r in pdf_requests)
    assert sum(r.bytes_sent for r in pdf_requests) == 0
    assert all(not d["is_new_version"] for d in again["documents"])
    first = first_crawl["results"]["niigata"]["documents"]
    assert {d["url"]: d["sha256"] for d in again["documents"]} == {d["url"]: d["sha256"] for d in first}
    assert all(r["not_modified"] and r["bytes"] == 0 for r in again["fetches"] if r["url"].endswith(".pdf"))


def test_edition_2_of_niigata_is_a_new_version_at_the_same_url(corpus, specs, tmp_path, monkeypatch):
    (replacement,) = [s for s in specs if s["city_slug"] == "niigata" and s.get("replaces")]
    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    with DemoServer(corpus_dir=corpus) as server:
        monkeypatch.setenv("PIAWATCH_DEMO_URL", server.url)
        (niigata,) = [c for c in load_registry(PROJECT_ROOT / "config" / "cities.yaml") if c.slug == "niigata"]
        before = {d["url"]: d for d in crawl_city(niigata, settings, limits=FAST)["documents"]}
        server.set_edition(2)
        after = {d["url"]: d for d in crawl_city(niigata, settings, limits=FAST)["documents"]}
    url = f"{server.url}{SITES['niigata']['pdf_dir']}{replacement['replaces']}.pdf"
    assert before.keys() == after.keys() and url in after
    assert after[url]["is_new_version"] and after[url]["sha256"] != before[url]["sha256"]
    assert raw_path(settings.raw_dir, before[url]["sha256"]).exists()  # the old version is kept
    assert not any(doc["is_new_version"] for u, doc in after.items() if u != url)


def test_a_city_not_marked_demo_may_not_use_a_loopback_address(server, cities, settings):
    impostor = dataclasses.replace(cities["sakai"], demo=False)
    server.clear_log()
    result = crawl_city(impostor, settings, limits=FAST)
    assert server.requests == []
    assert result["documents"] == [] and result["fetches"] == []
    (refused,) = result["failures"]
    assert refused["code"] == "disallowed" and "loopback" in refused["reason"]


def test_size_limit_stops_the_download(server, cities, settings):
    result = crawl_city(cities["sakai"], settings, limits=dataclasses.replace(FAST, max_pdf_bytes=2048))
    too_large = failures_by_code(result)["too_large"]
    assert len(too_large) == len(result["links"]) and result["documents"] == []
    assert not settings.raw_dir.exists() or not any(settings.raw_dir.rglob("*.pdf"))


def test_only_allowed_hosts_are_fetched(server, cities, settings):
    port = int(server.url.rsplit(":", 1)[1])
    elsewhere = dataclasses.replace(cities["sakai"], allowed_origins=frozenset({("http", "localhost", port)}))
    result = crawl_city(elsewhere, settings, limits=FAST)
    (refused,) = result["failures"]
    assert refused["code"] == "disallowed"
    assert f"not among the allowed origins http://localhost:{port}" in refused["reason"]


def test_retry_after_longer_than_the_limit_is_not_waited_for(corpus, settings, monkeypatch):
    with DemoServer(corpus_dir=corpus, retry_after=3600) as server:
        monkeypatch.setenv("PIAWATCH_DEMO_URL", server.url)
        (city,) = [c for c in load_registry(PROJECT_ROOT / "config" / "cities.yaml") if c.slug == "kitakyushu"]
        result = crawl_city(city, settings, limits=dataclasses.replace(FAST, max_retry_wait=5))
    (failure,) = result["failures"]
    assert failure["code"] == "http_status" and "503" in failure["reason"]
    assert "Retry-After 3600 s is longer than the 5 s limit" in result["fetches"][-1]["error"]


def test_discover_command_lists_pdf_links(server, specs, settings):
    links = discover_pdf_links(f"{server.url}/iwaki/list.html", depth=1, allow_private=True, settings=settings,
                               limits=FAST)
    assert len(links) == len(published(specs, "iwaki"))
    assert all(link["found_on"].startswith(f"{server.url}/iwaki/jimu/") for link in links)
    assert discover_pdf_links(f"{server.url}/iwaki/list.html", depth=0, allow_private=True,
                              settings=settings, limits=FAST) == []
    with pytest.raises(DisallowedURL, match="loopback"):
        discover_pdf_links(f"{server.url}/iwaki/list.html", settings=settings)


def test_a_lost_raw_file_is_downloaded_again(server, cities, settings):
    first = crawl_city(cities["sakai"], settings, limits=FAST)
    lost = first["documents"][0]
    raw_path(settings.raw_dir, lost["sha256"]).unlink()
    server.clear_log()
    again = crawl_city(cities["sakai"], settings, limits=FAST)
    unconditional = [r for r in server.requests if r.path.endswith(".pdf") and not r.conditional]
    assert [(r.status, lost["url"].endswith(r.path)) for r in unconditional] == [(200, True)]
    assert raw_path(settings.raw_dir, lost["sha256"]).exists()
    (same,) = [d for d in again["documents"] if d["url"] == lost["url"]]
    assert same["sha256"] == lost["sha256"] and not same["is_new_version"]
