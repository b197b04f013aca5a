"""様式3 重点項目評価書 and 様式4 全項目評価書.

Both have I 基本情報, II one 特定個人情報ファイルの概要 per file, III risk measures per file, the
開示請求 section and 評価実施手続 (V in the focused form, VI in the full form, which adds Ⅳ その他の
リスク対策 and the comment period's 「期間を短縮する特段の理由」).
"""

from __future__ import annotations

import re

from ground.text import clean, compact
from transform import bands
from transform.forms.cover import iso_date, parse_changes, risk_answers
from transform.forms.reader import FormReader
from transform.labels import LABELS
from transform.normalize import find_dates, parse_date_range, section_numeral

_FILE_NUMBER = re.compile(r"^\(\s*\d+\s*\)\s*")
_PROVISION_HEADING = re.compile(r"^(提供|移転)先\s*\d+\s*(.*)$")
_OUTSOURCING_HEADING = re.compile(r"^委託事項\s*\d+")


def parse_detailed(reader: FormReader, kind: str) -> None:
    full = kind == "full"
    basic_info = reader.section(1, "基本情報")
    begin, end = basic_info if basic_info else (0, None)
    reader.value("business_name", LABELS["business_name"], begin, end, anywhere=True)
    reader.choice("subject_count_band", LABELS["subject_count"], bands.subject_count_band, begin, end,
                  anywhere=True)

    _files(reader)
    reader.choice("serious_incident_past_3_years", LABELS["serious_incident_past_3_years"], bands.incident)

    risks = reader.section(3, "リスク対策")
    inquiries = reader.section(5 if full else 4, "開示請求")
    if risks is None:
        reader.mark_unread("risk_answers")
    else:
        stop = inquiries[0] if inquiries else len(reader.rows)
        reader.put("risk_answers", risk_answers(reader, risks[0], stop), reader.rows[risks[0]])

    _procedure(reader, reader.section(6 if full else 5, "評価実施手続"), full)
    parse_changes(reader, "(別添3) 変更箇所" if full else "(別添2) 変更箇所")


def _procedure(reader: FormReader, section: tuple[int, int] | None, full: bool) -> None:
    fields = ["basic_assessment_date", "threshold_result", "public_comment_start", "public_comment_end",
              "third_party_review_dates"] + (["public_comment_shortened_reason"] if full else [])
    if section is None:
        for name in fields:
            reader.mark_unread(name)
        return
    begin, end = section
    basic = reader.labelled("基礎項目評価", begin, end, how="contains")
    basic_at = basic.index if basic else begin
    reader.value("basic_assessment_date", LABELS["basic_assessment_date"], basic_at, end, convert=iso_date)
    found = reader.labelled(LABELS["threshold_result"], basic_at, end)
    if found is None:
        reader.mark_unread("threshold_result")
    else:
        result, voluntary = bands.threshold_result(reader.selection_at(found, LABELS["threshold_result"]))
        reader.put("threshold_result", result, found.row)
        reader.put("threshold_result_voluntary", voluntary, found.row)

    comment = reader.labelled("意見の聴取", begin, end, how="contains")
    comment_at = comment.index if comment else begin
    period = reader.labelled(LABELS["public_comment_period"], comment_at, end)
    if period is None:
        reader.mark_unread("public_comment_start")
        reader.mark_unread("public_comment_end")
    else:
        start, stop = parse_date_range(reader.value_at(period, LABELS["public_comment_period"]))
        reader.put("public_comment_start", start.isoformat() if start else None, period.row)
        reader.put("public_comment_end", stop.isoformat() if stop else None, period.row)
    if full:
        reader.value("public_comment_shortened_reason", LABELS["public_comment_shortened_reason"], comment_at,
                     end)

    review = reader.labelled("第三者点検", begin, end, how="contains")
    if review is None:
        reader.mark_unread("third_party_review_dates")
    else:
        reader.value("third_party_review_dates", LABELS["third_party_review_dates"], review.index, end,
                     convert=lambda text: [d.isoformat() for d in find_dates(text)])


def _major_headings(reader: FormReader) -> list[int]:
    """Rows that start a numbered section or an annex (「（別添1）…」), after the cover."""
    return [i for i, row in enumerate(reader.rows)
            if row.page > 1 and not row.boxed
            and (section_numeral(row.cells[0].text) is not None or row.key.startswith("(別添"))]


def _files(reader: FormReader) -> None:
    headings = _major_headings(reader)
    starts = [i for i in headings if section_numeral(reader.rows[i].cells[0].text) == 2
              and "ファイルの概要" in reader.rows[i].key]
    if not starts:
        reader.mark_unread("files")
        return
    files = []
    for start in starts:
        end = next((i for i in headings if i > start), len(reader.rows))
        files.append(_file(reader, start, end))
    reader.put("files", files, reader.rows[starts[0]])


def _file(reader: FormReader, start: int, end: int) -> dict:
    name_heading = reader.labelled("1. 特定個人情報ファイル名", start, end)
    name = None
    if name_heading and name_heading.index + 1 < end:
        name = clean(_FILE_NUMBER.sub("", reader.rows[name_heading.index + 1].text))

    def choice(field: str) -> str | None:
        found = reader.labelled(LABELS[field], start, end)
        return reader.selection_at(found, LABELS[field]) if found else None

    held = reader.labelled(LABELS["held_since"], start, end)
    return {
        "name": name,
        "subject_band": bands.file_subject_band(choice("file_subject_band")),
        "record_items_count": choice("record_items_count"),
        "held_since": iso_date(reader.value_at(held, LABELS["held_since"])) if held else None,
        "outsourcing": _outsourcing(reader, start, end),
        "provisions": _provisions(reader, start, end),
    }


def _entries(reader: FormReader, start: int, end: int, heading) -> list[tuple[int, int]]:
    """(first, end) row ranges of the entries whose one-cell heading row matches `heading`."""
    firsts = [i for i in range(start, end)
              if len(reader.rows[i].cells) == 1 and heading(compact(reader.rows[i].text))]
    bounds = []
    for n, first in enumerate(firsts):
        stop = firsts[n + 1] if n + 1 < len(firsts) else end
        # the outsourcing entries end where 「5. 特定個人情報の提供・移転」 begins
        section_end = reader.find(lambda r: r.label().startswith(("5.特定個人情報の提供", "6.特定個人情報の保管")),
                                  first + 1, stop)
        bounds.append((first, section_end if section_end is not None else stop))
    return bounds


def _outsourcing(reader: FormReader, start: int, end: int) -> list[dict]:
    entries = []
    for first, stop in _entries(reader, start, end, _OUTSOURCING_HEADING.match):
        contractor = reader.labelled(LABELS["contractor"], first, stop)
        handlers = reader.labelled(LABELS["contractor_handlers"], first, stop)
        subcontract = reader.labelled("再委託の有無", first, stop, how="contains")
        subcontracting = reader.selection_at(subcontract, "再委託の有無") if subcontract else None
        entries.append({
            "contractor": reader.value_at(contractor, LABELS["contractor"]) if contractor else None,
            "handler_count": reader.selection_at(handlers, LABELS["contractor_handlers"]) if handlers else None,
            "subcontracting": None if subcontracting is None else compact(subcontracting) == "再委託する",
        })
    return entries


def _provisions(reader: FormReader, start: int, end: int) -> list[dict]:
    entries = []
    for first, _ in _entries(reader, start, end, _PROVISION_HEADING.match):
        match = _PROVISION_HEADING.match(reader.rows[first].text)
        entries.append({"kind": "provision" if match.group(1) == "提供" else "transfer",
                        "recipient": clean(match.group(2))})
    return entries
