"""transform.pdf and transform.layout: opening PDFs, refusing broken ones, geometry → rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from ground.errors import CorruptPDF, EncryptedPDF, NotAPDF
from transform.layout import document_rows
from transform.pdf import TextLine, check_bytes, dedupe_glyphs, read_layouts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pdf"
OFFICE_HABITS = FIXTURES / "office-habits-basic.pdf"
FAKE_BOLD = FIXTURES / "fake-bold-cover.pdf"


def _one_page_pdf(path: Path, encrypt: str | None = None) -> Path:
    pdf = canvas.Canvas(str(path), invariant=1,
                        encrypt=StandardEncryption(encrypt, canPrint=0) if encrypt else None)
    pdf.drawString(72, 720, "PIA Watch")
    pdf.showPage()
    pdf.save()
    return path


def test_empty_html_and_garbage_are_not_pdfs(tmp_path):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    html = tmp_path / "error.pdf"
    html.write_text("<!DOCTYPE html>\n<html><body>404 Not Found</body></html>", encoding="utf-8")
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(NotAPDF, match="0 bytes"):
        check_bytes(empty)
    with pytest.raises(NotAPDF, match="HTML"):
        check_bytes(html)
    with pytest.raises(NotAPDF, match="no %PDF- header"):
        check_bytes(garbage)


def test_truncated_pdf_is_corrupt(tmp_path):
    whole = _one_page_pdf(tmp_path / "whole.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(CorruptPDF, match="truncated"):
        read_layouts(cut)


def test_password_protected_pdf_is_encrypted(tmp_path):
    locked = _one_page_pdf(tmp_path / "locked.pdf", encrypt="secret")
    with pytest.raises(EncryptedPDF, match="password"):
        read_layouts(locked)


def test_page_limit_reads_only_the_first_pages():
    assert [layout.number for layout in read_layouts(OFFICE_HABITS, max_pages=2)] == [1, 2]


def test_rows_pair_labels_and_values_on_rotated_pages():
    """Pages 2– carry /Rotate 90: pdfium's reading order is scrambled, positions are not."""
    rows = document_rows(read_layouts(OFFICE_HABITS))
    texts = [row.texts for row in rows]
    assert ["評価対象の事務の対象人数は何人か", "[ 1万人以上10万人未満 ]",
            "<選択肢> 1) 1,000人未満 2) 1,000人以上1万人未満 3) 1万人以上10万人未満 4) 10万人以上30万人未満 "
            "5) 30万人以上"] in texts
    # a label wrapped in its narrow cell comes back as one sentence, without a space at the wrap
    assert any(row.cells[0].text == "権限のない者(元職員、アクセス権限のない職員等)によって不正に使用されるリスクへの対策は十分か"
               for row in rows)


def test_running_header_and_page_footer_are_removed():
    rows = document_rows(read_layouts(OFFICE_HABITS))
    assert not any(row.text in ("姫路市長", "住民基本台帳に関する事務 基礎項目評価書") and not row.boxed
                   and row.page > 1 for row in rows)
    assert not any(row.text.endswith("/ 7") for row in rows)


def test_row_continued_on_the_next_page_is_joined():
    rows = document_rows(read_layouts(OFFICE_HABITS))
    long_row = next(row for row in rows if row.texts[1:2] == ["I3法令上の根拠"])
    assert long_row.end_page > long_row.page  # it runs over two page breaks
    assert "第89条(住民票の記載事項に関する規定の適用)" in long_row.texts[2]
    assert long_row.texts[3] == "番号利用法第9条第1項、別表第一"


def test_fake_bold_glyphs_come_out_once():
    layout = read_layouts(FAKE_BOLD)[0]
    text = "".join(run.text for run in layout.runs)
    assert "特定個人情報保護評価書（全項目評価書）" in text
    assert "特特" not in text


def test_dedupe_glyphs_drops_fake_bold_copies_and_keeps_repeated_characters():
    drawn = [TextLine("令", 10.0, 5.0, 18.5, 14.0), TextLine("令", 10.3, 5.0, 18.8, 14.0),
             TextLine("0", 30.0, 5.0, 34.25, 14.0), TextLine("0", 34.25, 5.0, 38.5, 14.0),
             TextLine("0", 34.55, 5.0, 38.8, 14.0)]
    assert [(g.text, g.x0) for g in dedupe_glyphs(drawn)] == [("令", 10.0), ("0", 30.0), ("0", 34.25)]


IPAEX_MINCHO = next(iter(sorted(Path("/usr/share/fonts").glob("**/ipaexm.ttf"))), None)


@pytest.mark.skipif(IPAEX_MINCHO is None, reason="needs the IPAex Mincho font (fonts-ipaexfont, in make system-deps)")
def test_fake_bold_with_an_embedded_truetype_font_reads_once(tmp_path):
    """Word's fake bold with an embedded font subset: pdfium passes both copies through
    (「令令和和66年年」); the page reader merges them."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("IPAexMincho", str(IPAEX_MINCHO)))
    path = tmp_path / "bold.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.setFont("IPAexMincho", 10.5)
    for dx in (0.0, 0.3):
        pdf.drawString(72 + dx, 700, "公表日 令和6年3月25日 1,000人以上")
    pdf.save()
    text = "".join(run.text for run in read_layouts(path)[0].runs)
    assert text.replace(" ", "") == "公表日令和6年3月25日1,000人以上"


def test_cells_drawn_as_separate_lines_are_found_like_rectangles():
    """Excel draws each border as its own line: the cells come out as from rectangles."""
    ruled = read_layouts(FIXTURES / "ruled-lines-basic.pdf")
    drawn = read_layouts(OFFICE_HABITS)
    for lines_page, rects_page in zip(ruled, drawn):
        assert len(lines_page.boxes) == len(rects_page.boxes)
        for found, drawn_box in zip(lines_page.boxes, rects_page.boxes):
            assert abs(found.x0 - drawn_box.x0) <= 1.5 and abs(found.top - drawn_box.top) <= 1.5
            assert abs(found.x1 - drawn_box.x1) <= 1.5 and abs(found.bottom - drawn_box.bottom) <= 1.5


