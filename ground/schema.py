"""The parsed assessment record: its fields defined once.

Everything else derives from this module: the JSON that ``piawatch parse`` prints, the DuckDB
columns of the ``assessments`` table, the data dictionary and the ``required`` quality rules.
See CONTRACT.md ("Parsed record") for the promise this makes to users.
"""

from __future__ import annotations

from dataclasses import dataclass

from ground.vocabulary import (FILE_SUBJECT_TEXT, KIND_TEXT, SUBJECT_COUNT_TEXT, THRESHOLD_RESULT_TEXT,
                               TIMING_TEXT)

# The closed vocabularies' values, in the forms' order (their words: ground.vocabulary).
KINDS = tuple(KIND_TEXT)
KIND_LABELS = KIND_TEXT
SUBJECT_COUNT_BANDS = tuple(SUBJECT_COUNT_TEXT)
FILE_SUBJECT_BANDS = tuple(FILE_SUBJECT_TEXT)
THRESHOLD_RESULTS = tuple(THRESHOLD_RESULT_TEXT)
CHANGE_TIMINGS = tuple(TIMING_TEXT)


@dataclass(frozen=True)
class Field:
    name: str
    json_type: str  # "str" | "int" | "bool" | "date" | "list" | "object" | "enum"
    sql_type: str
    label: str  # the form's own label
    description: str
    kinds: tuple[str, ...] = KINDS  # the kinds whose form has this field
    choices: tuple[str, ...] = ()

FIELDS: tuple[Field, ...] = (
    Field("kind", "enum", "VARCHAR", "評価書の種類", "basic (様式2) / focused (様式3) / full (様式4), from the title on page 1", choices=KINDS),
    Field("assessment_number", "int", "INTEGER", "評価書番号", "the task's number in the city's assessment plan"),
    Field("title", "str", "VARCHAR", "評価書名", "as printed, including （案） or 【…終了】"),
    Field("organization", "str", "VARCHAR", "評価実施機関名", "the office that made the assessment, e.g. 堺市長"),
    Field("published_on", "date", "DATE", "公表日", "publication date; null in drafts"),
    Field("form_version", "str", "VARCHAR", "様式", "form version from the cover, e.g. 平成30年5月 様式4"),
    Field("is_draft", "bool", "BOOLEAN", "（案）", "the title marks a draft for public comment (案 / 素案)"),
    Field("ended_on", "date", "DATE", "【…終了】", "the date the task ended, from the title"),
    Field("business_name", "str", "VARCHAR", "事務の名称", "name of the task (I 1 ①)"),
    Field("subject_count_band", "enum", "VARCHAR", "対象人数", "number of people the task covers, as a band", choices=SUBJECT_COUNT_BANDS),
    Field("subject_count_as_of", "date", "DATE", "いつ時点の計数か", "the date the count refers to (basic only)", kinds=("basic",)),
    Field("handler_count_500_or_more", "bool", "BOOLEAN", "取扱者数", "500 or more people handle the file (basic only)", kinds=("basic",)),
    Field("serious_incident_past_year", "bool", "BOOLEAN", "重大事故", "a serious incident in the past year (basic Ⅱ 3)", kinds=("basic",)),
    Field("serious_incident_past_3_years", "bool", "BOOLEAN", "重大事故の発生", "a serious personal-information incident in the past 3 years (focused/full risk section)", kinds=("focused", "full")),
    Field("threshold_result", "enum", "VARCHAR", "しきい値判断結果", "what the document says is mandatory (a 任意 suffix does not change it)", choices=THRESHOLD_RESULTS),
    Field("threshold_result_voluntary", "bool", "BOOLEAN", "任意に…を実施", "the stated result carries 「任意に…を実施」"),
    Field("submitted_kinds", "list", "VARCHAR[]", "提出する評価書の種類", "basic Ⅳ 1: the documents the office submits", kinds=("basic",)),
    Field("basic_assessment_date", "date", "DATE", "基礎項目評価の実施日", "focused V 1 ① / full VI 1 ①", kinds=("focused", "full")),
    Field("public_comment_start", "date", "DATE", "意見の聴取 実施日・期間", "first day of the public comment period", kinds=("focused", "full")),
    Field("public_comment_end", "date", "DATE", "意見の聴取 実施日・期間", "last day of the public comment period", kinds=("focused", "full")),
    Field("public_comment_shortened_reason", "str", "VARCHAR", "期間を短縮する特段の理由", "reason stated for a comment period under 30 days", kinds=("focused", "full")),
    Field("third_party_review_dates", "list", "DATE[]", "第三者点検 実施日", "dates of the third-party review", kinds=("focused", "full")),
    Field("files", "list", "JSON", "特定個人情報ファイル", "each file: name, subject_band, …", kinds=("focused", "full")),
    Field("changes", "list", "JSON", "変更箇所", "change rows: date, item, before, after, timing, note"),
    Field("risk_answers", "list", "JSON", "リスク対策", "section, question, answer"),
    Field("source", "object", "JSON", "出典", "sha256, pages, extractor facts, per-field page numbers"),
)

FIELD_NAMES = tuple(f.name for f in FIELDS)

# What every published document of its kind must carry (the `required` rule family).
REQUIRED_FIELDS = {
    "basic": ("assessment_number", "title", "organization", "published_on", "form_version",
              "subject_count_band", "handler_count_500_or_more", "serious_incident_past_year",
              "threshold_result"),
    "focused": ("assessment_number", "title", "organization", "published_on", "form_version",
                "business_name", "subject_count_band", "threshold_result", "basic_assessment_date"),
    "full": ("assessment_number", "title", "organization", "published_on", "form_version",
             "business_name", "subject_count_band", "threshold_result", "basic_assessment_date"),
}

def empty_record() -> dict:
    """A record with every field present and unknown (null / empty list)."""
    record = {f.name: ([] if f.json_type == "list" else None) for f in FIELDS}
    record["source"] = {}
    return record
