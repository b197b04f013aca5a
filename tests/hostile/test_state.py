"""Broken state on disk and bombs that come back every night: the parse cache and the
conditional-GET records heal, a torn staged file is a named error, a parse-limit failure is
retried a bounded number of times per parser version — and nothing is lost."""

from __future__ import annotations

import json
import logging

import pytest

from demo.server import DemoServer
from extract.fetch import fetch_pdf, validators_path
from extract.http import HttpLimits, PoliteSession
from extract.store import store_pdf
from ground.errors import BadStagedFile
from load.connection import connect
from transform.cache import MAX_ATTEMPTS, cache_path
from piawatch.pipeline import crawl_step, documents_to_parse, load_step, parse_step, stage_cached_parses
from ground.state_files import QUARANTINE

from . import bombs
from .cli import ROOT
from .server import conditional_pdf

GOOD = ROOT / "demo" / "corpus" / "pdf" / "111007-saitama-36-basic.pdf"
FAST = HttpLimits(connect_timeout=2, read_timeout=2, delay_seconds=0, retries=0)


def _stored(settings, data: bytes) -> dict:
    sha256 = store_pdf(settings.raw_dir, data)
    return {"sha256": sha256, "url": f"http://example.lg.jp/{sha256[:8]}.pdf", "city_code": "111007"}


def _staged(settings, run_id, sha256) -> dict:
    return json.loads((settings.run_staging_dir(run_id) / "parse" / f"{sha256}.json").read_text(encoding="utf-8"))


def test_a_bomb_is_parsed_a_bounded_number_of_times_per_parser_version(settings, bombs_dir, monkeypatch):
    monkeypatch.setenv("PIAWATCH_PARSE_MEMORY_MB", "256")
    document = _stored(settings, bombs.decompression_bomb(bombs_dir / "state-bomb.pdf", 1 << 30).read_bytes())
    for night in range(1, MAX_ATTEMPTS + 1):
        assert documents_to_parse(settings, [[document]]) == [document]
        assert parse_step(settings, f"run{night}", document)["error"] == "parse_limit"
        reason = _staged(settings, f"run{night}", document["sha256"])["error"]["reason"]
        then = "tried again next run" if night < MAX_ATTEMPTS else "not tried again until the parser version changes"
        assert reason.endswith(f"(attempt {night} of {MAX_ATTEMPTS}; {then})"), reason
    # settled: the next night stages the recorded failure without parsing
    assert documents_to_parse(settings, [[document]]) == []
    assert stage_cached_parses(settings, "run9", [[document]]) == 1
    assert _staged(settings, "run9", document["sha256"])["error"]["code"] == "parse_limit"
    # a new parser may cope: it gets its own attempts (a release changes the version wherever it is read)
    monkeypatch.setattr("transform.parse.PARSER_VERSION", "a-later-parser")
    monkeypatch.setattr("transform.cache.PARSER_VERSION", "a-later-parser")
    assert documents_to_parse(settings, [[document]]) == [document]


@pytest.mark.parametrize("corrupt", [
    lambda data: data[: len(data) // 2],                                   # torn by a full disk
    lambda data: b"\xff\xfe" + data,                                       # not UTF-8
    lambda data: b"[]",                                                    # not an object
    lambda data: data.replace(b'"sha256": "', b'"sha256": "0', 1),         # another version's entry
], ids=["torn", "not utf-8", "a list", "wrong sha256"])
def test_a_corrupt_parse_cache_entry_is_quarantined_and_rebuilt(settings, corrupt, caplog):
    document = _stored(settings, GOOD.read_bytes())
    parse_step(settings, "run1", document)
    cache = cache_path(settings.parsed_dir, document["sha256"])
    good = cache.read_bytes()
    cache.write_bytes(corrupt(good))
    with caplog.at_level(logging.WARNING, logger="ground.state_files"):
        assert documents_to_parse(settings, [[document]]) == [document]
    (aside,) = (settings.parsed_dir / QUARANTINE).iterdir()
    assert aside.read_bytes() == corrupt(good) and not cache.exists()
    assert f"quarantined {cache}" in caplog.text
    assert parse_step(settings, "run2", document)["ok"]
    assert json.loads(cache.read_bytes())["record"] == json.loads(good)["record"]


def test_a_corrupt_conditional_get_record_is_quarantined_and_rewritten(settings, hostile, caplog):
    url = hostile.route("/a.pdf", conditional_pdf(GOOD.read_bytes()))
    http = PoliteSession(user_agent="PIAWatch-test/1", allowed_origins={hostile.origin}, allow_private=True,
                         limits=FAST)

    def fetch():
        return fetch_pdf(http, url, raw_dir=settings.raw_dir, http_state_dir=settings.http_state_dir,
                         max_bytes=1 << 24)

    first = fetch()
    record = validators_path(settings.http_state_dir, url)
    record.write_text('{"url": "' + url + '", "sha', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ground.state_files"):
        again = fetch()  # no validators to send: an unconditional GET, and the record is rewritten
    assert again["sha256"] == first["sha256"] and f"quarantined {record}" in caplog.text
    assert json.loads(record.read_text(encoding="utf-8"))["etag"] == '"v1"'
    assert not fetch()["is_new_version"]
    assert [row["status"] for row in http.fetch_log if row["url"] == url] == [200, 200, 304]


def test_a_torn_staged_crawl_file_is_bad_staged_file(settings):
    torn = settings.run_staging_dir("run1") / "crawl" / "271403.json"
    torn.parent.mkdir(parents=True)
    torn.write_text('{"city_code": "271403", "crawled_at": "2026-11-2', encoding="utf-8")
    with pytest.raises(BadStagedFile, match="271403.json: not valid UTF-8 JSON"):
        load_step(settings, "run1")


def _night(settings, run_id: str) -> None:
    crawled = [crawl_step(settings, run_id, "271403")]
    for document in documents_to_parse(settings, crawled):
        parse_step(settings, run_id, document)
    stage_cached_parses(settings, run_id, crawled)
    load_step(settings, run_id)


def _counts(settings) -> dict:
    with connect(settings.warehouse, read_only=True) as con:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                for table in ("documents", "assessments", "assessment_files", "risk_answers", "change_rows")} | {
            "open failures": con.execute("SELECT count(*) FROM failures WHERE NOT resolved").fetchall()[0][0]}


@pytest.mark.slow
def test_corrupt_state_between_nights_loses_nothing(tmp_path, monkeypatch, corpus):
    """Two data roots crawl the same city two nights; between the nights one has every parse
    cache entry and conditional-GET record corrupted. The warehouses end up the same."""
    monkeypatch.setattr("extract.crawl.HttpLimits", lambda: FAST)
    monkeypatch.delenv("PIAWATCH_WAREHOUSE", raising=False)
    from ground.settings import load_settings

    counts = {}
    with DemoServer(corpus_dir=corpus) as server:
        monkeypatch.setenv("PIAWATCH_DEMO_URL", server.url)
        for name in ("clean", "corrupted"):
            monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / name))
            settings = load_settings()
            _night(settings, "20261101T000000Z")
            if name == "corrupted":
                for state in [*settings.parsed_dir.glob("*.json"), *settings.http_state_dir.glob("*.json")]:
                    state.write_bytes(state.read_bytes()[:7])
            _night(settings, "20261102T000000Z")
            counts[name] = _counts(settings)
            if name == "corrupted":
                assert len(list((settings.parsed_dir / QUARANTINE).iterdir())) == 5
    assert counts["clean"]["assessments"] == 5 and counts["corrupted"] == counts["clean"]


def test_a_corrupt_host_lock_does_not_stop_the_crawl(settings, hostile, caplog):
    """The per-host turn file (http/hosts/<host>.lock) holds the time of the last request; junk
    in it is taken as "no request yet" and overwritten."""
    url = hostile.route("/a.pdf", conditional_pdf(GOOD.read_bytes()))
    locks = settings.http_state_dir / "hosts"
    locks.mkdir(parents=True)
    lock = locks / f"127.0.0.1%3A{hostile.port}.lock"
    lock.write_bytes(b"\xff\x00garbage")
    http = PoliteSession(user_agent="PIAWatch-test/1", allowed_origins={hostile.origin}, allow_private=True,
                         limits=FAST, host_locks_dir=locks)
    with caplog.at_level(logging.WARNING, logger="extract.http"):
        document = fetch_pdf(http, url, raw_dir=settings.raw_dir, http_state_dir=settings.http_state_dir,
                             max_bytes=1 << 24)
    assert document["is_new_version"] and "not a time" in caplog.text
    assert float(lock.read_text(encoding="ascii")) > 0
