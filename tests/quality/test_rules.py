"""Every rule family through ``check_records`` on records shaped like the seed documents.

The base records follow the real assessments in /work/shared/seeds (堺市 全項目 000, 熊谷市 draft
001); each scenario changes what the rule under test looks at and keeps everything else valid,
so a scenario's findings are exactly the rule's. All scenarios are checked in one run (one Great
Expectations validation) and each test reads its own document's findings.
"""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from ground.schema import empty_record
from quality import check_records

TODAY = date(2026, 11, 23)


def sakai_full(**changes) -> dict:
    """堺市 住民基本台帳に関する事務 全項目評価書 (seed 000), as the parser should read it."""
    record = empty_record()
    record.update({
        "kind": "full", "assessment_number": 1, "title": "住民基本台帳に関する事務 全項目評価書",
        "organization": "大阪府堺市長", "published_on": "2024-03-25", "form_version": "平成30年5月 様式4",
        "is_draft": False, "business_name": "住民基本台帳に関する事務", "subject_count_band": "300k_plus",
        "serious_incident_past_3_years": False, "threshold_result": "basic_and_full",
        "threshold_result_voluntary": False, "basic_assessment_date": "2023-02-03",
        "public_comment_start": "2022-06-08", "public_comment_end": "2022-07-07",
        "third_party_review_dates": ["2022-08-09", "2022-09-07"],
        "files": [{"name": "住民基本台帳ファイル", "subject_band": "100k_to_1m"},
                  {"name": "本人確認情報ファイル", "subject_band": "100k_to_1m"},
                  {"name": "送付先情報ファイル", "subject_band": "100k_to_1m"}],
        "changes": [{"date": "2022-10-05", "item": "Ⅱ 特定個人情報ファイルの概要 (1) 住民基本台帳ファイル 5. 移転先3",
                     "before": "保健医療課", "after": "健康医療推進課", "timing": "post", "note": None}],
        "risk_answers": [
            {"section": "III 2 特定個人情報の入手", "question": "リスクへの対策は十分か", "answer": "十分である", "page": 30},
            {"section": "III 3 特定個人情報の使用", "question": "ユーザ認証の管理", "answer": "行っている", "page": 31},
        ],
        "source": {"sha256": "0d" * 32, "pages": 72, "extractor": "pdfplumber", "ocr": False,
                   "field_pages": {"published_on": 1, "subject_count_band": 3, "threshold_result": 70,
                                   "public_comment_start": 70, "public_comment_end": 70,
                                   "third_party_review_dates": 70, "changes": 71},
                   "unread_fields": []},
    })
    for key, value in changes.items():
        record[key] = value
    return record


def sakai_basic(**changes) -> dict:
    record = empty_record()
    record.update({
        "kind": "basic", "assessment_number": 1, "title": "住民基本台帳に関する事務 基礎項目評価書",
        "organization": "大阪府堺市長", "published_on": "2024-03-25", "form_version": "令和6年10月 様式2",
        "is_draft": False, "subject_count_band": "300k_plus", "subject_count_as_of": "2023-12-31",
        "handler_count_500_or_more": True, "serious_incident_past_year": False,
        "threshold_result": "basic_and_full", "submitted_kinds": ["basic", "full"],
        "source": {"sha256": "0b" * 32, "pages": 8, "field_pages": {"subject_count_as_of": 2, "published_on": 1},
                   "unread_fields": []},
    })
    record.update(changes)
    return record


def kumagaya_draft() -> dict:
    """熊谷市 全項目 draft for public comment (seed 001): no 公表日, comment period still running."""
    return sakai_full(
        title="住民基本台帳に関する事務 全項目評価書（案）", organization="熊谷市長", is_draft=True,
        published_on=None, form_version="令和6年10月 様式4", subject_count_band="100k_to_300k",
        public_comment_start="2025-01-23", public_comment_end="2025-02-21", third_party_review_dates=[],
        changes=[], source={"sha256": "01" * 32, "field_pages": {}, "unread_fields": []})


def other(org: str, number: int, record: dict) -> dict:
    """The same content published by another office / under another number."""
    record = copy.deepcopy(record)
    record["organization"], record["assessment_number"] = org, number
    return record


SCENARIOS = {
    "sakai-full": sakai_full(),
    "sakai-basic": sakai_basic(),
    "kumagaya-draft": kumagaya_draft(),
    "no-procedure": other("A市長", 1, sakai_full(public_comment_start=None, public_comment_end=None,
                                                third_party_review_dates=[])),
    "short-comment": other("B市長", 1, sakai_full(public_comment_start="2022-06-08", public_comment_end="2022-06-21")),
    "short-comment-reason": other("C市長", 1, sakai_full(
        public_comment_start="2022-06-08", public_comment_end="2022-06-21",
        public_comment_shortened_reason="法改正の施行日に間に合わせるため")),
    "stale": other("D市長", 1, sakai_full(published_on="2021-06-01", basic_assessment_date="2020-12-01",
                                          public_comment_start="2021-01-05", public_comment_end="2021-02-03",
                                          third_party_review_dates=["2021-03-01"], changes=[])),
    "stale-ended": other("E市長", 1, sakai_full(
        title="住民基本台帳に関する事務 全項目評価書【令和6年3月31日 終了】", ended_on="2024-03-31",
        published_on="2021-06-01", basic_assessment_date="2020-12-01", public_comment_start="2021-01-05",
        public_comment_end="2021-02-03", third_party_review_dates=["2021-03-01"], changes=[])),
    "late-dates": other("F市長", 1, sakai_full(
        published_on="2022-08-01", third_party_review_dates=["2022-08-09"],
        public_comment_start="2022-07-08", public_comment_end="2022-08-06")),
    "late-count": other("G市長", 1, sakai_basic(subject_count_as_of="2024-04-01", threshold_result="basic_only",
                                               subject_count_band="1k_to_10k")),
    "missing-org": other(None, 1, sakai_basic(threshold_result="basic_only", subject_count_band="1k_to_10k")),
    "unread": other("H市長", 1, sakai_basic(
        threshold_result="basic_only", subject_count_band="1k_to_10k", handler_count_500_or_more=None,
        source={"sha256": "0e" * 32, "unread_fields": ["handler_count_500_or_more"], "ocr": True})),
    "unread-procedure": other("H市長", 2, sakai_full(
        public_comment_start=None, public_comment_end=None, third_party_review_dates=[],
        source={"sha256": "0f" * 32, "unread_fields": ["public_comment_start", "public_comment_end",
                                                       "third_party_review_dates"]})),
    "bad-choices": other("I市長", 1, sakai_full(
        subject_count_band="30万人超", risk_answers=[
            {"section": "III 2", "question": "リスクへの対策は十分か", "answer": "おおむね十分", "page": 30},
            # an answer from another question's scale
            {"section": "III 3", "question": "リスク2： 権限のない者によって不正に使用されるリスク",
             "answer": "十分に行っている", "page": 31},
            {"section": "IV 2", "question": "従業者に対する教育・啓発", "answer": "十分に行っている", "page": 40},
            {"section": "III 3", "question": "ユーザ認証の管理", "answer": "行っている", "page": 31}])),
    "basic-needs-full": other("J市長", 7, sakai_basic()),
    "basic-needs-focused": other("K市長", 2, sakai_basic(subject_count_band="100k_to_300k",
                                                        handler_count_500_or_more=False,
                                                        threshold_result="basic_and_focused")),
    "full-for-focused": other("K市長", 2, sakai_full(subject_count_band="100k_to_300k",
                                                    threshold_result="basic_and_focused",
                                                    threshold_result_voluntary=True)),
    "ended-basic": other("L市長", 3, sakai_basic(title="住民基本台帳に関する事務 基礎項目評価書【令和6年3月31日 終了】",
                                                ended_on="2024-03-31")),
    "focused-says-full": other("M市長", 4, sakai_full(kind="focused", subject_count_band="100k_to_300k",
                                                     threshold_result="basic_and_full")),
}


@pytest.fixture(scope="module")
def findings_by_doc():
    names = list(SCENARIOS)
    findings = check_records([SCENARIOS[n] for n in names], sources=[f"{n}.pdf" for n in names], today=TODAY)
    by_doc = {n: [] for n in names}
    for f in findings:
        by_doc[f["source"].removesuffix(".pdf")].append(f)
    return by_doc


def rules(findings) -> set[tuple[str, str]]:
    return {(f["rule"], f["severity"]) for f in findings}


def test_a_complete_published_pair_has_no_findings(findings_by_doc):
    assert findings_by_doc["sakai-full"] == []
    assert findings_by_doc["sakai-basic"] == []


def test_a_draft_is_judged_as_a_draft(findings_by_doc):
    # No 公表日 is only info, and a draft needs no finished comment nor a third-party review yet.
    assert rules(findings_by_doc["kumagaya-draft"]) == {("required.missing_field", "info")}
    [finding] = findings_by_doc["kumagaya-draft"]
    assert finding["message"] == "全項目評価書の必須項目「公表日」が空欄になっている"
    assert finding["title"].endswith("（案）")


def test_full_assessment_without_comment_or_review(findings_by_doc):
    assert rules(findings_by_doc["no-procedure"]) == {("procedure.no_public_comment", "error"),
                                                     ("procedure.no_third_party_review", "error")}


def test_short_comment_period_needs_a_reason(findings_by_doc):
    [finding] = findings_by_doc["short-comment"]
    assert (finding["rule"], finding["severity"]) == ("procedure.short_comment_period", "warning")
    assert "2022-06-08から2022-06-21までの14日間" in finding["message"]
    assert finding["evidence"]["values"]["public_comment_days"] == 14
    assert finding["evidence"]["pages"] == {"public_comment_start": 70, "public_comment_end": 70}
    assert findings_by_doc["short-comment-reason"] == []


def test_stale_full_assessment_unless_the_task_ended(findings_by_doc):
    [finding] = findings_by_doc["stale"]
    assert (finding["rule"], finding["severity"]) == ("procedure.stale_full_assessment", "warning")
    assert "2021-06-01" in finding["message"] and "2026-11-23" in finding["message"]
    assert findings_by_doc["stale-ended"] == []


def test_dates_after_publication(findings_by_doc):
    late = findings_by_doc["late-dates"]
    assert rules(late) == {("dates.review_after_publication", "error"),
                           ("dates.comment_after_publication", "error"),
                           ("dates.change_after_publication", "warning")}
    review = next(f for f in late if f["rule"] == "dates.review_after_publication")
    assert review["message"] == "第三者点検の実施日2022-08-09が公表日2022-08-01より後になっている"
    assert review["evidence"]["values"] == {"published_on": "2022-08-01", "third_party_review_dates[0]": "2022-08-09"}
    change = next(f for f in late if f["rule"] == "dates.change_after_publication")
    assert change["evidence"]["pages"] == {"published_on": 1, "changes": 71}
    [count] = findings_by_doc["late-count"]
    assert count["rule"] == "dates.count_after_publication"
    assert count["message"] == "対象人数の計数時点2024-04-01が公表日2024-03-25より後になっている"
    assert count["evidence"]["pages"] == {"published_on": 1, "subject_count_as_of": 2}


def test_missing_required_field(findings_by_doc):
    [finding] = findings_by_doc["missing-org"]
    assert (finding["rule"], finding["severity"]) == ("required.missing_field", "error")
    assert finding["message"] == "基礎項目評価書の必須項目「評価実施機関名」が空欄になっている"


def test_a_field_the_parser_could_not_read_is_not_blamed_on_the_city(findings_by_doc):
    [finding] = findings_by_doc["unread"]
    assert (finding["rule"], finding["severity"]) == ("extraction.unread_section", "warning")
    assert finding["message"] == "基礎項目評価書にあるはずの「取扱者数」を読み取れなかった"
    assert finding["evidence"]["ocr"] is True
    # Likewise a comment period or review dates it could not find are not "no public comment".
    assert {(f["rule"], f["key"]) for f in findings_by_doc["unread-procedure"]} == {
        ("extraction.unread_section", "public_comment_start"), ("extraction.unread_section", "public_comment_end"),
        ("extraction.unread_section", "third_party_review_dates")}


def test_answers_outside_the_forms_choices(findings_by_doc):
    bad = findings_by_doc["bad-choices"]
    assert {f["rule"] for f in bad} == {"choice.invalid_answer"}
    messages = sorted(f["message"] for f in bad)
    assert messages == ["「リスク2： 権限のない者によって不正に使用されるリスク」の回答「十分に行っている」が様式の選択肢にない",
                        "「リスクへの対策は十分か」の回答「おおむね十分」が様式の選択肢にない",
                        "「対象人数」の回答「30万人超」が様式の選択肢にない"]
    answer = next(f for f in bad if f["key"] == "risk_answers[0]")
    assert answer["evidence"]["pages"] == {"risk_answers": 30}


def test_cross_document_rule(findings_by_doc):
    [missing] = findings_by_doc["basic-needs-full"]
    assert (missing["rule"], missing["severity"]) == ("threshold.missing_required_document", "error")
    assert missing["message"] == (
        "基礎項目評価書のしきい値判断結果が「基礎項目評価及び全項目評価の実施が義務付けられる」であるのに、"
        "評価書番号7の全項目評価書が公表されていない（同じ番号の評価書: 基礎項目評価書）")
    # A heavier (full) document satisfies a focused requirement; an ended task needs nothing more.
    assert findings_by_doc["basic-needs-focused"] == []
    assert findings_by_doc["full-for-focused"] == []
    assert findings_by_doc["ended-basic"] == []


def test_focused_document_lighter_than_its_own_result(findings_by_doc):
    [finding] = findings_by_doc["focused-says-full"]
    assert (finding["rule"], finding["severity"]) == ("threshold.kind_lighter_than_result", "error")
    assert finding["message"] == ("しきい値判断結果が「基礎項目評価及び全項目評価の実施が義務付けられる」であるのに、"
                                  "評価書が重点項目評価書になっている")


def test_findings_follow_the_contract(findings_by_doc):
    for findings in findings_by_doc.values():
        for f in findings:
            assert {"rule", "severity", "message", "source", "organization", "assessment_number",
                    "title", "evidence"} <= set(f)
            assert f["rule"].split(".")[0] == f["family"]
            assert f["message"].count("。") == 0 and f["message"]
            json.dumps(f, ensure_ascii=False)  # printable by `piawatch check --format json` as is


def test_records_and_sources_must_pair_up():
    with pytest.raises(ValueError):
        check_records([sakai_full()], sources=[])


def test_every_rule_is_documented_with_its_severity():
    from pathlib import Path

    from quality.rules import RULES

    readme = (Path(__file__).resolve().parents[2] / "quality" / "README.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.severity}" in readme


def test_an_expectation_that_cannot_run_is_an_error_not_a_pass(monkeypatch):
    from quality import gx_suites

    broken = gx_suites.Check(name="broken", rule="choice.invalid_answer", frame="documents",
                             expectation="ExpectColumnValuesToBeInSet",
                             kwargs={"column": "no_such_column", "value_set": ["x"]})
    monkeypatch.setattr(gx_suites, "CHECKS", (broken,))
    with pytest.raises(RuntimeError, match="no_such_column"):
        check_records([sakai_full()], sources=["sakai.pdf"], today=TODAY)
