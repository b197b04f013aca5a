"""The synthetic country (demo/country.py): rendered, served on one loopback host per body, and
crawled by the real crawler over three nights (first load, nothing changed, a republication)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from demo.country import Profile, build_country, load_country
from demo.country_server import CountryServer
from extract.registry import is_valid_city_code, load_registry
from ground.settings import Settings
from piawatch.pipeline import crawl_step

pytestmark = pytest.mark.slow  # renders ~100 PDFs (about 40 s of CPU) and crawls three nights

SCALE = 12
# every behaviour on a small country: 4 failing hosts (one of each mode), 2 republishing, 1 slow;
# short timeouts so that the failures cost seconds, not minutes
PROFILE = Profile(failing_share=0.34, failing_pdf_share=0.2, republish_share=0.17, slow_share=0.1,
                  slow_seconds=0.2, read_timeout=1.0, stall_seconds=1.5, delay_seconds=0.0, scan_share=0.0)
# what the crawler records for each failing mode
FAILURE_CODES = {"http_500": "http_status", "reset": "fetch", "timeout": "timeout"}


@pytest.fixture(scope="module")
def country(tmp_path_factory):
    return build_country(SCALE, seed=7, out_dir=tmp_path_factory.mktemp("country"), profile=PROFILE)


@pytest.fixture(scope="module")
def nights(country, tmp_path_factory):
    """Three nights of the real crawl step over every body: edition 1, edition 1 again, edition 2."""
    data = tmp_path_factory.mktemp("data")
    results = []
    with CountryServer(country) as server:
        settings = Settings(data_dir=data, registry_path=server.registry_path,
                            user_agent="PIAWatch-test (country)", contact="test@example.org")
        for night, edition in enumerate((1, 1, 2), start=1):
            server.set_edition(edition)
            server.clear_log()
            staged = {}
            for city in load_registry(server.registry_path):
                crawl_step(settings, f"night{night}", city.code)
                staged[city.code] = _read_json(settings.run_staging_dir(f"night{night}") / "crawl" / f"{city.code}.json")
            results.append({"staged": staged, "requests": server.requests})
        registry = load_registry(server.registry_path)
        port = server.port
    return {"settings": settings, "nights": results, "registry": registry, "port": port}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pdf_bytes(staged: dict) -> int:
    """Bytes of PDFs downloaded, from the crawl's own fetch log (a failing host's error pages,
    answered on .pdf URLs, are not PDFs)."""
    return sum(f["bytes"] for f in staged["fetches"]
               if urlsplit(f["url"]).path.endswith(".pdf") and f["status"] == 200)


def test_the_country_is_rendered_with_its_own_bytes_per_body(country):
    assert len(country.bodies) == SCALE
    types = {b.type for b in country.bodies}
    assert {"prefecture", "city", "town"} <= types and types & {"kouiki", "kumiai"}
    documents = [d for b in country.bodies for d in b.documents]
    assert len(documents) == country.pdf_count >= 5 * SCALE
    for document in documents:
        data = country.file(document.file).read_bytes()
        assert data.startswith(b"%PDF-")
        assert (len(data), hashlib.sha256(data).hexdigest()) == (document.bytes, document.sha256)
    # every PDF's bytes are its own: content addressing would otherwise parse one copy for many
    assert len({d.sha256 for d in documents}) == len(documents)
    assert {d.kind for d in documents} >= {"basic", "full"}
    full = [d.pages for d in documents if d.kind == "full"]
    basic = [d.pages for d in documents if d.kind == "basic"]
    assert max(basic) < 12 and min(full) > 2 * max(basic) and max(full) > 60
    assert len({d.family for d in documents}) >= 3
    # a document names its body: code and slug in its id, its organization on its cover
    for body in country.bodies:
        assert all(d.id.startswith(f"{body.code}-{body.slug}-") for d in body.documents)
    # the republished editions differ from the first and from each other
    republished = [d for d in documents if d.republished_file]
    assert republished and all(d.republished_sha256 not in (None, d.sha256) for d in republished)
    assert all(not b.failing for b in country.bodies if b.republishes)


def test_a_second_build_reads_the_kept_country(country):
    started = time.monotonic()
    again = build_country(SCALE, seed=7, out_dir=country.directory.parent, profile=PROFILE)
    assert time.monotonic() - started < 5
    assert again.directory == country.directory
    assert [d.sha256 for b in again.bodies for d in b.documents] == \
           [d.sha256 for b in country.bodies for d in b.documents]
    assert load_country(country.directory).pdf_count == country.pdf_count


def test_the_same_seed_gives_the_same_country(tmp_path):
    grid_only = Profile(family_weights=(("grid", 1),), scan_share=0.0)
    one = build_country(3, seed=3, out_dir=tmp_path / "a", profile=grid_only, workers=1)
    two = build_country(3, seed=3, out_dir=tmp_path / "b", profile=grid_only, workers=1)
    assert [(b.code, b.name, b.host) for b in one.bodies] == [(b.code, b.name, b.host) for b in two.bodies]
    assert [d.sha256 for b in one.bodies for d in b.documents] == [d.sha256 for b in two.bodies for d in b.documents]
    other = build_country(3, seed=4, out_dir=tmp_path / "a", profile=grid_only, workers=1)
    assert other.directory != one.directory
    assert [b.name for b in other.bodies] != [b.name for b in one.bodies]


def test_a_missing_renderer_leaves_its_family_out_and_says_so(tmp_path, monkeypatch, caplog):
    # no LibreOffice on PATH: the sheet family cannot be printed
    monkeypatch.setenv("PATH", str(tmp_path))
    sheet_only = Profile(family_weights=(("sheet", 5), ("grid", 1)), scan_share=0.0)
    country = build_country(2, seed=1, out_dir=tmp_path, profile=sheet_only, workers=1)
    assert {d.family for b in country.bodies for d in b.documents} == {"grid"}
    assert any("layout family sheet left out: LibreOffice (soffice) is not installed" in note
               for note in country.notes)
    assert "layout family sheet left out" in caplog.text


def test_the_registry_validates_with_one_loopback_host_per_body(country, nights):
    cities = nights["registry"]
    assert [c.code for c in cities] == [b.code for b in country.bodies]
    assert all(c.demo and is_valid_city_code(c.code) for c in cities)
    hosts = [urlsplit(c.urls[0]).hostname for c in cities]
    assert len(set(hosts)) == SCALE
    assert all(ipaddress.ip_address(h).is_loopback and h != "127.0.0.1" for h in hosts)
    assert {c.name for c in cities} == {b.name for b in country.bodies}


def test_every_host_is_crawled_politely_on_its_own(country, nights):
    first = nights["nights"][0]
    by_host: dict[str, set[str]] = {}
    for entry in first["requests"]:
        by_host.setdefault(entry.host, set()).add(urlsplit(entry.request.path).path)
    assert set(by_host) == {b.host for b in country.bodies}
    for body in country.bodies:
        assert all(p == "/robots.txt" or p.startswith(f"/{body.slug}/") for p in by_host[body.host])
    # the crawler's turn files: one per host, so politeness waits per body
    locks = {p.name for p in (nights["settings"].http_state_dir / "hosts").glob("*.lock")}
    assert locks == {quote(f"{b.host}:{nights['port']}", safe="") + ".lock" for b in country.bodies}


def test_the_first_night_downloads_every_reachable_pdf_and_records_each_failure(country, nights):
    staged = nights["nights"][0]["staged"]
    modes = {b.failing for b in country.bodies if b.failing}
    assert modes == {"http_500", "reset", "timeout", "down"}
    for body in country.bodies:
        result = staged[body.code]
        reachable = [d for d in body.documents if not d.failure and body.failing != "down"]
        assert {d["sha256"] for d in result["documents"]} == {d.sha256 for d in reachable}, body.slug
        assert all(d["is_new_version"] for d in result["documents"])
        assert _pdf_bytes(result) == sum(d.bytes for d in reachable), body.slug
        if body.failing == "down":
            assert result["documents"] == [] and result["failures"], body.slug
        elif body.failing:
            failed = {urlsplit(f["url"]).path: f["code"] for f in result["failures"]}
            assert failed == {d.path: FAILURE_CODES[body.failing] for d in body.documents if d.failure}
        else:
            assert result["failures"] == [], body.slug


def test_a_night_with_nothing_changed_downloads_no_pdf_bytes(country, nights):
    night = nights["nights"][1]
    for body in country.bodies:
        result = night["staged"][body.code]
        assert _pdf_bytes(result) == 0, body.slug
        assert not any(d["is_new_version"] for d in result["documents"])
        reachable = [d for d in body.documents if not d.failure and body.failing != "down"]
        assert len(result["documents"]) == len(reachable)
    pdf_requests = [e.request for e in night["requests"] if e.request.path.endswith(".pdf")]
    answered = [r for r in pdf_requests if r.status == 304]
    assert len(answered) == sum(1 for b in country.bodies for d in b.documents
                                if not d.failure and b.failing != "down")
    assert all(r.conditional for r in answered)
    assert sum(r.bytes_sent for r in pdf_requests if r.status == 200) == 0
    assert all(r.status in (304, 500, 0) for r in pdf_requests)  # 500 and 0: the failing hosts


def test_a_republication_downloads_only_the_changed_pdfs(country, nights):
    night = nights["nights"][2]
    republished = {d.path: d for b in country.bodies for d in b.documents if d.republished_file}
    new = {}
    for body in country.bodies:
        result = night["staged"][body.code]
        for document in result["documents"]:
            if document["is_new_version"]:
                new[urlsplit(document["url"]).path] = document["sha256"]
    assert new == {path: d.republished_sha256 for path, d in republished.items()}
    downloaded = sum(_pdf_bytes(night["staged"][b.code]) for b in country.bodies)
    assert downloaded == sum(d.republished_bytes for d in republished.values())
    sent = [e.request for e in night["requests"] if e.request.path.endswith(".pdf") and e.request.status == 200]
    assert sorted(urlsplit(r.path).path for r in sent) == sorted(republished)
