"""Channel configuration from the environment, and messages as each channel sends them."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.channels import DeliveryError, LogChannel, WebhookChannel, channels_from_environment
from alerts.message import Alert, slack_payload, text
from piawatch.errors import ConfigError

ALERT = Alert(
    alert_id="3f" * 32, rule="threshold.result_mismatch", severity="error",
    message="対象人数が30万人以上であるのに、しきい値判断結果が「基礎項目評価の実施が義務付けられる」となっている",
    city_code="232017", city_name="豊橋市", organization="豊橋市長", assessment_number=1,
    title="住民基本台帳に関する事務 基礎項目評価書", url="http://127.0.0.1:8000/toyohashi/pia/01-basic.pdf",
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
    body = text(ALERT)
    assert body.splitlines()[0] == "[PIA Watch] threshold.result_mismatch（エラー）"
    assert "自治体: 豊橋市（232017） 豊橋市長" in body
    assert "評価書: 住民基本台帳に関する事務 基礎項目評価書（評価書番号 1）" in body
    assert "subject_count_band = 300k_plus（2ページ）" in body
    payload = slack_payload(ALERT)
    assert set(payload) == {"text", "blocks"}
    assert {b["type"] for b in payload["blocks"]} == {"header", "section", "context"}
    assert f"<{ALERT.url}|{ALERT.title}>" in json.dumps(payload, ensure_ascii=False)


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
    assert mail["Subject"] == "[PIA Watch] 豊橋市（232017） 評価書番号1 threshold.result_mismatch"
    assert "内容: 対象人数が30万人以上であるのに" in mail.get_content()
