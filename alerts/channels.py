"""Where alerts go: a log line (always), a webhook (Slack-compatible JSON), e-mail over SMTP.

Each channel's ``deliver`` sends one ``alerts.message.Outgoing`` in its own markup (the log one
line, the webhook Slack JSON or Markdown, e-mail plain text plus HTML).

Configured from the environment only, never from code: ``PIAWATCH_ALERT_WEBHOOK_URL`` and
``PIAWATCH_SMTP_URL`` (``smtp://user:pass@host:port?from=…&to=a,b[&starttls=true]``, or
``smtps://`` for TLS from the start), or the Airflow connections ``piawatch_webhook`` and
``piawatch_smtp`` given in Airflow's environment-variable form (``AIRFLOW_CONN_PIAWATCH_WEBHOOK``,
``AIRFLOW_CONN_PIAWATCH_SMTP``, as a URI or as Airflow's JSON), which works inside and outside
Airflow alike. ``PIAWATCH_ALERT_WEBHOOK_FORMAT=markdown`` posts ``{"text": Markdown}`` instead of
Slack JSON; ``PIAWATCH_ALERT_DIGEST=true`` sends one digest per run and channel instead of one
message per alert. A channel's ``deliver`` raises ``DeliveryError`` when the message did not get
through.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import smtplib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from alerts import message
from ground.errors import ConfigError, PiaWatchError

log = logging.getLogger("piawatch.alerts")


class DeliveryError(PiaWatchError):
    code = "alert_delivery"


class _Channel:
    """What every channel offers on top of its ``deliver``."""

    def send(self, alert: message.Alert) -> None:
        self.deliver(message.opened(alert))

    def send_notice(self, subject: str, body: str) -> None:
        self.deliver(message.notice(subject, body))


@dataclass(frozen=True)
class LogChannel(_Channel):
    name: str = "log"
    digest: bool = False  # one message per run (PIAWATCH_ALERT_DIGEST) instead of one per alert

    def deliver(self, outgoing: message.Outgoing) -> None:
        # One line, at the message's own level: an alert and its resolution notice alike.
        log.log(outgoing.level, "%s", message.one_line(outgoing.text.replace("\n", " | ")))


# What a webhook receives: Slack-compatible JSON (text + blocks), or Markdown in ``text`` for
# chat servers that read Markdown (Mattermost, Rocket.Chat…).
WEBHOOK_FORMATS = ("slack", "markdown")


@dataclass(frozen=True)
class WebhookChannel(_Channel):
    url: str = field(repr=False)  # the URL is the secret of a Slack webhook
    timeout: float = 10.0
    name: str = "webhook"
    format: str = "slack"
    digest: bool = False

    def deliver(self, outgoing: message.Outgoing) -> None:
        self._post(outgoing.slack if self.format == "slack" else {"text": outgoing.markdown})

    def _post(self, payload: dict) -> None:
        try:
            response = requests.post(self.url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"webhook answered HTTP {response.status_code}")


@dataclass(frozen=True)
class SmtpChannel(_Channel):
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    name: str = "smtp"
    digest: bool = False

    def deliver(self, outgoing: message.Outgoing) -> None:
        self._deliver(message.email(outgoing, self.sender, list(self.recipients)))

    def _deliver(self, mail) -> None:
        smtp_class = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        try:
            with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port} failed: {type(exc).__name__}: {exc}") from exc


def _true(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _airflow_json(variable: str, raw: str) -> dict:
    try:
        conn = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{variable} is neither a URI nor Airflow connection JSON") from exc
    extra = conn.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    return {**conn, "extra": extra}


def webhook_from_value(variable: str, raw: str, webhook_format: str = "slack") -> WebhookChannel:
    """A webhook URL, or an Airflow HTTP connection as JSON (host, schema, port, extra.endpoint)."""
    raw = raw.strip()
    if raw.startswith("{"):
        conn = _airflow_json(variable, raw)
        host = conn.get("host") or ""
        if "://" not in host:
            port = f":{conn['port']}" if conn.get("port") else ""
            host = f"{conn.get('schema') or 'https'}://{host}{port}"
        endpoint = conn["extra"].get("endpoint") or ""
        raw = host.rstrip("/") + ("/" + endpoint.lstrip("/") if endpoint else "")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable} must be an http(s) URL (scheme given: {parts.scheme or 'none'})")
    if webhook_format not in WEBHOOK_FORMATS:
        raise ConfigError(f"PIAWATCH_ALERT_WEBHOOK_FORMAT must be one of {', '.join(WEBHOOK_FORMATS)}, "
                          f"not {webhook_format!r}")
    return WebhookChannel(raw, format=webhook_format)


def smtp_from_value(variable: str, raw: str) -> SmtpChannel:
    """``smtp[s]://user:pass@host:port?from=…&to=a,b``, or Airflow SMTP connection JSON."""
    raw = raw.strip()
    if raw.startswith("{"):
        conn = _airflow_json(variable, raw)
        extra = conn["extra"]
        options = {"from": extra.get("from") or extra.get("from_email"), "to": extra.get("to"),
                   "starttls": extra.get("starttls")}
        ssl = conn.get("conn_type") == "smtps" or _true(str(extra.get("ssl"))) is True
        host, port, username, password = conn.get("host"), conn.get("port"), conn.get("login"), conn.get("password")
    else:
        parts = urlsplit(raw)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"{variable} must start with smtp:// or smtps://")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        options = {"from": query.get("from") or query.get("from_email"), "to": query.get("to"),
                   "starttls": query.get("starttls")}
        ssl = parts.scheme == "smtps"
        try:
            host, port = parts.hostname, parts.port
        except ValueError as exc:  # urllib's port check: not a number, or out of 0-65535
            raise ConfigError(f"{variable} has an invalid port ({exc})") from None
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
    recipients = options["to"]
    if isinstance(recipients, str):
        recipients = [r.strip() for r in recipients.split(",") if r.strip()]
    if not host:
        raise ConfigError(f"{variable} has no host")
    if not options["from"] or not recipients:
        raise ConfigError(f"{variable} needs a sender (from=) and at least one recipient (to=)")
    port = int(port) if port else (465 if ssl else 25)
    # Submission port 587 means STARTTLS unless said otherwise.
    starttls = (port == 587) if options["starttls"] is None else _true(str(options["starttls"]))
    return SmtpChannel(host=host, port=port, sender=options["from"], recipients=tuple(recipients),
                       username=username, password=password, starttls=bool(starttls) and not ssl, ssl=ssl)


def channels_from_environment(environ=None) -> list:
    """The log channel, plus a webhook and/or SMTP channel for each one configured; each sends
    digests when PIAWATCH_ALERT_DIGEST is true."""
    environ = os.environ if environ is None else environ
    channels: list = [LogChannel()]
    digest = digest_from_environment(environ)
    webhook_format = (environ.get("PIAWATCH_ALERT_WEBHOOK_FORMAT") or "slack").strip().lower()
    for variables, build in (
        (("PIAWATCH_ALERT_WEBHOOK_URL", "AIRFLOW_CONN_PIAWATCH_WEBHOOK"),
         lambda variable, raw: webhook_from_value(variable, raw, webhook_format)),
        (("PIAWATCH_SMTP_URL", "AIRFLOW_CONN_PIAWATCH_SMTP"), smtp_from_value),
    ):
        variable = next((v for v in variables if environ.get(v)), None)
        if variable:
            channels.append(build(variable, environ[variable]))
    return [dataclasses.replace(channel, digest=digest) for channel in channels]


def digest_from_environment(environ=None) -> bool:
    """PIAWATCH_ALERT_DIGEST: one message per run and channel instead of one per alert."""
    environ = os.environ if environ is None else environ
    value = environ.get("PIAWATCH_ALERT_DIGEST")
    if value is None or not value.strip():
        return False
    if value.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"PIAWATCH_ALERT_DIGEST must be true or false, not {value!r}")
    return bool(_true(value))
