"""How fast the static site builds, and how big it is, for a country-sized warehouse.

Generates a synthetic warehouse of N cities and M assessments from the corpus's ground-truth
records (demo/corpus/truth/*.json): the records go through the real loader and quality rules once,
then SQL copies them, findings included, across the cities (``synthetic_warehouse``). It publishes
the read-only copy the site reads, then measures:

- a cold build (empty site directory);
- a rebuild with nothing changed (every page's content hash matches: nothing is rendered);
- the total size of the site.

Each build is reported in wall time and in this process's CPU time.

    .venv/bin/python tools/bench_site.py                       # 1,800 cities, 50,000 assessments
    .venv/bin/python tools/bench_site.py --cities 40 --assessments 600
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

TRUTH = PROJECT_ROOT / "demo" / "corpus" / "truth"
PREFECTURES = ("北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 "
               "富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 "
               "鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 "
               "鹿児島県 沖縄県").split()


def truth_records() -> list[dict]:
    """The corpus's ground-truth records that are assessments (not the broken files)."""
    return [record for _, record in _truths()]


def _truths() -> list[tuple[int, dict]]:
    """(the size of its PDF in bytes, the record) of each ground-truth assessment of the corpus."""
    found = [(PROJECT_ROOT / "demo" / "corpus" / "pdf" / f"{path.stem}.pdf", json.loads(path.read_text(encoding="utf-8")))
             for path in sorted(TRUTH.glob("*.json"))]
    return [(pdf.stat().st_size, record) for pdf, record in found if record.get("kind")]


@dataclass(frozen=True)
class SyntheticCity:
    """What the loader reads of a registry entry (load_run's ``cities``)."""

    code: str
    slug: str
    name: str
    prefecture: str
    urls: tuple[str, ...]
    demo: bool = True


def synthetic_cities(count: int) -> list[SyntheticCity]:
    return [SyntheticCity(f"9{i:05d}", f"city{i:05d}", f"合成市{i:05d}", PREFECTURES[i % len(PREFECTURES)],
                          (f"http://127.0.0.1/city{i:05d}/",)) for i in range(count)]


def stage_synthetic_run(staging_dir: Path, cities, assessments: int, fetched_at: datetime) -> None:
    """Stage one crawl per city and one parsed record per document, as the crawl and parse steps do:
    the records in the parse step's batches (``piawatch.batches.parse_batches`` by the size of each
    record's corpus PDF), each batch through ``load.staging.stage_parses``, the parse step's own
    (each record's JSON, the batch's typed file).

    Record i goes to city i mod N and is a copy of truth record i mod T, with its own 評価書番号 and
    公表日, so every city has a mix of kinds, the corpus's planted problems and clean documents.
    """
    from load.staging import stage_parses
    from piawatch.batches import AIRFLOW_MAX_MAP_LENGTH, parse_batches

    truths = _truths()
    per_city: dict[str, list[dict]] = {c.code: [] for c in cities}
    (staging_dir / "parse").mkdir(parents=True, exist_ok=True)
    (staging_dir / "crawl").mkdir(parents=True, exist_ok=True)
    documents = [{"sha256": hashlib.sha256(f"{cities[i % len(cities)].code}:{i}:{truths[i % len(truths)][1]['kind']}"
                                           .encode()).hexdigest(), "i": i, "bytes": truths[i % len(truths)][0]}
                 for i in range(assessments)]
    for batch in parse_batches(documents, lambda doc: doc["bytes"], max_batches=AIRFLOW_MAX_MAP_LENGTH):
        parses = []
        for doc in sorted(batch, key=lambda doc: doc["i"]):
            i, sha = doc["i"], doc["sha256"]
            city = cities[i % len(cities)]
            record = json.loads(json.dumps(truths[i % len(truths)][1]))
            record["assessment_number"] = i // len(cities) + 1
            published = date(2019, 1, 1) + timedelta(days=(i * 37) % 2500)
            if record.get("published_on"):
                record["published_on"] = published.isoformat()
            record["organization"] = f"{city.name}長"
            url = f"{city.urls[0]}pia/{record['assessment_number']:03d}-{record['kind']}.pdf"
            record["source"] = {**(record.get("source") or {}), "sha256": sha}
            parses.append({"sha256": sha, "parser_version": "bench", "url": url, "record": record})
            per_city[city.code].append({"url": url, "sha256": sha, "bytes": doc["bytes"],
                                        "link_text": record.get("title"), "found_on": city.urls[0],
                                        "content_type": "application/pdf", "etag": None, "last_modified": None,
                                        "fetched_at": fetched_at.isoformat(), "is_new_version": True})
        stage_parses(staging_dir, parses)
    for city in cities:
        documents = per_city[city.code]
        (staging_dir / "crawl" / f"{city.code}.json").write_text(json.dumps({
            "city_code": city.code, "crawled_at": fetched_at.isoformat(),
            "pages": [{"url": city.urls[0], "status": 200, "encoding": "utf-8", "found_on": None}],
            "links": [{"url": d["url"], "link_text": d["link_text"], "found_on": d["found_on"]} for d in documents],
            "fetches": [], "documents": documents, "failures": []}, ensure_ascii=False), encoding="utf-8")


SEED_CITY = SyntheticCity("800000", "seed", "見本市", "東京都", ("http://127.0.0.1/seed/",))
# Tables keyed by a document version (sha256, city_code): copied row for row for each new document.
DOCUMENT_TABLES = ("documents", "assessments", "assessment_files", "file_outsourcing", "risk_answers",
                   "change_rows", "findings")


def synthetic_warehouse(settings, cities: int, assessments: int, run_id: str = "bench1") -> dict:
    """A country of ``cities`` cities and ``assessments`` assessments; returns the timings.

    Loading and checking 50,000 records one by one would measure the loader, not the site. So one
    city's worth of documents (every truth record once) goes through the real loader and the real
    quality rules, and SQL then copies those rows, findings included, to the synthetic cities:
    assessment i of the country is a copy of seed document i mod T in city i mod N, with its own
    sha256, 評価書番号 and 公表日.
    """
    from load.export import publish_copy
    from load.connection import connect, write_transaction
    from load.loader import load_run
    from quality import check_warehouse

    timings = {}
    started = time.perf_counter()
    seeds = len(truth_records())
    stage_synthetic_run(settings.run_staging_dir(run_id), [SEED_CITY], seeds,
                        datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc))
    load_run(settings.warehouse, run_id, settings.run_staging_dir(run_id), cities=[SEED_CITY])
    with connect(settings.warehouse) as con:
        check_warehouse(con, run_id, today=date(2026, 11, 23))
    timings["seed_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with connect(settings.warehouse) as con:
        write_transaction(con, lambda c: _copy_seed(c, synthetic_cities(cities), assessments), describe="bench copy")
    publish_copy(settings.warehouse.path)
    timings["copy_s"] = time.perf_counter() - started
    return timings


def _copy_seed(con, cities: list[SyntheticCity], assessments: int) -> None:
    con.execute("CREATE TEMP TABLE bench_cities (i INTEGER, code VARCHAR, slug VARCHAR, name VARCHAR, "
                "prefecture VARCHAR, url VARCHAR)")
    con.executemany("INSERT INTO bench_cities VALUES (?, ?, ?, ?, ?, ?)",
                    [(i, c.code, c.slug, c.name, c.prefecture, c.urls[0]) for i, c in enumerate(cities)])
    con.execute("""
        CREATE TEMP TABLE bench_map AS
        WITH seeds AS (SELECT sha256 AS seed_sha, row_number() OVER (ORDER BY sha256) - 1 AS k
                       FROM assessments WHERE city_code = ?)
        SELECT s.seed_sha, c.code AS new_code, c.url AS city_url, c.name AS city_name,
               CAST(t.i // ? + 1 AS INTEGER) AS new_number, sha256('bench:' || t.i) AS new_sha,
               DATE '2019-01-01' + CAST((t.i * 37) % 2500 AS INTEGER) AS published
        FROM range(?) t(i)
        JOIN bench_cities c ON c.i = t.i % ?
        JOIN seeds s ON s.k = t.i % (SELECT count(*) FROM seeds)""",
                [SEED_CITY.code, len(cities), assessments, len(cities)])
    con.execute("""INSERT INTO municipalities SELECT m.* REPLACE (c.code AS city_code, c.slug AS slug, c.name AS name,
                   c.prefecture AS prefecture, [c.url] AS urls) FROM municipalities m, bench_cities c
                   WHERE m.city_code = ?""", [SEED_CITY.code])
    con.execute("""INSERT INTO sources SELECT s.* REPLACE (c.url AS url, c.code AS city_code) FROM sources s, bench_cities c
                   WHERE s.city_code = ? AND s.entry_page""", [SEED_CITY.code])
    replaced = {
        "documents": "m.city_url || 'pia/' || m.new_number || '.pdf' AS url, m.city_url || 'pia/' || m.new_number || '.pdf' AS last_url",
        "assessments": "m.new_number AS assessment_number, m.city_url || 'pia/' || m.new_number || '.pdf' AS url, "
                       "CASE WHEN t.published_on IS NOT NULL THEN m.published END AS published_on, "
                       "m.city_name || '長' AS organization",
        "findings": "sha256(m.new_sha || t.rule || coalesce(t.finding_key, '')) AS finding_id, "
                    "m.new_number AS assessment_number, m.city_name || '長' AS organization",
    }
    for table in DOCUMENT_TABLES:
        extra = (", " + replaced[table]) if table in replaced else ""
        con.execute(f"""INSERT INTO {table} SELECT t.* REPLACE (m.new_sha AS sha256, m.new_code AS city_code{extra})
                        FROM {table} t JOIN bench_map m ON t.sha256 = m.seed_sha AND t.city_code = ?""",
                    [SEED_CITY.code])
    for table in (*DOCUMENT_TABLES, "sources", "municipalities", "failures", "fetch_log"):
        con.execute(f"DELETE FROM {table} WHERE city_code = ?", [SEED_CITY.code])
    con.execute("DROP TABLE bench_map")
    con.execute("DROP TABLE bench_cities")


def cpu_seconds() -> float:
    """CPU time of this process: on a shared machine, wall time says more about the neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cities", type=int, default=1800)
    parser.add_argument("--assessments", type=int, default=50000)
    parser.add_argument("--keep", type=Path, help="build in this data directory and keep it (default: a temporary "
                                                  "one); a warehouse generated there before is reused")
    args = parser.parse_args()

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="piawatch-bench-site-"))
    os.environ["PIAWATCH_DATA_DIR"] = str(data_dir)
    os.environ.pop("PIAWATCH_WAREHOUSE", None)
    from ground.settings import load_settings
    from website import build_site

    settings = load_settings()
    print(f"synthetic warehouse: {args.cities} cities, {args.assessments} assessments in {data_dir}", flush=True)
    if args.keep and settings.warehouse.path.exists():
        from load.export import publish_copy

        print("  reusing the warehouse generated there before", flush=True)
        publish_copy(settings.warehouse.path)
    else:
        timings = synthetic_warehouse(settings, args.cities, args.assessments)
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), flush=True)
    shutil.rmtree(settings.reports_dir / "site", ignore_errors=True)
    cpu = cpu_seconds()
    cold = build_site(settings)
    cold_cpu, cpu = cpu_seconds() - cpu, cpu_seconds()
    files, size = tree_size(cold.index.parent)
    print(f"cold build        {cold.seconds:7.1f} s wall, {cold_cpu:6.1f} s CPU  ({cold.rendered} files written)",
          flush=True)
    warm = build_site(settings)
    print(f"no-change rebuild {warm.seconds:7.1f} s wall, {cpu_seconds() - cpu:6.1f} s CPU  "
          f"({warm.rendered} files written, {warm.skipped} unchanged)")
    print(f"site size         {size / 1e6:7.1f} MB in {files} files "
          f"(search index {(cold.index.parent / 'assets' / 'search-index.js').stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
