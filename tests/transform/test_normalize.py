"""transform.normalize and transform.bands: the textual conventions of the forms."""

from __future__ import annotations

from datetime import date

import pytest

from ground.text import clean, compact
from transform import bands
from transform.normalize import bracket_value, find_dates, is_page_footer, nearest_option, parse_date, parse_date_range, running_lines, section_numeral


def test_clean_is_nfkc_with_collapsed_whitespace_and_blank_is_none():
    assert clean("令和６年１０月　様式４") == "令和6年10月 様式4"
    assert clean("住民基本台帳に関する事務 全項目評価書（案）") == "住民基本台帳に関する事務 全項目評価書(案)"
    assert clean("  \n\u3000 ") is None
    assert clean(None) is None


def test_compact_ignores_spaced_out_characters():
    assert compact("公 表 日") == "公表日"
    assert compact("評 価 実 施 機 関 名") == compact("評価実施機関名")
    assert compact("本 報 告 書") == "本報告書"


@pytest.mark.parametrize("text, expected", [
    ("令和6年3月25日", date(2024, 3, 25)),
    ("令和６年１０月１日", date(2024, 10, 1)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("平成元年1月8日", date(1989, 1, 8)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("平成27年10月5日 時点", date(2015, 10, 5)),
    ("令和 6 年 3 月 1 日", date(2024, 3, 1)),
    ("2024年3月25日", date(2024, 3, 25)),
    ("2024/03/25", date(2024, 3, 25)),
    ("令和6年2月30日", None),  # no such day: unknown, not a guess
    ("令和6年", None),
    ("", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_date_ranges_in_the_forms_wordings():
    assert parse_date_range("令和4年6月8日から令和4年7月7日まで") == (date(2022, 6, 8), date(2022, 7, 7))
    assert parse_date_range("令和7年1月23日から2月21日までの30日間") == (date(2025, 1, 23), date(2025, 2, 21))
    assert parse_date_range("令和6年12月20日～令和7年1月20日") == (date(2024, 12, 20), date(2025, 1, 20))
    assert parse_date_range("令和5年4月1日") == (date(2023, 4, 1), None)
    assert parse_date_range("実施しない") == (None, None)


def test_find_dates_keeps_order_and_carries_the_year():
    assert find_dates("令和5年6月1日、7月3日及び平成30年1月9日") == [
        date(2023, 6, 1), date(2023, 7, 3), date(2018, 1, 9)]


@pytest.mark.parametrize("heading, number", [
    ("Ⅱ しきい値判断項目", 2), ("II しきい値判断項目", 2), ("Ⅲ　しきい値判断結果", 3),
    ("IV リスク対策", 4), ("Ⅵ 評価実施手続", 6), ("V 評価実施手続", 5), ("I 基本情報", 1),
    ("III リスク対策", 3), ("Ⅰ関連情報", 1), ("Information", None), ("変更箇所", None),
])
def test_section_numeral_reads_roman_and_latin(heading, number):
    assert section_numeral(heading) == number


def test_bracket_value_is_the_selection():
    assert bracket_value("[ 30万人以上 ] ＜選択肢＞ 1) 1,000人未満") == "30万人以上"
    assert bracket_value("［１０万人以上３０万人未満］") == "10万人以上30万人未満"
    assert bracket_value("[ 　 ]") is None
    assert bracket_value("[十分である|") == "十分である"  # OCR read "]" as "|"
    assert bracket_value("＜選択肢＞ 1) 500人以上") is None


def test_nearest_option_repairs_ocr_and_refuses_ties():
    options = ("1,000人未満", "1,000人以上1万人未満", "1万人以上10万人未満", "10万人以上30万人未満", "30万人以上")
    assert nearest_option("10方人以上30万人未満", options) == "10万人以上30万人未満"
    assert nearest_option("1.000人未満", options) == "1,000人未満"
    assert nearest_option("1 万 人 以 上 1 0 万 人 未 満", options) == "1万人以上10万人未満"
    assert nearest_option("500人", ("500人以上", "500人未満")) is None
    assert nearest_option("十分である", options) is None


def test_bands_map_choice_texts_to_enums():
    assert bands.subject_count_band("30万人以上") == "300k_plus"
    assert bands.subject_count_band("1,000人以上1万人未満") == "1k_to_10k"
    assert bands.file_subject_band("100万人以上1,000万人未満") == "1m_to_10m"
    assert bands.handler_count_500_or_more("500人未満") is False
    assert bands.incident("発生あり") is True
    assert bands.timing("事 前") == "pre"
    assert bands.submitted_kinds("基礎項目評価書及び全項目評価書") == ["basic", "full"]
    assert bands.kind_from_title("特定個人情報保護評価書（重点項目評価書）") == "focused"
    assert bands.kind_from_title("特定個人情報保護評価書(基礎項目評価青)") == "basic"  # OCR
    assert bands.kind_from_title("豊橋市個人情報保護審議会 会議録") is None


@pytest.mark.parametrize("text, expected", [
    ("基礎項目評価及び全項目評価の実施が義務付けられる", ("basic_and_full", False)),
    ("基礎項目評価及び重点項目評価の実施が義務付けられる（任意に全項目評価を実施）", ("basic_and_focused", True)),
    ("基礎項目評価の実施が義務付けられる(任意に重点項目評価を実施)", ("basic_only", True)),
    ("特定個人情報保護評価の実施が義務付けられない（任意に全項目評価を実施）", ("not_required", True)),
    ("其磁値日証価及び全値日証価の実施が義務付けられる", ("basic_and_full", False)),  # seed 002's OCR
    ("", (None, None)),
])
def test_threshold_result_and_its_voluntary_suffix(text, expected):
    assert bands.threshold_result(text) == expected


def test_page_footers_and_running_headers_are_removed():
    assert is_page_footer("3 / 72") and is_page_footer("2 / 69 ページ") and is_page_footer("- 4 -")
    assert not is_page_footer("令和6年3月25日")
    pages = [["住民基本台帳に関する事務 全項目評価書", "堺市長", f"本文{n}", f"{n} / 4"] for n in range(1, 5)]
    assert running_lines(pages) == {"住民基本台帳に関する事務全項目評価書", "堺市長"}
    assert running_lines(pages[:2]) == set()  # too few pages to tell
