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
- A finding a person dismissed (``dismiss``, table ``dismissals``) opens no alert, in this or a
  later version of the document, until its values change.
- A run's delivery attempts are written together, in one transaction (``insert_attempts``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from alerts.message import Alert
from ground.errors import PiaWatchError
from load.connection import write_transaction
from load.merge import insert_rows
from quality.check import stored_record


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


# The finding's values, as a digest a dismissal is compared with (alerts again when they change).
_VALUES_DIGEST = "md5(CAST(json_extract({f}.evidence, '$.values') AS VARCHAR))"
# A dismissal covers the finding in later versions of the document too: same city, kind,
# 評価書番号, rule, key and values.
_DISMISSED = f"""EXISTS (
    SELECT 1 FROM dismissals x JOIN assessments xa ON xa.sha256 = f.sha256 AND xa.city_code = f.city_code
    WHERE x.finding_id = f.finding_id
       OR (x.city_code = f.city_code AND x.assessment_number = f.assessment_number AND x.kind = xa.kind
           AND x.rule = f.rule AND x.finding_key IS NOT DISTINCT FROM f.finding_key
           AND x.values_digest = {_VALUES_DIGEST.format(f="f")}))"""


def open_new(con, run_id: str) -> list[str]:
    """Open an alert for each error finding of this run's check that has none yet and that no
    one dismissed; re-open a dismissed one whose values changed since."""
    rows = con.execute(f"""
        SELECT finding_id FROM findings f
        WHERE f.severity = 'error' AND f.last_seen_run = ?
          AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = f.finding_id)
          AND NOT {_DISMISSED}
        ORDER BY f.city_code, f.assessment_number, f.rule, f.finding_id""", [run_id]).fetchall()
    ids = [r[0] for r in rows]
    if ids:
        con.execute("""
            INSERT INTO alerts (alert_id, finding_id, sha256, city_code, assessment_number, rule, severity,
                                message, status, created_run)
            SELECT finding_id, finding_id, sha256, city_code, assessment_number, rule, severity, message,
                   'open', ?
            FROM findings WHERE list_contains(?, finding_id)""", [run_id, ids])
    reopened = [r[0] for r in con.execute(f"""
        SELECT al.alert_id FROM alerts al JOIN findings f ON f.finding_id = al.finding_id
        WHERE al.status = 'dismissed' AND f.last_seen_run = ?
          AND NOT EXISTS (SELECT 1 FROM dismissals x WHERE x.finding_id = f.finding_id
                          AND x.values_digest = {_VALUES_DIGEST.format(f="f")})""", [run_id]).fetchall()]
    if reopened:
        # Due again on every channel: its earlier deliveries were of other values.
        con.execute("UPDATE alerts SET status = 'open', created_run = ?, message = f.message "
                    "FROM findings f WHERE f.finding_id = alerts.finding_id AND list_contains(?, alerts.alert_id)",
                    [run_id, reopened])
        con.execute("DELETE FROM alert_deliveries WHERE list_contains(?, alert_id)", [reopened])
    return ids + reopened


def open_findings(con, severity: str | None = None) -> list[dict]:
    """The open findings (errors first), with the city's name and whether one was dismissed."""
    cursor = con.execute("""
        SELECT f.finding_id, f.severity, f.city_code, coalesce(m.name, f.city_code) AS city, f.assessment_number,
               f.rule, f.message, f.page_url, f.dismissed
        FROM open_findings f LEFT JOIN municipalities m USING (city_code)
        WHERE ? IS NULL OR f.severity = ?
        ORDER BY CASE f.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, f.city_code,
                 f.assessment_number, f.rule, f.finding_id""", [severity, severity])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def run_alerts(con, run_id: str) -> dict:
    """What the alert step of ``run_id`` did, for the run summary: the alerts it opened and
    resolved, and how many deliveries (an alert or a resolution notice on a channel) got through."""
    def listed(where: str) -> list[dict]:
        cursor = con.execute(f"""
            SELECT a.alert_id, a.rule, a.city_code, coalesce(m.name, a.city_code) AS city, a.assessment_number,
                   a.message, a.status
            FROM alerts a LEFT JOIN municipalities m ON m.city_code = a.city_code
            WHERE {where} = ? ORDER BY a.city_code, a.assessment_number, a.rule""", [run_id])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    recorded = con.execute("SELECT alerts_sent FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return {"opened": listed("a.created_run"), "resolved": listed("a.resolved_run"),
            "deliveries_sent": (recorded[0] if recorded else None) or 0}


class UnknownFinding(PiaWatchError):
    code = "unknown_finding"


def dismiss(con, finding: str, *, by: str, reason: str) -> dict:
    """Record that a person judged ``finding`` (its id, or a unique prefix of 8+ characters) a
    false positive; its alert, if open, is closed as dismissed. Returns what was dismissed."""
    if not reason.strip():
        raise PiaWatchError("a dismissal needs a reason (--reason)")
    if len(finding) < 8:
        raise UnknownFinding(f"give at least 8 characters of the finding id, not {finding!r}")
    matches = con.execute("""
        SELECT f.finding_id, f.city_code, f.assessment_number, a.kind, f.rule, f.finding_key, f.message,
               md5(CAST(json_extract(f.evidence, '$.values') AS VARCHAR))
        FROM findings f LEFT JOIN assessments a ON a.sha256 = f.sha256 AND a.city_code = f.city_code
        WHERE starts_with(f.finding_id, ?)""", [finding]).fetchall()
    if len(matches) != 1:
        raise UnknownFinding(f"no finding with id {finding}" if not matches
                             else f"{len(matches)} findings start with {finding}: give more of the id")
    finding_id, city, number, kind, rule, key, text, digest = matches[0]
    at = now()

    def record(c) -> None:
        c.execute("""INSERT INTO dismissals (dismissal_id, finding_id, city_code, assessment_number, kind, rule,
                                             finding_key, values_digest, dismissed_by, reason, dismissed_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                  [hashlib.sha256(f"{finding_id}\x1f{at.isoformat()}".encode()).hexdigest(), finding_id, city,
                   number, kind, rule, key, digest, by, reason.strip(), at])
        c.execute("UPDATE alerts SET status = 'dismissed' WHERE finding_id = ? AND status = 'open'", [finding_id])

    write_transaction(con, record, describe=f"dismissing finding {finding_id}")
    return {"finding_id": finding_id, "rule": rule, "city_code": city, "assessment_number": number,
            "message": text, "dismissed_by": by, "reason": reason.strip()}


# What every delivery says about an alert (the columns of ``_alert``), and where it comes from:
# the document's latest URL; for a resolved alert, the version that fixed it and when it was found.
_ALERT_ROWS = """
        SELECT al.alert_id, al.rule, al.severity, al.message, al.city_code, m.name, f.organization,
               al.assessment_number, f.title, coalesce(loc.url, f.source), f.evidence, a.kind,
               fixed.url, CAST(fixed_doc.first_seen_at AS DATE), al.resolved_by_sha256
        FROM alerts al
        JOIN findings f ON f.finding_id = al.finding_id
        LEFT JOIN assessments a ON a.sha256 = al.sha256 AND a.city_code = al.city_code
        LEFT JOIN document_locations loc ON loc.sha256 = al.sha256 AND loc.city_code = al.city_code
        LEFT JOIN municipalities m ON m.city_code = al.city_code
        LEFT JOIN document_locations fixed ON fixed.sha256 = al.resolved_by_sha256 AND fixed.city_code = al.city_code
        LEFT JOIN documents fixed_doc ON fixed_doc.sha256 = al.resolved_by_sha256 AND fixed_doc.city_code = al.city_code
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
    return [_alert(con, row) for row in rows]


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
    return [_alert(con, row) for row in rows]


def _new_values(con, sha256: str | None, city_code: str | None, evidence: dict) -> dict:
    """The fixed version's values of the record fields that disagreed (derived columns aside)."""
    if not sha256:
        return {}

    record = stored_record(con, sha256, city_code)
    if record is None:
        return {}
    found = {}
    for name in (evidence.get("values") or {}):
        field, _, index = name.partition("[")
        if field not in record:
            continue
        value = record[field]
        if index:
            items = value or []
            position = int(index.rstrip("]"))
            value = items[position] if position < len(items) else None
        found[name] = value
    return found


def _alert(con, row) -> Alert:
    """An Alert from a row of ``_ALERT_ROWS``."""
    evidence = json.loads(row[10]) if row[10] else {}
    return Alert(alert_id=row[0], rule=row[1], severity=row[2], message=row[3], city_code=row[4],
                 city_name=row[5], organization=row[6], assessment_number=row[7], title=row[8], url=row[9],
                 evidence=evidence, kind=row[11], resolved_by_url=row[12], resolved_on=row[13],
                 new_values=_new_values(con, row[14], row[4], evidence))


def insert_attempts(con, attempts: list[tuple[str, str, str, str | None]]) -> None:
    """Store delivery attempts, (alert_id, channel, notice, error or None) in the order made, in
    the caller's transaction (the alert step writes a whole run's in one: on a lake each
    transaction is a round trip to the catalog). An alert's first success stamps its sent_at."""
    if not attempts:
        return
    at = now()
    latest = {(a, ch, n): number for a, ch, n, number in con.execute("""
        SELECT alert_id, channel, notice, max(attempt) FROM alert_deliveries
        WHERE list_contains(?, alert_id) GROUP BY ALL""", [sorted({a for a, *_ in attempts})]).fetchall()}
    rows = []
    for alert_id, channel, notice, error in attempts:
        key = (alert_id, channel, notice)
        latest[key] = latest.get(key, 0) + 1
        rows.append((alert_id, channel, notice, latest[key], "failed" if error else "sent", error, at))
    insert_rows(con, "alert_deliveries", ("alert_id", "channel", "notice", "attempt", "status", "error",
                                          "attempted_at"), rows)
    sent = sorted({a for a, _, n, error in attempts if error is None and n == "opened"})
    if sent:
        con.execute("UPDATE alerts SET sent_at = ? WHERE list_contains(?, alert_id) AND sent_at IS NULL", [at, sent])
