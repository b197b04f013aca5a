"""transform.parse: PDF → CONTRACT record, its errors and its limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ground.errors import CorruptPDF, EncryptedPDF, NotAnAssessment, NotAPDF, ParseLimitExceeded
from ground.schema import FIELD_NAMES
from transform.parse import PARSER_VERSION, parse_pdf
from transform.sandbox import parse_pdf_limited

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pdf"
CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"


def _corpus_pair(document_id: str) -> tuple[Path, dict]:
    pdf, truth = CORPUS / "pdf" / f"{document_id}.pdf", CORPUS / "truth" / f"{document_id}.json"
    if not (pdf.exists() and truth.exists()):
        pytest.skip(f"corpus document {document_id} not generated")
    return pdf, json.loads(truth.read_text(encoding="utf-8"))


def test_office_habits_basic_document_every_field():
    record = parse_pdf(FIXTURES / "office-habits-basic.pdf")
    assert set(record) == set(FIELD_NAMES)
    assert {k: record[k] for k in ("kind", "assessment_number", "title", "organization", "published_on",
                                   "form_version", "is_draft", "ended_on", "business_name")} == {
        "kind": "basic", "assessment_number": 7, "title": "住民基本台帳に関する事務 基礎項目評価書",
        "organization": "姫路市長", "published_on": "2019-05-01",  # 令和元年5月1日 in full-width digits
        "form_version": "平成31年1月 様式2", "is_draft": False, "ended_on": None,
        "business_name": "住民基本台帳に関する事務"}
    assert record["subject_count_band"] == "10k_to_100k"
    assert record["subject_count_as_of"] == "2019-04-01"
    assert record["handler_count_500_or_more"] is True
    assert record["serious_incident_past_year"] is False
    assert (record["threshold_result"], record["threshold_result_voluntary"]) == ("basic_and_focused", False)
    assert record["submitted_kinds"] == ["basic", "focused"]
    # fields of the focused/full forms stay unknown on a basic document
    assert record["serious_incident_past_3_years"] is None and record["files"] == []
    storage = [a for a in record["risk_answers"] if a["answer"] == "課題が残されている"]
    assert storage == [{"section": "7. 特定個人情報の保管・消去", "question": "特定個人情報の漏えい・滅失・毀損リスクへの対策は十分か",
                        "answer": "課題が残されている", "page": 4}]
    assert len(record["risk_answers"]) == 9
    assert record["changes"][0] == {"date": "2019-05-01", "item": "II1いつ時点の計数か", "before": "平成30年4月1日時点",
                                    "after": "令和元年5月1日時点", "timing": "post", "note": None}
    long_change = record["changes"][1]
    assert long_change["before"].endswith("第89条(住民票の記載事項に関する規定の適用)")
    assert (long_change["timing"], long_change["note"]) == ("pre", "法改正による")
    source = record["source"]
    assert source["parser_version"] == PARSER_VERSION and source["pages"] == 7
    assert source["ocr"] is False and source["unread_fields"] == []
    assert source["field_pages"]["organization"] == 1 and source["field_pages"]["subject_count_band"] == 3
    assert len(source["sha256"]) == 64


def test_ruled_line_tables_parse_like_rectangle_tables():
    by_lines = parse_pdf(FIXTURES / "ruled-lines-basic.pdf")
    by_rects = parse_pdf(FIXTURES / "office-habits-basic.pdf")
    assert {k: v for k, v in by_lines.items() if k != "source"} == {k: v for k, v in by_rects.items() if k != "source"}
    assert by_lines["source"]["unread_fields"] == []


def test_a_missing_section_is_unread_not_guessed():
    record = parse_pdf(FIXTURES / "missing-threshold-result.pdf", sha256="0" * 64)
    assert record["threshold_result"] is None and record["threshold_result_voluntary"] is None
    assert record["source"]["unread_fields"] == ["threshold_result"]
    assert record["source"]["sha256"] == "0" * 64
    assert record["subject_count_band"] == "10k_to_100k"  # the rest is still read


def test_fake_bold_cover():
    record = parse_pdf(FIXTURES / "fake-bold-cover.pdf")
    assert (record["kind"], record["title"], record["organization"], record["form_version"]) == (
        "full", "住民基本台帳に関する事務 全項目評価書", "姫路市長", "平成30年5月 様式4")


@pytest.mark.parametrize("document_id", ["271403-sakai-01-basic", "111007-saitama-36-focused",
                                         "282014-himeji-12-basic"])
def test_corpus_documents_match_their_truth(document_id):
    pdf, truth = _corpus_pair(document_id)
    record = parse_pdf(pdf)
    assert {k: record[k] for k in truth if k != "source"} == {k: v for k, v in truth.items() if k != "source"}
    assert record["source"]["pages"] == truth["source"]["pages"]


@pytest.mark.parametrize("name, error, reason", [
    ("empty.pdf", NotAPDF, "0 bytes"),
    ("html-error-page.pdf", NotAPDF, "HTML"),
    ("truncated.pdf", CorruptPDF, "truncated"),
    ("encrypted.pdf", EncryptedPDF, "password"),
    ("minutes.pdf", NotAnAssessment, "会議録"),
])
def test_broken_inputs_raise_a_named_error(name, error, reason):
    path = CORPUS / "broken" / name
    if not path.exists():
        pytest.skip(f"{name} not generated")
    with pytest.raises(error, match=reason):
        parse_pdf(path)


def test_limited_parse_returns_the_same_record():
    path = FIXTURES / "office-habits-basic.pdf"
    assert parse_pdf_limited(path, timeout_s=60) == parse_pdf(path)


def test_limited_parse_passes_named_errors_through(tmp_path):
    html = tmp_path / "page.pdf"
    html.write_text("<html><body>Not found</body></html>", encoding="utf-8")
    with pytest.raises(NotAPDF, match="HTML"):
        parse_pdf_limited(html)


def test_limited_parse_stops_at_the_time_limit():
    with pytest.raises(ParseLimitExceeded, match="longer than 0.01 s"):
        parse_pdf_limited(FIXTURES / "office-habits-basic.pdf", timeout_s=0.01)


def test_limited_parse_stops_at_the_memory_limit():
    # a 60-page document: a one-page fixture now parses within a megabyte of its own
    with pytest.raises(ParseLimitExceeded, match="memory"):
        parse_pdf_limited(CORPUS / "pdf" / "271403-sakai-01-full.pdf", memory_mb=1)


def _parse_in_a_daemonic_process(path: str, results) -> None:
    results.put(parse_pdf_limited(path, timeout_s=60)["title"])


def test_limited_parse_runs_inside_a_daemonic_worker():
    """Celery's prefork pool runs tasks in daemonic processes, which may not start multiprocessing
    children: the limited parse must still work there."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    worker = context.Process(target=_parse_in_a_daemonic_process,
                             args=(str(FIXTURES / "office-habits-basic.pdf"), results), daemon=True)
    worker.start()
    title = results.get(timeout=60)
    worker.join(10)
    assert title == parse_pdf(FIXTURES / "office-habits-basic.pdf")["title"]
