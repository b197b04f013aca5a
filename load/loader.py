"""Loading one run's staged files into the warehouse, in one transaction.

``load_run`` reads one run's staged JSON (docs/architecture.md) and writes it in one transaction:
either everything of the run is stored or, after any error, nothing is and the warehouse is as it
was. It is idempotent: every row is keyed on sha256 or a natural key, staged duplicates are
resolved explicitly before writing, and loading the same run twice changes nothing. History is
kept: a PDF with new bytes is a new document version; for a known version only the last-seen
columns move. Runs load in the order they crawled: a run older than one already loaded is refused
(``OutOfOrderLoad``) rather than rewinding what was last seen.

The crawl files and parse failures are checked and typed in Python (``ground.rows``,
``load.staging``); the records arrive checked and typed already, as the typed files the parse step
wrote (``load.typed``), read in C and checked against their schema. Each table is then written by
one statement that reads the run's rows as an Arrow table (``load.merge``); the records' child
rows are unnested from their typed rows in SQL.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ground.errors import BadStagedFile, PiaWatchError
from ground.rows import CHILD_TABLES, RECORD_EXTRA_COLUMNS, as_bool, as_int, as_text, as_timestamp
from ground.schema import FIELD_NAMES
from load import staging
from load.connection import connect, write_transaction
from load.merge import Registered, merge_rows
from load.runs import record_run_step
from load.schema import IntegrityError
from load.staging import StagedRun
from load.typed import child_column

log = logging.getLogger(__name__)

LOAD_THREADS = 1  # DuckDB's threads while a run loads (_load_staged)


class OutOfOrderLoad(PiaWatchError):
    """Loading a run older than one already loaded would move "last seen" facts back in time."""

    code = "out_of_order_load"


# --- loading a run ---------------------------------------------------------------------------------
def failure_id(stage: str, *, city_code: str | None, url: str | None, sha256: str | None) -> str:
    """A parse failure is the document version's; any other is the URL's in that city."""
    key = f"parse\x1f{sha256}" if stage == "parse" else f"{stage}\x1f{city_code}\x1f{url}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _is_success(status) -> bool:
    """2xx only: a 304 says nothing changed, which does not cure an earlier failure."""
    return isinstance(status, int) and 200 <= status < 300


def load_run(warehouse, run_id: str, staging_dir, *, cities=None, replace: bool = False) -> dict:
    """Load everything staged for ``run_id`` in one transaction; return the run's counts.

    ``warehouse`` is a ``load.backend.Warehouse`` or a DuckDB file's path.

    ``cities`` is the registry (``extract.registry.load_registry``): objects with ``code``,
    ``slug``, ``name``, ``prefecture``, ``demo`` and ``urls``; when given, ``municipalities`` is
    brought up to date from it.

    ``replace``: a staged record replaces the stored one even when made by the same parser version
    (``piawatch reparse --all``, after something outside the parser changed its output).
    """
    started = time.monotonic()
    with _no_garbage_collection():
        staged = staging.read_staged_run(Path(staging_dir))
        return _load_staged(warehouse, run_id, staged, started, cities=cities, replace=replace)


@contextmanager
def _no_garbage_collection():
    """A run's staged records become millions of small objects that all live until the end of the
    load; the collector would walk them again and again (a third of a 50,000-record load) and free
    nothing. Reference counting still frees what is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_staged(warehouse, run_id: str, staged: StagedRun, started: float, *, cities, replace: bool) -> dict:
    def load(con) -> dict:
        _refuse_older_run(con, run_id, staged)
        counts = {"cities": len(staged.crawls)}
        if cities is not None:
            _load_municipalities(con, run_id, cities)
        counts["pages"] = _load_sources(con, run_id, staged)
        counts.update(_load_documents(con, run_id, staged))
        counts["assessments_loaded"] = _load_assessments(con, run_id, staged, replace=replace)
        counts["fetches"] = _load_fetch_log(con, run_id, staged)
        counts.update(_load_failures(con, run_id, staged))
        record_run_step(con, run_id, "load", seconds=round(time.monotonic() - started, 3), counts=counts)
        return counts

    with connect(warehouse) as con:
        # One thread: the load's statements are many and short, and on the 2-core machine DuckDB's
        # second thread doubled their CPU (50,000 assessments: 20 against 9.5 CPU s) and did not
        # shorten the load (43 against 30 s of wall time on the shared machine; README, "Loading speed").
        con.execute(f"SET threads = {LOAD_THREADS}")
        try:
            counts = write_transaction(con, load, describe=f"loading run {run_id}")
        except IntegrityError as exc:
            raise BadStagedFile(f"run {run_id} would break the warehouse's keys or allowed values: {exc}") from exc
    log.info("loaded run %s: %s", run_id, counts)
    return counts


def _refuse_older_run(con, run_id: str, staged: StagedRun) -> None:
    crawled = [as_timestamp(c.data["crawled_at"], f"{c.path} crawled_at") for c in staged.crawls]
    if not crawled:
        return
    newer = con.execute("""
        SELECT last_seen_run, last_seen_at FROM sources
        WHERE last_seen_run <> ? AND last_seen_at > ? ORDER BY last_seen_at DESC LIMIT 1
        """, [run_id, max(crawled)]).fetchone()
    if newer:
        raise OutOfOrderLoad(f"run {run_id} crawled at {max(crawled).isoformat()}, before run {newer[0]} "
                             f"({newer[1].isoformat()}) which is already loaded; loading it now would "
                             f"rewind what was last seen")


def _load_municipalities(con, run_id: str, cities) -> None:
    rows = {c.code: (c.code, c.slug, c.name, c.prefecture, bool(c.demo), list(c.urls), run_id, run_id)
            for c in cities}
    merge_rows(con, "municipalities",
               ("city_code", "slug", "name", "prefecture", "demo", "urls", "first_seen_run", "last_seen_run"),
               list(rows.values()),
               update="slug = staged.slug, name = staged.name, prefecture = staged.prefecture, demo = staged.demo, "
                      "urls = staged.urls, last_seen_run = staged.last_seen_run")


def _load_sources(con, run_id: str, staged: StagedRun) -> int:
    # A page read twice in one crawl (a retry, two links to it): the last read is its outcome.
    pages: dict[str, tuple] = {}
    count = 0
    for crawl in staged.crawls:
        city = crawl.data["city_code"]
        crawled_at = as_timestamp(crawl.data["crawled_at"], f"{crawl.path} crawled_at")
        for i, page in enumerate(crawl.data["pages"]):
            where = f"{crawl.path} pages[{i}]"
            url = as_text(page.get("url"), f"{where}.url")
            if url is None:
                raise BadStagedFile(f"{where}: a page without a url")
            found_on = as_text(page.get("found_on"), f"{where}.found_on")
            pages[url] = (url, city, found_on is None, found_on,
                          as_text(page.get("encoding"), f"{where}.encoding"),
                          as_int(page.get("status"), f"{where}.status"),
                          run_id, run_id, crawled_at, crawled_at)
            count += 1
    merge_rows(con, "sources",
               ("url", "city_code", "entry_page", "found_on", "encoding", "last_status",
                "first_seen_run", "last_seen_run", "first_seen_at", "last_seen_at"),
               list(pages.values()),
               update="encoding = staged.encoding, last_status = staged.last_status, "
                      "last_seen_run = staged.last_seen_run, last_seen_at = staged.last_seen_at")
    return count


# Sorts a sighting without a fetch time after every timed one.
_UNKNOWN_TIME = datetime.max.replace(tzinfo=timezone.utc)


def _staged_documents(staged: StagedRun) -> dict[tuple[str, str], dict]:
    """One entry per (sha256, city): the earliest sighting gives url and link text, the latest the rest."""
    sightings: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for crawl in staged.crawls:
        city = crawl.data["city_code"]
        for i, doc in enumerate(crawl.data["documents"]):
            where = f"{crawl.path} documents[{i}]"
            sha = as_text(doc.get("sha256"), f"{where}.sha256")
            url = as_text(doc.get("url"), f"{where}.url")
            if not sha or not url:
                raise BadStagedFile(f"{where}: a document needs sha256 and url")
            fetched_at = as_timestamp(doc.get("fetched_at"), f"{where}.fetched_at")
            sightings[(sha, city)].append({**doc, "fetched_at": fetched_at, "where": where})
    merged = {}
    for key, seen in sightings.items():
        seen.sort(key=lambda d: d["fetched_at"] or _UNKNOWN_TIME)
        first, last = seen[0], seen[-1]
        merged[key] = {
            "url": first["url"], "last_url": last["url"],
            "bytes": as_int(last.get("bytes"), f"{last['where']}.bytes"),
            "link_text": as_text(first.get("link_text"), f"{first['where']}.link_text"),
            "found_on": as_text(first.get("found_on"), f"{first['where']}.found_on"),
            "content_type": as_text(last.get("content_type"), f"{last['where']}.content_type"),
            "etag": as_text(last.get("etag"), f"{last['where']}.etag"),
            "last_modified": as_text(last.get("last_modified"), f"{last['where']}.last_modified"),
            "first_seen_at": first["fetched_at"], "last_seen_at": last["fetched_at"],
        }
    return merged


def _load_documents(con, run_id: str, staged: StagedRun) -> dict:
    documents = _staged_documents(staged)
    rows = [(sha, city, d["url"], d["last_url"], d["bytes"], d["link_text"], d["found_on"], d["content_type"],
             d["etag"], d["last_modified"], run_id, run_id, d["first_seen_at"], d["last_seen_at"])
            for (sha, city), d in documents.items()]
    merge_rows(con, "documents",
               ("sha256", "city_code", "url", "last_url", "bytes", "link_text", "found_on", "content_type",
                "etag", "last_modified", "first_seen_run", "last_seen_run", "first_seen_at", "last_seen_at"),
               rows,
               update="last_url = staged.last_url, content_type = staged.content_type, etag = staged.etag, "
                      "last_modified = staged.last_modified, last_seen_run = staged.last_seen_run, "
                      "last_seen_at = staged.last_seen_at")
    new = con.execute("SELECT count(*) FROM documents WHERE first_seen_run = ?", [run_id]).fetchone()[0]
    return {"documents_seen": len(documents), "documents_new": new}


def _cities_by_sha(con) -> dict[str, set[str]]:
    cities: dict[str, set[str]] = defaultdict(set)
    for sha, city in con.execute("SELECT sha256, city_code FROM documents").fetchall():
        cities[sha].add(city)
    return cities


# Every column of assessments: the row's key and provenance, then the record's.
_ASSESSMENT_COLUMNS = ("sha256", "city_code", "url", "parser_version", "loaded_run", *FIELD_NAMES,
                       *RECORD_EXTRA_COLUMNS)
# The tables a document version's record is written to (a replaced record is deleted from each).
_RECORD_TABLES = (*(table.name for table in CHILD_TABLES), "assessments")


def _load_assessments(con, run_id: str, staged: StagedRun, *, replace: bool = False) -> int:
    """Insert new records; a record of the same bytes from another parser version replaces the old.

    The run's typed rows (``load.typed``, checked against its schema when read) are one Arrow table;
    each record is written once for every city that links its document, each table in one statement.
    """
    if staged.records.num_rows:
        with Registered(con, staged.records) as typed:
            _insert_records(con, run_id, staged, typed, replace)
    # Counted from the table, not from this call, so loading the run again reports the same.
    return con.execute("SELECT count(*) FROM assessments WHERE loaded_run = ?", [run_id]).fetchone()[0]


def _insert_records(con, run_id: str, staged: StagedRun, typed: str, replace: bool) -> None:
    orphan = con.execute(f"SELECT sha256 FROM {typed} WHERE sha256 NOT IN (SELECT sha256 FROM documents) "
                         f"ORDER BY sha256 LIMIT 1").fetchall()
    if orphan:
        sha = orphan[0][0]
        raise BadStagedFile(f"{staged.record_files[sha]}: no crawl staged the document {sha}, so its city is unknown")
    # (sha256, city) to write: new ones, and those a record of another parser version holds
    # (or any, with ``replace``); ``replaced``: a row is there to delete first.
    targets = con.execute(f"""
        SELECT t.sha256, d.city_code, a.sha256 IS NOT NULL AS replaced
        FROM {typed} t JOIN documents d ON d.sha256 = t.sha256
        LEFT JOIN assessments a ON a.sha256 = d.sha256 AND a.city_code = d.city_code
        WHERE a.sha256 IS NULL OR a.parser_version IS DISTINCT FROM t.parser_version OR ?""",
                          [replace]).to_arrow_table()
    replaced = [f"{sha}/{city}" for sha, city, again in zip(*(targets.column(i).to_pylist() for i in range(3)))
                if again]
    if replaced:
        for table in _RECORD_TABLES:
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, sha256 || '/' || city_code)", [replaced])
    values = ", ".join(f"t.{column}" for column in _ASSESSMENT_COLUMNS[5:])
    with Registered(con, targets) as written:
        try:
            con.execute(f"""
                INSERT INTO assessments ({', '.join(_ASSESSMENT_COLUMNS)})
                SELECT t.sha256, w.city_code, t.url, t.parser_version, ?, {values}
                FROM {typed} t JOIN {written} w ON w.sha256 = t.sha256""", [run_id])
            for table in CHILD_TABLES:
                columns = table.column_names
                con.execute(f"""
                    INSERT INTO {table.name} ({', '.join(columns)})
                    SELECT w.sha256, w.city_code, {', '.join(f'c.{column}' for column in columns[2:])}
                    FROM (SELECT sha256, unnest({child_column(table)}, recursive := true) FROM {typed}) c
                    JOIN {written} w ON w.sha256 = c.sha256""")
        except duckdb.ConstraintException as exc:
            raise BadStagedFile(f"a staged record of run {run_id} breaks a warehouse constraint: {exc}") from exc
        con.execute(f"""
            UPDATE documents SET kind = s.kind, pages = s.pages
            FROM (SELECT w.sha256, w.city_code, t.kind, t.pages FROM {typed} t JOIN {written} w ON w.sha256 = t.sha256) s
            WHERE documents.sha256 = s.sha256 AND documents.city_code = s.city_code""")


def _load_fetch_log(con, run_id: str, staged: StagedRun) -> int:
    rows = []
    for crawl in staged.crawls:
        city = crawl.data["city_code"]
        for seq, fetch in enumerate(crawl.data["fetches"], start=1):
            where = f"{crawl.path} fetches[{seq - 1}]"
            url = as_text(fetch.get("url"), f"{where}.url")
            if url is None:
                raise BadStagedFile(f"{where}: a fetch without a url")
            rows.append((run_id, city, seq, url, as_text(fetch.get("method"), f"{where}.method"),
                         as_int(fetch.get("status"), f"{where}.status"),
                         as_int(fetch.get("bytes"), f"{where}.bytes"),
                         as_text(fetch.get("sha256"), f"{where}.sha256"),
                         as_int(fetch.get("elapsed_ms"), f"{where}.elapsed_ms"),
                         as_bool(fetch.get("conditional"), f"{where}.conditional"),
                         as_bool(fetch.get("not_modified"), f"{where}.not_modified"),
                         as_text(fetch.get("error"), f"{where}.error"),
                         as_timestamp(fetch.get("fetched_at"), f"{where}.fetched_at")))
    columns = ("run_id", "city_code", "seq", "url", "method", "status", "bytes", "sha256", "elapsed_ms",
               "conditional", "not_modified", "error", "fetched_at")
    merge_rows(con, "fetch_log", columns, rows,
               update=", ".join(f"{column} = staged.{column}" for column in columns[3:]))
    return len(rows)


def _staged_failures(con, staged: StagedRun) -> dict[str, tuple]:
    """This run's failures by failure_id (a failure staged twice counts once: the last one)."""
    failures: dict[str, tuple] = {}
    for crawl in staged.crawls:
        city = crawl.data["city_code"]
        for i, failure in enumerate(crawl.data["failures"]):
            where = f"{crawl.path} failures[{i}]"
            stage = as_text(failure.get("stage"), f"{where}.stage")
            code = as_text(failure.get("code"), f"{where}.code")
            if not stage or not code:
                raise BadStagedFile(f"{where}: a failure needs stage and code")
            url = as_text(failure.get("url"), f"{where}.url")
            fid = failure_id(stage, city_code=city, url=url, sha256=None)
            failures[fid] = (stage, city, url, None, code, as_text(failure.get("reason"), f"{where}.reason"))
    cities = _cities_by_sha(con)
    for parse in staged.failures:
        where, error, sha = str(parse.path), parse.data["error"], parse.data["sha256"]
        if not isinstance(error, dict) or not error.get("code"):
            raise BadStagedFile(f"{where}: error needs a code")
        city = min(cities[sha]) if cities.get(sha) else None
        failures[failure_id("parse", city_code=city, url=None, sha256=sha)] = (
            "parse", city, as_text(parse.data["url"], f"{where}.url"), sha,
            as_text(error["code"], f"{where} error.code"),
            as_text(error.get("reason"), f"{where} error.reason"))
    return failures


def _succeeded(staged: StagedRun) -> tuple[list[str], list[str], list[str]]:
    """What worked this run: URLs answered 2xx or linked as a good PDF, cities whose crawl read a
    page, sha256s parsed into a record. A failure of an earlier run is resolved by these."""
    urls, cities = set(), set()
    for crawl in staged.crawls:
        pages = {p["url"] for p in crawl.data["pages"] if _is_success(p.get("status"))}
        if pages:
            cities.add(crawl.data["city_code"])
        urls.update(pages)
        urls.update(f["url"] for f in crawl.data["fetches"]
                    if _is_success(f.get("status")) and not f.get("error"))
        urls.update(d["url"] for d in crawl.data["documents"])
    return sorted(urls), sorted(cities), sorted(staged.record_files)


def _requested(staged: StagedRun) -> tuple[list[str], list[str]]:
    """(every URL the crawl requested, linked or listed this run; city/sha256 of every PDF version
    the cities link this run)."""
    urls, linked = set(), set()
    for crawl in staged.crawls:
        data = crawl.data
        urls.update(item.get("url") for key in ("pages", "links", "fetches", "documents", "failures")
                    for item in data[key] if isinstance(item, dict))
        linked.update(f"{data['city_code']}/{d.get('sha256')}" for d in data["documents"])
    return sorted(u for u in urls if u), sorted(linked)


def _load_failures(con, run_id: str, staged: StagedRun) -> dict:
    failures = _staged_failures(con, staged)
    merge_rows(con, "failures",
               ("failure_id", "run_id", "stage", "city_code", "url", "sha256", "code", "reason",
                "first_seen_run", "last_seen_run", "occurrences", "resolved", "resolved_run", "status"),
               [(fid, run_id, *row, run_id, run_id, 1, False, None, "open") for fid, row in failures.items()],
               update="run_id = staged.run_id, code = staged.code, reason = staged.reason, "
                      "url = coalesce(staged.url, failures.url), "
                      "occurrences = failures.occurrences "
                      "+ CASE WHEN failures.last_seen_run = staged.last_seen_run THEN 0 ELSE 1 END, "
                      "last_seen_run = staged.last_seen_run, resolved = false, resolved_run = NULL, "
                      "status = 'open'")
    urls, cities, shas = _succeeded(staged)
    con.execute("""
        UPDATE failures SET resolved = true, resolved_run = ?, run_id = ?, status = 'resolved'
        WHERE status = 'open' AND NOT list_contains(?, failure_id)
          AND ((stage = 'parse' AND list_contains(?, sha256))
               OR (stage = 'crawl' AND list_contains(?, city_code))
               OR (stage NOT IN ('parse', 'crawl') AND list_contains(?, url)))
        """, [run_id, run_id, list(failures), shas, cities, urls])
    # A city crawled successfully that no longer requests a URL (or links a PDF version) has
    # taken it down: its failure will never be retried, so it is closed as gone.
    requested, linked = _requested(staged)
    con.execute("""
        UPDATE failures SET resolved_run = ?, run_id = ?, status = 'gone'
        WHERE status = 'open' AND list_contains(?, city_code) AND NOT list_contains(?, failure_id)
          AND ((stage = 'parse' AND NOT list_contains(?, city_code || '/' || sha256))
               OR (stage NOT IN ('parse', 'crawl') AND NOT list_contains(?, url)))
        """, [run_id, run_id, cities, list(failures), linked, requested])
    resolved = con.execute("SELECT count(*) FROM failures WHERE resolved_run = ? AND status = 'resolved'",
                           [run_id]).fetchone()[0]
    stages = [row[0] for row in failures.values()]
    return {"fetch_failures": sum(1 for s in stages if s != "parse"),
            "parse_failures": stages.count("parse"), "failures_resolved": resolved}
