"""``piawatch reparse``: read the stored PDFs again with this parser version, after an upgrade.

The nightly run re-parses only what the cities link today (the parse cache is keyed by parser
version, so an upgrade misses it); older versions of documents, and documents taken down, keep
the records of the parser that read them. This reads those PDFs again from the raw store, with
no download, through the pipeline's own steps: ``parse_step`` (the same sandbox, cache and
failure codes), ``load_run`` (one transaction, the one writer), ``check_step`` and
``finish_step``, under the run lock ``piawatch run`` takes. It is recorded in ``runs`` as a run
of its own, ``reparse__<UTC time>``, with no cities crawled. Alerts for what the new records show
are sent by the next nightly run (its alert step compares with the latest check).

Which document versions:
- by default, those whose stored record (or, without one, whose parse cache entry) was made by
  another parser version than this one;
- ``since``: those made by a version that sorts before it (versions are "YYYY.MM.DD-N");
- ``all_versions``: every one, parsed afresh even when the cache holds this version's entry (for
  when something outside the parser changed its output, such as the fonts of the machine).
A version whose raw PDF is not in the store is left as it is and counted as missing.
"""

from __future__ import annotations

import logging
import re

from extract.store import raw_path
from ground.errors import PiaWatchError
from ground.settings import Settings
from load.connection import connect
from load.loader import load_run
from piawatch.lifecycle import record_failed_run
from piawatch.pipeline import begin_run, check_step, finish_step, new_run_id, parse_step, site_step
from piawatch.progress import Progress
from piawatch.runlock import run_lock
from transform.cache import entry_version
from transform.parse import PARSER_VERSION
from transform.sandbox import Sandbox

log = logging.getLogger(__name__)

RUN_PREFIX = "reparse__"
VERSION = re.compile(r"\d{4}\.\d{2}\.\d{2}-\d+")  # transform.parse.PARSER_VERSION's form


def _stored_versions(con, city: str | None) -> list[dict]:
    """Every document version of the warehouse (of ``city``): sha256, a city, its URL, and the
    parser version of its stored record (None without one)."""
    rows = con.execute("""
        SELECT d.sha256, min(d.city_code), coalesce(min(a.url), min(d.url)), min(a.parser_version)
        FROM documents d LEFT JOIN assessments a ON a.sha256 = d.sha256 AND a.city_code = d.city_code
        WHERE ? IS NULL OR d.city_code = ?
        GROUP BY d.sha256 ORDER BY d.sha256""", [city, city]).fetchall()
    return [{"sha256": sha, "city_code": code, "url": url, "parser_version": version}
            for sha, code, url, version in rows]


def documents_to_reparse(settings: Settings, con, *, all_versions: bool = False, since: str | None = None,
                         city: str | None = None) -> list[dict]:
    """The document versions to read again (see the module's docstring), each with the parser
    version that made what is stored (None: unknown)."""
    chosen = []
    for document in _stored_versions(con, city):
        version = document["parser_version"] or entry_version(settings.parsed_dir, document["sha256"])
        if all_versions:
            wanted = True
        elif since is not None:
            wanted = version is None or version < since
        else:
            wanted = version != PARSER_VERSION
        if wanted:
            chosen.append({**document, "parser_version": version})
    return chosen


def reparse(settings: Settings, *, all_versions: bool = False, since: str | None = None,
            city: str | None = None, run_id: str | None = None, progress=None) -> dict:
    """Re-parse, load and check the chosen document versions as one run; return what was done:
    run_id (None when nothing needed it), chosen, parsed, failed, missing (raw PDF not stored),
    status."""
    if all_versions and since:
        raise PiaWatchError("--all and --since choose the versions differently: give one of them")
    if since is not None and not VERSION.fullmatch(since):
        raise PiaWatchError(f"--since {since!r}: expected a parser version YYYY.MM.DD-N, like {PARSER_VERSION}")
    progress = progress or Progress()
    run_id = run_id or RUN_PREFIX + new_run_id()
    with run_lock(settings.run_lock_path, run_id) as previous_holder:
        with connect(settings.warehouse) as con:
            chosen = documents_to_reparse(settings, con, all_versions=all_versions, since=since, city=city)
        stored, missing = [], []
        for document in chosen:
            (stored if raw_path(settings.raw_dir, document["sha256"]).is_file() else missing).append(document)
        for document in missing:
            log.warning("%s (%s): its raw PDF is not in the store; left as it is",
                        document["sha256"], document["url"])
        result = {"run_id": None, "chosen": len(chosen), "parsed": 0, "failed": 0,
                  "missing": len(missing), "status": None}
        if not stored:
            return result
        try:
            begin_run(settings, run_id, previous_holder)
            with progress.stage("parse", len(stored)) as stage, Sandbox() as sandbox:
                for document in stored:
                    parsed = parse_step(settings, run_id, document, fresh=all_versions, sandbox=sandbox)
                    result["parsed" if parsed["ok"] else "failed"] += 1
                    stage.advance(f"{document['sha256'][:12]} {'ok' if parsed['ok'] else parsed['error']} "
                                  f"(was {document['parser_version'] or 'unknown'})")
            with progress.stage("load", 1) as stage:
                # No crawl is staged: sources, documents and municipalities keep what the last
                # nightly run saw; only records and parse failures change.
                load_run(settings.warehouse, run_id, settings.run_staging_dir(run_id), replace=True)
                stage.advance("load")
            with progress.stage("check", 1) as stage:
                check_step(settings, run_id)
                stage.advance("check")
            result["status"] = finish_step(settings, run_id)
        except BaseException as exc:
            reason = exc.reason if isinstance(exc, PiaWatchError) else f"{type(exc).__name__}: {exc}"
            record_failed_run(settings, run_id, reason)
            raise
    site_step(settings)
    return {**result, "run_id": run_id}
