"""Notices for the people who run the pipeline, as opposed to alerts about assessments.

A nightly run that fails (the loader could not write, a step crashed after its retries) is sent
on the same channels as the alerts, so whoever babysits the crawl hears of it the same way.
"""

from __future__ import annotations

import logging

from alerts.channels import DeliveryError, channels_from_environment

log = logging.getLogger("piawatch.alerts")


def notify_run_failed(dag_id: str, run_id: str, reason: str, *, environ=None) -> list[str]:
    """Send a run-failure notice on every configured channel; return the channels it reached."""
    subject = f"[PIA Watch] 夜間実行が失敗しました: {dag_id} {run_id}"
    body = (f"DAG {dag_id} の実行 {run_id} が失敗しました。\n理由: {reason}\n"
            "失敗したタスクのログを確認し、原因を直してから再実行してください（再実行は冪等です）。")
    reached = []
    for channel in channels_from_environment(environ):
        try:
            channel.send_notice(subject, body)
            reached.append(channel.name)
        except DeliveryError as exc:
            log.error("run-failure notice not delivered on %s: %s", channel.name, exc.reason)
    return reached
