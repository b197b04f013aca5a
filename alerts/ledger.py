"""The alert ledger in the warehouse: which alerts exist, which are resolved, what was delivered.

- An alert is opened once per ``error`` finding (alert_id = finding_id: document sha256 + rule +
  key), so an unchanged document never alerts twice.
- It is resolved when the latest version of its document (same city, 評価書番号 and kind) no
  longer has a finding with the same rule and key in the latest check.
- Every delivery attempt is a row of alert_deliveries; an alert is due on a channel until one
  attempt there succeeded, so a channel that failed is tried again next run and a channel that
  succeeded is never sent the same alert twice.
- A resolved alert owes a notice (``notice = 'resolved'``) to each channel that was sent the
  alert, under the same rules: once per channel, retried next run where it failed.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from alerts.message import Alert


def now() -> datetime:
    return datetime.now(timezone.utc)


def resolve_fixed(con, run_id: str) -> list[str]:
    """Resolve the open alerts whose problem the run's check no longer found; return their ids."""
    rows = con.execute("""
        WITH alerted AS (
            SELECT al.alert_id, al.sha256, al.rule, f.finding_key, a.city_code, a.assessment_number, a.kind
            FROM alerts al
            JOIN findings f ON f.finding_id = al.finding_id
            JOIN assessments a ON a.sha256 = al.sha256 AND a.city_code = al.city_code
            WHERE al.status = 'open'
        )
        SELECT x.alert_id, l.sha256
        FROM alerted x
        -- The same document: same city, kind and 評価書番号 (one without a number is only itself,
        -- as in the latest_assessments view).
        JOIN latest_assessments l
          ON l.city_code = x.city_code AND l.kind = x.kind
         AND (l.assessment_number = x.assessment_number
              OR (x.assessment_number IS NULL AND l.sha256 = x.sha256))
        WHERE NOT EXISTS (
            SELECT 1 FROM findings g
            WHERE g.sha256 = l.sha256 AND g.city_code = l.city_code AND g.rule = x.rule
              AND g.finding_key IS NOT DISTINCT FROM x.finding_key AND g.last_seen_run = ?)
        """, [run_id]).fetchall()
    for alert_id, latest_sha in rows:
        con.execute("""
            UPDATE alerts SET status = 'resolved', resolved_run = ?,
                   resolved_by_sha256 = CASE WHEN sha256 = ? THEN NULL ELSE ? END
            WHERE alert_id = ?""", [run_id, latest_sha, latest_sha, alert_id])
    return [alert_id for alert_id, _ in rows]


def open_new(con, run_id: str) -> list[str]:
    """Open an alert for each error finding of this run's check that has none yet."""
    rows = con.execute("""
        SELECT finding_id FROM findings f
        WHERE f.severity = 'error' AND f.last_seen_run = ?
          AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = f.finding_id)
        ORDER BY f.city_code, f.assessment_number, f.rule, f.finding_id""", [run_id]).fetchall()
    ids = [r[0] for r in rows]
    if ids:
        con.execute("""
            INSERT INTO alerts (alert_id, finding_id, sha256, city_code, assessment_number, rule, severity,
                                message, status, created_run)
            SELECT finding_id, finding_id, sha256, city_code, assessment_number, rule, severity, message,
                   'open', ?
            FROM findings WHERE list_contains(?, finding_id)""", [run_id, ids])
    return ids


# What every delivery says about an alert (the columns of ``_alert``), and where it comes from;
# the last column is the URL of the version that fixed it (null while the alert is open).
_ALERT_ROWS = """
        SELECT al.alert_id, al.rule, al.severity, al.message, al.city_code, m.name, f.organization,
               al.assessment_number, f.title, f.source, f.evidence, fixed.url
        FROM alerts al
        JOIN findings f ON f.finding_id = al.finding_id
        LEFT JOIN municipalities m ON m.city_code = al.city_code
        LEFT JOIN documents fixed ON fixed.sha256 = al.resolved_by_sha256 AND fixed.city_code = al.city_code
"""


def due(con, run_id: str, channel: str) -> list[Alert]:
    """Open alerts this channel still owes: new this run, or failed here before and never sent."""
    rows = con.execute(_ALERT_ROWS + """
        WHERE al.status = 'open'
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = al.alert_id
                          AND d.channel = ? AND d.notice = 'opened' AND d.status = 'sent')
          AND (al.created_run = ?
               OR EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = al.alert_id
                          AND d.channel = ? AND d.notice = 'opened' AND d.status = 'failed'))
        ORDER BY al.city_code, al.assessment_number, al.rule, al.alert_id""",
        [channel, run_id, channel]).fetchall()
    return [_alert(row) for row in rows]


def due_resolutions(con, run_id: str, channel: str) -> list[Alert]:
    """Resolved alerts whose notice this channel owes: it was sent the alert, and the notice is
    new this run or failed here before and never got through."""
    rows = con.execute(_ALERT_ROWS + """
        WHERE al.status = 'resolved'
          AND EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = al.alert_id
                      AND d.channel = ? AND d.notice = 'opened' AND d.status = 'sent')
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = al.alert_id
                          AND d.channel = ? AND d.notice = 'resolved' AND d.status = 'sent')
          AND (al.resolved_run = ?
               OR EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = al.alert_id
                          AND d.channel = ? AND d.notice = 'resolved' AND d.status = 'failed'))
        ORDER BY al.city_code, al.assessment_number, al.rule, al.alert_id""",
        [channel, channel, run_id, channel]).fetchall()
    return [_alert(row) for row in rows]


def _alert(row) -> Alert:
    """An Alert from a row of ``_ALERT_ROWS``."""
    return Alert(alert_id=row[0], rule=row[1], severity=row[2], message=row[3], city_code=row[4],
                 city_name=row[5], organization=row[6], assessment_number=row[7], title=row[8], url=row[9],
                 evidence=json.loads(row[10]) if row[10] else {}, resolved_by_url=row[11])


def record_attempt(con, alert_id: str, channel: str, error: str | None, notice: str = "opened") -> None:
    """One delivery attempt of the alert or its resolution ``notice``; the alert's first success
    also stamps its sent_at."""
    from load.warehouse import write_transaction

    at = now()

    def record(c) -> None:
        attempt = c.execute("SELECT coalesce(max(attempt), 0) + 1 FROM alert_deliveries "
                            "WHERE alert_id = ? AND channel = ? AND notice = ?", [alert_id, channel, notice]).fetchone()[0]
        c.execute("INSERT INTO alert_deliveries (alert_id, channel, notice, attempt, status, error, attempted_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [alert_id, channel, notice, attempt, "failed" if error else "sent", error, at])
        if error is None and notice == "opened":
            c.execute("UPDATE alerts SET sent_at = ? WHERE alert_id = ? AND sent_at IS NULL", [at, alert_id])

    write_transaction(con, record, describe=f"recording a delivery of alert {alert_id}")
