"""The threshold rule table (PIA.md "The threshold rule") and the threshold.* findings.

The table below is transcribed from 特定個人情報保護評価指針 as PIA.md states it, row by row, for
known facts; what follows from unknown facts is derived from it (a result is decidable when every
way of filling in the unknowns gives the same one). Every combination of band × 取扱者数 × 重大事故
× stated result × document kind is checked through the real Great Expectations suites.
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from ground.schema import empty_record
from quality import check_records
from quality.threshold import mandatory_result

MIDDLE_BANDS = ("10k_to_100k", "100k_to_300k")
BANDS = ("under_1k", "1k_to_10k", "10k_to_100k", "100k_to_300k", "300k_plus")
RESULTS = ("basic_and_full", "basic_and_focused", "basic_only", "not_required")

# (band, 500 or more handlers, serious incident in the past year) -> mandatory
TABLE = {
    ("under_1k", False, False): "not_required",
    ("under_1k", False, True): "not_required",
    ("under_1k", True, False): "not_required",
    ("under_1k", True, True): "not_required",
    ("1k_to_10k", False, False): "basic_only",
    ("1k_to_10k", False, True): "basic_only",
    ("1k_to_10k", True, False): "basic_only",
    ("1k_to_10k", True, True): "basic_only",
    ("10k_to_100k", False, False): "basic_only",
    ("10k_to_100k", False, True): "basic_and_focused",
    ("10k_to_100k", True, False): "basic_and_focused",
    ("10k_to_100k", True, True): "basic_and_focused",
    ("100k_to_300k", False, False): "basic_and_focused",
    ("100k_to_300k", False, True): "basic_and_full",
    ("100k_to_300k", True, False): "basic_and_full",
    ("100k_to_300k", True, True): "basic_and_full",
    ("300k_plus", False, False): "basic_and_full",
    ("300k_plus", False, True): "basic_and_full",
    ("300k_plus", True, False): "basic_and_full",
    ("300k_plus", True, True): "basic_and_full",
}

KIND_NEEDED = {"basic_and_full": 3, "basic_and_focused": 2, "basic_only": 1, "not_required": 1}
KIND_WEIGHT = {"basic": 1, "focused": 2, "full": 3}


def decidable(band, handlers, incident):
    """The table's answer when all completions of the unknown facts agree, else None."""
    if band is None:
        return None
    options = {TABLE[(band, h, i)]
               for h in ((False, True) if handlers is None else (handlers,))
               for i in ((False, True) if incident is None else (incident,))}
    return options.pop() if len(options) == 1 else None


@pytest.mark.parametrize("band,handlers,incident", list(itertools.product(
    (*BANDS, None, "not-a-band"), (True, False, None), (True, False, None))))
def test_mandatory_result(band, handlers, incident):
    expected = decidable(band, handlers, incident) if band != "not-a-band" else None
    assert mandatory_result(band, handlers, incident) == expected


def test_middle_bands_need_both_facts_for_the_lighter_result():
    assert mandatory_result("10k_to_100k", False, None) is None
    assert mandatory_result("10k_to_100k", None, True) == "basic_and_focused"
    assert mandatory_result("100k_to_300k", True, None) == "basic_and_full"


CASES = list(itertools.product(("basic", "focused", "full"), (*BANDS, None), (True, False, None),
                               (True, False, None), (*RESULTS, None)))


def _record(number, kind, band, handlers, incident, stated):
    record = empty_record()
    record.update({
        "kind": kind, "assessment_number": number, "organization": "豊橋市長",
        "title": f"検証用の事務{number} {'基礎項目' if kind == 'basic' else '重点項目' if kind == 'focused' else '全項目'}評価書",
        "published_on": "2025-04-01", "form_version": "令和6年10月 様式2",
        "subject_count_band": band, "handler_count_500_or_more": handlers,
        "serious_incident_past_year": incident, "threshold_result": stated,
        "source": {"sha256": f"{number:064x}", "field_pages": {"threshold_result": 3}},
    })
    return record


@pytest.fixture(scope="module")
def threshold_findings():
    """All combinations checked in one run; each is its own 評価書番号, so no document has a partner."""
    records = [_record(n, *case) for n, case in enumerate(CASES, start=1)]
    findings = check_records(records, sources=[f"case-{n}.pdf" for n in range(1, len(CASES) + 1)],
                             today=date(2026, 11, 23))
    by_source = {}
    for f in findings:
        if f["rule"].startswith("threshold."):
            by_source.setdefault(f["source"], set()).add(f["rule"])
    return by_source


@pytest.mark.parametrize("number,case", list(enumerate(CASES, start=1)),
                         ids=["-".join(str(v) for v in case) for case in CASES])
def test_threshold_rules_for_every_combination(threshold_findings, number, case):
    kind, band, handlers, incident, stated = case
    # Focused and full forms do not carry 取扱者数 / 重大事故: only the band can decide for them.
    expected_result = (decidable(band, handlers, incident) if kind == "basic"
                       else decidable(band, None, None))
    expected = set()
    if stated is not None and expected_result is not None and stated != expected_result:
        expected.add("threshold.result_mismatch")
    if kind != "basic" and stated is not None and KIND_WEIGHT[kind] < KIND_NEEDED[stated]:
        expected.add("threshold.kind_lighter_than_result")
    if kind == "basic" and stated in ("basic_and_full", "basic_and_focused"):
        expected.add("threshold.missing_required_document")
    assert threshold_findings.get(f"case-{number}.pdf", set()) == expected


def test_result_mismatch_names_the_values_and_pages():
    record = _record(1, "basic", "300k_plus", False, False, "basic_only")
    record["source"]["field_pages"] = {"subject_count_band": 2, "threshold_result": 3}
    [finding] = [f for f in check_records([record], sources=["toyohashi.pdf"]) if f["rule"] == "threshold.result_mismatch"]
    assert finding["severity"] == "error"
    assert finding["message"].startswith(
        "対象人数が30万人以上であるのに、しきい値判断結果が「基礎項目評価の実施が義務付けられる」となっている")
    assert finding["evidence"]["values"]["subject_count_band"] == "300k_plus"
    assert finding["evidence"]["values"]["expected_threshold_result"] == "basic_and_full"
    assert finding["evidence"]["pages"] == {"subject_count_band": 2, "threshold_result": 3}
    assert (finding["organization"], finding["assessment_number"]) == ("豊橋市長", 1)
