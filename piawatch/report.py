"""The short human summary of a run, read back from the warehouse."""

from __future__ import annotations

from piawatch.errors import PiaWatchError
from piawatch.settings import Settings


def _latest_run_id(con) -> str:
    row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT 1").fetchone()
    if row is None:
        raise PiaWatchError("the warehouse has no run yet: run `piawatch run` or `make run` first")
    return row[0]


def run_summary(settings: Settings, run_id: str | None = None) -> tuple[str, str]:
    """(summary text, run id) for ``run_id`` or the latest run."""
    from load.export import open_read_only

    con = open_read_only(settings.warehouse)
    try:
        run_id = run_id or _latest_run_id(con)
        run = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if run is None:
            raise PiaWatchError(f"no run {run_id!r} in {settings.warehouse}")
        run = dict(zip([d[0] for d in con.description], run))
        findings = con.execute("""
            SELECT rule, severity, count(*) FROM findings WHERE last_seen_run = ?
            GROUP BY ALL ORDER BY severity, rule""", [run_id]).fetchall()
        alerts = con.execute("""
            SELECT a.rule, a.city_code, coalesce(m.name, a.city_code), a.assessment_number, a.message
            FROM alerts a LEFT JOIN municipalities m ON m.city_code = a.city_code
            WHERE a.created_run = ? ORDER BY a.city_code, a.assessment_number, a.rule""", [run_id]).fetchall()
        failures = con.execute("""
            SELECT stage, code, count(*) FROM failures WHERE last_seen_run = ? AND NOT resolved
            GROUP BY ALL ORDER BY stage, code""", [run_id]).fetchall()
        assessments = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
    finally:
        con.close()

    def count(key):
        return run.get(key) or 0

    lines = [
        f"PIA Watch run {run_id} — {run.get('status')}",
        f"  cities crawled       {count('cities')}",
        f"  PDFs found           {count('documents_seen')}  (new versions: {count('documents_new')}, "
        f"fetch failures: {count('fetch_failures')}, parse failures: {count('parse_failures')})",
        f"  assessments stored   {assessments}  (loaded this run: {count('assessments_loaded')})",
        f"  findings             {sum(n for *_, n in findings)}",
    ]
    lines += [f"    {severity:8} {rule:40} {n}" for rule, severity, n in findings]
    lines.append(f"  alerts sent          {len(alerts)}")
    lines += [f"    [{rule}] {name} 評価書番号{number}: {message}" for rule, _, name, number, message in alerts]
    if failures:
        lines.append("  open failures (retried next run)")
        lines += [f"    {stage:8} {code:24} {n}" for stage, code, n in failures]
    lines += [
        f"  warehouse            {settings.warehouse}",
        f"  reports              {settings.reports_dir / run_id}",
    ]
    data_docs = settings.reports_dir / run_id / "data-docs" / "index.html"
    if data_docs.exists():
        lines.append(f"  data docs            {data_docs}")
    return "\n".join(lines) + "\n", run_id
