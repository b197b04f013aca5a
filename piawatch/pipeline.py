"""The nightly job as plain steps.

The Airflow DAG (dags/piawatch_nightly.py) calls each step as one task; ``piawatch run`` calls
them in sequence in one process. Steps that run in parallel (crawl, parse) only write files under
the run's staging directory; ``load_step`` is the one writer of the warehouse, and the steps after
it run one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ground.errors import PiaWatchError, failure_row
from ground.settings import Settings
from piawatch.batches import (CRAWL_BATCH_BUDGET_SECONDS, CRAWL_THREADS, PARSE_BATCH_BUDGET_SECONDS,
                              PARSE_BATCH_SECONDS, city_batches, parse_batches)

# Each step imports what it uses inside its function: an Airflow task imports this module for one
# step, and the crawl, parse, load and check stacks (pdfium, DuckDB, pandas, Great Expectations)
# cost seconds to import that the other steps' tasks should not pay.

log = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def run_id_from_airflow(dag_run_id: str) -> str:
    """Airflow run ids carry ':' and '+'; staging directories and DuckDB keys should not."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", dag_run_id).strip("_")


def _write_json(path: Path, payload: dict) -> None:
    """Write atomically so a killed task never leaves half a staged file for the loader."""
    from ground.state_files import write_json

    write_json(path, payload)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def city_codes(settings: Settings, *, only: list[str] | None = None, demo: bool | None = None) -> list[str]:
    """The registry entries to crawl this run (validated on load).

    ``demo``: True keeps only the demo entries, False only the real ones, None every entry.
    """
    from extract.registry import load_registry

    cities = load_registry(settings.registry_path)
    if only:
        unknown = sorted(set(only) - {c.code for c in cities})
        if unknown:
            raise PiaWatchError(f"not in the registry {settings.registry_path}: {', '.join(unknown)}")
        cities = [c for c in cities if c.code in only]
    if demo is not None:
        excluded = [c.code for c in cities if c.demo != demo]
        if only and excluded:
            raise PiaWatchError(f"{', '.join(excluded)}: {'not ' if demo else ''}demo entries of the registry, "
                                f"which a run with demo={'true' if demo else 'false'} does not crawl")
        cities = [c for c in cities if c.demo == demo]
    return [c.code for c in cities]


def plan_run(settings: Settings, *, only: list[str] | None = None, demo: bool | None = None) -> list[str]:
    """The checks a run needs (``piawatch.doctor.preflight``), then the cities to crawl.

    Raises ``PreflightFailed`` in one line (a broken alert channel, an invalid registry…) before
    anything is crawled; logs what works with a cost (no OCR, an unknown PIAWATCH_* variable).
    """
    from piawatch.doctor import preflight

    for warning in preflight(settings):
        log.warning("%s", warning)
    return city_codes(settings, only=only, demo=demo)


def crawl_plan(settings: Settings, *, only: list[str] | None = None, demo: bool | None = None,
               max_batches: int | None = None) -> list[list[str]]:
    """``plan_run``'s cities in crawl batches (``piawatch.batches.city_batches``), never more than
    ``max_batches`` of them (Airflow's max_map_length)."""
    return city_batches(plan_run(settings, only=only, demo=demo), max_batches=max_batches)


def parse_plan(settings: Settings, run_id: str, crawled: list[list[dict]], *,
               max_batches: int | None = None) -> list[list[dict]]:
    """After the crawl: stage the cached parses of known versions, and cut the versions never
    parsed into parse batches (never more than ``max_batches``)."""
    stage_cached_parses(settings, run_id, crawled)
    return parse_batches_for(settings, documents_to_parse(settings, crawled), max_batches=max_batches,
                             batch_seconds=settings.parse_batch_seconds)


def crawl_step(settings: Settings, run_id: str, city_code: str) -> list[dict]:
    """Discover and fetch one city's PDFs; stage the result; return the versions to parse.

    Never raises for a problem with the city: an unexpected error is staged as a failure row so
    the rest of the night goes on and the city is tried again next run.
    """
    return crawl_batch_step(settings, run_id, [city_code])


def crawl_batch_step(settings: Settings, run_id: str, city_codes: list[str], *,
                     threads: int | None = None, budget_s: float | None = None, on_city=None) -> list[dict]:
    """Crawl a batch of cities (``piawatch.batches.city_batches``), ``threads`` of them at once
    (default ``CRAWL_THREADS``); stage each city's result; return the versions to parse.

    Each city gets its own HTTP session, and turns at a host are taken through the host's lock
    file, so threads are as polite as separate processes. A city that fails is its failure row
    (``_crawl``), never a failed batch; a city not started within ``budget_s`` (default
    ``CRAWL_BATCH_BUDGET_SECONDS``) is a ``timeout`` row, crawled next run. ``on_city(code,
    result)`` is called as each city is done, in the batch's order.
    """
    from extract.registry import load_registry
    from piawatch.progress import city_line

    budget_s = CRAWL_BATCH_BUDGET_SECONDS if budget_s is None else budget_s
    registry = {city.code: city for city in load_registry(settings.registry_path)}
    started = time.monotonic()

    def crawl(code: str) -> dict:
        late = time.monotonic() - started > budget_s
        return _crawl(settings, run_id, registry[code],
                      not_started=f"not crawled: its batch spent its {budget_s:g} s on other cities "
                                  f"(crawled next run)" if late else None)

    to_parse: list[dict] = []
    workers = max(1, min(threads or CRAWL_THREADS, len(city_codes)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl") as pool:
        for code, result in zip(city_codes, pool.map(crawl, city_codes)):
            log.info("crawled %s", city_line(code, result))
            if on_city is not None:
                on_city(code, result)
            to_parse.extend(_to_parse(result))
    return to_parse


def _to_parse(result: dict) -> list[dict]:
    return [{"sha256": d["sha256"], "url": d["url"], "city_code": result["city_code"]} for d in result["documents"]]


def _crawl(settings: Settings, run_id: str, city, *, not_started: str | None = None) -> dict:
    """The crawl step's work: the staged result of one city (a registry entry); with
    ``not_started``, only that reason as a ``timeout`` failure."""
    from extract.crawl import crawl_city
    from piawatch.lifecycle import LOCAL_IO, is_local_io_error, local_io_reason

    out = settings.run_staging_dir(run_id) / "crawl" / f"{city.code}.json"
    if not_started:
        result = _crawl_failure(city, "timeout", not_started)
    else:
        try:
            result = crawl_city(city, settings)
        except Exception as exc:  # the edge: one city's bug must not stop the night
            if is_local_io_error(exc):  # this machine's disk, not the city: said so, and the run fails
                code, reason = LOCAL_IO, local_io_reason(exc)
                log.error("crawl of %s: %s", city.code, reason)
            else:
                code, reason = getattr(exc, "code", "crawl_error"), f"{type(exc).__name__}: {exc}"
                log.exception("crawl of %s failed", city.code)
            result = _crawl_failure(city, code, reason)
    _write_json(out, result)
    return result


def _crawl_failure(city, code: str, reason: str) -> dict:
    """A city's staged crawl when nothing of it was read: its one failure row."""
    return {"city_code": city.code, "crawled_at": _now(), "pages": [], "links": [], "fetches": [], "documents": [],
            "failures": [failure_row("crawl", city.urls[0] if getattr(city, "urls", None) else None, code, reason)]}


def _cached_parse(settings: Settings, sha256: str) -> dict | None:
    """The parse cache's record or settled failure for this version (transform.cache)."""
    from transform.cache import cached

    return cached(settings.parsed_dir, sha256)


def parse_step(settings: Settings, run_id: str, document: dict, *, fresh: bool = False, sandbox=None) -> dict:
    """Parse one PDF version (or reuse the parse cache, unless ``fresh``) and stage the record or
    the failure alone. ``sandbox``: a ``transform.sandbox.Sandbox`` that parses a batch's PDFs (each
    in a process forked from its zygote); without it, one for this PDF alone."""
    from load.staging import stage_checked_parses

    return _outcome(stage_checked_parses(settings.run_staging_dir(run_id), [_parse(settings, document, fresh, sandbox)])[0])


def _parse(settings: Settings, document: dict, fresh: bool, sandbox) -> tuple[dict, tuple | None]:
    """What parsing ``document`` gives, through the parse cache, checked for the warehouse
    (``load.staging.checked_parse``: the record or error with its provenance, and a record's typed row)."""
    from extract.store import raw_path
    from load.staging import checked_parse
    from piawatch.lifecycle import LOCAL_IO, is_local_io_error, local_io_reason
    from transform.cache import remember
    from transform.parse import PARSER_VERSION
    from transform.sandbox import parse_pdf_limited

    sha256 = document["sha256"]
    cached = None if fresh else _cached_parse(settings, sha256)
    if cached is not None:
        return checked_parse({**cached, "url": document.get("url") or cached.get("url")})
    pdf_path = raw_path(settings.raw_dir, sha256)
    staged = {"sha256": sha256, "parser_version": PARSER_VERSION, "url": document.get("url")}
    try:
        staged["record"] = (sandbox.parse(pdf_path, sha256=sha256) if sandbox is not None
                            else parse_pdf_limited(pdf_path, sha256=sha256))
    except PiaWatchError as exc:
        staged["error"] = {"code": exc.code, "reason": exc.reason}
    except OSError as exc:
        if not is_local_io_error(exc):
            raise
        staged["error"] = {"code": LOCAL_IO, "reason": local_io_reason(exc)}
    except Exception as exc:  # a parser bug on one PDF must not stop the night
        log.error("parser crashed on %s: %s", sha256, traceback.format_exc())
        staged["error"] = {"code": "parser_crash", "reason": f"{type(exc).__name__}: {exc}"}
    staged, row = checked_parse(staged)  # before the cache, which keeps no refused record (transform.cache)
    return remember(settings.parsed_dir, staged), row


def _outcome(staged: dict) -> dict:
    """What a staged parse gave, as the parse steps return it."""
    return {"sha256": staged["sha256"], "ok": "record" in staged, "error": staged.get("error", {}).get("code")}


def documents_to_parse(settings: Settings, crawled: list[list[dict]]) -> list[dict]:
    """Versions not yet in the parse cache, once each (a PDF linked by two cities is parsed once)."""
    seen: dict[str, dict] = {}
    for docs in crawled:
        for doc in docs or []:
            seen.setdefault(doc["sha256"], doc)
    return [doc for sha, doc in sorted(seen.items()) if _cached_parse(settings, sha) is None]


def parse_batch_step(settings: Settings, run_id: str, documents: list[dict], *,
                     budget_s: float | None = None, on_document=None) -> list[dict]:
    """Parse a batch of PDF versions (``piawatch.batches.parse_batches``) one after another, each
    as ``parse_step`` does, and stage them together (their records' rows in one typed file,
    ``load.staging.stage_checked_parses``); return what each gave.

    A bad PDF is its own failure row, never a failed batch: ``_parse`` keeps what the parser
    refuses or breaks on, and anything else raised for one document is staged as that document's
    ``parser_crash``. Documents not started within ``budget_s`` (default
    ``PARSE_BATCH_BUDGET_SECONDS``) are staged as ``timeout`` and parsed next run, so a batch of
    slow or hostile PDFs ends well inside its task's time limit. ``on_document(document, result)``
    is called after each. A task killed before the end stages nothing: its retry parses again from
    the parse cache.
    """
    from load.staging import stage_checked_parses
    from transform.sandbox import Sandbox

    budget_s = PARSE_BATCH_BUDGET_SECONDS if budget_s is None else budget_s
    started, parses = time.monotonic(), []
    with Sandbox() as sandbox:  # one zygote for the batch: no interpreter start per PDF
        for document in documents:
            if time.monotonic() - started > budget_s:
                parses.append((_parse_failure(document, "timeout", f"not parsed: its batch spent its {budget_s:g} s "
                                                                   f"on other PDFs (parsed next run)"), None))
            else:
                try:
                    parses.append(_parse(settings, document, False, sandbox))
                except Exception as exc:  # one document's problem, whatever it is, is not the batch's
                    log.error("parsing %s failed outside the parser: %s", document["sha256"], traceback.format_exc())
                    parses.append((_parse_failure(document, "parser_crash", f"{type(exc).__name__}: {exc}"), None))
            if on_document is not None:
                on_document(document, _outcome(parses[-1][0]))
    return [_outcome(staged) for staged in stage_checked_parses(settings.run_staging_dir(run_id), parses)]


def _parse_failure(document: dict, code: str, reason: str) -> dict:
    """A document's parse failure of this run (not cached: it is tried again next run)."""
    from transform.parse import PARSER_VERSION

    return {"sha256": document["sha256"], "parser_version": PARSER_VERSION, "url": document.get("url"),
            "error": {"code": code, "reason": reason}}


def parse_batches_for(settings: Settings, documents: list[dict], *, max_batches: int | None = None,
                      batch_seconds: float = PARSE_BATCH_SECONDS) -> list[list[dict]]:
    """``documents`` in batches of about ``batch_seconds`` of parsing, each document's size read
    from the raw store; never more than ``max_batches`` batches (Airflow's max_map_length)."""
    from extract.store import raw_path

    def size_of(document: dict) -> int | None:
        try:
            return raw_path(settings.raw_dir, document["sha256"]).stat().st_size
        except OSError:  # not stored: parse_step says so; it costs nothing to estimate
            return None

    return parse_batches(documents, size_of, batch_seconds=batch_seconds, max_batches=max_batches)


def stage_cached_parses(settings: Settings, run_id: str, crawled: list[list[dict]]) -> int:
    """Stage the cached records of known versions, together, so the loader sees every document of the run."""
    from load.staging import stage_parses

    parse_dir = settings.run_staging_dir(run_id) / "parse"
    cached = {}
    for docs in crawled:
        for doc in docs or []:
            entry = _cached_parse(settings, doc["sha256"])
            if entry is not None and doc["sha256"] not in cached and not (parse_dir / f"{doc['sha256']}.json").exists():
                cached[doc["sha256"]] = {**entry, "url": doc["url"]}
    if cached:
        stage_parses(settings.run_staging_dir(run_id), list(cached.values()))  # records get their typed rows
    return len(cached)


def _run_started_at(settings: Settings, run_id: str) -> datetime | None:
    """When the run's first crawl began, from the staged files (the crawl tasks do not write the warehouse)."""
    from load.staging import _read_json  # a torn staged file is BadStagedFile, as in the loader

    stamps = []
    for path in (settings.run_staging_dir(run_id) / "crawl").glob("*.json"):
        crawled_at = _read_json(path).get("crawled_at")
        if crawled_at:
            stamps.append(datetime.fromisoformat(crawled_at))
    return min(stamps) if stamps else None


def load_step(settings: Settings, run_id: str) -> dict:
    """The single writer: load everything staged for the run in one transaction."""
    from extract.registry import load_registry
    from load.connection import connect, write_transaction
    from load.loader import load_run
    from load.runs import record_run_start
    from piawatch.lifecycle import mark_stale_runs

    started_at = _run_started_at(settings, run_id)
    with connect(settings.warehouse) as con:
        mark_stale_runs(con, run_id, stale_hours=settings.stale_run_hours)
        write_transaction(con, lambda c: record_run_start(c, run_id, started_at=started_at))
    return load_run(settings.warehouse, run_id, settings.run_staging_dir(run_id),
                    cities=load_registry(settings.registry_path))


def check_step(settings: Settings, run_id: str, *, today=None) -> dict:
    from load.connection import connect
    from quality import check_warehouse

    docs_dir = settings.reports_dir / run_id / "data-docs"
    with connect(settings.warehouse) as con:
        return check_warehouse(con, run_id, today=today, data_docs_dir=docs_dir)


def alert_step(settings: Settings, run_id: str) -> dict:
    from alerts import channels_from_environment, send_alerts
    from load.connection import connect

    with connect(settings.warehouse) as con:
        return send_alerts(con, run_id, channels_from_environment())


def finish_step(settings: Settings, run_id: str) -> str:
    """Close the run's row as success, partial or failed (piawatch.lifecycle.run_outcome); for a
    DuckDB file, publish the copy analysts read while the next run writes (a DuckLake needs none:
    readers query it directly while it is written). Returns the status."""
    from load.connection import connect, write_transaction
    from load.export import publish_copy
    from load.runs import record_run_end
    from piawatch.lifecycle import run_outcome

    status, error = run_outcome(settings, run_id)
    with connect(settings.warehouse) as con:
        write_transaction(con, lambda c: record_run_end(c, run_id, status=status, error=error))
    if not settings.warehouse.is_lake:
        publish_copy(settings.warehouse.path)
    (log.info if status == "success" else log.warning)("run %s ended %s%s", run_id, status,
                                                       f": {error}" if error else "")
    return status


def maintain_step(settings: Settings) -> dict:
    """Lake maintenance after the night's writes (``load.maintenance``): on a DuckLake, small files
    merged, snapshots older than ``PIAWATCH_LAKE_SNAPSHOT_DAYS`` expired and files no snapshot needs
    deleted; on a DuckDB file, a CHECKPOINT. Logs the file counts before and after."""
    from load.maintenance import maintain

    return maintain(settings.warehouse, keep=timedelta(days=settings.lake_snapshot_days))


def maintain_after_night(settings: Settings) -> dict:
    """``maintain_step`` as the night's last step: by then the night's data is loaded, checked,
    alerted on and published, so housekeeping that fails must not mark the night failed (the
    run-failed listener would). It logs a warning naming the error and returns it under
    ``error``; the next night maintains again. ``piawatch maintain`` fails loudly instead."""
    try:
        return maintain_step(settings)
    except Exception as exc:  # noqa: BLE001 - any failure of housekeeping is reported, none fails the night
        reason = exc.reason if isinstance(exc, PiaWatchError) else f"{type(exc).__name__}: {exc}"
        log.warning("warehouse maintenance failed, the night's data is loaded; the next night maintains "
                    "again (or run `piawatch maintain`): %s", reason)
        return {"error": reason}


def site_step(settings: Settings) -> None:
    """Rebuild the static site (website/, reports/site/) from the warehouse just published."""
    from website.build import rebuild_after_run

    rebuild_after_run(settings)


def report_step(settings: Settings, run_id: str | None = None) -> str:
    """A short human summary of a run, also written to reports/<run_id>/summary.md."""
    from piawatch.report import run_summary
    from website.build import summary_line

    text, run_id = run_summary(settings, run_id)
    text += summary_line(settings)
    out = settings.reports_dir / run_id / "summary.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def begin_run(settings: Settings, run_id: str, previous_holder: dict | None = None) -> None:
    """Clear stale runs and open this run's row before anything is crawled, so a run that fails
    at any step is on record (as failed), not only one that reached the loader."""
    from load.connection import connect, write_transaction
    from load.runs import record_run_start
    from piawatch.lifecycle import mark_stale_runs

    with connect(settings.warehouse) as con:
        mark_stale_runs(con, run_id, stale_hours=settings.stale_run_hours, previous_holder=previous_holder)
        write_transaction(con, lambda c: record_run_start(c, run_id))


def run_all(settings: Settings, *, only: list[str] | None = None, demo: bool | None = None,
            run_id: str | None = None, progress=None) -> tuple[str, str]:
    """The whole nightly job in this process, without a scheduler (``piawatch run``): (status, summary).

    Takes the run lock first (a second run at once is refused in one line), checks the
    configuration (``plan_run``: a broken alert channel stops the run here, not after the crawl),
    marks stale runs failed, and records a run that raises as failed before re-raising.
    """
    from piawatch.lifecycle import record_failed_run
    from piawatch.progress import Progress, city_line
    from piawatch.runlock import run_lock

    progress = progress or Progress()
    run_id = run_id or new_run_id()
    with run_lock(settings.run_lock_path, run_id) as previous_holder:
        city_plan = crawl_plan(settings, only=only, demo=demo)
        try:
            begin_run(settings, run_id, previous_holder)
            crawled = []
            with progress.stage("crawl", sum(map(len, city_plan))) as stage:
                for batch in city_plan:
                    crawled.append(crawl_batch_step(settings, run_id, batch,
                                                    on_city=lambda code, result: stage.advance(city_line(code, result))))
            batches = parse_plan(settings, run_id, crawled)
            with progress.stage("parse", sum(map(len, batches))) as stage:
                def parsed(document, result):
                    stage.advance(f"{document['sha256'][:12]} {'ok' if result['ok'] else result['error']} "
                                  f"({document.get('url')})")

                for batch in batches:
                    parse_batch_step(settings, run_id, batch, on_document=parsed)
            for name, step in (("load", load_step), ("check", check_step), ("alert", alert_step)):
                with progress.stage(name, 1) as stage:
                    step(settings, run_id)
                    stage.advance(name)
            status = finish_step(settings, run_id)
        except BaseException as exc:
            reason = exc.reason if isinstance(exc, PiaWatchError) else f"{type(exc).__name__}: {exc}"
            record_failed_run(settings, run_id, reason)
            raise
        maintain_after_night(settings)  # still under the run lock: it writes the warehouse too
    site_step(settings)
    return status, report_step(settings, run_id)
