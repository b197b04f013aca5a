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
import traceback
from datetime import datetime, timezone
from pathlib import Path

from ground.errors import PiaWatchError
from ground.settings import Settings

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


def crawl_step(settings: Settings, run_id: str, city_code: str) -> list[dict]:
    """Discover and fetch one city's PDFs; stage the result; return the versions to parse.

    Never raises for a problem with the city: an unexpected error is staged as a failure row so
    the rest of the night goes on and the city is tried again next run.
    """
    from piawatch.progress import city_line

    result = _crawl(settings, run_id, city_code)
    log.info("crawled %s", city_line(city_code, result))
    return _to_parse(result)


def _to_parse(result: dict) -> list[dict]:
    return [{"sha256": d["sha256"], "url": d["url"], "city_code": result["city_code"]} for d in result["documents"]]


def _crawl(settings: Settings, run_id: str, city_code: str) -> dict:
    """The crawl step's work: the staged result of one city."""
    from extract.crawl import crawl_city
    from extract.registry import load_registry
    from piawatch.lifecycle import LOCAL_IO, is_local_io_error, local_io_reason

    out = settings.run_staging_dir(run_id) / "crawl" / f"{city_code}.json"
    city = next(c for c in load_registry(settings.registry_path) if c.code == city_code)
    try:
        result = crawl_city(city, settings)
    except Exception as exc:  # the edge: one city's bug must not stop the night
        if is_local_io_error(exc):  # this machine's disk, not the city: said so, and the run fails
            code, reason = LOCAL_IO, local_io_reason(exc)
            log.error("crawl of %s: %s", city_code, reason)
        else:
            code, reason = getattr(exc, "code", "crawl_error"), f"{type(exc).__name__}: {exc}"
            log.exception("crawl of %s failed", city_code)
        result = {
            "city_code": city_code, "crawled_at": _now(), "pages": [], "links": [], "fetches": [],
            "documents": [],
            "failures": [{"stage": "crawl", "url": city.urls[0] if getattr(city, "urls", None) else None,
                          "code": code, "reason": reason}],
        }
    _write_json(out, result)
    return result


def _cached_parse(settings: Settings, sha256: str) -> dict | None:
    """The parse cache's record or settled failure for this version (transform.cache)."""
    from transform.cache import cached

    return cached(settings.parsed_dir, sha256)


def parse_step(settings: Settings, run_id: str, document: dict, *, fresh: bool = False) -> dict:
    """Parse one PDF version (or reuse the parse cache, unless ``fresh``) and stage the record or
    the failure."""
    from extract.store import raw_path
    from load.staging import BadStagedFile, record_rows
    from piawatch.lifecycle import LOCAL_IO, is_local_io_error, local_io_reason
    from transform.cache import remember
    from transform.parse import PARSER_VERSION
    from transform.sandbox import parse_pdf_limited

    sha256 = document["sha256"]
    staged = None if fresh else _cached_parse(settings, sha256)
    if staged is None:
        pdf_path = raw_path(settings.raw_dir, sha256)
        staged = {"sha256": sha256, "parser_version": PARSER_VERSION, "url": document.get("url")}
        try:
            record = parse_pdf_limited(pdf_path, sha256=sha256)
            record_rows(record, f"{document.get('url')} ({sha256})")
            staged["record"] = record
        except BadStagedFile as exc:
            staged["error"] = {"code": "invalid_record",
                               "reason": f"the parser produced a record the warehouse refuses: {exc.reason}"}
        except PiaWatchError as exc:
            staged["error"] = {"code": exc.code, "reason": exc.reason}
        except OSError as exc:
            if not is_local_io_error(exc):
                raise
            staged["error"] = {"code": LOCAL_IO, "reason": local_io_reason(exc)}
        except Exception as exc:  # a parser bug on one PDF must not stop the night
            log.error("parser crashed on %s: %s", sha256, traceback.format_exc())
            staged["error"] = {"code": "parser_crash", "reason": f"{type(exc).__name__}: {exc}"}
        staged = remember(settings.parsed_dir, staged)
    staged = {**staged, "url": document.get("url") or staged.get("url")}
    _write_json(settings.run_staging_dir(run_id) / "parse" / f"{sha256}.json", staged)
    return {"sha256": sha256, "ok": "record" in staged,
            "error": staged.get("error", {}).get("code")}


def documents_to_parse(settings: Settings, crawled: list[list[dict]]) -> list[dict]:
    """Versions not yet in the parse cache, once each (a PDF linked by two cities is parsed once)."""
    seen: dict[str, dict] = {}
    for docs in crawled:
        for doc in docs or []:
            seen.setdefault(doc["sha256"], doc)
    return [doc for sha, doc in sorted(seen.items()) if _cached_parse(settings, sha) is None]


def stage_cached_parses(settings: Settings, run_id: str, crawled: list[list[dict]]) -> int:
    """Stage the cached records of known versions so the loader sees every document of the run."""
    count = 0
    for docs in crawled:
        for doc in docs or []:
            target = settings.run_staging_dir(run_id) / "parse" / f"{doc['sha256']}.json"
            cached = _cached_parse(settings, doc["sha256"])
            if cached is not None and not target.exists():
                _write_json(target, {**cached, "url": doc["url"]})
                count += 1
    return count


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
    from load.warehouse import connect, load_run, record_run_start, write_transaction
    from piawatch.lifecycle import mark_stale_runs

    started_at = _run_started_at(settings, run_id)
    with connect(settings.warehouse) as con:
        mark_stale_runs(con, run_id, stale_hours=settings.stale_run_hours)
        write_transaction(con, lambda c: record_run_start(c, run_id, started_at=started_at))
    return load_run(settings.warehouse, run_id, settings.run_staging_dir(run_id),
                    cities=load_registry(settings.registry_path))


def check_step(settings: Settings, run_id: str, *, today=None) -> dict:
    from load.warehouse import connect
    from quality import check_warehouse

    docs_dir = settings.reports_dir / run_id / "data-docs"
    with connect(settings.warehouse) as con:
        return check_warehouse(con, run_id, today=today, data_docs_dir=docs_dir)


def alert_step(settings: Settings, run_id: str) -> dict:
    from alerts import channels_from_environment, send_alerts
    from load.warehouse import connect

    with connect(settings.warehouse) as con:
        return send_alerts(con, run_id, channels_from_environment())


def finish_step(settings: Settings, run_id: str) -> str:
    """Close the run's row as success, partial or failed (piawatch.lifecycle.run_outcome); for a
    DuckDB file, publish the copy analysts read while the next run writes (a DuckLake needs none:
    readers query it directly while it is written). Returns the status."""
    from load.export import publish_copy
    from load.warehouse import connect, record_run_end, write_transaction
    from piawatch.lifecycle import run_outcome

    status, error = run_outcome(settings, run_id)
    with connect(settings.warehouse) as con:
        write_transaction(con, lambda c: record_run_end(c, run_id, status=status, error=error))
    if not settings.warehouse.is_lake:
        publish_copy(settings.warehouse.path)
    (log.info if status == "success" else log.warning)("run %s ended %s%s", run_id, status,
                                                       f": {error}" if error else "")
    return status


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
    from load.warehouse import connect, record_run_start, write_transaction
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
        codes = plan_run(settings, only=only, demo=demo)
        try:
            begin_run(settings, run_id, previous_holder)
            crawled = []
            with progress.stage("crawl", len(codes)) as stage:
                for code in codes:
                    result = _crawl(settings, run_id, code)
                    crawled.append(_to_parse(result))
                    stage.advance(city_line(code, result))
            documents = documents_to_parse(settings, crawled)
            with progress.stage("parse", len(documents)) as stage:
                for document in documents:
                    parsed = parse_step(settings, run_id, document)
                    stage.advance(f"{document['sha256'][:12]} {'ok' if parsed['ok'] else parsed['error']} "
                                  f"({document.get('url')})")
            stage_cached_parses(settings, run_id, crawled)
            for name, step in (("load", load_step), ("check", check_step), ("alert", alert_step)):
                with progress.stage(name, 1) as stage:
                    step(settings, run_id)
                    stage.advance(name)
            status = finish_step(settings, run_id)
        except BaseException as exc:
            reason = exc.reason if isinstance(exc, PiaWatchError) else f"{type(exc).__name__}: {exc}"
            record_failed_run(settings, run_id, reason)
            raise
    site_step(settings)
    return status, report_step(settings, run_id)
