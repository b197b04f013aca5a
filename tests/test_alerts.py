"""Alerts end to end: staged runs loaded into a real DuckDB warehouse by the loader, checked by
the quality rules, and delivered to a real HTTP receiver and a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from alerts import send_alerts
from alerts.channels import LogChannel, SmtpChannel, WebhookChannel
from load.warehouse import connect
from test_quality_warehouse import BASIC_URL, FULL_URL, Nightly, toyohashi_basic, toyohashi_full

NO_WAIT = (0.0, 0.0)


# --- receivers (the webhook receiver is the shared `webhook` fixture in conftest.py) -----------
class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    # aiosmtpd's Controller cannot bind port 0 (it connects to its own port to see it is up).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def smtp_channel(controller) -> SmtpChannel:
    return SmtpChannel(host="127.0.0.1", port=controller.port, sender="piawatch@example.org",
                       recipients=("privacy@example.org", "audit@example.org"))


@pytest.fixture
def nightly(settings):
    return Nightly(settings, alert_retry_delays=NO_WAIT)


# --- tests -----------------------------------------------------------------------------------------------
def test_alert_once_then_nothing_then_resolved_by_a_fixed_version(nightly, webhook, smtp_server):
    controller, mailbox = smtp_server
    channels = [LogChannel(), WebhookChannel(webhook.url), smtp_channel(controller)]
    broken = [(BASIC_URL, toyohashi_basic("300k_plus")), (FULL_URL, toyohashi_full())]

    checked, counts = nightly.run(broken, channels)
    assert checked["by_rule"]["threshold.result_mismatch"] == 1
    assert checked["by_rule"]["dates.change_after_publication"] == 1  # a warning: no alert
    assert counts == {"opened": 1, "resolved": 0, "sent": 3, "failed": 0}

    [payload] = webhook.accepted
    assert payload["text"].startswith("[PIA Watch] threshold.result_mismatch（エラー）")
    assert "住民基本台帳に関する事務 基礎項目評価書" in payload["text"] and BASIC_URL in payload["text"]
    blocks = json.dumps(payload["blocks"], ensure_ascii=False)
    for expected in ("豊橋市（232017）", "住民基本台帳に関する事務 基礎項目評価書", BASIC_URL,
                     "対象人数が30万人以上であるのに", "subject_count_band = 300k_plus（2ページ）",
                     "threshold_result = basic_only（3ページ）"):
        assert expected in blocks
    [(sender, recipients, mail)] = mailbox.messages
    assert (sender, recipients) == ("piawatch@example.org", ["privacy@example.org", "audit@example.org"])
    assert mail["Subject"] == "[PIA Watch] 豊橋市（232017） 評価書番号1 threshold.result_mismatch"
    body = mail.get_content()
    assert "評価書: 住民基本台帳に関する事務 基礎項目評価書（評価書番号 1）" in body
    assert f"URL: {BASIC_URL}" in body

    # The same documents again: nothing new, nothing re-sent on any channel.
    checked, counts = nightly.run(broken, channels)
    assert counts == {"opened": 0, "resolved": 0, "sent": 0, "failed": 0}
    assert len(webhook.accepted) == 1 and len(mailbox.messages) == 1

    # The city republishes the basic document with the count corrected: the alert is resolved.
    fixed = [(BASIC_URL, toyohashi_basic("1k_to_10k")), (FULL_URL, toyohashi_full())]
    checked, counts = nightly.run(fixed, channels)
    assert "threshold.result_mismatch" not in checked["by_rule"]
    assert counts == {"opened": 0, "resolved": 1, "sent": 3, "failed": 0}  # the notice, on each channel
    resolution = webhook.accepted[1]["text"]
    assert resolution.startswith("[PIA Watch] 解消: 豊橋市（232017） 評価書番号1 threshold.result_mismatch\n")
    assert f"新しい版: {BASIC_URL}" in resolution and "この問題は見つかりませんでした" in resolution
    assert mailbox.messages[1][2]["Subject"] == "[PIA Watch] 解消: 豊橋市（232017） 評価書番号1 threshold.result_mismatch"
    [(status, resolved_run, resolved_by, old_sha)] = nightly.query(
        "SELECT status, resolved_run, resolved_by_sha256, sha256 FROM alerts")
    latest_sha = nightly.query("SELECT sha256 FROM latest_assessments WHERE assessment_number = 1")[0][0]
    assert (status, resolved_run, resolved_by) == ("resolved", "run3", latest_sha)
    assert old_sha != latest_sha
    assert nightly.query("SELECT alerts_opened, alerts_resolved, alerts_sent FROM runs ORDER BY run_id") == [
        (1, 0, 3), (0, 0, 0), (0, 1, 3)]

    # The next night: the notice is not sent again.
    _, counts = nightly.run(fixed, channels)
    assert counts == {"opened": 0, "resolved": 0, "sent": 0, "failed": 0}
    assert len(webhook.accepted) == 2 and len(mailbox.messages) == 2


def test_a_failed_channel_is_retried_next_run_without_resending_the_others(nightly, webhook, smtp_server):
    controller, mailbox = smtp_server
    channels = [LogChannel(), WebhookChannel(webhook.url), smtp_channel(controller)]
    two_errors = toyohashi_basic("300k_plus")
    two_errors["threshold_result"] = "basic_and_focused"  # a mismatch, and no focused document
    broken = [(BASIC_URL, two_errors)]

    webhook.failing = True
    _, counts = nightly.run(broken, channels)
    assert counts == {"opened": 2, "resolved": 0, "sent": 4, "failed": 2}
    # Bounded: the first alert was tried three times; the dead webhook was not tried for the second.
    assert webhook.requests == 3
    deliveries = nightly.query("SELECT channel, attempt, status, error FROM alert_deliveries ORDER BY alert_id, channel, attempt")
    assert sorted({(c, s) for c, _, s, _ in deliveries}) == [("log", "sent"), ("smtp", "sent"), ("webhook", "failed")]
    webhook_errors = [e for c, _, _, e in deliveries if c == "webhook"]
    assert webhook_errors.count("webhook answered HTTP 500") == 3
    assert webhook_errors.count("not attempted: webhook failed earlier in this run (webhook answered HTTP 500)") == 1

    webhook.failing = False
    _, counts = nightly.run(broken, channels)
    assert counts == {"opened": 0, "resolved": 0, "sent": 2, "failed": 0}
    assert len(mailbox.messages) == 2  # e-mail already had both: not sent again
    assert sorted(p["text"].split("（")[0].removeprefix("[PIA Watch] ") for p in webhook.accepted) == [
        "threshold.missing_required_document", "threshold.result_mismatch"]
    assert nightly.query("SELECT count(*) FROM alerts WHERE sent_at IS NULL")[0][0] == 0


def test_alerts_need_a_checked_run(settings):
    with connect(settings.warehouse) as con:
        with pytest.raises(ValueError, match="has not been checked"):
            send_alerts(con, "never-checked", [LogChannel()])


def test_a_resolution_notice_goes_only_where_the_alert_went_and_is_retried_there(nightly, webhook, smtp_server):
    controller, mailbox = smtp_server
    broken = [(BASIC_URL, toyohashi_basic("300k_plus")), (FULL_URL, toyohashi_full())]
    fixed = [(BASIC_URL, toyohashi_basic("1k_to_10k")), (FULL_URL, toyohashi_full())]
    nightly.run(broken, [LogChannel(), WebhookChannel(webhook.url)])  # e-mail not configured yet

    webhook.failing = True
    _, counts = nightly.run(fixed, [LogChannel(), WebhookChannel(webhook.url), smtp_channel(controller)])
    assert counts == {"opened": 0, "resolved": 1, "sent": 1, "failed": 1}  # log yes, webhook down, no e-mail
    assert mailbox.messages == []

    webhook.failing = False
    _, counts = nightly.run(fixed, [LogChannel(), WebhookChannel(webhook.url), smtp_channel(controller)])
    assert counts == {"opened": 0, "resolved": 0, "sent": 1, "failed": 0}
    assert webhook.accepted[-1]["text"].startswith("[PIA Watch] 解消: ")
    assert nightly.query("SELECT channel, notice, status, count(*) FROM alert_deliveries "
                         "GROUP BY ALL ORDER BY ALL") == [
        ("log", "opened", "sent", 1), ("log", "resolved", "sent", 1),
        ("webhook", "opened", "sent", 1), ("webhook", "resolved", "failed", 3), ("webhook", "resolved", "sent", 1)]
