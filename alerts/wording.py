"""The words an alert uses: the form's own labels and values, and what each rule expects.

A finding's evidence holds record values (``300k_plus``, ``basic_only``) and columns the checks
derive (``kind_weight = 2``). Nobody reading an alert should need to know either, so each is said
here as the form prints it (「30万人以上」, 「基礎項目評価の実施が義務付けられる」), and each rule gets a
headline, what it expects and what to do next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ground import vocabulary
from ground.schema import FIELDS, KIND_LABELS
from quality.rules import MIN_COMMENT_DAYS, STALE_AFTER_YEARS
from quality.threshold import KIND_WEIGHT

_KIND_BY_WEIGHT = {weight: kind for kind, weight in KIND_WEIGHT.items()}

# Labels of the columns the checks derive (quality.frames.document_row), in the form's terms.
DERIVED_LABELS = {
    "expected_threshold_result": "しきい値判断の基準から導かれる結果",
    "kind_weight": "評価書の種類",
    "stated_result_kind_weight": "しきい値判断結果が求める評価書",
    "required_document_present": "同じ評価書番号の必要な評価書",
    "public_comment_days": "意見の聴取の期間",
    "public_comment_last_day": "意見の聴取の最終日",
    "third_party_review_count": "第三者点検の実施回数",
    "stale_before": "5年前の日付",
}
# The form prints both dates of the comment period under one label; an alert names each.
FIELD_LABELS = {**{f.name: f.label for f in FIELDS},
                "public_comment_start": "意見の聴取 実施期間の初日", "public_comment_end": "意見の聴取 実施期間の末日"}
# Yes/no fields, as the form words the two answers.
_BOOLEANS = {
    "handler_count_500_or_more": vocabulary.HANDLERS_500_OR_MORE_TEXT,
    "serious_incident_past_year": vocabulary.INCIDENT_TEXT,
    "serious_incident_past_3_years": vocabulary.INCIDENT_TEXT,
    "is_draft": ("（案）と記載", "（案）の記載なし"),
    "threshold_result_voluntary": ("任意に実施と記載", "記載なし"),
    "required_document_present": ("公表されている", "公表されていない"),
}
_ITEM = re.compile(r"^(?P<field>[a-z_0-9]+)\[(?P<index>\d+)\]$")
BLANK = "空欄（記載なし）"


def japanese_date(value) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def label(name: str) -> str:
    """「対象人数」 for subject_count_band; 「変更箇所（1行目）」 for changes[0]."""
    item = _ITEM.match(name)
    if item:
        return f"{FIELD_LABELS.get(item['field'], item['field'])}（{int(item['index']) + 1}件目）"
    return FIELD_LABELS.get(name) or DERIVED_LABELS.get(name) or name


def _item_words(field: str, value: dict) -> str:
    if field == "changes":
        parts = [f"変更日 {japanese_date(value['date'])}" if value.get("date") else None,
                 f"項目「{value['item']}」" if value.get("item") else None,
                 f"提出時期 {vocabulary.TIMING_TEXT.get(value.get('timing'), value.get('timing'))}"
                 if value.get("timing") else None]
    elif field == "risk_answers":
        parts = [f"「{value.get('question') or 'リスク対策'}」への回答「{value.get('answer') or BLANK}」"]
    elif field == "files":
        band = value.get("subject_band")
        parts = [f"ファイル「{value.get('name') or '名称不明'}」",
                 f"対象となる本人の数 {vocabulary.FILE_SUBJECT_TEXT.get(band, band)}" if band else None]
    else:
        parts = [f"{key}: {item}" for key, item in value.items()]
    return "、".join(p for p in parts if p) or BLANK


def words(name: str, value) -> str:
    """A value as the form prints it (never ``300k_plus`` or ``kind_weight = 2``)."""
    item = _ITEM.match(name)
    field = item["field"] if item else name
    if value is None or value == []:
        return BLANK
    if isinstance(value, dict):
        return _item_words(field, value)
    if field in ("subject_count_band",):
        return vocabulary.SUBJECT_COUNT_TEXT.get(value, str(value))
    if field in ("threshold_result", "expected_threshold_result"):
        return vocabulary.THRESHOLD_RESULT_TEXT.get(value, str(value))
    if field == "kind":
        return KIND_LABELS.get(value, str(value))
    if field == "submitted_kinds":
        return "、".join(KIND_LABELS.get(v, str(v)) for v in value)
    if field in ("kind_weight", "stated_result_kind_weight"):
        kind = _KIND_BY_WEIGHT.get(value)
        if field == "stated_result_kind_weight" and kind == "basic":
            return "基礎項目評価書のみ"
        return KIND_LABELS.get(kind, str(value))
    if field in _BOOLEANS and isinstance(value, bool):
        yes, no = _BOOLEANS[field]
        return yes if value else no
    if field == "public_comment_days":
        return f"{value}日間"
    if field == "third_party_review_count":
        return f"{value}回"
    if isinstance(value, list):
        return "、".join(words(field, v) for v in value)
    if isinstance(value, date) or (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        return japanese_date(value)
    return str(value)


@dataclass(frozen=True)
class Guidance:
    headline: str  # what is wrong, completing 「{city}の評価書番号{n}で、…」
    expects: str  # what the rule expects
    next_step: str  # what the reader should do


_ASK_CITY = "PDFの該当ページで値を確かめ、誤りであれば自治体の担当部署に確認・訂正を依頼してください。"
_NEWER = "新しい版が公表されていないか、自治体のページも確認してください。"

GUIDANCE = {
    "required.missing_field": Guidance(
        "必須の項目が空欄になっています。",
        "公表された評価書には、この項目の記載が必要です。",
        _ASK_CITY + _NEWER),
    "threshold.result_mismatch": Guidance(
        "しきい値判断結果が、評価書自身に書かれた対象人数などと合っていません。",
        "しきい値判断結果は、対象人数・取扱者数・重大事故の有無から特定個人情報保護評価指針の基準で決まります。",
        _ASK_CITY + "誤りであれば、必要な評価（重点項目評価・全項目評価）が実施されていない可能性があります。"),
    "threshold.kind_lighter_than_result": Guidance(
        "評価書の種類が、評価書自身のしきい値判断結果が求める評価より軽くなっています。",
        "しきい値判断結果が全項目評価を求める場合、評価書は全項目評価書である必要があります。",
        _ASK_CITY + _NEWER),
    "threshold.missing_required_document": Guidance(
        "基礎項目評価書が義務付けている重点項目評価書・全項目評価書が見つかりません。",
        "しきい値判断結果が重点項目評価または全項目評価を求める場合、同じ評価書番号のその評価書（またはより重い評価書）が公表されている必要があります。",
        "自治体のページで同じ評価書番号の評価書を探し、見つからなければ自治体の担当部署に公表予定を問い合わせてください。"),
    "dates.change_after_publication": Guidance(
        "変更箇所の変更日が公表日より後になっています。",
        "変更箇所に記載する変更は、公表日までに行われたものです。",
        _ASK_CITY + _NEWER),
    "dates.count_after_publication": Guidance(
        "対象人数の計数時点が公表日より後になっています。",
        "対象人数は公表日以前の時点で数えたものです。",
        _ASK_CITY),
    "dates.review_after_publication": Guidance(
        "第三者点検の実施日が公表日より後になっています。",
        "全項目評価書は第三者点検を受けた後に公表されます。",
        _ASK_CITY),
    "dates.comment_after_publication": Guidance(
        "意見の聴取の期間が公表日より後まで続いています。",
        "意見の聴取は、評価書の公表前に終わっている必要があります。",
        _ASK_CITY),
    "procedure.no_public_comment": Guidance(
        "全項目評価書に、住民等からの意見の聴取の実施日・期間が記載されていません。",
        "地方公共団体等の全項目評価では、住民等からの意見の聴取が必要です。",
        _ASK_CITY + _NEWER),
    "procedure.no_third_party_review": Guidance(
        "全項目評価書に、第三者点検の実施日が記載されていません。",
        "地方公共団体等の全項目評価書は、第三者点検を受ける必要があります。",
        _ASK_CITY + _NEWER),
    "procedure.short_comment_period": Guidance(
        f"意見の聴取の期間が{MIN_COMMENT_DAYS}日に満たないのに、短縮の理由が記載されていません。",
        f"意見の聴取の期間は原則{MIN_COMMENT_DAYS}日以上で、短縮する場合は特段の理由の記載が必要です。",
        _ASK_CITY),
    "procedure.stale_full_assessment": Guidance(
        f"全項目評価書が公表から{STALE_AFTER_YEARS}年を超えて再評価されていません。",
        f"全項目評価は{STALE_AFTER_YEARS}年を経過する前に再実施するよう努めることとされています。",
        "新しい版が公表されていないか自治体のページを確認し、なければ再評価の予定を問い合わせてください。"),
    "choice.invalid_answer": Guidance(
        "回答が様式の選択肢にありません。",
        "様式の選択肢のいずれかで回答されている必要があります。",
        _ASK_CITY),
    "extraction.unread_section": Guidance(
        "あるはずの項目を読み取れませんでした。",
        "この種類の評価書には、この項目があるはずです。",
        "PDFの該当箇所を開いて確認してください。スキャン画像や様式の違いによる読み取りの問題であれば、PIA Watch側の課題です。"),
}
_FALLBACK = Guidance("データ品質の問題が見つかりました。", "—", _ASK_CITY)


def guidance(rule: str) -> Guidance:
    return GUIDANCE.get(rule, _FALLBACK)
