"""The demo municipal websites, served by a real HTTP server on 127.0.0.1 from a copy of the corpus."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from demo.server import DemoServer
from demo.sites.site import load_description
from ground.settings import PROJECT_ROOT

SITES = {site["code"]: site for site in load_description()["cities"]}
SITES_BY_SLUG = {site["slug"]: site for site in SITES.values()}




@pytest.fixture(scope="module")
def server(corpus):
    with DemoServer(corpus_dir=corpus, slow_seconds=0.4) as running:
        yield running


def city_html(server, slug: str) -> str:
    """Every HTML page of one city's site, decoded as a browser would."""
    texts = []
    for path in server.paths():
        if path.startswith(f"/{slug}/") and not path.endswith(".pdf") and "private" not in path:
            response = requests.get(server.url + path, timeout=5)
            if response.status_code == 503:  # the listing that fails once
                response = requests.get(server.url + path, timeout=5)
            encoding = "cp932" if SITES_BY_SLUG[slug].get("encoding") == "shift_jis" else "utf-8"
            texts.append(response.content.decode(encoding))
    return "\n".join(texts)



def test_every_published_edition_1_document_is_linked_and_served(server, specs, corpus):
    expected = [s for s in specs if s.get("published", True) and s.get("edition", 1) == 1]
    assert len(expected) >= len(SITES)
    pages = {slug: city_html(server, slug) for slug in SITES_BY_SLUG}
    for spec in expected:
        site = SITES[spec["city_code"]]
        pdf = corpus / "pdf" / f"{spec['id']}.pdf"
        size_kb = -(-pdf.stat().st_size // 1024)
        assert f"{spec['title']}（PDF:{size_kb}KB）" in pages[site["slug"]], spec["id"]
        response = requests.get(f"{server.url}{site['pdf_dir']}{spec['id']}.pdf", timeout=5)
        assert response.status_code == 200 and response.content == pdf.read_bytes()
        assert response.headers["Content-Type"] == "application/pdf"


def test_unpublished_documents_are_only_behind_robots_txt(server, specs):
    unpublished = [s for s in specs if not s.get("published", True)]
    assert unpublished, "the corpus has a published: false document"
    for spec in unpublished:
        slug = SITES[spec["city_code"]]["slug"]
        assert spec["id"] not in city_html(server, slug)
        private = [p for p in server.paths() if spec["id"] in p]
        assert private and all(p.startswith("/himeji/private/") for p in private)
    robots = requests.get(f"{server.url}/robots.txt", timeout=5)
    assert robots.status_code == 200 and "Disallow: /himeji/private/" in robots.text


def test_edition_2_adds_documents_and_republishes_at_the_same_url(corpus, specs):
    replacements = [s for s in specs if s.get("edition", 1) == 2 and s.get("replaces")]
    assert any(s["city_slug"] == "niigata" for s in replacements)
    with DemoServer(corpus_dir=corpus) as server:
        before = {}
        for spec in replacements:
            site = SITES[spec["city_code"]]
            url = f"{server.url}{site['pdf_dir']}{spec['replaces']}.pdf"
            before[url] = requests.get(url, timeout=5).content
            assert before[url] == (corpus / "pdf" / f"{spec['replaces']}.pdf").read_bytes()
            assert not [p for p in server.paths() if spec["id"] in p]
        server.set_edition(2)
        for spec in replacements:
            site = SITES[spec["city_code"]]
            url = f"{server.url}{site['pdf_dir']}{spec['replaces']}.pdf"
            after = requests.get(url, timeout=5).content
            assert after == (corpus / "pdf" / f"{spec['id']}.pdf").read_bytes() != before[url]


def test_pdf_validators_and_conditional_requests(server, specs):
    spec = next(s for s in specs if s["city_slug"] == "sakai" and s.get("published", True))
    url = f"{server.url}{SITES[spec['city_code']]['pdf_dir']}{spec['id']}.pdf"
    first = requests.get(url, timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    server.clear_log()
    by_etag = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    by_date = requests.get(url, headers={"If-Modified-Since": modified}, timeout=5)
    stale = requests.get(url, headers={"If-None-Match": '"0000"', "If-Modified-Since": modified}, timeout=5)
    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert stale.status_code == 200 and stale.content == first.content
    log = server.requests
    assert [(r.status, r.bytes_sent, r.conditional) for r in log] == [
        (304, 0, True), (304, 0, True), (200, len(first.content), True)]
    assert log[0].if_none_match == etag and log[1].if_modified_since == modified


def test_old_himeji_address_redirects_permanently(server):
    response = requests.get(f"{server.url}/himeji/soshiki/pia_old.html", allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == "/himeji/pia/index.html"
    assert "特定個人情報保護評価書" in requests.get(server.url + response.headers["Location"], timeout=5).text


def test_kitakyushu_quirks(corpus):
    with DemoServer(corpus_dir=corpus, slow_seconds=0.5, retry_after=3) as server:
        listing = f"{server.url}/kitakyushu/pia/"
        first, second = requests.get(listing, timeout=5), requests.get(listing, timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (503, "3")
        assert second.status_code == 200
        html = second.text
        assert "/kitakyushu/pia/files/jido-teate-kiso.pdf" in html
        assert requests.get(f"{server.url}/kitakyushu/pia/files/jido-teate-kiso.pdf", timeout=5).status_code == 404
        started = time.monotonic()
        assert requests.get(f"{server.url}/kitakyushu/pia/kako.html", timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.5
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{server.url}/kitakyushu/pia/kako.html", timeout=(1, 0.1))
        fake = requests.get(f"{server.url}/kitakyushu/pia/files/kaiji-2023.pdf", timeout=5)
        assert fake.headers["Content-Type"] == "application/pdf"
        assert fake.content == (corpus / "broken" / "html-error-page.pdf").read_bytes()
        assert fake.content.lstrip().lower().startswith(b"<!doctype html")


def test_kumagaya_is_shift_jis_declared_only_in_the_page(server):
    response = requests.get(f"{server.url}/kumagaya/hyoka.html", timeout=5)
    assert response.headers["Content-Type"] == "text/html"
    assert b'charset=Shift_JIS' in response.content
    text = response.content.decode("cp932")
    assert "熊谷市" in text and 'href="hyoka/' in text  # relative links
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")


def test_link_styles(server):
    sakai = requests.get(f"{server.url}/sakai/pia/index.html", timeout=5).text
    assert f'href="{server.url}/sakai/pia/files/' in sakai
    saitama = requests.get(f"{server.url}/saitama/list.html", timeout=5).text
    assert '>次へ</a>' in saitama and 'href="/saitama/list.html?page=2"' in saitama
    page_2 = requests.get(f"{server.url}/saitama/list.html?page=2", timeout=5)
    assert page_2.status_code == 200 and ">前へ</a>" in page_2.text
    iwaki = requests.get(f"{server.url}/iwaki/list.html", timeout=5).text
    assert 'href="jimu/01.html"' in iwaki
    detail = requests.get(f"{server.url}/iwaki/jimu/01.html", timeout=5).text
    assert 'href="../files/072044-iwaki-01' in detail


def test_head_and_unknown_paths(server):
    head = requests.head(f"{server.url}/sakai/pia/index.html", timeout=5)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) > 0
    missing = requests.get(f"{server.url}/sakai/nothing-here.html", timeout=5)
    assert missing.status_code == 404 and "Not Found" in missing.text


def test_runnable_as_a_module():
    process = subprocess.Popen([sys.executable, "-m", "demo.server", "--port", "0", "--edition", "2"],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert "edition 2" in banner
        url = banner.split(": ", 1)[1].split("/ ", 1)[0]
        assert requests.get(f"{url}/robots.txt", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
