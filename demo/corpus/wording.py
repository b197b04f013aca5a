"""How values are written on the forms: era dates, full-width digits, the forms' choice lists.

Shared by the renderer (which prints them) and the truth builder (which states what was printed),
so the two cannot disagree about a label.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from ground.vocabulary import THRESHOLD_RESULT_TEXT

FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

# (first day, era name); a date belongs to the latest era that started on or before it.
ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"))

RECORD_ITEM_CHOICES = ("10項目未満", "10項目以上50項目未満", "50項目以上100項目未満", "100項目以上")

OUTSOURCED_HANDLER_CHOICES = ("10人未満", "10人以上50人未満", "50人以上100人未満", "100人以上500人未満",
                              "500人以上1,000人未満", "1,000人以上")


VOLUNTARY_SUFFIX = {"focused": "（任意に重点項目評価を実施）", "full": "（任意に全項目評価を実施）"}

# The choice list each form offers for しきい値判断結果 (V 1 ② / VI 1 ②).
THRESHOLD_RESULT_CHOICES = {
    "full": (("basic_and_full", False), ("basic_and_focused", True), ("basic_only", True),
             ("not_required", True)),
    "focused": (("basic_and_focused", False), ("basic_only", True), ("not_required", True)),
}



def era_date(value: date | None, fullwidth: bool = False) -> str:
    """令和6年3月25日 / 令和元年5月1日 / 平成27年10月5日; blank for no date."""
    if value is None:
        return ""
    for start, name in ERAS:
        if value >= start:
            year = value.year - start.year + 1
            text = f"{name}{'元' if year == 1 else year}年{value.month}月{value.day}日"
            return text.translate(FULLWIDTH_DIGITS) if fullwidth else text
    raise ValueError(f"date before 平成 is not used on these forms: {value}")


def threshold_result_text(result: str, voluntary: bool, kind: str) -> str:
    text = THRESHOLD_RESULT_TEXT[result]
    return text + VOLUNTARY_SUFFIX[kind] if voluntary else text


def numbered_choices(options) -> str:
    return "＜選択肢＞\n" + "\n".join(f"{n}) {option}" for n, option in enumerate(options, 1))


def contract_text(value: str | None) -> str | None:
    """A string as the CONTRACT record holds it: NFKC, whitespace collapsed, blank → None."""
    if value is None:
        return None
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", value)).strip()
    return text or None


def spaced(label: str) -> str:
    """The spaced-out label some offices type to widen a cell: 公表日 → 公 表 日."""
    return " ".join(label)
