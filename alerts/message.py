"""What an alert says, and the same message in each channel's markup.

An alert is meant to be acted on without opening the code or the warehouse. It says, in
Japanese: a one-sentence headline; the city, 評価書番号 and title; the values that disagree in
the form's own words (``alerts.wording``), each with a link to its page (``URL#page=N``); what
the rule expects; and what to do next. A resolution notice says what changed: the new values,
and when the version that has them was found. A digest lists a run's new and resolved problems
in one message.

Titles, organizations and values come from documents a city (or anyone controlling its site)
wrote, so every piece of them is escaped for the markup it lands in: Slack mrkdwn (``& < >``,
so ``<!channel>`` cannot ping and ``<https://evil|公式>`` cannot disguise a link), Markdown, and
HTML e-mail; and CR/LF never reach an e-mail header.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage

from alerts.wording import guidance, japanese_date, label, words
from ground.schema import KIND_LABELS

SEVERITY_LABELS = {"error": "エラー", "warning": "警告", "info": "情報"}
# Slack's limits: a header block holds 150 characters, a section 3,000, a message 50 blocks.
_SLACK_HEADER = 150
_SLACK_SECTION = 3000
_DIGEST_ITEMS = 20


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
    url: str | None  # the document's latest URL
    evidence: dict
    kind: str | None = None
    # For a resolved alert: the version that no longer has the problem, when it was first seen,
    # and its values of the fields that disagreed.
    resolved_by_url: str | None = None
    resolved_on: date | None = None
    new_values: dict = field(default_factory=dict)

    @property
    def city(self) -> str:
        name = self.city_name or self.organization or "自治体不明"
        return f"{name}（{self.city_code}）" if self.city_code else name

    @property
    def number(self) -> str:
        return str(self.assessment_number) if self.assessment_number is not None else "不明"


@dataclass(frozen=True)
class Value:
    """One disagreeing value: its label and value in the form's words, and its page."""

    label: str
    value: str
    page: int | None
    page_url: str | None
    new_value: str | None = None  # in a resolution notice: the value in the fixed version


@dataclass(frozen=True)
class Outgoing:
    """One message, in every channel's markup."""

    subject: str  # one line: an e-mail Subject, a log line's start
    text: str  # plain text
    slack: dict  # Slack-compatible webhook JSON
    markdown: str
    html: str
    level: int = logging.WARNING


# --- escaping ------------------------------------------------------------------------------------
def one_line(text: str) -> str:
    """No CR, LF or other control characters: fit for an e-mail header or a log line."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text).strip()


def slack_escape(text: str) -> str:
    """Slack mrkdwn: the three characters Slack asks to escape, so no <!channel>, <@U…> or <url|…>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, text: str) -> str:
    """``<url|text>`` that cannot be broken out of: the URL's | and > are percent-encoded."""
    safe = slack_escape(url.replace("|", "%7C"))
    return f"<{safe}|{slack_escape(text)}>"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~@])")


def markdown_escape(text: str) -> str:
    """Markdown: every character with a meaning backslash-escaped, & as an entity."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def markdown_link(url: str, text: str) -> str:
    return f"[{markdown_escape(text)}](<{url.replace('<', '%3C').replace('>', '%3E').replace(' ', '%20')}>)"


def html_link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


# --- content -------------------------------------------------------------------------------------
def page_url(url: str | None, page: int | None) -> str | None:
    return f"{url}#page={page}" if url and page is not None else None


def values(alert: Alert) -> list[Value]:
    """The values that disagree, in the form's words, with their pages."""
    pages = alert.evidence.get("pages") or {}
    found = []
    for name, value in (alert.evidence.get("values") or {}).items():
        page = pages.get(name.split("[", 1)[0])
        page = page if isinstance(page, int) else None
        new = words(name, alert.new_values[name]) if name in alert.new_values else None
        shown = Value(label(name), words(name, value), page, page_url(alert.url, page), new)
        # A derived column that says what a field already said (kind_weight beside kind) once.
        if not any((v.label, v.value) == (shown.label, shown.value) for v in found):
            found.append(shown)
    return found


def headline(alert: Alert) -> str:
    title = f"「{alert.title}」" if alert.title else ""
    return f"{alert.city_name or alert.city}の評価書番号{alert.number}{title}で、{guidance(alert.rule).headline}"


def resolved_headline(alert: Alert) -> str:
    title = f"「{alert.title}」" if alert.title else ""
    return (f"{alert.city_name or alert.city}の評価書番号{alert.number}{title}の問題"
            f"（{guidance(alert.rule).headline.rstrip('。')}）は解消しました。")


def _document(alert: Alert) -> str:
    kind = KIND_LABELS.get(alert.kind, "")
    return f"{alert.title or '評価書名不明'}（{kind + '、' if kind else ''}評価書番号 {alert.number}）"


def _city_line(alert: Alert) -> str:
    return alert.city + (f" {alert.organization}" if alert.organization and alert.city_name else "")


def _rule_line(alert: Alert) -> str:
    return f"{alert.rule}（{SEVERITY_LABELS.get(alert.severity, alert.severity)}）／アラートID {alert.alert_id}"


def _fixed_line(alert: Alert) -> str:
    if alert.resolved_by_url:
        when = f"{japanese_date(alert.resolved_on)}に見つかった" if alert.resolved_on else ""
        return f"{when}新しい版では、この問題は見つかりませんでした。"
    return "同じ版で、この問題は見つからなくなりました（PIA Watch の読み取りまたはルールの更新によるもの）。"


# --- the three kinds of message, in every markup -------------------------------------------------
class _Markup:
    """How one markup writes text, emphasis and links; ``plain`` writes neither."""

    def __init__(self, escape, link, bold, newline="\n"):
        self.escape, self.link, self.bold, self.newline = escape, link, bold, newline

    def value_line(self, value: Value, resolved: bool = False) -> str:
        shown = value.value
        if resolved and value.new_value is not None:
            shown += "（変わらず）" if value.new_value == value.value else f" → {value.new_value}"
        where = f"（{self.link(value.page_url, f'{value.page}ページ')}）" if value.page_url else ""
        return f"・{self.escape(value.label)}: {self.escape(shown)}{where}"


PLAIN = _Markup(lambda s: s, lambda url, text: url if text == url else f"{text}: {url}", lambda s: s)
SLACK = _Markup(slack_escape, slack_link, lambda s: f"*{s}*")
MARKDOWN = _Markup(markdown_escape, markdown_link, lambda s: f"**{s}**")
HTML = _Markup(html.escape, html_link, lambda s: f"<b>{s}</b>", newline="<br>\n")


def _alert_lines(alert: Alert, m: _Markup) -> list[str]:
    g = guidance(alert.rule)
    pdf = m.link(alert.url, alert.url) if alert.url else "URL不明"
    return [
        m.bold(m.escape(headline(alert))),
        f"{m.bold('自治体')}: {m.escape(_city_line(alert))}",
        f"{m.bold('評価書')}: {m.escape(_document(alert))}",
        f"{m.bold('食い違っている値')}:",
        *(m.value_line(v) for v in values(alert)),
        *(["※ OCRで読み取った値です。PDFの該当ページで確かめてください。"] if alert.evidence.get("ocr") else []),
        f"{m.bold('詳しく')}: {m.escape(alert.message)}",
        f"{m.bold('ルールが求めること')}: {m.escape(g.expects)}",
        f"{m.bold('次にすること')}: {m.escape(g.next_step)}",
        f"{m.bold('PDF')}: {pdf}",
        m.escape(_rule_line(alert)),
    ]


def _resolved_lines(alert: Alert, m: _Markup) -> list[str]:
    url = alert.resolved_by_url or alert.url
    return [
        m.bold(m.escape(resolved_headline(alert))),
        f"{m.bold('自治体')}: {m.escape(_city_line(alert))}",
        f"{m.bold('評価書')}: {m.escape(_document(alert))}",
        f"{m.bold('食い違っていた値')}（前 → 後）:" if alert.new_values else f"{m.bold('前回の値')}:",
        *(m.value_line(v, resolved=True) for v in values(alert)),
        m.escape(_fixed_line(alert)),
        f"{m.bold('PDF')}: {m.link(url, url) if url else 'URL不明'}",
        f"{m.bold('前回の内容')}: {m.escape(alert.message)}",
        m.escape(_rule_line(alert)),
    ]


def slack_header(text: str) -> dict:
    """A header block. Slack shows plain_text as is, but other Slack-compatible receivers may
    parse it: angle brackets become full-width ones, which no receiver reads as markup."""
    safe = one_line(text).replace("<", "＜").replace(">", "＞")
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(safe, _SLACK_HEADER)}}


def _slack_blocks(lines: list[str], header: str) -> list[dict]:
    body = "\n".join(lines[1:])
    return [slack_header(header), {"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, _SLACK_SECTION)}}]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _outgoing(subject: str, lines_in, header: str) -> Outgoing:
    slack_lines = lines_in(SLACK)
    html_lines = lines_in(HTML)
    return Outgoing(
        subject=one_line(subject),
        text="\n".join(lines_in(PLAIN)),
        # ``text`` is what notifications show (and all of it for clients without blocks).
        slack={"text": "\n".join(slack_lines), "blocks": _slack_blocks(slack_lines, header)},
        markdown="\n".join(lines_in(MARKDOWN)),
        html="<html><body>" + HTML.newline.join(html_lines) + "</body></html>",
    )


def subject(alert: Alert) -> str:
    return f"[PIA Watch] {alert.city_name or alert.city} 評価書番号{alert.number}: {guidance(alert.rule).headline}"


def resolved_subject(alert: Alert) -> str:
    return f"[PIA Watch] 解消: {alert.city_name or alert.city} 評価書番号{alert.number}: {guidance(alert.rule).headline}"


def opened(alert: Alert) -> Outgoing:
    """The alert itself."""
    return _outgoing(subject(alert), lambda m: _alert_lines(alert, m), headline(alert))


def resolved(alert: Alert) -> Outgoing:
    """The notice that the alert's problem is gone, and what changed."""
    return _outgoing(resolved_subject(alert), lambda m: _resolved_lines(alert, m), resolved_headline(alert))


def digest(run_id: str, new: list[Alert], fixed: list[Alert]) -> Outgoing:
    """One message for a run: its new problems and its resolved ones."""
    head = f"PIA Watch: 新しい問題 {len(new)}件、解消 {len(fixed)}件（実行 {run_id}）"

    def lines(m: _Markup) -> list[str]:
        out = [m.bold(m.escape(head))]
        for title, alerts, render in (("新しい問題", new, _alert_lines), ("解消した問題", fixed, _resolved_lines)):
            if not alerts:
                continue
            out += ["", m.bold(f"■ {title}（{len(alerts)}件）")]
            for n, alert in enumerate(alerts[:_DIGEST_ITEMS], start=1):
                item = render(alert, m)
                out += [f"{n}. {item[0]}", *(f"    {line}" for line in item[1:])]
            if len(alerts) > _DIGEST_ITEMS:
                out.append(m.escape(f"…ほか{len(alerts) - _DIGEST_ITEMS}件（piawatch report、open_findings を参照）"))
        return out

    plain = _outgoing(f"[PIA Watch] 新しい問題 {len(new)}件、解消 {len(fixed)}件（{run_id}）", lines, head)
    # A digest's Slack layout: one section per problem, within Slack's 50 blocks.
    blocks = [slack_header(head)]
    for title, alerts, render in (("新しい問題", new, _alert_lines), ("解消した問題", fixed, _resolved_lines)):
        if alerts:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*■ {title}（{len(alerts)}件）*"}})
            for alert in alerts[:_DIGEST_ITEMS]:
                blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                           "text": _cut("\n".join(render(alert, SLACK)), _SLACK_SECTION)}})
    return Outgoing(plain.subject, plain.text, {"text": plain.slack["text"], "blocks": blocks},
                    plain.markdown, plain.html)


def notice(subject_line: str, body: str, level: int = logging.ERROR) -> Outgoing:
    """A notice for the people who run the pipeline (a failed run, a test message); its first
    line is the subject, which its body does not repeat."""
    lines = [one_line(subject_line), *body.splitlines()]
    body = "\n".join(lines)
    return Outgoing(
        subject=one_line(subject_line), text=body,
        slack={"text": "\n".join(slack_escape(line) for line in lines),
               "blocks": [slack_header(subject_line),
                          {"type": "section", "text": {"type": "mrkdwn",
                                                       "text": _cut("\n".join(slack_escape(x) for x in lines[1:]), _SLACK_SECTION)}}]},
        markdown="\n".join(markdown_escape(line) for line in lines),
        html="<html><body>" + "<br>\n".join(html.escape(line) for line in lines) + "</body></html>",
        level=level)


def email(message: Outgoing, sender: str, recipients: list[str]) -> EmailMessage:
    """Plain text with an HTML alternative, UTF-8; the Subject on one line."""
    mail = EmailMessage()
    mail["Subject"] = one_line(message.subject)
    mail["From"] = one_line(sender)
    mail["To"] = ", ".join(one_line(r) for r in recipients)
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail
