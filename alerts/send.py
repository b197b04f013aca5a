"""The alert step: resolve what was fixed, open alerts for new errors, deliver what is owed.

Deliveries go out one message per alert (and per resolution notice), or with ``digest`` one
message per channel listing the run's new and resolved problems. Every attempt is recorded, all
of a run's in one warehouse transaction at the end of the step, with the run's counts: a crash
between sending and that commit means the messages are sent again next run (at least once,
never silently lost).
"""

from __future__ import annotations

import logging
import time

from alerts import ledger, message
from alerts.channels import DeliveryError
from load.connection import write_transaction
from load.runs import record_run_step

log = logging.getLogger("piawatch.alerts")

RETRY_DELAYS = (1.0, 4.0)  # seconds before the 2nd and 3rd attempt on a channel


def _deliver(channel, outgoing: message.Outgoing, retry_delays) -> list[str | None]:
    """Send with bounded retries; the outcome of every attempt (None for the one that got through)."""
    outcomes: list[str | None] = []
    for delay in (0.0, *retry_delays):
        if delay:
            time.sleep(delay)
        try:
            channel.deliver(outgoing)
        except DeliveryError as exc:
            log.warning("%s on %s: %s", outgoing.subject, channel.name, exc.reason)
            outcomes.append(exc.reason)
            continue
        outcomes.append(None)
        break
    return outcomes


def _messages(run_id: str, opened: list, resolved: list, digest: bool):
    """(message, [(alert, notice) it carries]) for one channel's owed deliveries."""
    if digest:
        if opened or resolved:
            yield (message.digest(run_id, opened, resolved),
                   [(a, "opened") for a in opened] + [(a, "resolved") for a in resolved])
        return
    for alert in opened:
        yield message.opened(alert), [(alert, "opened")]
    for alert in resolved:
        yield message.resolved(alert), [(alert, "resolved")]


def send_alerts(con, run_id: str, channels, *, retry_delays=RETRY_DELAYS, digest: bool | None = None) -> dict:
    """Run the alert step for a checked run; return counts (opened, resolved, sent, failed).

    ``sent`` and ``failed`` count deliveries: an alert, or the notice that it was resolved, on a
    channel (in a digest, each alert it lists). Once a channel has failed every retry, the rest
    of its deliveries this run are recorded as failed without trying, so a dead webhook costs
    one retry cycle, and all of them are due again next run. ``digest`` (default: each channel's
    own ``digest`` setting) sends one message per channel instead of one per delivery.
    """
    started = time.monotonic()
    checked = con.execute("SELECT checked_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if not checked or checked[0] is None:
        # Without this run's findings every open alert would look fixed.
        raise ValueError(f"run {run_id} has not been checked: run the quality checks before the alerts")
    resolved, opened = write_transaction(
        con, lambda c: (ledger.resolve_fixed(c, run_id), ledger.open_new(c, run_id)),
        describe=f"opening and resolving the alerts of run {run_id}")
    attempts: list[tuple[str, str, str, str | None]] = []
    sent = failed = 0
    for channel in channels:
        channel_down = None
        owed = _messages(run_id, ledger.due(con, run_id, channel.name),
                         ledger.due_resolutions(con, run_id, channel.name),
                         getattr(channel, "digest", False) if digest is None else digest)
        for outgoing, carried in owed:
            # Recorded even when not tried, so that the delivery is due on this channel next run.
            outcomes = [channel_down] if channel_down else _deliver(channel, outgoing, retry_delays)
            attempts += [(alert.alert_id, channel.name, notice, outcome)
                         for outcome in outcomes for alert, notice in carried]
            if outcomes[-1] is None:
                sent += len(carried)
            else:
                failed += len(carried)
                channel_down = channel_down or f"not attempted: {channel.name} failed earlier in this run ({outcomes[-1]})"
    counts = {"opened": len(opened), "resolved": len(resolved), "sent": sent, "failed": failed}

    def record(c) -> None:
        ledger.insert_attempts(c, attempts)
        record_run_step(c, run_id, "alert", seconds=round(time.monotonic() - started, 3),
                        counts={"alerts_opened": len(opened), "alerts_resolved": len(resolved), "alerts_sent": sent})

    write_transaction(con, record, describe=f"recording the alert deliveries of run {run_id}")
    return counts
