"""The alert step: resolve what was fixed, open alerts for new errors, deliver what is owed."""

from __future__ import annotations

import logging
import time

from alerts import ledger, message
from alerts.channels import DeliveryError

log = logging.getLogger("piawatch.alerts")

RETRY_DELAYS = (1.0, 4.0)  # seconds before the 2nd and 3rd attempt on a channel


def _send(channel, alert, notice: str) -> None:
    if notice == "opened":
        channel.send(alert)
    else:
        channel.send_notice(message.resolved_subject(alert), message.resolved_text(alert))


def _deliver(con, channel, alert, notice: str, retry_delays) -> str | None:
    """Send with bounded retries, recording every attempt; None when delivered, else the last error."""
    error = None
    for delay in (0.0, *retry_delays):
        if delay:
            time.sleep(delay)
        try:
            _send(channel, alert, notice)
        except DeliveryError as exc:
            error = exc.reason
            log.warning("alert %s (%s) on %s: %s", alert.alert_id, notice, channel.name, error)
            ledger.record_attempt(con, alert.alert_id, channel.name, error, notice)
            continue
        ledger.record_attempt(con, alert.alert_id, channel.name, None, notice)
        return None
    return error


def send_alerts(con, run_id: str, channels, *, retry_delays=RETRY_DELAYS) -> dict:
    """Run the alert step for a checked run; return counts (opened, resolved, sent, failed).

    ``sent`` and ``failed`` count deliveries (an alert, or the notice that it was resolved, on a
    channel). Once a channel has failed every retry, the rest of its deliveries this run are
    recorded as failed without trying, so a dead webhook costs one retry cycle, and all of them
    are due again next run.
    """
    from load.warehouse import record_run_step, write_transaction

    started = time.monotonic()
    checked = con.execute("SELECT checked_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if not checked or checked[0] is None:
        # Without this run's findings every open alert would look fixed.
        raise ValueError(f"run {run_id} has not been checked: run the quality checks before the alerts")
    resolved, opened = write_transaction(
        con, lambda c: (ledger.resolve_fixed(c, run_id), ledger.open_new(c, run_id)),
        describe=f"opening and resolving the alerts of run {run_id}")
    for alert_id in resolved:
        log.info("alert %s resolved in run %s", alert_id, run_id)
    sent = failed = 0
    for channel in channels:
        channel_down = None
        owed = [(alert, "opened") for alert in ledger.due(con, run_id, channel.name)]
        owed += [(alert, "resolved") for alert in ledger.due_resolutions(con, run_id, channel.name)]
        for alert, notice in owed:
            if channel_down:
                # Recorded so that the delivery is due on this channel next run.
                ledger.record_attempt(con, alert.alert_id, channel.name, channel_down, notice)
                failed += 1
                continue
            error = _deliver(con, channel, alert, notice, retry_delays)
            if error:
                channel_down = f"not attempted: {channel.name} failed earlier in this run ({error})"
                failed += 1
            else:
                sent += 1
    counts = {"opened": len(opened), "resolved": len(resolved), "sent": sent, "failed": failed}
    write_transaction(con, lambda c: record_run_step(
        c, run_id, "alert", seconds=round(time.monotonic() - started, 3),
        counts={"alerts_opened": len(opened), "alerts_resolved": len(resolved), "alerts_sent": sent}))
    return counts
