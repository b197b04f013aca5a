"""What the site calls things: Japanese labels, the rule texts and their 指針 citations.

Values print the way the regulator's 様式 prints them: the choice texts come from
``transform.bands`` (the parser reads them from there too), dates in the forms' 和暦.
"""

from __future__ import annotations

from datetime import date

from alerts.wording import label, words
from ground import vocabulary
from ground.schema import FIELDS, KIND_LABELS
from quality.rules import RULES

SEVERITY_LABELS = {"error": "エラー", "warning": "警告", "info": "情報"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

FAMILY_LABELS = {
    "required": "必須項目", "threshold": "しきい値判断", "dates": "日付", "procedure": "手続",
    "choice": "選択肢", "extraction": "読み取り",
}

FIELD_LABELS = {f.name: f.label for f in FIELDS}

# One entry per rule of quality.rules.RULES (a test keeps them in step): a title, what it checks
# in plain Japanese, and the provision it rests on. 指針 = 特定個人情報保護評価指針 (平成26年特定個人情報
# 保護委員会告示第4号), 規則 = 特定個人情報保護評価に関する規則 (平成26年特定個人情報保護委員会規則第1号).
RULE_TEXTS = {
    "required.missing_field": (
        "必須項目の空欄",
        "公表された評価書で、その種類の様式が記載を求める項目（評価書番号、評価書名、公表日、対象人数、しきい値判断結果など）が空欄になっていないか。案（意見聴取用）の公表日の空欄は「情報」とする。",
        "規則第5条〜第7条（様式2〜4）及び各様式の記載要領"),
    "threshold.result_mismatch": (
        "しきい値判断結果の誤り",
        "評価書自身に書かれた対象人数・取扱者数・重大事故の有無から、しきい値判断の基準が導く結果と、記載されたしきい値判断結果が一致するか。",
        "指針 第5の2（しきい値判断）"),
    "threshold.kind_lighter_than_result": (
        "しきい値判断結果より軽い評価書",
        "重点項目評価書なのに、その評価書自身のしきい値判断結果が全項目評価を義務付けていないか（任意により重い評価は可、軽い評価は不可）。",
        "指針 第5の2（しきい値判断）、規則第6条・第7条"),
    "threshold.missing_required_document": (
        "義務付けられた評価書の未公表",
        "基礎項目評価書のしきい値判断結果が全項目（重点項目）評価を義務付けているのに、同じ評価書番号の全項目（重点項目）評価書を同じ自治体が公表しているか。",
        "指針 第5の2（しきい値判断）、規則第6条・第7条"),
    "dates.change_after_publication": (
        "公表日より後の変更日",
        "変更箇所の変更日が公表日より後になっていないか。",
        "各様式の記載要領（記載内容は公表日時点のもの）"),
    "dates.count_after_publication": (
        "公表日より後の計数時点",
        "対象人数の「いつ時点の計数か」が公表日より後になっていないか。",
        "基礎項目評価書の記載要領（Ⅱ 1 対象人数）"),
    "dates.review_after_publication": (
        "公表日より後の第三者点検",
        "第三者点検の実施日が公表日より後になっていないか（点検は公表・提出の前に行う）。",
        "規則第7条第4項、指針 第5の3"),
    "dates.comment_after_publication": (
        "公表日より後まで続く意見聴取",
        "国民・住民等からの意見の聴取の期間が公表日より後まで続いていないか。",
        "規則第7条第4項、指針 第5の3"),
    "procedure.no_public_comment": (
        "意見聴取の記載なし",
        "全項目評価書（案を除く）に、国民・住民等からの意見の聴取の実施日・期間が記載されているか。",
        "規則第7条第4項、指針 第5の3"),
    "procedure.no_third_party_review": (
        "第三者点検の記載なし",
        "全項目評価書（案を除く）に、第三者点検の実施日が記載されているか。",
        "規則第7条第4項、指針 第5の3"),
    "procedure.short_comment_period": (
        "30日未満の意見聴取",
        "全項目評価書の意見聴取の期間が30日以上か。30日未満なら、期間を短縮する特段の理由が記載されているか。",
        "指針 第5の3（原則として30日以上）"),
    "procedure.stale_full_assessment": (
        "5年を超えた全項目評価",
        "終了していない事務の全項目評価書が、公表から5年を超えていないか（5年を経過する前に再実施するよう努める）。",
        "規則第15条"),
    "choice.invalid_answer": (
        "様式にない選択肢",
        "対象人数、しきい値判断結果、評価書の種類、変更箇所の提出時期、ファイルの本人の数、リスク対策の回答が、様式の選択肢のいずれかになっているか。",
        "各様式の選択肢（規則第5条〜第7条の様式）"),
    "extraction.unread_section": (
        "読み取れなかった項目",
        "その種類の評価書にあるはずの項目を PIA Watch が読み取れたか。これは自治体の誤りではなく、値が空欄か読み取りの失敗かが分からないことを示す。",
        "PIA Watch 自身の点検（指針の規定ではない）"),
}
assert set(RULE_TEXTS) == set(RULES), sorted(set(RULE_TEXTS) ^ set(RULES))

_PRINTED = {
    "kind": vocabulary.KIND_TEXT,
    "subject_count_band": vocabulary.SUBJECT_COUNT_TEXT,
    "threshold_result": vocabulary.THRESHOLD_RESULT_TEXT,
    "handler_count_500_or_more": dict(zip((True, False), vocabulary.HANDLERS_500_OR_MORE_TEXT)),
    "serious_incident_past_year": dict(zip((True, False), vocabulary.INCIDENT_TEXT)),
    "serious_incident_past_3_years": dict(zip((True, False), vocabulary.INCIDENT_TEXT)),
}
FILE_SUBJECT_LABELS = vocabulary.FILE_SUBJECT_TEXT
TIMING_LABELS = vocabulary.TIMING_TEXT
_YES_NO = {True: "該当", False: "非該当"}


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind, kind or "不明")


def rule_title(rule: str) -> str:
    return RULE_TEXTS.get(rule, (rule,))[0]


def wareki(value: date | str | None) -> str | None:
    """An ISO date as the forms print it: 令和7年1月31日 (令和元年 for 2019 from May)."""
    if value is None:
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    for era, start in (("令和", date(2019, 5, 1)), ("平成", date(1989, 1, 8)), ("昭和", date(1926, 12, 25))):
        if day >= start:
            year = day.year - start.year + 1
            return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return day.isoformat()


def printed(field: str, value) -> str | None:
    """A field's value the way the form prints it; None when the document gives none."""
    if value is None or value == []:
        return None
    if field in _PRINTED:
        return _PRINTED[field].get(value, str(value))
    if field == "submitted_kinds":
        return "、".join(kind_label(k) for k in value)
    if isinstance(value, bool):
        return _YES_NO[value]
    if isinstance(value, list):
        return "、".join(wareki(v) or "" if _is_iso_date(v) else str(v) for v in value)
    if _is_iso_date(value):
        return wareki(value)
    return str(value)


def _is_iso_date(value) -> bool:
    text = str(value)
    return len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()



def evidence_rows(values: dict, pages: dict) -> list[dict]:
    """A finding's disagreeing values as rows (label, value, page), worded as its alert words them
    (alerts.wording); values only the rule's arithmetic needs (kind weights) are left out."""
    rows = []
    for name, value in values.items():
        if name in _ARITHMETIC:
            continue
        page = pages.get(name) or (value.get("page") if isinstance(value, dict) else None)
        rows.append({"label": label(name), "value": words(name, value), "page": page})
    return rows


_ARITHMETIC = {"kind_weight", "stated_result_kind_weight"}
