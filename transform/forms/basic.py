"""様式2 基礎項目評価書: Ⅰ 関連情報, Ⅱ しきい値判断項目, Ⅲ しきい値判断結果, Ⅳ リスク対策, 変更箇所."""

from __future__ import annotations

from transform import bands
from transform.forms.cover import iso_date, parse_changes, risk_answers
from transform.forms.reader import FormReader
from transform.labels import LABELS, after


def parse_basic(reader: FormReader) -> None:
    related = reader.section(1, "関連情報")
    start = related[0] if related else 0
    reader.value("business_name", LABELS["business_name"], start, anywhere=True)

    items = reader.section(2, "しきい値判断項目")
    begin, end = items if items else (start, None)
    reader.choice("subject_count_band", LABELS["subject_count_band"], bands.subject_count_band,
                  begin, end, anywhere=True)
    counted = reader.labelled(LABELS["subject_count_band"], begin, end)
    reader.value("subject_count_as_of", LABELS["subject_count_as_of"], counted.index if counted else begin, end,
                 convert=iso_date)
    # OCR: a label wrapped in its cell arrives as several lines; a short anchor finds its first
    how = "contains" if reader.ocr else "exact"
    reader.choice("handler_count_500_or_more", "取扱者数は" if reader.ocr else LABELS["handler_count_500_or_more"],
                  bands.handler_count_500_or_more, begin, end, how=how, anywhere=True)
    reader.choice("serious_incident_past_year", "過去1年以内" if reader.ocr else LABELS["serious_incident_past_year"],
                  bands.incident, begin, end, how=how, anywhere=True)

    result_section = reader.section(3, "しきい値判断結果")
    _threshold_result(reader, result_section)

    risks = reader.section(4, "リスク対策")
    if risks is None:
        reader.mark_unread("submitted_kinds")
        reader.mark_unread("risk_answers")
    else:
        reader.choice("submitted_kinds", LABELS["submitted_kinds"], bands.submitted_kinds, *risks)
        reader.put("risk_answers", risk_answers(reader, *risks), reader.rows[risks[0]])
    parse_changes(reader, "変更箇所")


def _threshold_result(reader: FormReader, section: tuple[int, int] | None) -> None:
    """Ⅲ: the label 「しきい値判断結果」 and the result sentence beside or below it (bracketed or
    not); failing that, the first row of the section that states one of the four results."""
    begin, end = section if section else (0, len(reader.rows))
    label = LABELS["threshold_result"]
    found = reader.labelled(label, begin + 1 if section else 0, end)
    candidates = []
    if found is not None:
        candidates.append((reader.value_at(found, label), found.row))
    if section is not None:
        candidates += [(labels_removed(row.text), row) for row in reader.rows[begin + 1:end]]
    for text, row in candidates:
        result, voluntary = bands.threshold_result(text)
        if result:
            reader.put("threshold_result", result, row)
            reader.put("threshold_result_voluntary", voluntary, row)
            return
    reader.mark_unread("threshold_result")


def labels_removed(text: str) -> str:
    """A row's text without the 「しきい値判断結果」 label it may begin with."""
    rest = after(text, LABELS["threshold_result"])
    return text if rest is None else rest
