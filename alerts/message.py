"""What an alert says: one Japanese text, and the same as Slack JSON and as an e-mail.

An alert names the city, the document (title, 評価書番号, URL), the rule, what disagrees (the
finding's message) and where it was read (the evidence's page numbers), so whoever receives it
can open the PDF at the right page without looking anything up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage

SEVERITY_LABELS = {"error": "エラー", "warning": "警告", "info": "情報"}


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule: str
    severity: str
    message: str
    city_code: str | None
    city_name: str | None
    organization: str | None
    assessment_number: int | None
    title: str | None
    url: str | None
    evidence: dict
    # For a resolved alert: the URL of the version that no longer has the problem.
    resolved_by_url: str | None = None

    @property
    def city(self) -> str:
        name = self.city_name or self.organization or "自治体不明"
        return f"{name}（{self.city_code}）" if self.city_code else name


def _value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "空欄" if value is None else str(value)


def evidence_lines(evidence: dict) -> list[str]:
    """「field = value（Nページ）」 for each value that disagrees."""
    pages = evidence.get("pages") or {}
    lines = []
    for name, value in (evidence.get("values") or {}).items():
        page = pages.get(name.split("[", 1)[0])
        lines.append(f"{name} = {_value(value)}" + (f"（{page}ページ）" if page is not None else ""))
    if evidence.get("ocr"):
        lines.append("※ OCRで読み取った値です。PDFの該当ページで確認してください。")
    return lines


def subject(alert: Alert) -> str:
    number = f"評価書番号{alert.assessment_number}" if alert.assessment_number is not None else "評価書番号不明"
    return f"[PIA Watch] {alert.city} {number} {alert.rule}"


def _document_line(alert: Alert) -> str:
    number = alert.assessment_number if alert.assessment_number is not None else "不明"
    return f"評価書: {alert.title or '評価書名不明'}（評価書番号 {number}）"


def text(alert: Alert) -> str:
    lines = [
        f"[PIA Watch] {alert.rule}（{SEVERITY_LABELS.get(alert.severity, alert.severity)}）",
        f"自治体: {alert.city}" + (f" {alert.organization}" if alert.organization and alert.city_name else ""),
        _document_line(alert),
        f"URL: {alert.url or '不明'}",
        f"内容: {alert.message}",
        "根拠:",
        *(f"  {line}" for line in evidence_lines(alert.evidence)),
        f"アラートID: {alert.alert_id}",
    ]
    return "\n".join(lines)


def resolved_subject(alert: Alert) -> str:
    return subject(alert).replace("[PIA Watch] ", "[PIA Watch] 解消: ", 1)


def resolved_text(alert: Alert) -> str:
    """The notice that a new version of the document no longer has the alert's problem."""
    lines = [
        f"[PIA Watch] 解消: {alert.rule}",
        f"自治体: {alert.city}",
        _document_line(alert),
        f"新しい版: {alert.resolved_by_url or alert.url or '不明'}",
        f"前回の内容: {alert.message}",
        "新しい版では、この問題は見つかりませんでした。",
        f"アラートID: {alert.alert_id}",
    ]
    return "\n".join(lines)


def slack_payload(alert: Alert) -> dict:
    """Slack-compatible webhook JSON: ``text`` for notifications, ``blocks`` for the layout."""
    evidence = "\n".join(f"• {line}" for line in evidence_lines(alert.evidence)) or "—"
    document = f"<{alert.url}|{alert.title or alert.url}>" if alert.url else (alert.title or "評価書名不明")
    return {
        # The whole message: what notifications and clients without blocks show.
        "text": text(alert),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{alert.rule}（{SEVERITY_LABELS.get(alert.severity, alert.severity)}）"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*自治体*\n{alert.city} {alert.organization or ''}".rstrip()},
                {"type": "mrkdwn", "text": f"*評価書*\n{document}（評価書番号 {alert.assessment_number}）"},
            ]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*内容*\n{alert.message}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*根拠*\n{evidence}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"アラートID {alert.alert_id}"}]},
        ],
    }


def email(alert: Alert, sender: str, recipients: list[str]) -> EmailMessage:
    return notice_email(subject(alert), text(alert), sender, recipients)


def notice_email(subject_line: str, body: str, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_line
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(body)  # UTF-8, as Japanese needs
    return message
