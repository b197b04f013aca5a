"""The demo corpus: specs, committed PDFs, truths, manifest and broken inputs agree with each other."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from datetime import date

import pdfplumber
import pypdfium2
import pytest
import yaml

from demo.corpus.broken import ENCRYPTED_USER_PASSWORD, broken_files, ensure_large_pdf, large_pdf
from demo.corpus.build import truth_json
from demo.corpus.documents import BROKEN_DIR, MANIFEST, PDF_DIR, TRUTH_DIR, lay_out, load_specs, render
from demo.corpus.truth import truth_record
from demo.corpus.wording import contract_text, era_date
from ground.schema import FIELD_NAMES, FIELDS
from quality.rules import DRAFT_MISSING_PUBLISHED_ON_SEVERITY, RULES

CITIES = {  # /tmp/shared_defs.md: the eight demo cities
    "271403": "sakai", "112020": "kumagaya", "072044": "iwaki", "111007": "saitama",
    "282014": "himeji", "401005": "kitakyushu", "152013": "niigata", "232017": "toyohashi",
}
DOC_ID = re.compile(r"^(?P<code>\d{6})-(?P<slug>[a-z]+)-(?P<number>\d{2,})-(?P<kind>basic|focused|full)(-[a-z0-9]+)?$")
SPEC_KEYS = ("id", "city_code", "city_slug", "kind", "assessment_number", "title", "edition", "published")
DATE_FIELDS = {f.name for f in FIELDS if f.json_type == "date"}
# One of each kind, plus the office habits that change the bytes (fake bold, Latin numerals, rotation).
REPRODUCED = ("072044-iwaki-05-basic", "111007-saitama-36-focused", "282014-himeji-01-full",
              "401005-kitakyushu-01-full", "401005-kitakyushu-08-basic")

SPECS = {spec["id"]: spec for spec in load_specs()}


@functools.lru_cache(maxsize=None)
def layout_of(doc_id: str):
    """Laying out a full document takes a few tenths of a second: once per test session."""
    return lay_out(SPECS[doc_id])


def nfkc_compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def variants(spec: dict) -> dict:
    return spec.get("variants") or {}


def test_the_corpus_is_big_enough_and_spread_over_the_eight_cities():
    assert len(SPECS) >= 40
    assert {spec["city_code"] for spec in SPECS.values()} == set(CITIES)
    assert {spec["kind"] for spec in SPECS.values()} == {"basic", "focused", "full"}


@pytest.mark.parametrize("doc_id", sorted(SPECS))
def test_spec_follows_the_naming_rule(doc_id):
    spec = SPECS[doc_id]
    assert all(key in spec for key in SPEC_KEYS)
    match = DOC_ID.match(doc_id)
    assert match, doc_id
    assert CITIES[spec["city_code"]] == spec["city_slug"] == match["slug"]
    assert match["code"] == spec["city_code"] and match["kind"] == spec["kind"]
    assert int(match["number"]) == spec["assessment_number"]
    assert spec["edition"] in (1, 2) and isinstance(spec["published"], bool)
    if "replaces" in spec:
        replaced = SPECS[spec["replaces"]]
        assert spec["edition"] == 2 and replaced["edition"] == 1
        assert (replaced["city_code"], replaced["assessment_number"], replaced["kind"]) == (
            spec["city_code"], spec["assessment_number"], spec["kind"])


def test_every_city_with_a_full_or_focused_document_has_its_basic_one():
    plans = {(s["city_code"], s["assessment_number"], s["kind"]) for s in SPECS.values()}
    for code, number, kind in plans:
        if kind != "basic":
            assert (code, number, "basic") in plans, (code, number)


def test_files_exist_for_every_spec_and_nothing_else():
    assert {p.stem for p in PDF_DIR.glob("*.pdf")} == set(SPECS)
    assert {p.stem for p in TRUTH_DIR.glob("*.json")} == set(SPECS)


def test_committed_corpus_stays_small():
    committed = list(PDF_DIR.glob("*.pdf")) + list(BROKEN_DIR.iterdir())
    assert max(p.stat().st_size for p in committed) < 5_000_000
    assert sum(p.stat().st_size for p in committed) < 30_000_000


@pytest.mark.parametrize("doc_id", sorted(SPECS))
def test_truth_is_what_the_spec_says(doc_id):
    committed = (TRUTH_DIR / f"{doc_id}.json").read_text(encoding="utf-8")
    assert committed == truth_json(truth_record(SPECS[doc_id], layout_of(doc_id)))


@pytest.mark.parametrize("doc_id", sorted(SPECS))
def test_truth_is_a_contract_record(doc_id):
    record = json.loads((TRUTH_DIR / f"{doc_id}.json").read_text(encoding="utf-8"))
    assert tuple(record) == tuple(sorted(FIELD_NAMES))
    for name in DATE_FIELDS:
        if record[name] is not None:
            date.fromisoformat(record[name])
    for value in record["third_party_review_dates"] + [c["date"] for c in record["changes"] if c["date"]]:
        date.fromisoformat(value)

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    assert all(contract_text(text) == text for text in strings(record))
    with pypdfium2.PdfDocument(str(PDF_DIR / f"{doc_id}.pdf")) as pdf:
        assert record["source"] == {"pages": len(pdf)}


def test_command_line_regenerates_one_document(tmp_path, monkeypatch):
    from demo.corpus import __main__ as cli
    from demo.corpus import documents

    monkeypatch.setattr(documents, "PDF_DIR", tmp_path / "pdf")
    monkeypatch.setattr(documents, "TRUTH_DIR", tmp_path / "truth")
    doc_id = "072044-iwaki-05-basic"
    assert cli.main(["--only", doc_id]) == 0
    assert (tmp_path / "pdf" / f"{doc_id}.pdf").read_bytes() == (PDF_DIR / f"{doc_id}.pdf").read_bytes()
    assert (tmp_path / "truth" / f"{doc_id}.json").read_text(encoding="utf-8") == \
        (TRUTH_DIR / f"{doc_id}.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc_id", REPRODUCED)
def test_regenerating_reproduces_the_committed_bytes(doc_id):
    assert render(SPECS[doc_id], layout_of(doc_id)) == (PDF_DIR / f"{doc_id}.pdf").read_bytes()


def test_full_documents_are_realistically_long():
    for doc_id, spec in SPECS.items():
        if spec["kind"] == "full":
            assert layout_of(doc_id).pages >= 60, doc_id


@pytest.mark.parametrize("doc_id", sorted(SPECS))
def test_text_layer_has_title_and_organization(doc_id):
    spec = SPECS[doc_id]
    with pdfplumber.open(PDF_DIR / f"{doc_id}.pdf") as pdf:
        if variants(spec).get("scanned"):
            assert all(not page.chars for page in pdf.pages)
            return
        first = pdf.pages[0]
        if variants(spec).get("fake_bold"):
            assert len(first.chars) > 1.9 * len(first.dedupe_chars().chars)  # every glyph drawn twice
            first = first.dedupe_chars()
        text = nfkc_compact(first.extract_text())
        assert nfkc_compact(spec["title"]) in text
        assert nfkc_compact(spec["organization"]) in text
        for number in variants(spec).get("image_pages") or ():
            assert not pdf.pages[number - 1].chars
        for number in variants(spec).get("rotated_pages") or ():
            assert pdf.pages[number - 1].rotation == 90


def test_office_habits_show_in_the_text():
    with pdfplumber.open(PDF_DIR / "282014-himeji-12-basic.pdf") as pdf:
        first = pdf.pages[0].extract_text()
    assert "評 価 実 施 機 関 名" in first and "公 表 日" in first
    with pdfplumber.open(PDF_DIR / "282014-himeji-01-basic.pdf") as pdf:
        threshold_page = pdf.pages[2].extract_text()
    assert re.search(r"^II\s+しきい値判断項目", threshold_page, re.M) and "Ⅱ" not in threshold_page
    with pdfplumber.open(PDF_DIR / "112020-kumagaya-03-basic.pdf") as pdf:
        assert "令和６年６月２８日" in pdf.pages[0].extract_text()
        assert re.search(r"\d+ / \d+$", pdf.pages[1].extract_text())


def test_manifest_covers_every_document_and_every_rule():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    documents = manifest["documents"]
    assert set(documents) == set(SPECS)
    assert {f["rule"] for findings in documents.values() for f in findings} == set(RULES)
    for doc_id, findings in documents.items():
        for finding in findings:
            expected = RULES[finding["rule"]].severity
            if finding["rule"] == "required.missing_field" and finding["key"] == "published_on" and \
                    SPECS[doc_id]["title"].endswith("（案）"):
                expected = DRAFT_MISSING_PUBLISHED_ON_SEVERITY
            assert finding["severity"] == expected, (doc_id, finding)
            assert finding["fields"]


def test_unread_fields_expected_are_those_on_the_image_pages():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for doc_id, spec in SPECS.items():
        image_pages = set(variants(spec).get("image_pages") or ())
        on_images = {name for name, page in layout_of(doc_id).field_pages.items() if page in image_pages}
        expected = {f["key"] for f in manifest["documents"][doc_id] if f["rule"] == "extraction.unread_section"}
        assert expected == on_images, doc_id


def edition_records(edition: int) -> tuple[list[str], list[dict]]:
    """The documents the demo site publishes in an edition, as their truths."""
    replaced = {s["replaces"] for s in SPECS.values() if s.get("replaces")} if edition == 2 else set()
    ids = sorted(i for i, s in SPECS.items() if s["edition"] <= edition and i not in replaced)
    records = []
    for doc_id in ids:
        record = json.loads((TRUTH_DIR / f"{doc_id}.json").read_text(encoding="utf-8"))
        record["city_code"] = SPECS[doc_id]["city_code"]
        records.append(record)
    return ids, records


@pytest.mark.slow
def test_the_quality_rules_find_on_the_truths_exactly_what_the_manifest_expects():
    from quality.check import check_records

    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    found: dict[str, set] = {doc_id: set() for doc_id in SPECS}
    for edition in (1, 2):
        ids, records = edition_records(edition)
        for finding in check_records(records, sources=ids, today=manifest["check_date"]):
            found[finding["source"]].add((finding["rule"], finding["severity"], finding["key"]))
    # extraction findings are the parser's: a truth is what a perfect parser reads
    expected = {doc_id: {(f["rule"], f["severity"], f["key"]) for f in findings
                         if f["rule"] != "extraction.unread_section"}
                for doc_id, findings in manifest["documents"].items()}
    assert found == expected


def test_the_threshold_contradiction_and_its_correction():
    wrong = json.loads((TRUTH_DIR / "232017-toyohashi-02-basic.json").read_text(encoding="utf-8"))
    fixed = json.loads((TRUTH_DIR / "232017-toyohashi-02-basic-ed2.json").read_text(encoding="utf-8"))
    assert wrong["subject_count_band"] == fixed["subject_count_band"] == "300k_plus"
    assert (wrong["threshold_result"], fixed["threshold_result"]) == ("basic_only", "basic_and_full")
    assert fixed["published_on"] > wrong["published_on"]
    assert SPECS["232017-toyohashi-02-basic-ed2"]["replaces"] == "232017-toyohashi-02-basic"


def test_seed_documents_keep_the_seed_values():
    sakai = json.loads((TRUTH_DIR / "271403-sakai-01-full.json").read_text(encoding="utf-8"))
    assert (sakai["organization"], sakai["published_on"], sakai["form_version"]) == ("大阪府堺市長", "2024-03-25", "平成30年5月 様式4")
    assert (sakai["public_comment_start"], sakai["public_comment_end"]) == ("2022-06-08", "2022-07-07")
    assert sakai["third_party_review_dates"] == ["2022-08-09", "2022-09-07"]
    assert [f["name"] for f in sakai["files"]] == ["住民基本台帳ファイル", "本人確認情報ファイル", "送付先情報ファイル"]
    kumagaya = json.loads((TRUTH_DIR / "112020-kumagaya-01-full.json").read_text(encoding="utf-8"))
    assert kumagaya["is_draft"] and kumagaya["published_on"] is None
    assert kumagaya["form_version"] == "令和6年10月 様式4"
    assert kumagaya["subject_count_band"] == "100k_to_300k"
    iwaki = SPECS["072044-iwaki-01-basic-scanned"]
    assert iwaki["subject_count"] == "300k_plus" and "30万人以上" in iwaki["notes"]
    saitama = json.loads((TRUTH_DIR / "111007-saitama-36-focused.json").read_text(encoding="utf-8"))
    assert (saitama["assessment_number"], saitama["threshold_result"]) == (36, "basic_and_focused")


def test_ended_assessment_carries_its_end_date():
    record = json.loads((TRUTH_DIR / "112020-kumagaya-09-basic.json").read_text(encoding="utf-8"))
    assert record["ended_on"] == "2024-03-31" and "【令和6年3月31日 終了】" in record["title"]
    assert era_date(date(2024, 3, 31)) in record["title"]


def test_era_dates():
    assert era_date(date(2019, 5, 1)) == "令和元年5月1日"
    assert era_date(date(2019, 4, 30)) == "平成31年4月30日"
    assert era_date(date(2024, 10, 5), fullwidth=True) == "令和６年１０月５日"
    assert era_date(None) == ""


def test_broken_inputs_are_what_they_claim_and_regenerate_identically():
    for name, data in broken_files().items():
        assert (BROKEN_DIR / name).read_bytes() == data, name
    assert (BROKEN_DIR / "empty.pdf").stat().st_size == 0
    assert (BROKEN_DIR / "html-error-page.pdf").read_bytes().startswith(b"<!DOCTYPE html>")
    truncated = (BROKEN_DIR / "truncated.pdf").read_bytes()
    assert truncated.startswith(b"%PDF") and b"%%EOF" not in truncated
    with pytest.raises(Exception):
        with pdfplumber.open(BROKEN_DIR / "encrypted.pdf") as pdf:
            pdf.pages[0].extract_text()
    with pdfplumber.open(BROKEN_DIR / "encrypted.pdf", password=ENCRYPTED_USER_PASSWORD) as pdf:
        assert len(pdf.pages) == 1
    with pdfplumber.open(BROKEN_DIR / "minutes.pdf") as pdf:
        text = pdf.pages[0].extract_text()
    # minutes may discuss an assessment, but they do not open with the form's title line
    assert "会議録" in text and not re.search(r"^特定個人情報保護評価書（", text, re.M)


@pytest.mark.slow
def test_large_pdf_is_a_300_page_assessment_rendered_the_same_every_time():
    path = ensure_large_pdf()
    with pypdfium2.PdfDocument(str(path)) as pdf:
        assert len(pdf) >= 300
        assert "特定個人情報保護評価書（全項目評価書）" in pdf[0].get_textpage().get_text_range()
    assert large_pdf() == path.read_bytes()
