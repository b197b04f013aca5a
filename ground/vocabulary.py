"""The forms' closed vocabularies: each record value and the words the 様式 prints for it.

The regulator's forms offer fixed choice lists (対象人数, しきい値判断結果, 事前/事後, the risk
answers…). The record keeps a short value (``300k_plus``, ``basic_only``); the parser reads the
printed words into it, the checks and alerts say it back in the form's words, and the demo corpus
prints it. All of them read the words here, so none can disagree about one.
"""

from __future__ import annotations

# 評価書の種類, as page 1's title names it.
KIND_TEXT = {"basic": "基礎項目評価書", "focused": "重点項目評価書", "full": "全項目評価書"}

# 対象人数 (basic Ⅱ 1 / focused, full I 1): the task-level bands.
SUBJECT_COUNT_TEXT = {
    "under_1k": "1,000人未満",
    "1k_to_10k": "1,000人以上1万人未満",
    "10k_to_100k": "1万人以上10万人未満",
    "100k_to_300k": "10万人以上30万人未満",
    "300k_plus": "30万人以上",
}

# 対象となる本人の数 of a file (II ②): other bands than the task-level ones.
FILE_SUBJECT_TEXT = {
    "under_10k": "1万人未満",
    "10k_to_100k": "1万人以上10万人未満",
    "100k_to_1m": "10万人以上100万人未満",
    "1m_to_10m": "100万人以上1,000万人未満",
    "10m_plus": "1,000万人以上",
}

# しきい値判断結果, as every form prints it (a 「（任意に…を実施）」 suffix may follow).
THRESHOLD_RESULT_TEXT = {
    "basic_and_full": "基礎項目評価及び全項目評価の実施が義務付けられる",
    "basic_and_focused": "基礎項目評価及び重点項目評価の実施が義務付けられる",
    "basic_only": "基礎項目評価の実施が義務付けられる",
    "not_required": "特定個人情報保護評価の実施が義務付けられない",
}

# 提出する評価書の種類 (basic Ⅳ 1).
SUBMITTED_KINDS_TEXT = {
    ("basic",): "基礎項目評価書",
    ("basic", "focused"): "基礎項目評価書及び重点項目評価書",
    ("basic", "full"): "基礎項目評価書及び全項目評価書",
}

# 提出時期 of a change row.
TIMING_TEXT = {"pre": "事前", "post": "事後"}

# Yes/no questions of the basic form: (the words for True, the words for False).
HANDLERS_500_OR_MORE_TEXT = ("500人以上", "500人未満")  # 取扱者数
INCIDENT_TEXT = ("発生あり", "発生なし")  # 重大事故

# The answers of the risk sections: a risk's own question, and 従業者に対する教育・啓発.
RISK_ANSWERS = ("特に力を入れている", "十分である", "課題が残されている")
EDUCATION_ANSWERS = ("特に力を入れて行っている", "十分に行っている", "十分に行っていない")
