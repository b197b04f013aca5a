"""様式2 基礎項目評価書: Ⅰ 関連情報, Ⅱ しきい値判断項目, Ⅲ しきい値判断結果, Ⅳ リスク対策, 変更箇所."""

from __future__ import annotations

from transform import bands
from transform.forms.common import iso_date, parse_changes, risk_answers
from transform.forms.reader import FormReader


def parse_basic(reader: FormReader) -> None:
    related = reader.section(1, "関連情報")
    start = related[0] if related else 0
    reader.value("business_name", "①事務の名称", start, how="numbered")

    items = reader.section(2, "しきい値判断項目")
    begin, end = items if items else (start, None)
    reader.choice("subject_count_band", "評価対象の事務の対象人数", bands.subject_count_band,
                  begin, end, how="prefix")
    counted = reader.labelled("対象人数", begin, end, how="prefix")
    reader.value("subject_count_as_of", "いつ時点の計数か", counted[0] if counted else begin, end,
                 convert=iso_date)
    # short anchors: a label wrapped in its cell reaches OCR as several lines
    reader.choice("handler_count_500_or_more", "取扱者数は", bands.handler_count_500_or_more,
                  begin, end, how="contains")
    reader.choice("serious_incident_past_year", "過去1年以内", bands.incident, begin, end, how="contains")

    result_section = reader.section(3, "しきい値判断結果")
    _threshold_result(reader, result_section)

    risks = reader.section(4, "リスク対策")
    if risks is None:
        reader.mark_unread("submitted_kinds")
        reader.mark_unread("risk_answers")
    else:
        reader.choice("submitted_kinds", "提出する特定個人情報保護評価書", bands.submitted_kinds,
                      risks[0], risks[1], how="prefix")
        reader.put("risk_answers", risk_answers(reader, *risks), reader.rows[risks[0]])
    parse_changes(reader, "変更箇所")


def _threshold_result(reader: FormReader, section: tuple[int, int] | None) -> None:
    """Ⅲ: the sub-heading 「しきい値判断結果」, then the result sentence in the next row."""
    if section is None:
        reader.mark_unread("threshold_result")
        return
    begin, end = section
    stated = [row for row in reader.rows[begin + 1:end] if row.key != "しきい値判断結果"]
    for row in stated:
        result, voluntary = bands.threshold_result(row.text)
        if result:
            reader.put("threshold_result", result, row)
            reader.put("threshold_result_voluntary", voluntary, row)
            return
    if stated:  # text is there but says none of the four results
        reader.mark_unread("threshold_result")
