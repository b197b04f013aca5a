"""The short human summary of a run, and the list of runs, read back from the warehouse.

Both read ``readable(warehouse)``: while a run holds a DuckDB file for writing, that is the copy
the last finished run published, and the summary says so.
"""

from __future__ import annotations

from alerts.ledger import run_alerts
from ground.errors import PiaWatchError
from ground.settings import Settings
from load.connection import WarehouseBusy
from load.export import open_read_only

RUN_COLUMNS = ("run_id", "status", "started_at", "finished_at", "cities", "documents_seen", "documents_new",
               "fetch_failures", "parse_failures", "findings", "alerts_sent", "error")


def readable(warehouse):
    """The warehouse to read: itself, or while a run holds its DuckDB file for writing (DuckDB then
    lets no one else open it), the read-only copy the last finished run published beside it."""
    try:
        open_read_only(warehouse).close()
    except WarehouseBusy:
        copy = warehouse.path.with_name(f"{warehouse.path.stem}-readonly.duckdb")  # load.export.publish_copy
        if not copy.exists():
            raise
        return copy
    return warehouse


def _latest_run_id(con) -> str:
    row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT 1").fetchone()
    if row is None:
        raise PiaWatchError("the warehouse has no run yet: run `piawatch run` or `make run` first")
    return row[0]


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def run_facts(settings: Settings, run_id: str | None = None) -> dict:
    """Everything the summary shows about ``run_id`` (default: the latest run), as plain data."""
    con = open_read_only(readable(settings.warehouse))
    try:
        run_id = run_id or _latest_run_id(con)
        runs = _dicts(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        if not runs:
            raise PiaWatchError(f"no run {run_id!r} in {settings.warehouse}")
        findings = _dicts(con.execute("""
            SELECT rule, severity, count(*) AS count FROM findings WHERE last_seen_run = ?
            GROUP BY ALL ORDER BY severity, rule""", [run_id]))
        alerts = run_alerts(con, run_id)
        failures = _dicts(con.execute("""
            SELECT stage, code, count(*) AS count FROM failures WHERE last_seen_run = ? AND NOT resolved
            GROUP BY ALL ORDER BY stage, code""", [run_id]))
        assessments = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
        database = con.execute("SELECT current_database()").fetchone()[0]
        source = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [database]).fetchone()
    finally:
        con.close()
    data_docs = settings.reports_dir / run_id / "data-docs" / "index.html"
    return {"run": runs[0], "findings": findings, "alerts": alerts, "failures": failures,
            "assessments": assessments, "warehouse": str(settings.warehouse),
            "read_from": source[0] if source and source[0] else str(settings.warehouse),
            "reports": str(settings.reports_dir / run_id),
            "data_docs": str(data_docs) if data_docs.exists() else None}


def summary_text(facts: dict) -> str:
    run = facts["run"]

    def count(key):
        return run.get(key) or 0

    lines = [f"PIA Watch run {run['run_id']} — {run.get('status')}"]
    if run.get("error"):
        lines.append(f"  {'why' if run.get('status') == 'failed' else 'note':20} {run['error']}")
    lines += [
        f"  cities crawled       {count('cities')}",
        f"  PDFs found           {count('documents_seen')}  (new versions: {count('documents_new')}, "
        f"fetch failures: {count('fetch_failures')}, parse failures: {count('parse_failures')})",
        f"  assessments stored   {facts['assessments']}  (loaded this run: {count('assessments_loaded')})",
        f"  findings             {sum(f['count'] for f in facts['findings'])}",
    ]
    lines += [f"    {f['severity']:8} {f['rule']:40} {f['count']}" for f in facts["findings"]]
    alerts = facts["alerts"]
    lines.append(f"  alerts sent          {alerts['deliveries_sent']} deliveries  (alerts opened: "
                 f"{len(alerts['opened'])}, resolved: {len(alerts['resolved'])})")
    lines += [f"    new      [{a['rule']}] {a['city']} 評価書番号{a['assessment_number']}: {a['message']}"
              for a in alerts["opened"]]
    lines += [f"    resolved [{a['rule']}] {a['city']} 評価書番号{a['assessment_number']}" for a in alerts["resolved"]]
    if facts["failures"]:
        lines.append("  open failures (retried next run)")
        lines += [f"    {f['stage']:8} {f['code']:24} {f['count']}" for f in facts["failures"]]
    lines.append(f"  warehouse            {facts['warehouse']}")
    if facts["read_from"] != facts["warehouse"]:
        lines.append(f"  read from            {facts['read_from']} (a run is writing the warehouse: "
                     f"this is the copy the last finished run published)")
    lines.append(f"  reports              {facts['reports']}")
    if facts["data_docs"]:
        lines.append(f"  data docs            {facts['data_docs']}")
    return "\n".join(lines) + "\n"


def run_summary(settings: Settings, run_id: str | None = None) -> tuple[str, str]:
    """(summary text, run id) for ``run_id`` or the latest run."""
    facts = run_facts(settings, run_id)
    return summary_text(facts), facts["run"]["run_id"]


def list_runs(settings: Settings, limit: int = 20) -> list[dict]:
    """The latest ``limit`` runs, newest first."""
    con = open_read_only(readable(settings.warehouse))
    try:
        return _dicts(con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs "
                                  f"ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT ?", [limit]))
    finally:
        con.close()


def run_line(run: dict) -> str:
    started, finished = run.get("started_at"), run.get("finished_at")
    took = f"{(finished - started).total_seconds():7.0f} s" if started and finished else "      — "
    when = started.strftime("%Y-%m-%d %H:%M:%S%z") if started else "?"
    line = (f"{run['run_id']:40} {run['status']:8} {when}  {took}  cities {run.get('cities') or 0:3}  "
            f"new {run.get('documents_new') or 0:3}  failures {(run.get('fetch_failures') or 0) + (run.get('parse_failures') or 0):3}")
    return line + (f"  {run['error']}" if run.get("error") else "")
