"""The ``runs`` table: one row per run, its status, and each step's time and counts."""

from __future__ import annotations

from datetime import datetime, timezone

from load.merge import merge_rows

RUN_STEPS = ("crawl", "parse", "load", "check", "alert")
RUN_COUNTS = ("cities", "pages", "fetches", "documents_seen", "documents_new", "assessments_loaded",
              "fetch_failures", "parse_failures", "failures_resolved", "findings", "alerts_opened",
              "alerts_resolved", "alerts_sent")
_STEP_STAMPS = {"load": "loaded_at", "check": "checked_at", "alert": "alerted_at"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


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
