"""A run's life in the ``runs`` table: stale runs cleared at start, and the status it ends with.

A run ends as
- ``success``: every city was crawled and every document fetched and parsed;
- ``partial``: some cities or documents failed (they are rows in ``failures``, retried next run),
  but no more than ``PIAWATCH_FAILED_SHARE`` of the cities;
- ``failed``: more cities failed than that, a local I/O error happened (a full or read-only
  disk is the operator's problem, not the cities', and would fail every city alike), or a step
  raised. ``runs.error`` says why in one line.

A run that was killed never gets to write its end: the next run marks it ``failed`` at its start
(``mark_stale_runs``), so ``piawatch report`` and ``piawatch runs`` never show a dead run as running.
"""

from __future__ import annotations

import errno
import json
import logging
from datetime import datetime, timedelta, timezone

import requests

from ground.settings import Settings
from load.connection import connect, write_transaction
from load.runs import record_run_end
from piawatch.progress import pages_read

log = logging.getLogger(__name__)

# Errors of this machine's own storage: the same for every city, so no city is to blame.
LOCAL_IO_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO})
LOCAL_IO = "local_io"


def is_local_io_error(exc: BaseException) -> bool:
    """An OSError of local storage (read-only, full, permission), not of the network."""
    return (isinstance(exc, OSError) and not isinstance(exc, requests.RequestException)
            and exc.errno in LOCAL_IO_ERRNOS)


def local_io_reason(exc: OSError) -> str:
    return (f"local I/O error on this machine, not the city's fault ({exc.strerror}: {exc.filename}): "
            f"check free space and permissions of the data directory")


def _stale(con, run_id: str, reason: str) -> None:
    con.execute("UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ? AND status = 'running'",
                [datetime.now(timezone.utc), reason, run_id])


def mark_stale_runs(con, current_run_id: str, *, stale_hours: float, previous_holder: dict | None = None) -> list[str]:
    """Mark runs that can no longer be running as failed; the run ids marked.

    ``previous_holder``: the run lock's last holder, which never released it (killed). Any other
    ``running`` row that started more than ``stale_hours`` ago lost its process too.
    """
    marked: list[str] = []

    def work(c):
        running = c.execute("SELECT run_id, started_at FROM runs WHERE status = 'running' AND run_id <> ?",
                            [current_run_id]).fetchall()
        cutoff = datetime.now(timezone.utc) - timedelta(hours=stale_hours)
        for run_id, started_at in running:
            if previous_holder and run_id == previous_holder.get("run_id"):
                reason = (f"stale: the piawatch run process (pid {previous_holder.get('pid')} on "
                          f"{previous_holder.get('host')}) ended without finishing the run — killed or crashed; "
                          f"marked failed at the start of run {current_run_id}")
            elif started_at is not None and started_at < cutoff:
                reason = (f"stale: still running {stale_hours:g} h after it started, with no process finishing it; "
                          f"marked failed at the start of run {current_run_id}")
            else:
                continue
            _stale(c, run_id, reason)
            marked.append(run_id)

    write_transaction(con, work, describe="marking stale runs")
    for run_id in marked:
        log.warning("run %s was still 'running' but its process is gone: marked failed", run_id)
    return marked


def _read_staged(path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def city_failed(crawl: dict | None) -> bool:
    """Nothing was learned about the city: its crawl raised, or no listing page could be read."""
    if crawl is None:
        return True
    if any(f.get("stage") == "crawl" for f in crawl.get("failures", [])):
        return True
    return pages_read(crawl) == 0


def run_outcome(settings: Settings, run_id: str) -> tuple[str, str | None]:
    """(status, one-line reason or None) of a run that went through all its steps."""
    staging = settings.run_staging_dir(run_id)
    crawls = {path.stem: _read_staged(path) for path in sorted((staging / "crawl").glob("*.json"))}
    parses = [_read_staged(path) for path in sorted((staging / "parse").glob("*.json"))]
    local_io = [f["reason"] for crawl in crawls.values() if crawl for f in crawl.get("failures", [])
                if f.get("code") == LOCAL_IO]
    local_io += [p["error"]["reason"] for p in parses if p and (p.get("error") or {}).get("code") == LOCAL_IO]
    failed_cities = sorted(code for code, crawl in crawls.items() if city_failed(crawl))
    failed_items = sum(1 for crawl in crawls.values() if crawl for f in crawl.get("failures", [])
                       if f.get("stage") in ("discover", "fetch"))
    failed_items += sum(1 for p in parses if p is None or "error" in p)
    if local_io:
        return "failed", f"{len(local_io)} local I/O errors (the operator's problem, not the cities'): {local_io[0]}"
    if crawls and len(failed_cities) / len(crawls) > settings.failed_share:
        return "failed", (f"{len(failed_cities)} of {len(crawls)} cities failed (more than PIAWATCH_FAILED_SHARE="
                          f"{settings.failed_share:g}): {', '.join(failed_cities[:10])}")
    if failed_cities or failed_items:
        return "partial", (f"{len(failed_cities)} of {len(crawls)} cities and {failed_items} pages or documents "
                           f"failed (see the failures table; retried next run)")
    return "success", None


def record_failed_run(settings: Settings, run_id: str, error: str) -> None:
    """Close the run as failed with ``error``; never raises (it runs while handling another error)."""
    try:
        with connect(settings.warehouse) as con:
            write_transaction(con, lambda c: record_run_end(c, run_id, status="failed", error=error[:2000]))
    except Exception:  # the original error is what the operator must see
        log.exception("could not record run %s as failed", run_id)
