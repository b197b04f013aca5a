"""Channel configuration from the environment, and messages as each channel sends them."""

from __future__ import annotations

import dataclasses
import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts import message
from alerts.channels import DeliveryError, LogChannel, WebhookChannel, channels_from_environment
from alerts.message import Alert
from ground.errors import ConfigError

ALERT = Alert(
    alert_id="3f" * 32, rule="threshold.result_mismatch", severity="error",
    message="対象人数が30万人以上であるのに、しきい値判断結果が「基礎項目評価の実施が義務付けられる」となっている",
    city_code="232017", city_name="豊橋市", organization="豊橋市長", assessment_number=1,
    title="住民基本台帳に関する事務 基礎項目評価書", url="http://127.0.0.1:8000/toyohashi/pia/01-basic.pdf", kind="basic",
    evidence={"values": {"subject_count_band": "300k_plus", "threshold_result": "basic_only"},
              "pages": {"subject_count_band": 2, "threshold_result": 3}},
)


def test_log_channel_always_present(caplog):
    [channel] = channels_from_environment({})
    assert isinstance(channel, LogChannel)
    with caplog.at_level("WARNING", logger="piawatch.alerts"):
        channel.send(ALERT)
    assert "threshold.result_mismatch" in caplog.text and "豊橋市（232017）" in caplog.text


def test_channels_from_piawatch_variables():
    log, webhook, smtp = channels_from_environment({
        "PIAWATCH_ALERT_WEBHOOK_URL": "https://hooks.example.org/services/T0/B0/secret",
        "PIAWATCH_SMTP_URL": "smtp://alerts%40city:p%40ss@mail.example.org:587?from=piawatch@example.org&to=a@example.org,b@example.org",
    })
    assert webhook.url == "https://hooks.example.org/services/T0/B0/secret"
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == ("mail.example.org", 587, "alerts@city", "p@ss")
    assert smtp.recipients == ("a@example.org", "b@example.org") and smtp.sender == "piawatch@example.org"
    assert smtp.starttls and not smtp.ssl
    # Secrets stay out of logs and tracebacks.
    assert "secret" not in repr(webhook) and "p@ss" not in repr(smtp)


def test_channels_from_airflow_connections():
    _, webhook, smtp = channels_from_environment({
        "AIRFLOW_CONN_PIAWATCH_WEBHOOK": json.dumps({"conn_type": "http", "host": "hooks.example.org",
                                                     "schema": "https", "extra": {"endpoint": "services/T0/B0/x"}}),
        "AIRFLOW_CONN_PIAWATCH_SMTP": "smtps://user:pw@mail.example.org?from=piawatch@example.org&to=a@example.org",
    })
    assert webhook.url == "https://hooks.example.org/services/T0/B0/x"
    assert (smtp.ssl, smtp.port, smtp.starttls) == (True, 465, False)


def test_piawatch_variable_wins_over_airflow_connection():
    _, webhook = channels_from_environment({"PIAWATCH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/a",
                                            "AIRFLOW_CONN_PIAWATCH_WEBHOOK": "http://127.0.0.1:9/b"})
    assert webhook.url.endswith("/a")


@pytest.mark.parametrize("variable,value,complaint", [
    ("PIAWATCH_ALERT_WEBHOOK_URL", "ftp://example.org/hook", "http(s) URL"),
    ("PIAWATCH_SMTP_URL", "mail.example.org", "smtp://"),
    ("PIAWATCH_SMTP_URL", "smtp://mail.example.org:25?from=a@example.org", "recipient"),
    ("AIRFLOW_CONN_PIAWATCH_SMTP", "{not json", "neither a URI"),
])
def test_bad_configuration_names_the_variable(variable, value, complaint):
    with pytest.raises(ConfigError) as raised:
        channels_from_environment({variable: value})
    assert variable in raised.value.reason and complaint in raised.value.reason


def test_message_names_city_document_values_and_pages():
    """Headline, city, 評価書番号 and title, each value in the form's words with its page link,
    what the rule expects and what to do next; never a raw code."""
    sent = message.opened(ALERT)
    lines = sent.text.splitlines()
    assert lines[0] == ("豊橋市の評価書番号1「住民基本台帳に関する事務 基礎項目評価書」で、"
                        "しきい値判断結果が、評価書自身に書かれた対象人数などと合っていません。")
    assert "自治体: 豊橋市（232017） 豊橋市長" in lines
    assert "評価書: 住民基本台帳に関する事務 基礎項目評価書（基礎項目評価書、評価書番号 1）" in lines
    assert f"・対象人数: 30万人以上（2ページ: {ALERT.url}#page=2）" in lines
    assert f"・しきい値判断結果: 基礎項目評価の実施が義務付けられる（3ページ: {ALERT.url}#page=3）" in lines
    assert any(line.startswith("ルールが求めること: しきい値判断結果は、対象人数") for line in lines)
    assert any(line.startswith("次にすること: PDFの該当ページで値を確かめ") for line in lines)
    for raw in ("300k_plus", "basic_only", "kind_weight", "subject_count_band"):
        assert raw not in sent.text
    assert sent.subject == "[PIA Watch] 豊橋市 評価書番号1: しきい値判断結果が、評価書自身に書かれた対象人数などと合っていません。"
    assert set(sent.slack) == {"text", "blocks"}
    assert [b["type"] for b in sent.slack["blocks"]] == ["header", "section"]
    assert f"<{ALERT.url}#page=2|2ページ>" in sent.slack["blocks"][1]["text"]["text"]


def test_derived_values_are_said_in_the_form_s_words():
    alert = dataclasses.replace(ALERT, rule="threshold.kind_lighter_than_result", evidence={
        "values": {"kind": "focused", "threshold_result": "basic_and_full", "kind_weight": 2,
                   "stated_result_kind_weight": 3, "public_comment_days": 14, "published_on": "2024-06-28"},
        "pages": {}})
    text = message.opened(alert).text
    assert "・評価書の種類: 重点項目評価書" in text
    assert "・しきい値判断結果が求める評価書: 全項目評価書" in text
    assert "・意見の聴取の期間: 14日間" in text
    assert "・公表日: 2024年6月28日" in text
    assert "kind_weight" not in text and "= 2" not in text


HOSTILE = dataclasses.replace(
    ALERT, title="<!channel> 至急 <https://evil.example|公式サイト> & <@U123>", organization="豊橋市長\r\nBcc: x@evil.example",
    message="*太字* _斜体_ [罠](https://evil.example) <script>alert(1)</script>",
    url="http://127.0.0.1:8000/a.pdf?x=1|<!here>")


def test_document_text_is_escaped_for_slack():
    slack = json.dumps(message.opened(HOSTILE).slack, ensure_ascii=False)
    for injected in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|"):
        assert injected not in slack
    assert "&lt;!channel&gt; 至急 &lt;https://evil.example|公式サイト&gt; &amp; &lt;@U123&gt;" in slack
    # The one link that is ours: its URL cannot close the link or add a label.
    assert "<http://127.0.0.1:8000/a.pdf?x=1%7C&lt;!here&gt;#page=2|2ページ>" in slack


def test_document_text_is_escaped_for_markdown_and_html():
    sent = message.opened(HOSTILE)
    assert "\\*太字\\* \\_斜体\\_ \\[罠\\]\\(https://evil\\.example\\)" in sent.markdown
    assert "<script>" not in sent.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in sent.html
    assert 'href="http://127.0.0.1:8000/a.pdf?x=1|&lt;!here&gt;#page=2"' in sent.html


def test_no_line_break_reaches_an_email_header():
    mail = message.email(message.opened(dataclasses.replace(HOSTILE, city_name="豊橋市\r\nBcc: x@evil.example")),
                         "piawatch@example.org", ["a@example.org"])
    assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
    assert mail["Bcc"] is None
    assert "Bcc: x@evil.example" in mail["Subject"]  # kept as text, on the one line


def test_markdown_webhook_posts_markdown(webhook):
    [_, channel] = channels_from_environment({"PIAWATCH_ALERT_WEBHOOK_URL": webhook.url,
                                              "PIAWATCH_ALERT_WEBHOOK_FORMAT": "markdown"})
    channel.send(HOSTILE)
    [payload] = webhook.accepted
    assert set(payload) == {"text"} and payload["text"] == message.opened(HOSTILE).markdown
    assert "<!channel>" not in payload["text"]


def test_unreachable_webhook_is_a_delivery_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DeliveryError, match="unreachable"):
        WebhookChannel(f"http://127.0.0.1:{port}/hook", timeout=2).send(ALERT)


class _Mailbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((session.authenticated, envelope))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"alerts" and auth_data.password == b"s3cret")


@pytest.fixture
def auth_smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    yield port, mailbox
    controller.stop()


def test_smtp_logs_in_and_sends_utf8(auth_smtp):
    port, mailbox = auth_smtp
    [_, channel] = channels_from_environment(
        {"PIAWATCH_SMTP_URL": f"smtp://alerts:s3cret@127.0.0.1:{port}?from=piawatch@example.org&to=a@example.org"})
    channel.send(ALERT)
    [(authenticated, envelope)] = mailbox.envelopes
    assert authenticated and envelope.rcpt_tos == ["a@example.org"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == message.opened(ALERT).subject
    assert "詳しく: 対象人数が30万人以上であるのに" in mail.get_body(("plain",)).get_content()
    assert "<b>自治体</b>: 豊橋市（232017） 豊橋市長" in mail.get_body(("html",)).get_content()


def test_a_hostile_document_reaches_the_real_receivers_defused(webhook, auth_smtp):
    port, mailbox = auth_smtp
    hostile = dataclasses.replace(HOSTILE, city_name="豊橋市\r\nBcc: x@evil.example")
    [_, hook, smtp] = channels_from_environment({
        "PIAWATCH_ALERT_WEBHOOK_URL": webhook.url,
        "PIAWATCH_SMTP_URL": f"smtp://alerts:s3cret@127.0.0.1:{port}?from=piawatch@example.org&to=a@example.org"})
    hook.send(hostile)
    smtp.send(hostile)
    [payload] = webhook.accepted
    posted = json.dumps(payload, ensure_ascii=False)
    assert "<!channel>" not in posted and "<@U123>" not in posted and "<https://evil.example|" not in posted
    [(_, envelope)] = mailbox.envelopes
    assert envelope.rcpt_tos == ["a@example.org"]  # no Bcc smuggled in through a header
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Bcc"] is None and "\n" not in mail["Subject"]
    assert "&lt;script&gt;" in mail.get_body(("html",)).get_content()
