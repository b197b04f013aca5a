"""Cutting the night into batches (piawatch.batches), and the batch steps that run them
(piawatch.pipeline.parse_batch_step, crawl_batch_step) on real PDFs and real HTTP servers."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from demo.server import DemoServer
from extract.store import store_pdf
from ground.settings import PROJECT_ROOT
from piawatch.batches import (AIRFLOW_MAX_MAP_LENGTH, CITIES_PER_CRAWL_BATCH, PARSE_BATCH_SECONDS,
                              PARSE_BYTES_PER_SECOND, PARSE_FIXED_SECONDS, PARSE_TAIL_SHARES, balanced_batches,
                              city_batches, parse_batches, parse_seconds)
from piawatch.pipeline import crawl_batch_step, parse_batch_step, parse_batches_for
from stack.native import free_port

CORPUS = PROJECT_ROOT / "demo" / "corpus"


def _documents(sizes: list[int]) -> tuple[list[dict], dict[str, int]]:
    """Documents with the given sizes in bytes, and the size of each by sha256."""
    documents = [{"sha256": f"{index:064x}", "url": f"http://example.lg.jp/{index}.pdf"} for index in range(len(sizes))]
    return documents, {doc["sha256"]: size for doc, size in zip(documents, sizes)}


def _cost(batch: list[dict], size: dict[str, int]) -> float:
    return sum(parse_seconds(size[doc["sha256"]]) for doc in batch)


def _flat(batches):
    return [item for batch in batches for item in batch]


# --- the plan ----------------------------------------------------------------------------------------
def test_the_estimate_is_a_fixed_cost_plus_the_size_at_the_measured_rate():
    assert parse_seconds(0) == parse_seconds(None) == PARSE_FIXED_SECONDS
    corpus_full = (CORPUS / "pdf" / "271403-sakai-01-full.pdf").stat().st_size
    assert parse_seconds(corpus_full) == pytest.approx(PARSE_FIXED_SECONDS + corpus_full / PARSE_BYTES_PER_SECOND)
    assert 0.5 < parse_seconds(corpus_full) < 5  # a 68-page full assessment: about a second, not minutes


def test_parse_batches_hold_about_thirty_seconds_each_the_last_ones_less_and_every_document_once():
    rng = random.Random(16)
    sizes = [rng.choice([13_000, 14_000, 60_000, 210_000, 280_000, 1_100_000]) for _ in range(400)]
    documents, size = _documents(sizes)
    batches = parse_batches(documents, lambda doc: size[doc["sha256"]])
    total = sum(parse_seconds(s) for s in sizes)
    tail = [PARSE_BATCH_SECONDS * share for share in PARSE_TAIL_SHARES]
    capacities = [PARSE_BATCH_SECONDS] * math.ceil((total - sum(tail)) / PARSE_BATCH_SECONDS) + tail
    assert len(batches) == len(capacities) == math.ceil(total / PARSE_BATCH_SECONDS) + 2
    assert sorted(d["sha256"] for d in _flat(batches)) == sorted(d["sha256"] for d in documents)
    largest = max(parse_seconds(s) for s in sizes)
    for batch, capacity in zip(batches, capacities):  # no batch more than one document above its share
        assert _cost(batch, size) <= capacity + largest
    full = [_cost(batch, size) for batch in batches[:-len(tail)]]
    assert max(full) - min(full) <= largest  # balanced
    assert max(_cost(batch, size) for batch in batches[-2:]) < min(full) / 2


def _finish_gap(batches, size, workers: int) -> float:
    """How long the first worker to run out of batches waits for the last one, when ``workers``
    take the batches in order and each parse takes its estimate."""
    free = [0.0] * workers
    for batch in batches:
        slot = free.index(min(free))
        free[slot] += _cost(batch, size)
    return max(free) - min(free)


def test_the_smaller_last_batches_let_two_workers_end_within_a_quarter_batch():
    """What the tapered tail is for: equal batches leave a worker idle for up to a whole batch."""
    rng = random.Random(300)
    sizes = [rng.choice([13_000, 60_000, 210_000, 620_000, 1_300_000]) for _ in range(3_000)]
    documents, size = _documents(sizes)
    largest = max(parse_seconds(s) for s in sizes)
    tapered = parse_batches(documents, lambda doc: size[doc["sha256"]])
    assert _finish_gap(tapered, size, 2) <= PARSE_BATCH_SECONDS * min(PARSE_TAIL_SHARES) + largest
    for count in range(60, 80):  # equal batches end up to a batch apart, depending on the night
        equal = balanced_batches(documents, lambda doc: parse_seconds(size[doc["sha256"]]),
                                 [PARSE_BATCH_SECONDS] * count, key=lambda doc: doc["sha256"])
        if _finish_gap(equal, size, 2) > PARSE_BATCH_SECONDS / 2:
            break
    else:
        pytest.fail("equal batches always ended together: the test does not show the tail")


def test_a_short_night_or_a_capped_one_has_equal_batches():
    documents, size = _documents([400_000] * 40)  # about 40 s: too short for a tapered tail
    assert len(parse_batches(documents, lambda d: size[d["sha256"]])) == 2
    documents, size = _documents([400_000] * 300)
    capped = parse_batches(documents, lambda d: size[d["sha256"]], max_batches=5)
    assert [len(batch) for batch in capped] == [60] * 5


def test_the_same_documents_always_make_the_same_batches():
    documents, size = _documents([13_000 + 997 * i % 250_000 for i in range(120)])
    shuffled = documents[:]
    random.Random(3).shuffle(shuffled)
    assert parse_batches(documents, lambda d: size[d["sha256"]]) == parse_batches(shuffled, lambda d: size[d["sha256"]])


def test_a_document_over_the_target_is_a_batch_of_its_own():
    scan = int((PARSE_BATCH_SECONDS * 2) * PARSE_BYTES_PER_SECOND)
    documents, size = _documents([scan] + [13_000] * 10)
    batches = parse_batches(documents, lambda d: size[d["sha256"]])
    alone = [batch for batch in batches if any(size[d["sha256"]] == scan for d in batch)]
    assert alone == [[documents[0]]]


def test_few_small_documents_are_one_batch_and_none_are_no_batch():
    documents, size = _documents([13_000] * 5)
    assert parse_batches(documents, lambda d: size[d["sha256"]]) == [sorted(documents, key=lambda d: d["sha256"])]
    assert parse_batches([], lambda d: 0) == []


def test_parse_batches_never_outnumber_max_map_length():
    """A national first load with its scans: 30,000 PDFs of full forms and scans would be ~1,850
    batches of 30 s, over Airflow's 1024."""
    rng = random.Random(1741)
    documents, size = _documents([rng.choice([200_000, 600_000, 1_300_000]) for _ in range(30_000)])
    wanted = math.ceil(sum(parse_seconds(s) for s in size.values()) / PARSE_BATCH_SECONDS)
    assert wanted > AIRFLOW_MAX_MAP_LENGTH
    batches = parse_batches(documents, lambda d: size[d["sha256"]], max_batches=AIRFLOW_MAX_MAP_LENGTH)
    assert len(batches) == AIRFLOW_MAX_MAP_LENGTH
    assert len(_flat(batches)) == len(documents)
    two = parse_batches(documents[:50], lambda d: size[d["sha256"]], max_batches=2)
    assert len(two) == 2 and len(_flat(two)) == 50


def test_city_batches_keep_the_registry_order_and_never_outnumber_the_limit():
    codes = [f"{i:06d}" for i in range(1_741 + 47)]
    batches = city_batches(codes)
    assert len(batches) == math.ceil(len(codes) / CITIES_PER_CRAWL_BATCH)
    assert _flat(batches) == codes
    assert {len(batch) for batch in batches} <= {CITIES_PER_CRAWL_BATCH - 1, CITIES_PER_CRAWL_BATCH}
    capped = city_batches(codes, max_batches=100)
    assert len(capped) == 100 and _flat(capped) == codes
    assert max(map(len, capped)) - min(map(len, capped)) <= 1
    assert city_batches(codes[:3]) == [codes[:3]]
    assert city_batches([]) == []
    with pytest.raises(ValueError, match="at least 1"):
        city_batches(codes, max_batches=0)


# --- parsing a batch -----------------------------------------------------------------------------------
def _store(settings, relative: str) -> dict:
    sha256 = store_pdf(settings.raw_dir, (CORPUS / relative).read_bytes())
    return {"sha256": sha256, "url": f"http://example.lg.jp/{relative}", "city_code": "111007"}


def _staged(settings, run_id: str, sha256: str) -> dict:
    return json.loads((settings.run_staging_dir(run_id) / "parse" / f"{sha256}.json").read_text(encoding="utf-8"))


def test_one_bad_pdf_is_one_failure_row_and_the_batch_stages_the_others(settings):
    good = [_store(settings, f"pdf/{name}.pdf") for name in ("111007-saitama-36-basic", "232017-toyohashi-02-basic")]
    bad = _store(settings, "broken/truncated.pdf")
    batch = [good[0], bad, good[1]]
    seen = []
    results = parse_batch_step(settings, "run1", batch, on_document=lambda doc, result: seen.append(doc["sha256"]))
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["error"] == "corrupt_pdf"
    assert seen == [doc["sha256"] for doc in batch]
    assert _staged(settings, "run1", bad["sha256"])["error"]["code"] == "corrupt_pdf"
    for doc in good:
        assert _staged(settings, "run1", doc["sha256"])["record"]["source"]["sha256"] == doc["sha256"]
    # each version was staged once: three files, one failure among them
    staged = list((settings.run_staging_dir("run1") / "parse").glob("*.json"))
    assert len(staged) == 3
    assert sum("error" in json.loads(p.read_text(encoding="utf-8")) for p in staged) == 1


def test_documents_not_started_within_the_budget_are_timeouts_parsed_next_run(settings):
    batch = [_store(settings, f"pdf/{name}.pdf")
             for name in ("111007-saitama-36-basic", "232017-toyohashi-02-basic", "271403-sakai-01-basic")]
    results = parse_batch_step(settings, "run1", batch, budget_s=0.1)  # one parse takes longer than that
    assert results[0]["ok"] and [r["error"] for r in results[1:]] == ["timeout", "timeout"]
    assert "parsed next run" in _staged(settings, "run1", batch[2]["sha256"])["error"]["reason"]
    # not cached as a failure: the next run selects them again and parses them
    from piawatch.pipeline import documents_to_parse

    assert sorted(d["sha256"] for d in documents_to_parse(settings, [batch])) == sorted(d["sha256"] for d in batch[1:])
    assert all(r["ok"] for r in parse_batch_step(settings, "run2", batch[1:]))


def test_parse_batches_for_estimates_from_the_stored_size(settings):
    """A scan weighs more than a dozen basic forms: read from the raw store, its size (1.1 MB
    against 13 KB each) puts it in a batch of its own once batches hold less than its estimate
    (with every size unknown, the fourteen would be one batch)."""
    scan = _store(settings, "pdf/072044-iwaki-01-basic-scanned.pdf")
    basics = [_store(settings, f"pdf/{path.name}") for path in sorted((CORPUS / "pdf").glob("*-basic.pdf"))[:12]]
    missing = {"sha256": "f" * 64, "url": "http://example.lg.jp/gone.pdf"}  # not in the raw store
    scan_seconds = parse_seconds((CORPUS / "pdf" / "072044-iwaki-01-basic-scanned.pdf").stat().st_size)
    batches = parse_batches_for(settings, [scan, *basics, missing], batch_seconds=scan_seconds - 0.3)
    assert sorted(map(len, batches)) == [1, 13] and [scan] in batches
    assert len(parse_batches([scan, *basics, missing], lambda doc: None, batch_seconds=scan_seconds - 0.3)) == 1


# --- crawling a batch ----------------------------------------------------------------------------------
DELAY = 0.25


def _registry(path: Path, entries: list[tuple[str, str, str]]) -> Path:
    """A registry of demo entries (code, slug, listing URL) with a per-host delay of DELAY s."""
    source = {c["code"]: c for c in yaml.safe_load((PROJECT_ROOT / "config" / "cities.yaml").read_text(
        encoding="utf-8"))["cities"]}
    cities = [{**{k: source[code][k] for k in ("code", "slug", "name", "prefecture")}, "urls": [url], "demo": True,
               "hints": {"delay_seconds": DELAY}} for code, slug, url in entries]
    path.write_text(yaml.safe_dump({"cities": cities}, allow_unicode=True), encoding="utf-8")
    return path


def _fetches(settings, run_id: str, code: str) -> list[dict]:
    return json.loads((settings.run_staging_dir(run_id) / "crawl" / f"{code}.json").read_text(encoding="utf-8"))


def test_a_crawl_batch_overlaps_hosts_stays_polite_per_host_and_survives_a_bad_city(tmp_path, monkeypatch, corpus):
    from ground.settings import load_settings

    with DemoServer(corpus_dir=corpus) as one, DemoServer(corpus_dir=corpus) as two:
        closed = f"http://127.0.0.1:{free_port()}"
        registry = _registry(tmp_path / "cities.yaml", [
            ("271403", "sakai", f"{one.url}/sakai/pia/index.html"),
            ("112020", "kumagaya", f"{one.url}/kumagaya/hyoka.html"),
            ("111007", "saitama", f"{closed}/saitama/list.html"),  # nothing listens there
            ("072044", "iwaki", f"{two.url}/iwaki/list.html"),
            ("232017", "toyohashi", f"{two.url}/toyohashi/pia.html"),
        ])
        monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("PIAWATCH_REGISTRY", str(registry))
        settings = load_settings()
        codes = ["271403", "112020", "111007", "072044", "232017"]
        done = []
        to_parse = crawl_batch_step(settings, "run1", codes, on_city=lambda code, _: done.append(code))
    assert done == codes
    staged = {code: _fetches(settings, "run1", code) for code in codes}
    assert staged["111007"]["documents"] == [] and staged["111007"]["failures"]  # the bad city: its failure rows
    for code in ("271403", "112020", "072044", "232017"):
        assert staged[code]["documents"] and not [f for f in staged[code]["failures"] if f["stage"] == "crawl"]
    assert sorted(d["sha256"] for d in to_parse) == sorted(
        d["sha256"] for code in codes for d in staged[code]["documents"])

    def times(server_url: str) -> list[float]:
        return sorted(datetime.fromisoformat(f["fetched_at"]).timestamp()
                      for code in codes for f in staged[code]["fetches"] if f["url"].startswith(server_url + "/"))

    first, second = times(one.url), times(two.url)
    # polite: one request at a time per host, DELAY apart, though two threads crawl cities on it
    for host_times in (first, second):
        assert len(host_times) > 10
        assert min(b - a for a, b in zip(host_times, host_times[1:])) >= DELAY - 0.01
    # concurrent: the two hosts were crawled at the same time, not one after the other
    assert first[0] < second[-1] and second[0] < first[-1]


def test_cities_not_started_within_the_budget_are_timeouts_crawled_next_run(tmp_path, monkeypatch):
    """No request is made for them: each is one `timeout` row (the loader counts it as failed)."""
    from ground.settings import load_settings

    closed = f"http://127.0.0.1:{free_port()}"  # were a request made, it would fail otherwise
    registry = _registry(tmp_path / "cities.yaml", [("271403", "sakai", f"{closed}/sakai/pia/index.html"),
                                                    ("112020", "kumagaya", f"{closed}/kumagaya/hyoka.html")])
    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PIAWATCH_REGISTRY", str(registry))
    settings = load_settings()
    assert crawl_batch_step(settings, "run1", ["271403", "112020"], budget_s=0) == []
    for code in ("271403", "112020"):
        staged = _fetches(settings, "run1", code)
        assert staged["fetches"] == [] and [(f["stage"], f["code"]) for f in staged["failures"]] == [("crawl", "timeout")]
        assert "crawled next run" in staged["failures"][0]["reason"]
