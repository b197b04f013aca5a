"""The logic of tools/bench_scale.py (`make bench-scale`), not its timings: bytes and HTTP time from
a real crawl's staged files, the breakdown from task-instance rows, the projection's arithmetic."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime, timedelta, timezone

import pytest

from ground.settings import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("bench_scale", PROJECT_ROOT / "tools" / "bench_scale.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_scale"] = bench  # its dataclasses look their module up by name
_spec.loader.exec_module(bench)

KUMAGAYA = "112020"  # a demo city whose PDFs are all plain .pdf links answered 200, then 304


@pytest.fixture
def demo_site():
    from demo.server import DemoServer

    with DemoServer(port=0) as server:
        yield server


def _staged_crawl(settings, run_id: str) -> list[dict]:
    directory = settings.run_staging_dir(run_id) / "crawl"
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def test_pdf_bytes_of_a_real_crawl_match_what_the_server_sent_and_a_night_without_change_sends_none(
        settings, demo_site, monkeypatch):
    from piawatch.pipeline import crawl_step

    monkeypatch.setenv("PIAWATCH_DEMO_URL", demo_site.url)
    crawl_step(settings, "first", KUMAGAYA)
    sent = [r for r in demo_site.requests if r.path.endswith(".pdf") and r.status == 200]
    first = bench.crawl_totals(_staged_crawl(settings, "first"))
    assert sent and first["pdf_bytes"] == sum(r.bytes_sent for r in sent)
    assert first["pdfs_found"] == len(sent) and first["requests"] == len(demo_site.requests)
    assert first["all_bytes"] > first["pdf_bytes"]  # the listing page and robots.txt too
    assert 0 < first["fetch_s"] <= first["span_s"] + 0.01 * first["requests"]  # ms rounding per request

    before = len(demo_site.requests)
    crawl_step(settings, "again", KUMAGAYA)
    again = bench.crawl_totals(_staged_crawl(settings, "again"))
    assert again["pdf_bytes"] == 0 and again["pdfs_found"] == first["pdfs_found"]
    assert {r.status for r in demo_site.requests[before:] if r.path.endswith(".pdf")} == {304}


def _fetch(url: str, start: datetime, elapsed_ms: int, status: int = 200, size: int = 0) -> dict:
    return {"url": url, "fetched_at": start.isoformat(timespec="milliseconds"), "elapsed_ms": elapsed_ms,
            "status": status, "bytes": size, "not_modified": status == 304}


def test_a_404_on_a_pdf_link_is_no_pdf_downloaded_and_the_span_covers_the_waits():
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    crawl = {"links": [{"url": "http://a/x.pdf"}, {"url": "http://a/gone.pdf"}],
             "documents": [{"url": "http://a/x.pdf", "sha256": "aa"}],
             "fetches": [_fetch("http://a/list.html", t0, 100, size=500),
                         _fetch("http://a/x.pdf", t0 + timedelta(seconds=1), 200, size=9000),
                         _fetch("http://a/gone.pdf", t0 + timedelta(seconds=2), 50, status=404, size=300)]}
    totals = bench.crawl_totals([crawl])
    assert totals["pdf_bytes"] == 9000 and totals["all_bytes"] == 9800
    assert totals["fetch_s"] == pytest.approx(0.35)
    assert totals["span_s"] == pytest.approx(2.05)  # first start to the 404's end: 1.7 s of it waiting


def test_the_crawl_is_split_as_its_cities_spent_their_time():
    # 10 s of crawl work for cities that spent 3 of their 12 city-seconds in requests.
    split = bench.split_crawl({"crawl": 10.0, "parse": 5.0}, fetch_s=3.0, span_s=12.0)
    assert split == pytest.approx({"parse": 5.0, "fetch": 2.5, "crawl wait": 7.5})


def test_pages_count_only_the_versions_parsed_this_night():
    staged = [{"sha256": "a", "record": {"source": {"pages": 12}}},
              {"sha256": "b", "record": {"source": {"pages": 30}}},
              {"sha256": "c", "error": {"code": "encrypted_pdf"}}]
    assert bench.parse_totals(staged) == {"documents": 3, "pages": 42, "failures": 1}
    assert bench.parse_totals(staged, {"b", "c"}) == {"documents": 2, "pages": 30, "failures": 1}
    assert bench.parse_totals(staged, set()) == {"documents": 0, "pages": 0, "failures": 0}


def test_stage_names_and_task_ids_old_and_batched_fall_in_their_category():
    cases = {"crawl_city": "crawl", "crawl_cities": "crawl", "parse_document": "parse",
             "parse_documents": "parse", "load_warehouse": "load", "check_quality": "check",
             "send_alerts": "alert", "report": "report", "maintain_warehouse": "maintain",
             "list_cities": "plan", "select_new_versions": "select", "crawl": "crawl", "alert": "alert"}
    assert {name: bench.stage_of(name) for name in cases} == cases


def _ti(task_id: str, map_index: int, start: float, end: float | None, t0: datetime) -> dict:
    return {"task_id": task_id, "map_index": map_index, "try_number": 1, "queued_dttm": t0,
            "start_date": t0 + timedelta(seconds=start), "end_date": end and t0 + timedelta(seconds=end)}


def test_breakdown_from_task_instance_rows_and_the_work_timed_inside_them():
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    tis = [_ti("crawl_cities", 0, 0, 10, t0), _ti("crawl_cities", 1, 0, 12, t0),
           _ti("parse_documents", 0, 13, 40, t0), _ti("parse_documents", 1, 13, 43, t0),
           _ti("load_warehouse", -1, 45, 50, t0),
           _ti("send_alerts", -1, 51, None, t0)]  # never ended: not counted
    base = t0.timestamp()
    works = [{"task_id": "crawl_cities", "map_index": 0, "try_number": 1, "began": base + 2, "ended": base + 9},
             {"task_id": "crawl_cities", "map_index": 1, "try_number": 1, "began": base + 2, "ended": base + 11},
             {"task_id": "parse_documents", "map_index": 0, "try_number": 1, "began": base + 15, "ended": base + 39},
             {"task_id": "parse_documents", "map_index": 1, "try_number": 1, "began": base + 15, "ended": base + 42}]
    # load_warehouse has no timed work (a killed task, say): its 5 s are counted as overhead.
    seconds = bench.stack_breakdown(tis, works, slots=2, wall_s=60.0)
    busy = 10 + 12 + 27 + 30 + 5
    assert seconds == pytest.approx({"crawl": 7 + 9, "parse": 24 + 27, "load": 0.0,
                                     "Airflow overhead": busy - (7 + 9 + 24 + 27), "idle slots": 2 * 60 - busy})


def test_phases_span_from_their_first_start_to_their_last_end():
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    tis = [_ti("list_cities", -1, 3, 5, t0), _ti("crawl_cities", 0, 6, 10, t0), _ti("crawl_cities", 1, 7, 12, t0),
           _ti("parse_documents", 0, 13, 40, t0), _ti("parse_documents", 1, 14, 43, t0),
           _ti("load_warehouse", -1, 45, 50, t0), _ti("send_alerts", -1, 51, None, t0)]
    assert bench.phase_spans(tis, t0) == pytest.approx({"start": 3, "plan": 2, "crawl": 6, "parse": 30, "load": 5})


def test_projection_arithmetic():
    p = bench.project(bodies=300, pdfs=3000, first_docs_per_s=1.5, again_wall_s=120.0,
                      national_bodies=1788, changed_share=0.01)
    assert p.pdfs_per_body == 10.0 and p.national_pdfs == 17880
    assert p.first_load_s == pytest.approx(17880 / 1.5)  # 11,920 s
    assert p.no_change_s == pytest.approx(120.0 / 300 * 1788)  # 715.2 s
    assert p.ordinary_night_s == pytest.approx(715.2 + 178.8 / 1.5)
    assert p.no_change_300_s == 120.0
    small = bench.project(bodies=50, pdfs=500, first_docs_per_s=1.0, again_wall_s=100.0)
    assert small.no_change_300_s == 600.0 and "600 s = 10.0 min (linear: an upper bound)" in small.lines[0]
    text = "\n".join(p.lines)
    for shown in ("120.0 s / 300 bodies × 300 = 120 s = 2.0 min (measured)", "3,000 PDFs / 300 bodies = 10.00", "17,880 PDFs / 1.50 docs/s = 11,920 s = 3.3 h",
                  "120.0 s / 300 bodies × 1,788 = 715 s", "179 PDFs", "834 s = 13.9 min"):
        assert shown in text


def _night(config: str, night: str, wall_s: float, documents: int) -> bench.Night:
    return bench.Night(config, night, "success", wall_s, documents, 0, documents * 20, 0, 0, 0, documents, 10, 0)


def test_scale_out_is_the_ratio_of_median_first_night_rates():
    nights = [_night("stack-1", "first", 100, 100), _night("stack-1", "first", 110, 100),
              _night("stack-1", "first", 90, 100), _night("stack-2", "first", 55, 100),
              _night("stack-2", "again", 5, 0)]
    assert bench.scale_out_line(nights) == f"scale-out: 2 workers / 1 worker = {(100 / 55) / (100 / 100):.2f}×"
    assert "n/a" in bench.scale_out_line(nights[:3])
    assert bench.spread([1.0, 3.0, 2.0]) == "2.00 (1.00–3.00)" and bench.spread([2.0]) == "2.00"


def test_a_report_of_first_nights_alone_has_no_no_change_section_and_still_its_ratio():
    """--nights first (repeats of the scale-out): the no-change night and the projections built on
    it are left out, not printed empty."""
    nights = [_night("stack-1", "first", 100, 100), _night("stack-2", "first", 55, 100)]
    text = "\n".join(bench.report(nights))
    assert "first night" in text and "| stack-2 | 1 | success | 100 |" in text
    assert "nothing changed" not in text and "projection" not in text
    assert bench.scale_out_line(nights).endswith(f"{100 / 55:.2f}×")
    both = "\n".join(bench.report(nights + [_night("stack-1", "again", 50, 0)]))
    assert "again, nothing changed" in both and "projection, stack-1" in both


def test_the_crawl_floor_is_requests_times_the_real_delay_over_hosts_crawled_at_once():
    from extract.http import HttpLimits
    from piawatch.batches import CRAWL_THREADS

    assert HttpLimits().delay_seconds == 1.0 and CRAWL_THREADS == 8
    assert [bench.slots_of(c) for c in ("in-process", "stack-1", "stack-2")] == [1, 1, 2]
    lines = bench.crawl_floor(requests=4800, bodies=300, slots=2, national_bodies=1788)
    assert "4,800 requests / 300 bodies = 16.0 a body; 8 hosts a crawl slot × 2 = 16 at once" in lines[0]
    assert lines[1] == "    300 bodies: 16.0 × 1 s × 300 / 16 = 300 s = 5.0 min at least"  # 16 × 300 / 16
    assert lines[2] == "    national: 16.0 × 1 s × 1,788 / 16 = 1,788 s = 29.8 min at least"


def test_cpu_by_process_sums_the_workers_and_what_serves_them():
    stack = {"worker1": 300.0, "worker2": 280.0, "scheduler": 40.0, "api-server": 25.0, "postgres": 15.0}
    assert bench.cpu_by_role(stack) == {"scheduler": 40.0, "api-server": 25.0, "postgres": 15.0, "workers": 580.0,
                                        "serving": 80.0, "total": 660.0}
    # The bench's own process (the country's web server) neither serves the workers nor is one.
    assert bench.cpu_by_role({**stack, bench.BENCH_ITSELF: 12.0})["serving"] == 80.0
    two = [_night("stack-2", "first", 400, 100), _night("stack-2", "first", 320, 100)]
    two[0].cpu, two[1].cpu = stack, {**stack, "scheduler": 24.0}
    alone = _night("in-process", "first", 500, 100)
    alone.cpu = {"piawatch run": 450.0}
    lines = bench._cpu_table({"stack-2": two, "in-process": [alone]}, "CPU")
    assert lines[2] == ("| config | api-server | piawatch run | postgres | scheduler | workers | serving | total "
                        "| serving / wall |")
    # serving / wall: 80 / 400 = 20 %, 64 / 320 = 20 %; in-process has nothing serving it.
    assert lines[4] == ("| stack-2 | 25.0 (25.0–25.0) | — | 15.0 (15.0–15.0) | 32.0 (24.0–40.0) | 580.0 (580.0–580.0) "
                        "| 72.0 (64.0–80.0) | 652.0 (644.0–660.0) | 20% (20%–20%) |")
    assert lines[5] == "| in-process | — | 450.0 | — | — | — | — | 450.0 | — |"
    assert bench._cpu_table({"stack-1": [_night("stack-1", "first", 1, 1)]}, "CPU") == []  # none measured
