"""The catalogue of data-quality rules: ids, families and severities (see docs/shared defs).

Severity is the rule's own; the one exception is written next to the rule it bends
(a draft without 公表日 is only ``info``: drafts are published before they have one).
"""

from __future__ import annotations

from dataclasses import dataclass

from ground import vocabulary


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "error" | "warning" | "info"
    description: str

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("required.missing_field", "error",
         "a field every published document of its kind must have is blank"),
    Rule("threshold.result_mismatch", "error",
         "the stated しきい値判断結果 is not what the threshold rule gives for the document's own "
         "対象人数 / 取扱者数 / 重大事故"),
    Rule("threshold.kind_lighter_than_result", "error",
         "a focused document whose own stated result makes a full assessment mandatory"),
    Rule("threshold.missing_required_document", "error",
         "a basic document says a full/focused assessment is mandatory and the city has none "
         "with the same 評価書番号"),
    Rule("dates.change_after_publication", "warning", "a 変更箇所 row is dated after 公表日"),
    Rule("dates.count_after_publication", "warning", "いつ時点の計数か is after 公表日"),
    Rule("dates.review_after_publication", "error", "a 第三者点検 date is after 公表日"),
    Rule("dates.comment_after_publication", "error", "the public comment period ends after 公表日"),
    Rule("procedure.no_public_comment", "error", "a full assessment without public comment"),
    Rule("procedure.no_third_party_review", "error", "a full assessment without a third-party review"),
    Rule("procedure.short_comment_period", "warning",
         "public comment shorter than 30 days without a stated reason"),
    Rule("procedure.stale_full_assessment", "warning",
         "a full assessment published more than 5 years before the check date"),
    Rule("choice.invalid_answer", "warning", "an answer that is not one of the form's choices"),
    Rule("extraction.unread_section", "warning",
         "the parser could not read a field it expects for this kind of document"),
)}

DRAFT_MISSING_PUBLISHED_ON_SEVERITY = "info"

MIN_COMMENT_DAYS = 30
STALE_AFTER_YEARS = 5

# The answers the risk sections (Ⅳ / III / IV) offer, by kind of question. A risk's own
# question (「…リスクへの対策は十分か」, or the risk's label) takes RISK_QUESTION_CHOICES; 従業者に対する
# 教育・啓発 takes the "…行っている" scale; other questions (ユーザ認証の管理, 委託契約書中の…規定…)
# have yes/no-like sets whose wording varies by form version, so they are held to all of them.
RISK_QUESTION_CHOICES = vocabulary.RISK_ANSWERS
EDUCATION_QUESTION_CHOICES = vocabulary.EDUCATION_ANSWERS
OTHER_QUESTION_CHOICES = (
    *RISK_QUESTION_CHOICES, *EDUCATION_QUESTION_CHOICES,
    "行っている", "行っていない", "定めている", "定めていない", *vocabulary.INCIDENT_TEXT,
    "再委託していない", "委託しない", "提供・移転しない", "実施する", "実施しない", "未定",
)
RISK_ANSWER_SETS = {"risk": RISK_QUESTION_CHOICES, "education": EDUCATION_QUESTION_CHOICES,
                    "other": OTHER_QUESTION_CHOICES}


def risk_question_kind(question: str | None) -> str:
    """Which choice set a risk-section question takes (a key of RISK_ANSWER_SETS)."""
    question = question or ""
    if "教育・啓発" in question:
        return "education"
    if "リスク" in question:
        return "risk"
    return "other"
