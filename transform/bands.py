"""The forms' fixed choice texts and the record's enum values they stand for.

Each mapping is the choice list as the regulator's 様式 prints it (after NFKC). Selections are
matched to the nearest allowed option (`normalize.nearest_option`), so an OCR-damaged 「1.000人未満」
still finds 「1,000人未満」 while a text that matches no option stays unknown.
"""

from __future__ import annotations

import re

from ground import vocabulary
from ground.text import clean, compact, nfkc
from transform.normalize import nearest_option


def _by_text(values_to_text: dict) -> dict:
    return {text: value for value, text in values_to_text.items()}


# printed words → record value, from the one vocabulary
SUBJECT_COUNT = _by_text(vocabulary.SUBJECT_COUNT_TEXT)
FILE_SUBJECTS = _by_text(vocabulary.FILE_SUBJECT_TEXT)
HANDLERS_500_OR_MORE = _by_text(dict(zip((True, False), vocabulary.HANDLERS_500_OR_MORE_TEXT)))
INCIDENT = _by_text(dict(zip((True, False), vocabulary.INCIDENT_TEXT)))
THRESHOLD_RESULT = _by_text(vocabulary.THRESHOLD_RESULT_TEXT)
_VOLUNTARY = re.compile(r"[(（]?\s*任意に.{0,12}?評価を実施\s*[)）]?")
SUBMITTED_KINDS = {text: list(kinds) for kinds, text in vocabulary.SUBMITTED_KINDS_TEXT.items()}
TIMING = _by_text(vocabulary.TIMING_TEXT)

# Risk questions the 様式 prints as several lines in one cell. A line break that falls exactly at
# the cell's edge cannot be told from a wrap by geometry, so these are matched whole.
MULTI_LINE_QUESTIONS = (
    "委託先による特定個人情報の不正入手・不正な使用に関するリスク 委託先による特定個人情報の不正な提供に関するリスク "
    "委託先による特定個人情報の保管・消去に関するリスク 委託契約終了後の不正な使用等のリスク 再委託に関するリスク",
)

# 様式2 (basic) prints the same risk sections and questions in every document: OCR text is matched
# to them (the focused and full forms' risk labels are many more and are read from text PDFs).
BASIC_RISK_SECTIONS = (
    "2. 特定個人情報の入手(情報提供ネットワークシステムを通じた入手を除く。)",
    "3. 特定個人情報の使用",
    "4. 特定個人情報ファイルの取扱いの委託",
    "5. 特定個人情報の提供・移転(委託や情報提供ネットワークシステムを通じた提供を除く。)",
    "6. 情報提供ネットワークシステムとの接続",
    "7. 特定個人情報の保管・消去",
    "9. 従業者に対する教育・啓発",
)
BASIC_RISK_QUESTIONS = (
    "目的外の入手が行われるリスクへの対策は十分か",
    "目的を超えた紐付け、事務に必要のない情報との紐付けが行われるリスクへの対策は十分か",
    "権限のない者(元職員、アクセス権限のない職員等)によって不正に使用されるリスクへの対策は十分か",
    "委託先における不正な使用等のリスクへの対策は十分か",
    "不正な提供・移転が行われるリスクへの対策は十分か",
    "不正な提供が行われるリスクへの対策は十分か",
    "特定個人情報の漏えい・滅失・毀損リスクへの対策は十分か",
    "従業者に対する教育・啓発",
)

KIND_TITLES = _by_text(vocabulary.KIND_TEXT)


def _lookup(text: str | None, table: dict, cutoff: float = 0.6):
    option = nearest_option(text, table, cutoff)
    return None if option is None else table[option]


def subject_count_band(text: str | None) -> str | None:
    return _lookup(text, SUBJECT_COUNT)


def file_subject_band(text: str | None) -> str | None:
    return _lookup(text, FILE_SUBJECTS)


def handler_count_500_or_more(text: str | None) -> bool | None:
    return _lookup(text, HANDLERS_500_OR_MORE, cutoff=0.75)


def incident(text: str | None) -> bool | None:
    return _lookup(text, INCIDENT, cutoff=0.75)


def timing(text: str | None) -> str | None:
    """pre/post from 事前/事後; anything else (OCR's 「事修」 is as near one as the other) is unknown."""
    return _lookup(text, TIMING, cutoff=0.75)


def submitted_kinds(text: str | None) -> list[str]:
    return list(_lookup(text, SUBMITTED_KINDS, cutoff=0.8) or [])


def threshold_result(text: str | None) -> tuple[str | None, bool | None]:
    """(result, voluntary) of a stated しきい値判断結果; the 「（任意に…を実施）」 suffix sets voluntary
    without changing what is mandatory."""
    if not text:
        return None, None
    plain = re.sub(r"[\[\]［］]", " ", nfkc(text))  # printed bare or as a bracketed selection
    voluntary = bool(_VOLUNTARY.search(plain))
    stated = compact(_VOLUNTARY.sub("", plain))
    result = _lookup(stated, THRESHOLD_RESULT, cutoff=0.8) or _result_by_its_words(stated)
    return result, (voluntary if result else None)


def _result_by_its_words(stated: str) -> str | None:
    """OCR can garble the assessment names (seed 002: 「其磁値日証価及び全値日証価の実施が義務付けられる」)
    while the words that tell the four results apart survive: 「られない」, 「及び」 with 全 or 重点."""
    if not stated.endswith(("義務付けられる", "義務付けられない")):
        return None
    if stated.endswith("られない"):
        return "not_required"
    if "及び" not in stated:
        return "basic_only"
    tail = stated.split("及び", 1)[1]
    if "全" in tail and "重点" not in tail:
        return "basic_and_full"
    if "重点" in tail and "全" not in tail:
        return "basic_and_focused"
    return None


def form_question(text: str | None) -> str | None:
    """A risk question as the form prints it (see MULTI_LINE_QUESTIONS), else the text cleaned."""
    flat = compact(text)
    for question in MULTI_LINE_QUESTIONS:
        if flat == compact(question):
            return question
    return clean(text)


def kind_from_title(text: str | None) -> str | None:
    """basic/focused/full from the page-1 title 「特定個人情報保護評価書（全項目評価書）」."""
    flat = compact(text)
    for title, kind in KIND_TITLES.items():
        if title in flat:
            return kind
    # an OCR-damaged title line (「…(基礎項目評価青)」) still matches one of the three closely
    whole_titles = {f"特定個人情報保護評価書({title})": kind for title, kind in KIND_TITLES.items()}
    return _lookup(flat, whole_titles, cutoff=0.85)
