"""The layout families and the wording specs: every family holds every spec, its truths agree with the
specs (only page numbers differ), its files are what the family claims, and the quality rules find on
its truths exactly what the manifests expect."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import date

import pdfplumber
import pypdfium2
import pytest
import yaml

from demo.corpus.build import family_ids, read_checksums, truth_json
from demo.corpus.documents import COLLECTIONS, WORDING_MANIFEST, lay_out, load_specs, output_dirs, render
from demo.corpus.families import FAMILIES, HELD_OUT, ON_DEMAND, QUIRKS, SCANNED, scan_families
from demo.corpus.render import IPAEX_MINCHO, ipaex_font_file
from demo.corpus.spreadsheet import soffice
from demo.corpus.truth import truth_record

SPECS = {collection: {spec["id"]: spec for spec in load_specs(collection)} for collection in COLLECTIONS}
TEXT_FAMILIES = [name for name in FAMILIES if name != "grid"]
ALL_FAMILIES = list(FAMILIES) + scan_families()
IPAEX = ipaex_font_file(IPAEX_MINCHO) is not None
# a basic and a detailed document per family, for the exact (layout-computing) checks
SAMPLE = ("271403-sakai-02-basic", "111007-saitama-36-focused")


def needs_fonts(family: str):
    if FAMILIES[family.removesuffix("-scan")].embedded and not IPAEX:
        pytest.skip("IPAex fonts are not installed (Debian package fonts-ipaexfont)")


@functools.lru_cache(maxsize=None)
def truth_of(family: str, collection: str, doc_id: str) -> dict:
    _, truth_dir = output_dirs(family, collection)
    return json.loads((truth_dir / f"{doc_id}.json").read_text(encoding="utf-8"))


def without_pages(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    record.pop("source")
    for answer in record["risk_answers"]:
        answer.pop("page")
    return record


def collection_of(doc_id: str) -> str:
    return next(c for c, specs in SPECS.items() if doc_id in specs)


# --- every family has every spec ---------------------------------------------------------------

@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_every_family_has_a_truth_for_every_spec(family, collection):
    specs = list(SPECS[collection].values())
    expected = set(family_ids(family, specs))
    _, truth_dir = output_dirs(family, collection)
    assert {p.stem for p in truth_dir.glob("*.json")} == expected
    if family in ON_DEMAND and FAMILIES[family].writer == "reportlab":
        assert set(read_checksums(family, collection)) == expected  # the bytes are pinned
    elif family not in ON_DEMAND:
        pdf_dir, _ = output_dirs(family, collection)
        assert {p.stem for p in pdf_dir.glob("*.pdf")} == expected  # committed


def test_families_hold_every_spec_but_the_scanned_seed():
    for family in TEXT_FAMILIES:
        ids = family_ids(family, list(SPECS["corpus"].values()))
        assert set(SPECS["corpus"]) - set(ids) == {"072044-iwaki-01-basic-scanned"}
        assert set(family_ids(family, list(SPECS["wording"].values()))) == set(SPECS["wording"])
    assert HELD_OUT == "sheet" and FAMILIES[HELD_OUT].writer == "calc"


# --- truths agree with the specs ---------------------------------------------------------------

@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_truths_are_the_grid_truths_apart_from_pages(family, collection):
    _, truth_dir = output_dirs(family, collection)
    for path in sorted(truth_dir.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert without_pages(record) == without_pages(truth_of("grid", collection, path.stem)), path


@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("doc_id", SAMPLE)
def test_truth_pages_come_from_the_family_layout(family, doc_id):
    if family.endswith("-scan"):
        doc_id = SCANNED[family.removesuffix("-scan")][0]
    committed = (output_dirs(family, "corpus")[1] / f"{doc_id}.json").read_text(encoding="utf-8")
    spec = SPECS["corpus"][doc_id]
    needs_fonts(family)
    assert committed == truth_json(truth_record(spec, lay_out(spec, family)))


@pytest.mark.slow
@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_every_truth_is_what_its_layout_says(family):
    needs_fonts(family)
    for collection in COLLECTIONS:
        _, truth_dir = output_dirs(family, collection)
        for path in sorted(truth_dir.glob("*.json")):
            spec = SPECS[collection][path.stem]
            assert path.read_text(encoding="utf-8") == truth_json(truth_record(spec, lay_out(spec, family))), path


def test_layouts_differ_between_families():
    spec = SPECS["corpus"]["271403-sakai-01-full"]
    pages = {family: truth_of(family, "corpus", spec["id"])["source"]["pages"] for family in FAMILIES}
    assert len(set(pages.values())) >= 3, pages
    assert pages["landscape"] > pages["grid"] and pages["stacked"] > pages["grid"]


# --- the files are what the family claims --------------------------------------------------------

@pytest.mark.parametrize("family", [f for f in TEXT_FAMILIES if FAMILIES[f].writer == "reportlab"] + ["grid"])
def test_rendering_reproduces_the_committed_bytes(family):
    needs_fonts(family)
    for doc_id in ("401005-kitakyushu-08-basic", "w-uchiko-08-basic"):
        collection = collection_of(doc_id)
        spec = SPECS[collection][doc_id]
        pdf = render(spec, lay_out(spec, family))
        if family in ON_DEMAND:
            assert hashlib.sha256(pdf).hexdigest() == read_checksums(family, collection)[doc_id]
        else:
            assert pdf == (output_dirs(family, collection)[0] / f"{doc_id}.pdf").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("doc_id", ("w-uchiko-08-basic", "111007-saitama-36-focused", "152013-niigata-05-basic"))
def test_libreoffice_prints_the_pages_of_the_truth(doc_id):
    if soffice() is None:
        pytest.skip("LibreOffice is not installed (Debian package libreoffice-calc-nogui)")
    needs_fonts(HELD_OUT)
    from demo.corpus.spreadsheet import export_pdfs

    collection = collection_of(doc_id)
    spec = SPECS[collection][doc_id]
    pdf = export_pdfs([(spec, lay_out(spec, HELD_OUT))])[doc_id]
    with pypdfium2.PdfDocument(pdf) as document:
        assert len(document) == truth_of(HELD_OUT, collection, doc_id)["source"]["pages"]
        text = document[0].get_textpage().get_text_range()
    # the 様式's cover: the label row above its value row
    assert re.search(r"評価実施機関名\s*\r?\n\s*" + re.escape(spec["organization"]), text), text[:400]


def _pdf(family: str, doc_id: str) -> str:
    path = output_dirs(family, collection_of(doc_id))[0] / f"{doc_id}.pdf"
    if not path.exists():
        pytest.skip(f"{family} PDFs are written on demand (python -m demo.corpus --family {family})")
    return str(path)


def test_flow_has_no_ruling_lines_and_stacked_puts_values_below_labels():
    with pdfplumber.open(_pdf("flow", "271403-sakai-02-basic")) as pdf:
        assert all(not page.rects and not page.lines for page in pdf.pages)
        assert "- 1 -" in pdf.pages[0].extract_text()
    with pdfplumber.open(_pdf("stacked", "271403-sakai-02-basic")) as pdf:
        lines = pdf.pages[0].extract_text().splitlines()
    assert lines[lines.index("評価書番号") + 1] == "2"
    assert lines[lines.index("評価実施機関名") + 1] == "大阪府堺市長"


def test_landscape_and_bold_embed_ipaex_subsets():
    with pdfplumber.open(_pdf("landscape", "271403-sakai-02-basic")) as pdf:
        first = pdf.pages[0]
        assert first.width > first.height
        assert first.extract_text().rstrip().endswith("1 ページ")
        assert {c["fontname"].split("+")[-1] for c in first.chars} >= {"IPAexMincho"}
    with pdfplumber.open(_pdf("bold", "271403-sakai-02-basic")) as pdf:
        first = pdf.pages[0]
        assert len(first.chars) > 1.9 * len(first.dedupe_chars().chars)
    raw = open(_pdf("bold", "271403-sakai-02-basic"), "rb").read()
    assert b"/FontFile2" in raw  # embedded TrueType, not a CID font the reader must substitute


@pytest.mark.parametrize("family,quirk", [(f, q) for f, quirks in QUIRKS.items() for q in quirks])
def test_planted_quirks_show_in_the_text(family, quirk):
    doc_id = next(i for i in QUIRKS[family][quirk] if not i.startswith("w-") or family not in ON_DEMAND)
    if family == HELD_OUT:
        pytest.skip("the held-out family's files are not inspected here")
    with pdfplumber.open(_pdf(family, doc_id)) as pdf:
        text = "\n".join((page.dedupe_chars() if FAMILIES[family].fake_bold else page).extract_text()
                         for page in pdf.pages[:4])
    truth = truth_of(family, collection_of(doc_id), doc_id)
    if quirk == "label_glyph":
        assert "①務事務の名称" in text
    elif quirk == "open_bracket":
        band = {"1k_to_10k": "1,000人以上1万人未満", "10k_to_100k": "1万人以上10万人未満",
                "100k_to_300k": "10万人以上30万人未満", "300k_plus": "30万人以上"}[truth["subject_count_band"]]
        assert re.search(r"\[ " + re.escape(band) + r"(?! \])", text)
    else:
        assert re.search(r"しきい値判断結果 \[ ", text)


@pytest.mark.parametrize("family", scan_families())
def test_scans_have_no_text_layer_and_300_dpi_pages(family):
    for doc_id in SCANNED[family.removesuffix("-scan")]:
        with pdfplumber.open(_pdf(family, doc_id)) as pdf:
            assert all(not page.chars for page in pdf.pages)
            image = pdf.pages[0].images[0]
            assert image["srcsize"][0] == pytest.approx(pdf.pages[0].width / 72 * 300, abs=2)
            assert len(pdf.pages) == truth_of(family, "corpus", doc_id)["source"]["pages"]


def test_the_new_corpus_stays_small():
    from demo.corpus.documents import CORPUS_DIR

    committed = [p for family in ALL_FAMILIES if family not in ON_DEMAND
                 for collection in COLLECTIONS for p in output_dirs(family, collection)[0].glob("*.pdf")
                 if not (family == "grid" and collection == "corpus")]
    assert committed and sum(p.stat().st_size for p in committed) < 40_000_000
    assert CORPUS_DIR.exists()


# --- the wording specs ---------------------------------------------------------------------------

def test_wording_specs_come_from_at_least_30_bodies_of_every_type():
    specs = SPECS["wording"].values()
    assert len(SPECS["wording"]) >= 30
    assert len({spec["organization"] for spec in specs}) >= 30
    assert all(spec["source"]["url"].startswith("http") and spec["notes"] for spec in specs)
    types = {spec["source"]["body_type"] for spec in specs}
    assert {"県", "市", "町", "村", "一部事務組合", "広域連合", "教育委員会"} <= types
    assert {spec["kind"] for spec in specs} == {"basic", "focused", "full"}
    titles = [spec["title"] for spec in specs]
    assert any("（案）" in t for t in titles) and any("（素案）" in t for t in titles)


def test_wording_specs_are_not_served_by_the_demo_sites():
    from demo.sites.site import CORPUS_DIR, load_specs as site_specs

    assert not {spec["id"] for spec in site_specs(CORPUS_DIR)} & set(SPECS["wording"])


# --- the quality rules on the truths -------------------------------------------------------------

def _findings(family: str, collection: str) -> dict[str, set]:
    from quality.check import check_records

    specs = SPECS[collection]
    # a scan family holds a few documents: the rest of each city comes from the family scanned
    base = family.removesuffix("-scan")
    ids = family_ids(base, list(specs.values()))
    scanned = set(family_ids(family, list(specs.values())))
    manifest_path = COLLECTIONS[collection][1]
    check_date = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))["check_date"]
    found: dict[str, set] = {doc_id: set() for doc_id in ids}
    editions = (1, 2) if collection == "corpus" else (1,)
    for edition in editions:
        replaced = {s["replaces"] for s in specs.values() if s.get("replaces")} if edition == 2 else set()
        live = [i for i in ids if specs[i]["edition"] <= edition and i not in replaced]
        records = [{**truth_of(family if i in scanned else base, collection, i), "city_code": specs[i]["city_code"]}
                   for i in live]
        for finding in check_records(records, sources=live, today=check_date):
            found[finding["source"]].add((finding["rule"], finding["severity"], finding["key"]))
    return {doc_id: findings for doc_id, findings in found.items() if doc_id in scanned}


def _expected(family: str, collection: str) -> dict[str, set]:
    manifest = yaml.safe_load(COLLECTIONS[collection][1].read_text(encoding="utf-8"))
    ids = set(family_ids(family, list(SPECS[collection].values())))
    return {doc_id: {(f["rule"], f["severity"], f["key"]) for f in findings or []
                     if f["rule"] != "extraction.unread_section"}
            for doc_id, findings in manifest["documents"].items() if doc_id in ids}


@pytest.mark.slow
@pytest.mark.parametrize("family", TEXT_FAMILIES + scan_families())
def test_the_quality_rules_find_on_each_familys_truths_what_the_manifest_expects(family):
    assert _findings(family, "corpus") == _expected(family, "corpus")
    assert _findings(family, "wording") == _expected(family, "wording")


def test_the_quality_rules_find_on_the_wording_truths_what_its_manifest_expects():
    manifest = yaml.safe_load(WORDING_MANIFEST.read_text(encoding="utf-8"))
    assert set(manifest["documents"]) == set(SPECS["wording"])
    assert manifest["check_date"] == date(2026, 11, 23)
    assert _findings("grid", "wording") == _expected("grid", "wording")


# --- the evaluation tool's API -------------------------------------------------------------------

def test_eval_lists_the_families_and_counts_list_items_one_by_one():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "eval_parser.py"
    spec = importlib.util.spec_from_file_location("eval_parser", path)
    eval_parser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_parser)
    names = [f["name"] for f in eval_parser.families()]
    assert names == list(FAMILIES) + scan_families()
    assert [f["name"] for f in eval_parser.families() if f["held_out"]] == [HELD_OUT]
    a, b, c = {"q": 1}, {"q": 2}, {"q": 3}
    assert eval_parser.items_right([a, c, c], [a, b, c]) == (2, 4)  # b missed, one extra c
    assert eval_parser.items_right(None, [a]) == (0, 1)
