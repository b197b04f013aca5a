"""The DuckDB warehouse: connections, the single-writer loader, and the runs table.

Single-writer rule: DuckDB lets one process hold the database file for writing, and while it
does no other process can open the file at all, not even read-only. In PIA Watch the writer is
the pipeline (``load_run``, then the check and alert steps, one after another). Analysts read an
export (``piawatch export``, ``load.export.export``), the copy the pipeline publishes after each
run (``load.export.publish_copy``), or open it with ``connect(path, read_only=True)`` while the
pipeline is idle. Trying to open a file another process holds raises ``WarehouseBusy``.

``load_run`` reads one run's staged JSON (docs/architecture.md) and writes it in one transaction:
either everything of the run is stored or, after any error, nothing is and the warehouse is as it
was. It is idempotent: every row is keyed on sha256 or a natural key, staged duplicates are
resolved explicitly before writing, and loading the same run twice changes nothing. History is
kept: a PDF with new bytes is a new document version; for a known version only the last-seen
columns move. Runs load in the order they crawled: a run older than one already loaded is refused
(``OutOfOrderLoad``) rather than rewinding what was last seen.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ground.errors import PiaWatchError
from ground.schema import FIELD_NAMES
from ground.settings import Warehouse, as_warehouse, mask_passwords
from load import staging
from load.backend import (in_transaction, open_lake, retrying_conflicts)
from load.schema import KEYS, IntegrityError, apply_migrations, check_integrity
from load.staging import BadStagedFile, StagedRun
from load.views import create_views

log = logging.getLogger(__name__)


class WarehouseBusy(PiaWatchError):
    """Another process holds the warehouse file (DuckDB allows one writer and then no readers)."""

    code = "warehouse_busy"


class WarehouseMissing(PiaWatchError):
    code = "warehouse_missing"


class OutOfOrderLoad(PiaWatchError):
    """Loading a run older than one already loaded would move "last seen" facts back in time."""

    code = "out_of_order_load"


class WarehouseUnavailable(PiaWatchError):
    """The DuckLake's catalog cannot be reached or read."""

    code = "warehouse_unavailable"


def connect(target, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (a ``Warehouse``, or a DuckDB file's path).

    A write connection first brings the schema and views up to date.
    """
    warehouse = as_warehouse(target)
    con = _open_lake(warehouse, read_only) if warehouse.is_lake else _open_file(warehouse.path, read_only)
    if not read_only:
        try:
            retrying_conflicts(lambda: (apply_migrations(con), create_views(con)),
                               describe=f"migrating {warehouse}")
        except Exception:
            con.close()
            raise
    return con


def _open_file(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise WarehouseMissing(f"no warehouse at {path}: run the pipeline (piawatch run) first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(f"{path} is open for writing by another process (DuckDB has a single "
                                f"writer); read an export or a copy, or wait for the pipeline") from exc
        raise


def _open_lake(warehouse: Warehouse, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = open_lake(warehouse, read_only)
    except duckdb.Error as exc:
        if read_only and "does not exist" in str(exc):
            raise WarehouseMissing(f"the DuckLake {warehouse} holds no warehouse yet: run the pipeline first") from None
        raise WarehouseUnavailable(f"cannot open the DuckLake {warehouse}: {mask_passwords(str(exc))}") from None
    if read_only and not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                     "AND table_name = 'schema_version'").fetchone()[0]:
        con.close()
        raise WarehouseMissing(f"the DuckLake {warehouse} holds no warehouse yet: run the pipeline first")
    return con


def write_transaction(con, work, *, describe: str = "write"):
    """``work(con)`` in one transaction that commits only if the warehouse keeps its integrity.

    ``check_integrity`` (keys and allowed values, which DuckLake cannot declare) runs before the
    COMMIT. On a DuckLake, a COMMIT refused because another writer changed the same table first
    is run again from the start, on the other writer's result.
    """
    return retrying_conflicts(lambda: in_transaction(con, work, before_commit=check_integrity),
                              describe=describe)


_ONE_ROW = re.compile(r"VALUES\s*(\([^()]*\))")
_ROWS_PER_STATEMENT = 500


def _execute_many(con, sql: str, rows: list) -> None:
    """Run a statement written for one ``VALUES (…)`` row on many rows, a few hundred at a time.

    DuckDB's executemany runs the statement once per row, which made loading the corpus slow;
    one multi-row VALUES list is one statement. Staged rows are de-duplicated before this, so no
    key appears twice in one statement (MERGE would refuse that).
    """
    match = _ONE_ROW.search(sql)
    if match is None:
        raise ValueError(f"no VALUES (…) row to repeat in: {sql}")
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start:start + _ROWS_PER_STATEMENT]
        values = ", ".join([match.group(1)] * len(chunk))
        statement = sql[:match.start(1)] + values + sql[match.end(1):]
        con.execute(statement, [value for row in chunk for value in row])


def merge_rows(con, table: str, columns: tuple[str, ...], rows: list, *, update: str | None) -> None:
    """Upsert ``rows`` (tuples in ``columns`` order) on the table's key (``load.schema.KEYS``).

    A new key is inserted; a key already there gets ``update``, a SET list that reads the new
    values as ``staged.<column>`` and the old ones as ``<table>.<column>`` (None: left as it is).
    MERGE rather than INSERT … ON CONFLICT, because DuckLake tables have no key constraints.
    """
    on = " AND ".join(f"{table}.{column} = staged.{column}" for column in KEYS[table])
    when_matched = f"WHEN MATCHED THEN UPDATE SET {update} " if update else ""
    _execute_many(con, f"""
        MERGE INTO {table}
        USING (VALUES ({', '.join('?' for _ in columns)})) AS staged ({', '.join(columns)})
        ON {on}
        {when_matched}WHEN NOT MATCHED THEN INSERT ({', '.join(columns)})
            VALUES ({', '.join(f'staged.{column}' for column in columns)})""", rows)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- the runs table ------------------------------------------------------------------------------
RUN_STEPS = ("crawl", "parse", "load", "check", "alert")
RUN_COUNTS = ("cities", "pages", "fetches", "documents_seen", "documents_new", "assessments_loaded",
              "fetch_failures", "parse_failures", "failures_resolved", "findings", "alerts_opened",
              "alerts_resolved", "alerts_sent")
_STEP_STAMPS = {"load": "loaded_at", "check": "checked_at", "alert": "alerted_at"}


def record_run_start(con, run_id: str, *, started_at: datetime | None = None) -> None:
    """Open the run's row (status running); starting a run again keeps its first start time."""
    merge_rows(con, "runs", ("run_id", "started_at", "status"), [(run_id, started_at or _now(), "running")],
               update="status = 'running', finished_at = NULL, error = NULL")


def _ensure_run(con, run_id: str) -> None:
    merge_rows(con, "runs", ("run_id", "status"), [(run_id, "running")], update=None)


def record_run_step(con, run_id: str, step: str, *, seconds: float | None = None,
                    counts: dict | None = None) -> None:
    """Store one step's wall time and counts (keys from RUN_COUNTS) on the run's row.

    The check step should call this once its findings are written: ``open_findings`` takes the
    findings of the latest run with ``checked_at`` set (without one, of the latest run that wrote
    findings, which is wrong on a night whose check found nothing).
    """
    if step not in RUN_STEPS:
        raise ValueError(f"unknown run step {step!r}; expected one of {', '.join(RUN_STEPS)}")
    counts = dict(counts or {})
    unknown = sorted(set(counts) - set(RUN_COUNTS))
    if unknown:
        raise ValueError(f"unknown run counts {', '.join(unknown)}; expected some of {', '.join(RUN_COUNTS)}")
    _ensure_run(con, run_id)
    assignments = {f"{step}_seconds": seconds, **counts}
    if step in _STEP_STAMPS:
        assignments[_STEP_STAMPS[step]] = _now()
    assignments = {column: value for column, value in assignments.items() if value is not None}
    if assignments:
        sets = ", ".join(f"{column} = ?" for column in assignments)
        con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*assignments.values(), run_id])


def record_run_end(con, run_id: str, *, status: str = "success", error: str | None = None,
                   finished_at: datetime | None = None) -> None:
    if status not in ("success", "partial", "failed"):
        raise ValueError(f"a run ends as success, partial or failed, not {status!r}")
    _ensure_run(con, run_id)
    con.execute("UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE run_id = ?",
                [status, error, finished_at or _now(), run_id])


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
    staged = staging.read_staged_run(Path(staging_dir))

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
        try:
            counts = write_transaction(con, load, describe=f"loading run {run_id}")
        except IntegrityError as exc:
            raise BadStagedFile(f"run {run_id} would break the warehouse's keys or allowed values: {exc}") from exc
    log.info("loaded run %s: %s", run_id, counts)
    return counts


def _refuse_older_run(con, run_id: str, staged: StagedRun) -> None:
    crawled = [staging.as_timestamp(c.data["crawled_at"], f"{c.path} crawled_at") for c in staged.crawls]
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
        crawled_at = staging.as_timestamp(crawl.data["crawled_at"], f"{crawl.path} crawled_at")
        for i, page in enumerate(crawl.data["pages"]):
            where = f"{crawl.path} pages[{i}]"
            url = staging.as_text(page.get("url"), f"{where}.url")
            if url is None:
                raise BadStagedFile(f"{where}: a page without a url")
            found_on = staging.as_text(page.get("found_on"), f"{where}.found_on")
            pages[url] = (url, city, found_on is None, found_on,
                          staging.as_text(page.get("encoding"), f"{where}.encoding"),
                          staging.as_int(page.get("status"), f"{where}.status"),
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
            sha = staging.as_text(doc.get("sha256"), f"{where}.sha256")
            url = staging.as_text(doc.get("url"), f"{where}.url")
            if not sha or not url:
                raise BadStagedFile(f"{where}: a document needs sha256 and url")
            fetched_at = staging.as_timestamp(doc.get("fetched_at"), f"{where}.fetched_at")
            sightings[(sha, city)].append({**doc, "fetched_at": fetched_at, "where": where})
    merged = {}
    for key, seen in sightings.items():
        seen.sort(key=lambda d: d["fetched_at"] or _UNKNOWN_TIME)
        first, last = seen[0], seen[-1]
        merged[key] = {
            "url": first["url"], "last_url": last["url"],
            "bytes": staging.as_int(last.get("bytes"), f"{last['where']}.bytes"),
            "link_text": staging.as_text(first.get("link_text"), f"{first['where']}.link_text"),
            "found_on": staging.as_text(first.get("found_on"), f"{first['where']}.found_on"),
            "content_type": staging.as_text(last.get("content_type"), f"{last['where']}.content_type"),
            "etag": staging.as_text(last.get("etag"), f"{last['where']}.etag"),
            "last_modified": staging.as_text(last.get("last_modified"), f"{last['where']}.last_modified"),
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


_ASSESSMENT_COLUMNS = (*FIELD_NAMES, *staging.RECORD_EXTRA_COLUMNS)
_ASSESSMENT_INSERT = (
    f"INSERT INTO assessments (sha256, city_code, url, parser_version, loaded_run, {', '.join(_ASSESSMENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in range(5 + len(_ASSESSMENT_COLUMNS)))})"
)
_CHILD_INSERTS = {
    "assessment_files": "INSERT INTO assessment_files (sha256, city_code, file_index, name, subject_band, "
                        "record_items_count, held_since, provisions, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "file_outsourcing": "INSERT INTO file_outsourcing (sha256, city_code, file_index, outsourcing_index, "
                        "contractor, handler_count, subcontracting, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "change_rows": "INSERT INTO change_rows (sha256, city_code, change_index, change_date, item, before_text, "
                   "after_text, timing, note, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "risk_answers": "INSERT INTO risk_answers (sha256, city_code, answer_index, section, question, answer, page) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
}


def _load_assessments(con, run_id: str, staged: StagedRun, *, replace: bool = False) -> int:
    """Insert new records; a record of the same bytes from another parser version replaces the old.

    Every staged record is read and checked first, then each table is written in a few
    statements: one statement per record made the first load of a large city list slow.
    """
    cities = _cities_by_sha(con)
    loaded_versions = {(sha, city): version for sha, city, version in
                       con.execute("SELECT sha256, city_code, parser_version FROM assessments").fetchall()}
    replaced: list[str] = []
    assessments: list[tuple] = []
    children: dict[str, list[tuple]] = {table: [] for table in _CHILD_INSERTS}
    documents: list[tuple] = []
    for parse in staged.parses:
        if "record" not in parse.data:
            continue
        sha, where = parse.data["sha256"], str(parse.path)
        if not cities.get(sha):
            raise BadStagedFile(f"{where}: no crawl staged the document {sha}, so its city is unknown")
        record = parse.data["record"]
        values, rows, pages = staging.record_rows(record, where)
        for city in sorted(cities[sha]):
            if (sha, city) in loaded_versions:
                if loaded_versions[(sha, city)] == parse.data["parser_version"] and not replace:
                    continue
                replaced.append(f"{sha}/{city}")
            assessments.append((sha, city, parse.data["url"], parse.data["parser_version"], run_id, *values))
            for table, table_rows in rows.items():
                children[table].extend((sha, city, *row) for row in table_rows)
            documents.append((sha, city, record.get("kind"), pages))
    if replaced:
        for table in (*_CHILD_INSERTS, "assessments"):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, sha256 || '/' || city_code)", [replaced])
    try:
        _execute_many(con, _ASSESSMENT_INSERT, assessments)
        for table, sql in _CHILD_INSERTS.items():
            _execute_many(con, sql, children[table])
    except duckdb.ConstraintException as exc:
        raise BadStagedFile(f"a staged record of run {run_id} breaks a warehouse constraint: {exc}") from exc
    _execute_many(con, """
        UPDATE documents SET kind = staged.kind, pages = staged.pages
        FROM (VALUES (?, ?, ?, ?)) AS staged (sha256, city_code, kind, pages)
        WHERE documents.sha256 = staged.sha256 AND documents.city_code = staged.city_code
        """, documents)
    # Counted from the table, not from this call, so loading the run again reports the same.
    return con.execute("SELECT count(*) FROM assessments WHERE loaded_run = ?", [run_id]).fetchone()[0]


def _load_fetch_log(con, run_id: str, staged: StagedRun) -> int:
    rows = []
    for crawl in staged.crawls:
        city = crawl.data["city_code"]
        for seq, fetch in enumerate(crawl.data["fetches"], start=1):
            where = f"{crawl.path} fetches[{seq - 1}]"
            url = staging.as_text(fetch.get("url"), f"{where}.url")
            if url is None:
                raise BadStagedFile(f"{where}: a fetch without a url")
            rows.append((run_id, city, seq, url, staging.as_text(fetch.get("method"), f"{where}.method"),
                         staging.as_int(fetch.get("status"), f"{where}.status"),
                         staging.as_int(fetch.get("bytes"), f"{where}.bytes"),
                         staging.as_text(fetch.get("sha256"), f"{where}.sha256"),
                         staging.as_int(fetch.get("elapsed_ms"), f"{where}.elapsed_ms"),
                         staging.as_bool(fetch.get("conditional"), f"{where}.conditional"),
                         staging.as_bool(fetch.get("not_modified"), f"{where}.not_modified"),
                         staging.as_text(fetch.get("error"), f"{where}.error"),
                         staging.as_timestamp(fetch.get("fetched_at"), f"{where}.fetched_at")))
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
            stage = staging.as_text(failure.get("stage"), f"{where}.stage")
            code = staging.as_text(failure.get("code"), f"{where}.code")
            if not stage or not code:
                raise BadStagedFile(f"{where}: a failure needs stage and code")
            url = staging.as_text(failure.get("url"), f"{where}.url")
            fid = failure_id(stage, city_code=city, url=url, sha256=None)
            failures[fid] = (stage, city, url, None, code, staging.as_text(failure.get("reason"), f"{where}.reason"))
    cities = _cities_by_sha(con)
    for parse in staged.parses:
        if "error" not in parse.data:
            continue
        where, error, sha = str(parse.path), parse.data["error"], parse.data["sha256"]
        if not isinstance(error, dict) or not error.get("code"):
            raise BadStagedFile(f"{where}: error needs a code")
        city = min(cities[sha]) if cities.get(sha) else None
        failures[failure_id("parse", city_code=city, url=None, sha256=sha)] = (
            "parse", city, staging.as_text(parse.data["url"], f"{where}.url"), sha,
            staging.as_text(error["code"], f"{where} error.code"),
            staging.as_text(error.get("reason"), f"{where} error.reason"))
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
    shas = {p.data["sha256"] for p in staged.parses if "record" in p.data}
    return sorted(urls), sorted(cities), sorted(shas)


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
