"""transform.ocr and the OCR route of transform.parse, on a real scan (no text layer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from transform import ocr
from transform.pdf import read_layouts
from transform.parse import parse_pdf

SCANNED = Path(__file__).parent / "fixtures" / "pdf" / "scanned-basic-pages.pdf"

needs_tesseract = pytest.mark.skipif(not ocr.available(), reason="tesseract with jpn is not installed")

TSV = "\n".join([
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
    "5\t1\t1\t1\t1\t1\t180\t2280\t40\t40\t95\t公",
    "5\t1\t1\t1\t1\t2\t222\t2280\t40\t40\t95\t表",
    "5\t1\t1\t1\t1\t3\t264\t2282\t40\t38\t95\t日",
    "5\t1\t1\t1\t1\t4\t760\t2281\t330\t40\t90\t令和元年5月1日",
    "5\t1\t1\t1\t2\t1\t180\t2400\t40\t40\t95\t ",
])


def test_tesseract_words_become_runs_in_points_sharing_their_line():
    runs = ocr.words_from_tsv(TSV, 72 / 300)
    assert [r.text for r in runs] == ["公", "表", "日", "令和元年5月1日"]
    assert {(round(r.top, 2), round(r.bottom, 2)) for r in runs} == {(547.2, 557.04)}  # the line: highest top, lowest bottom
    assert round(runs[3].x0, 2) == 182.4


def test_scan_has_no_text_layer():
    assert not any(layout.has_text for layout in read_layouts(SCANNED))


def test_ruled_cells_are_found_on_the_skewed_scan():
    """The cover's table as drawn in the PDF the scan was made from: 評価書番号 | 評価書名 in two
    cells at x 39.5 / 142.6 / 555.8 pt, the rows from 88.5 pt down; found within a point or so."""
    import numpy as np
    from PIL import Image

    from transform.pdf import render_gray

    image = render_gray(SCANNED, 1, ocr.DPI)
    angle = ocr.skew_angle(image)
    assert angle != 0  # the scanner skewed it
    upright = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    boxes = ocr.ruled_boxes(np.asarray(upright) < ocr.DARK, 72 / ocr.DPI)
    header = [box for box in boxes if abs(box.top - 88.5) < 1.5]
    assert [(round(b.x0), round(b.x1)) for b in header] in ([(39, 143), (142, 556)], [(40, 143), (142, 556)])
    assert len(boxes) == 14  # every cell of the cover: 2 + 2 + 1 + 1 + 1 + 1 + 3 × 2


@needs_tesseract
def test_scanned_cover_and_threshold_fields_are_read_by_ocr():
    record = parse_pdf(SCANNED)
    assert record["source"]["ocr"] is True and record["source"]["extractor"] == "ocr"
    assert {k: record[k] for k in ("kind", "assessment_number", "title", "organization", "published_on",
                                   "form_version", "subject_count_band", "subject_count_as_of",
                                   "handler_count_500_or_more", "serious_incident_past_year",
                                   "threshold_result", "threshold_result_voluntary")} == {
        "kind": "basic", "assessment_number": 7, "title": "住民基本台帳に関する事務 基礎項目評価書",
        "organization": "姫路市長", "published_on": "2019-05-01", "form_version": "平成31年1月 様式2",
        "subject_count_band": "10k_to_100k", "subject_count_as_of": "2019-04-01",
        "handler_count_500_or_more": True, "serious_incident_past_year": False,
        "threshold_result": "basic_and_focused", "threshold_result_voluntary": False}
    # the pages that were not scanned (Ⅰ, Ⅳ, 変更箇所) are reported, not invented
    assert {"business_name", "submitted_kinds", "changes"} <= set(record["source"]["unread_fields"])


def test_scan_without_tesseract_is_no_text_layer(tmp_path, monkeypatch):
    from piawatch.errors import NoTextLayer

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where tesseract is not installed
    ocr.available.cache_clear()
    try:
        with pytest.raises(NoTextLayer, match="Tesseract"):
            parse_pdf(SCANNED)
    finally:
        monkeypatch.undo()
        ocr.available.cache_clear()
