"""The forms' labels, in one table, and how a printed label is recognised.

The 様式 are fixed by regulation, so every field has a small set of printed labels. Offices and
extractors vary them only slightly: spaces between the characters (「公 表 日」), the ①②/「1.」
numbering (which shifts between the focused and full forms), a glyph of the heading above that a
wrapped cell lets into the label (「①務事務の名称」), an OCR slip. ``match`` accepts those and no
more: a few stray characters on a long label, none on a short one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ground.text import clean, compact, nfkc

# field (or table anchor) → the labels the forms print for it, compact (NFKC, no spaces)
LABELS: dict[str, tuple[str, ...]] = {
    "assessment_number": ("評価書番号",),
    "title": ("評価書名",),
    "organization": ("評価実施機関名", "評価実施機関"),
    "approved_on": ("個人情報保護委員会承認日【行政機関等のみ】", "個人情報保護委員会承認日"),
    "published_on": ("公表日",),
    "declaration": ("個人のプライバシー等の権利利益の保護の宣言",),
    "remarks": ("特記事項",),
    "business_name": ("事務の名称",),
    "business_description": ("事務の概要",),
    "subject_count_band": ("評価対象の事務の対象人数は何人か", "評価対象の事務の対象人数"),  # 様式2
    "subject_count": ("対象人数",),  # 様式3/4 I 1 ③
    "subject_count_as_of": ("いつ時点の計数か",),
    "handler_count_500_or_more": ("特定個人情報ファイル取扱者数は500人以上か", "取扱者数は500人以上か"),
    "serious_incident_past_year": (
        "過去1年以内に、評価実施機関において特定個人情報に関する重大事故が発生したか",),
    "serious_incident_past_3_years": (
        "過去3年以内に、評価実施機関において、個人情報に関する重大事故が発生したか",),
    "threshold_result": ("しきい値判断結果",),
    "submitted_kinds": ("提出する特定個人情報保護評価書の種類",),
    "basic_assessment_date": ("実施日",),
    "public_comment_period": ("実施日・期間",),
    "public_comment_shortened_reason": ("期間を短縮する特段の理由",),
    "third_party_review_dates": ("実施日",),
    "file_subject_band": ("対象となる本人の数",),
    "record_items_count": ("記録される項目",),
    "held_since": ("保有開始日",),
    "contractor": ("委託先名",),
    "contractor_handlers": ("委託先における取扱者数",),
    "subcontracting": ("再委託の有無",),
}

# Other labels the forms print beside values: never a value themselves, so a value read below
# a label stops at them.
OTHER_LABELS = (
    "方法", "主な意見の内容", "評価書への反映", "期間を短縮する特段の理由", "実施の有無", "法令上の根拠",
    "事務担当部署", "使用部署", "使用目的", "使用方法", "委託内容", "委託事項", "委託先名の確認方法",
    "再委託の許諾方法", "再委託事項", "提供先における用途", "提供する情報", "提供方法", "時期・頻度",
    "対象となる本人の範囲", "主な記録項目", "その妥当性", "入手元", "入手方法", "入手の時期・頻度",
    "保管場所", "保管期間", "消去方法", "部署", "所属長の役職名", "請求先", "連絡先", "システムの名称",
    "特定個人情報ファイル名", "個人のプライバシー等の権利利益の保護の宣言", "特記事項",
)

# Numbering a label may carry: ①…⑳, 「1.」「(1)」「1)」, and a lone leading digit run.
_NUMBERING = re.compile(r"^(?:[①-⑳]|\(\d{1,2}\)|\d{1,2}[.)]|\d{1,2}(?=\D))")
# Characters a wrapped cell or OCR adds that are never part of a label.
_STRAY = re.compile(r"[|｜\[\]［］_・:：]")


def bare(text: str | None) -> str:
    """A label's compact form without its numbering: 「③ 対象人数」 → 「対象人数」."""
    key = compact(text)
    while True:
        stripped = _NUMBERING.sub("", key, count=1)
        if stripped == key:
            return key
        key = stripped


def slack(label: str) -> int:
    """Stray or missing characters allowed in a label of this length: none for 「公表日」."""
    return 0 if len(label) <= 4 else 1 if len(label) <= 9 else 2


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (limit + 1) once it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


@lru_cache(maxsize=1 << 16)
def _key_positions(text: str) -> tuple[str, tuple[int, ...]]:
    """(the text as labels are compared, the index in nfkc(text) of each of its characters):
    spaces, numbering and stray marks dropped."""
    plain = nfkc(text)
    positions = [i for i, char in enumerate(plain) if not char.isspace()]
    numbering = len(positions) - len(bare(plain))
    kept = tuple(i for i in positions[numbering:] if not _STRAY.match(plain[i]))
    return "".join(plain[i] for i in kept), kept


def _consumed(key: str, label: str, whole: bool) -> int | None:
    """How many characters of `key` spell `label` (tolerantly), or None."""
    wanted = bare(label)
    allowed = slack(wanted)
    if whole:
        return len(key) if _distance(key, wanted, allowed) <= allowed else None
    if key.startswith(wanted):
        return len(wanted)
    best = None
    for length in range(max(1, len(wanted) - allowed), min(len(key), len(wanted) + allowed) + 1):
        distance = _distance(key[:length], wanted, allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, length)
    return None if best is None else best[1]


def match(text: str | None, labels: tuple[str, ...] | str) -> bool:
    """The text is one of `labels` and nothing more (tolerantly)."""
    key, _ = _key_positions(text or "")
    return bool(key) and any(_consumed(key, label, True) is not None
                             for label in ((labels,) if isinstance(labels, str) else labels))


def after(text: str | None, labels: tuple[str, ...] | str, spaced: bool = False) -> str | None:
    """What follows the label when `text` begins with one of `labels` ("" for the label alone),
    as printed; None when it does not begin with one. spaced=True asks for a space (or a bracket)
    between label and value, so 「委託先名の確認方法」 is not 「委託先名」 followed by a value."""
    key, kept = _key_positions(text or "")
    if not key:
        return None
    plain = nfkc(text)
    for label in ((labels,) if isinstance(labels, str) else labels):
        length = _consumed(key, label, False)
        if length is None:
            continue
        rest = plain[kept[length - 1] + 1:]
        if spaced and rest and not rest[0].isspace() and rest[0] not in "[［":
            continue
        return clean(rest) or ""
    return None


_ALL = tuple(label for labels in LABELS.values() for label in labels) + OTHER_LABELS


@lru_cache(maxsize=1 << 16)
def is_label(text: str | None) -> bool:
    """The text is one of the forms' labels and nothing more (a value never is)."""
    return match(text, _ALL)
