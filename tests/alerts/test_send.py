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
from load.connection import connect
from tests.quality.test_check_warehouse import BASIC_URL, FULL_URL, Nightly, toyohashi_basic, toyohashi_full

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
    headline = ("豊橋市の評価書番号1「住民基本台帳に関する事務 基礎項目評価書」で、"
                "しきい値判断結果が、評価書自身に書かれた対象人数などと合っていません。")
    assert payload["text"].startswith(f"*{headline}*\n")
    blocks = json.dumps(payload["blocks"], ensure_ascii=False)
    for expected in ("豊橋市（232017）", "住民基本台帳に関する事務 基礎項目評価書（基礎項目評価書、評価書番号 1）",
                     "対象人数が30万人以上であるのに", f"・対象人数: 30万人以上（<{BASIC_URL}#page=2|2ページ>）",
                     f"・しきい値判断結果: 基礎項目評価の実施が義務付けられる（<{BASIC_URL}#page=3|3ページ>）",
                     "*次にすること*: PDFの該当ページで値を確かめ"):
        assert expected in blocks
    [(sender, recipients, mail)] = mailbox.messages
    assert (sender, recipients) == ("piawatch@example.org", ["privacy@example.org", "audit@example.org"])
    assert mail["Subject"] == f"[PIA Watch] 豊橋市 評価書番号1: {headline.split('で、', 1)[1]}"
    body = mail.get_body(("plain",)).get_content()
    assert body.startswith(headline + "\n")
    assert f"PDF: {BASIC_URL}" in body

    # The same documents again: nothing new, nothing re-sent on any channel.
    checked, counts = nightly.run(broken, channels)
    assert counts == {"opened": 0, "resolved": 0, "sent": 0, "failed": 0}
    assert len(webhook.accepted) == 1 and len(mailbox.messages) == 1

    # The city republishes the basic document with the count corrected: the alert is resolved,
    # and the notice says what changed and when.
    fixed = [(BASIC_URL, toyohashi_basic("1k_to_10k")), (FULL_URL, toyohashi_full())]
    checked, counts = nightly.run(fixed, channels)
    assert "threshold.result_mismatch" not in checked["by_rule"]
    assert counts == {"opened": 0, "resolved": 1, "sent": 3, "failed": 0}  # the notice, on each channel
    resolution = webhook.accepted[1]["text"]
    assert resolution.startswith("*豊橋市の評価書番号1「住民基本台帳に関する事務 基礎項目評価書」の問題"
                                 "（しきい値判断結果が、評価書自身に書かれた対象人数などと合っていません）は解消しました。*\n")
    assert resolution.count("解消しました") == 1  # no header repeated in the text
    assert f"・対象人数: 30万人以上 → 1,000人以上1万人未満（<{BASIC_URL}#page=2|2ページ>）" in resolution
    assert "2026年11月4日に見つかった新しい版では、この問題は見つかりませんでした。" in resolution
    assert mailbox.messages[1][2]["Subject"].startswith("[PIA Watch] 解消: 豊橋市 評価書番号1: ")
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
    assert sorted("義務付けている" in p["text"] for p in webhook.accepted) == [False, True]
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
    assert "は解消しました。" in webhook.accepted[-1]["text"].splitlines()[0]
    assert nightly.query("SELECT channel, notice, status, count(*) FROM alert_deliveries "
                         "GROUP BY ALL ORDER BY ALL") == [
        ("log", "opened", "sent", 1), ("log", "resolved", "sent", 1),
        ("webhook", "opened", "sent", 1), ("webhook", "resolved", "failed", 3), ("webhook", "resolved", "sent", 1)]


def _two_errors() -> dict:
    record = toyohashi_basic("300k_plus")
    record["threshold_result"] = "basic_and_focused"  # a mismatch, and no focused document
    return record


def test_a_digest_is_one_message_per_run_and_channel(nightly, webhook, smtp_server):
    import dataclasses

    controller, mailbox = smtp_server
    channels = [dataclasses.replace(c, digest=True)
                for c in (LogChannel(), WebhookChannel(webhook.url), smtp_channel(controller))]
    _, counts = nightly.run([(BASIC_URL, _two_errors())], channels)
    assert counts == {"opened": 2, "resolved": 0, "sent": 6, "failed": 0}  # 2 alerts × 3 channels
    [payload] = webhook.accepted
    [(_, _, mail)] = mailbox.messages
    assert payload["text"].startswith("*PIA Watch: 新しい問題 2件、解消 0件（実行 run1）*")
    assert "1. *豊橋市の評価書番号1" in payload["text"] and "2. *豊橋市の評価書番号1" in payload["text"]
    assert mail["Subject"] == "[PIA Watch] 新しい問題 2件、解消 0件（run1）"

    # The city fixes both: one digest of the two resolutions on each channel.
    fixed = toyohashi_basic("1k_to_10k")
    _, counts = nightly.run([(BASIC_URL, fixed)], channels)
    assert counts == {"opened": 0, "resolved": 2, "sent": 6, "failed": 0}
    assert len(webhook.accepted) == 2 and len(mailbox.messages) == 2
    digest = mailbox.messages[1][2].get_body(("plain",)).get_content()
    assert digest.startswith("PIA Watch: 新しい問題 0件、解消 2件（実行 run2）")
    assert digest.count("は解消しました。") == 2 and "■ 解消した問題（2件）" in digest
    assert nightly.query("SELECT notice, count(*) FROM alert_deliveries WHERE status = 'sent' GROUP BY ALL ORDER BY ALL") == [
        ("opened", 6), ("resolved", 6)]


def test_a_resolution_is_logged_at_the_level_of_its_alert(nightly, caplog):
    with caplog.at_level("INFO", logger="piawatch.alerts"):
        nightly.run([(BASIC_URL, toyohashi_basic("300k_plus"))], [LogChannel()])
        nightly.run([(BASIC_URL, toyohashi_basic("1k_to_10k"))], [LogChannel()])
    records = [r for r in caplog.records if "評価書番号1" in r.getMessage()]
    assert [r.levelname for r in records] == ["WARNING", "WARNING"]
    assert "は解消しました" in records[1].getMessage() and "\n" not in records[1].getMessage()


def test_a_dismissed_finding_is_not_alerted_again_until_its_values_change(nightly, webhook, monkeypatch, capsys):
    from piawatch.cli import main

    channels = [LogChannel(), WebhookChannel(webhook.url)]
    nightly.run([(BASIC_URL, toyohashi_basic("300k_plus"))], channels)
    [(alert_id,)] = nightly.query("SELECT alert_id FROM alerts")
    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(nightly.settings.warehouse))
    assert main(["findings", "dismiss", alert_id[:10], "--by", "yamada",
                 "--reason", "市に確認済み: 対象人数の記載誤りで、次の版で直る"]) == 0
    assert capsys.readouterr().out.startswith(f"dismissed {alert_id} (threshold.result_mismatch, 232017 評価書番号1) by yamada")
    assert nightly.query("SELECT dismissed_by, reason FROM dismissals") == [
        ("yamada", "市に確認済み: 対象人数の記載誤りで、次の版で直る")]
    assert nightly.query("SELECT status FROM alerts") == [("dismissed",)]

    # A new version with the same wrong values (only its change table differs): not alerted.
    same_values = toyohashi_basic("300k_plus")
    same_values["changes"] = []
    _, counts = nightly.run([(BASIC_URL, same_values)], channels)
    assert counts == {"opened": 0, "resolved": 0, "sent": 0, "failed": 0}
    # A version whose values changed, still wrong: alerted again.
    changed = toyohashi_basic("300k_plus")
    changed["threshold_result"] = "not_required"
    _, counts = nightly.run([(BASIC_URL, changed)], channels)
    assert counts["opened"] == 1 and counts["sent"] == 2
    assert "特定個人情報保護評価の実施が義務付けられない" in webhook.accepted[-1]["text"]


def test_dismissing_needs_a_reason_and_a_known_finding(nightly, monkeypatch, capsys):
    from piawatch.cli import main

    nightly.run([(BASIC_URL, toyohashi_basic("300k_plus"))], [LogChannel()])
    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(nightly.settings.warehouse))
    assert main(["findings", "dismiss", "0123456789", "--reason", "x"]) == 1
    assert "no finding with id 0123456789" in capsys.readouterr().err
    [(alert_id,)] = nightly.query("SELECT alert_id FROM alerts")
    assert main(["findings", "dismiss", alert_id, "--reason", "  "]) == 1
    assert "needs a reason" in capsys.readouterr().err
    assert main(["findings", "list", "--severity", "error"]) == 0
    assert alert_id[:12] in capsys.readouterr().out


def test_a_run_s_deliveries_are_one_lake_transaction(lake, settings, monkeypatch, webhook):
    """On DuckLake every commit is a snapshot: a run's many deliveries add one, not one each."""
    from ground.settings import load_settings

    monkeypatch.setenv("PIAWATCH_WAREHOUSE", lake.location)
    monkeypatch.setenv("PIAWATCH_LAKE_DATA_PATH", str(lake.lake_data_path))
    night = Nightly(load_settings(), alert_retry_delays=NO_WAIT)
    run_id = night.load([(BASIC_URL, _two_errors())])
    with connect(night.settings.warehouse) as con:
        from quality import check_warehouse

        check_warehouse(con, run_id)
        snapshots = "SELECT count(*) FROM ducklake_snapshots('warehouse')"
        before = con.execute(snapshots).fetchone()[0]
        counts = send_alerts(con, run_id, [LogChannel(), WebhookChannel(webhook.url)], retry_delays=NO_WAIT)
        after = con.execute(snapshots).fetchone()[0]
        deliveries = con.execute("SELECT count(*) FROM alert_deliveries").fetchone()[0]
    assert counts["sent"] == deliveries == 4
    assert after - before == 2  # opening the alerts, then every delivery and the run's counts


def test_the_run_summary_counts_deliveries_and_shows_resolutions(nightly, webhook):
    from piawatch.report import run_summary

    channels = [LogChannel(), WebhookChannel(webhook.url)]
    nightly.run([(BASIC_URL, toyohashi_basic("300k_plus"))], channels)
    first, _ = run_summary(nightly.settings, "run1")
    assert "alerts sent          2 deliveries  (alerts opened: 1, resolved: 0)" in first
    assert "new      [threshold.result_mismatch] 豊橋市 評価書番号1: 対象人数が30万人以上であるのに" in first
    nightly.run([(BASIC_URL, toyohashi_basic("1k_to_10k"))], channels)
    second, _ = run_summary(nightly.settings, "run2")
    assert "alerts sent          2 deliveries  (alerts opened: 0, resolved: 1)" in second
    assert "resolved [threshold.result_mismatch] 豊橋市 評価書番号1" in second


def test_findings_and_alerts_point_to_the_document_s_latest_url(nightly, webhook):
    """The city moves the same PDF (same bytes) to a new address: findings and alerts follow it."""
    moved = BASIC_URL.replace("/pia/", "/pia/archive/")
    webhook.failing = True  # the first night's alert does not get through; it is due again
    nightly.run([(BASIC_URL, toyohashi_basic("300k_plus"))], [LogChannel(), WebhookChannel(webhook.url)])
    webhook.failing = False
    _, counts = nightly.run([(moved, toyohashi_basic("300k_plus"))], [LogChannel(), WebhookChannel(webhook.url)])
    assert counts == {"opened": 0, "resolved": 0, "sent": 1, "failed": 0}  # the same document: no new alert
    assert nightly.query("SELECT source, page_url FROM open_findings WHERE rule = 'threshold.result_mismatch'") == [
        (moved, f"{moved}#page=2")]
    assert nightly.query("SELECT url, first_url FROM document_locations") == [(moved, BASIC_URL)]
    [payload] = webhook.accepted
    assert f"<{moved}#page=2|2ページ>" in payload["text"] and BASIC_URL not in payload["text"]
