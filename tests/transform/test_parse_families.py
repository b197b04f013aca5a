"""The parser on every layout family of the corpus (demo/corpus/families.py), not only the one
its rules grew up on: cover and threshold fields all right, risk answers at least 97 % right,
the planted quirks read, and the threshold contradiction found in every family.

The held-out family (`sheet`, made by LibreOffice) is tested like the others; the parser's rules
were never tuned on its files. Families whose PDFs are not committed (embedded fonts, LibreOffice)
are rendered here when missing, and skipped with the reason when their tools are not installed.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from demo.corpus.build import write_document
from demo.corpus.documents import load_specs, output_dirs
from demo.corpus.families import FAMILIES, ON_DEMAND, QUIRKS
from demo.corpus.render import IPAEX_MINCHO, ipaex_font_file
from demo.corpus.spreadsheet import soffice
from quality.check import check_records
from tests.conftest import PROJECT_ROOT
from transform.parse import parse_pdf

_spec = importlib.util.spec_from_file_location("eval_parser", PROJECT_ROOT / "tools" / "eval_parser.py")
eval_parser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eval_parser)

CONTRADICTION = "232017-toyohashi-02-basic"  # 30万人以上, yet 「基礎項目評価の実施が義務付けられる」
# one of each kind (the full one 60 pages long), and the planted contradiction
SAMPLE = ("271403-sakai-02-basic", "111007-saitama-36-focused", "271403-sakai-01-full", CONTRADICTION)
WORDING_SAMPLE = ("w-kodaira-01-basic", "w-naka-01-basic", "w-wako-01-basic", "w-uchiko-08-basic")
TEXT_FAMILIES = tuple(FAMILIES)
SPECS = {collection: {spec["id"]: spec for spec in load_specs(collection)} for collection in ("corpus", "wording")}


def _documents(family: str) -> list[tuple[str, str]]:
    """(collection, id) of the family's sample and of every document it plants a quirk in."""
    quirky = {doc_id for ids in QUIRKS.get(family, {}).values() for doc_id in ids}
    wanted = [("corpus", d) for d in SAMPLE] + [("wording", d) for d in WORDING_SAMPLE]
    wanted += [("wording" if d.startswith("w-") else "corpus", d) for d in sorted(quirky)]
    return [(c, d) for c, d in dict.fromkeys(wanted) if d in SPECS[c]]


def _pdf(family: str, collection: str, doc_id: str):
    pdf_dir, truth_dir = output_dirs(family, collection)
    pdf = pdf_dir / f"{doc_id}.pdf"
    if not pdf.exists():
        if family not in ON_DEMAND:
            pytest.skip(f"{pdf} is missing (run python -m demo.corpus --family {family})")
        if FAMILIES[family].writer == "calc" and soffice() is None:
            pytest.skip("the sheet family is made by LibreOffice (libreoffice-calc-nogui, in make system-deps)")
        if FAMILIES[family].embedded and ipaex_font_file(IPAEX_MINCHO) is None:
            pytest.skip("the family embeds IPAex fonts (fonts-ipaexfont, in make system-deps)")
        write_document(SPECS[collection][doc_id], family, collection)
    return pdf, json.loads((truth_dir / f"{doc_id}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def parsed():
    cache: dict[str, list] = {}

    def of(family: str):
        if family not in cache:
            cache[family] = [(doc_id, *_parse(family, collection, doc_id))
                             for collection, doc_id in _documents(family)]
        return cache[family]

    def _parse(family, collection, doc_id):
        pdf, truth = _pdf(family, collection, doc_id)
        return parse_pdf(pdf), truth, pdf

    return of


@pytest.mark.slow
@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_cover_and_threshold_fields_are_all_right(parsed, family):
    wrong = [(doc_id, name, record.get(name), truth.get(name))
             for doc_id, record, truth, _ in parsed(family)
             for name in eval_parser.COVER_FIELDS + eval_parser.THRESHOLD_FIELDS
             if record.get(name) != truth.get(name)]
    assert wrong == []


@pytest.mark.slow
@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_risk_answers_are_read(parsed, family):
    right = total = 0
    for _, record, truth, _ in parsed(family):
        r, t = eval_parser.items_right(record["risk_answers"], truth["risk_answers"])
        right, total = right + r, total + t
    assert total and right / total >= 0.97, (right, total)


@pytest.mark.slow
@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_the_threshold_rule_fires_on_the_planted_contradiction(parsed, family):
    [(record, pdf)] = [(record, pdf) for doc_id, record, _, pdf in parsed(family) if doc_id == CONTRADICTION]
    findings = check_records([record], sources=[str(pdf)])
    assert "threshold.result_mismatch" in {f["rule"] for f in findings}
