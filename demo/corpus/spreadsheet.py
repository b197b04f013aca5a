"""The calc writer: a laid-out document as a spreadsheet (flat ODS), exported to PDF by LibreOffice.

This is how many offices really produce the 様式: an Excel/Calc sheet with merged cells, thin
borders and grey label cells, printed to PDF. The rows are the ones ``Sheet`` laid out
(``Sheet.rows``), so the content is written once; their heights are fixed (no optimal height) and
every page starts with a manual page break, so LibreOffice prints exactly the pages of the
layout. ``export_pdfs`` checks that: a document whose PDF has another page count is an error,
never a truth with wrong pages.

The columns are the union of all cell edges of the document, and a cell spans the columns between
its edges (merged cells), as a sheet built for a form would be.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from demo.corpus.render import LABEL_GREY, PADDING

# Calc prints inside these margins; the layout's content box (Look margins) must fit within them.
PAGE_MARGIN_CM = {"top": 0.6, "bottom": 0.6, "left": 1.0, "right": 1.0}
HEADER_HEIGHT_CM = 0.4
HEADER_SPACING_CM = 0.2
SOFFICE_TIMEOUT = 900


def soffice() -> str | None:
    """The LibreOffice binary, or None when it is not installed (libreoffice-calc-nogui)."""
    from shutil import which

    return which("soffice") or which("libreoffice")


def _columns(rows) -> list[float]:
    """Every cell edge of the document (fractions of the content width), sorted: the sheet's grid."""
    edges = {0.0, 1.0}
    for _, kind, _, cells in rows:
        if kind == "cells":
            x = 0.0
            for cell, _ in cells:
                x = round(x + cell.width, 6)
                edges.add(min(x, 1.0))
    return sorted(edges)


class _Styles:
    """Automatic styles, created on demand and named in order of first use (stable output)."""

    def __init__(self):
        self.cells: dict[tuple, str] = {}
        self.rows: dict[tuple, str] = {}

    def cell(self, font: str, size: float, border: bool, grey: bool, center: bool) -> str:
        key = (font, size, border, grey, center)
        return self.cells.setdefault(key, f"ce{len(self.cells) + 1}")

    def row(self, height: float, page_break: bool) -> str:
        key = (round(height, 3), page_break)
        return self.rows.setdefault(key, f"ro{len(self.rows) + 1}")

    def xml(self, columns: list[tuple[str, float]]) -> str:
        out = []
        for name, width in columns:
            out.append(f'<style:style style:name="{name}" style:family="table-column">'
                       f'<style:table-column-properties style:column-width="{width:.3f}pt"/></style:style>')
        for (height, page_break), name in self.rows.items():
            brk = ' fo:break-before="page"' if page_break else ' fo:break-before="auto"'
            out.append(f'<style:style style:name="{name}" style:family="table-row">'
                       f'<style:table-row-properties style:row-height="{height:.3f}pt"{brk}'
                       f' style:use-optimal-row-height="false"/></style:style>')
        for (font, size, border, grey, center), name in self.cells.items():
            border_xml = ' fo:border="0.5pt solid #000000"' if border else ' fo:border="none"'
            fill = f' fo:background-color="#{int(LABEL_GREY * 255):02x}{int(LABEL_GREY * 255):02x}{int(LABEL_GREY * 255):02x}"' if grey else ""
            align = "center" if center else "start"
            out.append(
                f'<style:style style:name="{name}" style:family="table-cell" style:parent-style-name="Default">'
                f'<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="top"'
                f' fo:padding="{PADDING}pt"{border_xml}{fill}/>'
                f'<style:paragraph-properties fo:text-align="{align}"/>'
                f'<style:text-properties style:font-name="{font}" style:font-name-asian="{font}"'
                f' fo:font-size="{size}pt" style:font-size-asian="{size}pt"/></style:style>')
        return "".join(out)


def _paragraphs(lines) -> str:
    return "".join(f"<text:p>{escape(line)}</text:p>" if line else "<text:p/>" for line in lines)


def _footer(template: str) -> str:
    """The look's footer ("{n} / {total}") with LibreOffice's page fields."""
    text = escape(template)
    return (text.replace("{n}", "<text:page-number>1</text:page-number>")
            .replace("{total}", "<text:page-count>1</text:page-count>"))


def fods(spec: dict, layout) -> str:
    """The flat ODS XML of one laid-out document."""
    sheet = layout.sheet
    look = sheet.look
    edges = _columns(sheet.rows)
    ncols = len(edges) - 1
    index = {edge: i for i, edge in enumerate(edges)}
    styles = _Styles()
    body, page = [], 1
    for number, kind, height, payload in sheet.rows:
        page_break = number != page
        page = number
        row_style = styles.row(height, page_break)
        if kind == "space":
            cells = f'<table:table-cell table:number-columns-repeated="{ncols}"/>'
        elif kind in ("text", "center"):
            (line, font, size), = payload
            style = styles.cell(font, size, False, False, kind == "center")
            cells = (f'<table:table-cell table:style-name="{style}" table:number-columns-spanned="{ncols}"'
                     f' office:value-type="string">{_paragraphs([line])}</table:table-cell>'
                     + "<table:covered-table-cell/>" * (ncols - 1))
        else:
            parts, x = [], 0.0
            for cell, lines in payload:
                start = index[round(x, 6)]
                x = round(x + cell.width, 6)
                end = index[min(x, 1.0)]
                span = end - start
                style = styles.cell(look.font(cell.font), cell.size, True, cell.grey and look.shading, False)
                parts.append(f'<table:table-cell table:style-name="{style}" table:number-columns-spanned="{span}"'
                             f' office:value-type="string">{_paragraphs(lines)}</table:table-cell>'
                             + "<table:covered-table-cell/>" * (span - 1))
            if x < 1.0 - 1e-6:  # a row narrower than the sheet (never in the forms, kept safe)
                parts.append(f'<table:table-cell table:number-columns-repeated="{ncols - index[round(x, 6)]}"/>')
            cells = "".join(parts)
        body.append(f'<table:table-row table:style-name="{row_style}">{cells}</table:table-row>')
    columns = [(f"co{i + 1}", (edges[i + 1] - edges[i]) * look.content_width) for i in range(ncols)]
    width_cm, height_cm = (v / 72 * 2.54 for v in look.page_size)
    margins = " ".join(f'fo:margin-{side}="{value}cm"' for side, value in PAGE_MARGIN_CM.items())
    header_box = (f'<style:header-footer-properties fo:min-height="{HEADER_HEIGHT_CM}cm"'
                  f' fo:margin-left="0cm" fo:margin-right="0cm"')
    fonts = {look.mincho, look.gothic}
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:meta><dc:title>{escape(spec["title"])}</dc:title><meta:initial-creator>{escape(spec["organization"])}</meta:initial-creator></office:meta>
<office:font-face-decls>{"".join(f'<style:font-face style:name="{f}" svg:font-family="{f}"/>' for f in sorted(fonts))}</office:font-face-decls>
<office:styles><style:style style:name="Default" style:family="table-cell">
<style:text-properties style:font-name="{look.mincho}" style:font-name-asian="{look.mincho}" fo:font-size="8.5pt" style:font-size-asian="8.5pt"/>
</style:style></office:styles>
<office:automatic-styles>
<style:style style:name="ta1" style:family="table" style:master-page-name="Form"><style:table-properties table:display="true"/></style:style>
{styles.xml(columns)}
<style:page-layout style:name="pm1"><style:page-layout-properties fo:page-width="{width_cm:.3f}cm" fo:page-height="{height_cm:.3f}cm" style:print-orientation="{'landscape' if width_cm > height_cm else 'portrait'}" {margins} style:scale-to="100%" style:print="objects charts drawings" style:print-page-order="ttb"/>
<style:header-style>{header_box} fo:margin-bottom="{HEADER_SPACING_CM}cm"/></style:header-style>
<style:footer-style>{header_box} fo:margin-top="{HEADER_SPACING_CM}cm"/></style:footer-style>
</style:page-layout>
</office:automatic-styles>
<office:master-styles><style:master-page style:name="Form" style:page-layout-name="pm1">
<style:header><style:region-left><text:p>{escape(sheet.header_left)}</text:p></style:region-left><style:region-right><text:p>{escape(sheet.header_right)}</text:p></style:region-right></style:header>
<style:header-left style:display="false"/>
<style:footer><style:region-center><text:p>{_footer(look.footer)}</text:p></style:region-center></style:footer>
<style:footer-left style:display="false"/>
</style:master-page></office:master-styles>
<office:body><office:spreadsheet><table:table table:name="{escape(spec["id"][-31:])}" table:style-name="ta1">
{"".join(f'<table:table-column table:style-name="{name}"/>' for name, _ in columns)}
{"".join(body)}
</table:table></office:spreadsheet></office:body></office:document>
'''


def _page_count(pdf: bytes) -> int:
    import pypdfium2

    with pypdfium2.PdfDocument(pdf) as document:
        return len(document)


def export_pdfs(layouts) -> dict[str, bytes]:
    """PDF bytes per document id, from one LibreOffice run over all (spec, layout) pairs.

    Raises RuntimeError when LibreOffice is missing, fails, or prints a page count other than the
    layout's (the truth's pages would then be wrong).
    """
    binary = soffice()
    if binary is None:
        raise RuntimeError("LibreOffice (soffice) is not installed: Debian package libreoffice-calc-nogui")
    with tempfile.TemporaryDirectory(prefix="piawatch-calc-") as tmp:
        work = Path(tmp)
        sources = []
        for spec, layout in layouts:
            path = work / f"{spec['id']}.fods"
            path.write_text(fods(spec, layout), encoding="utf-8")
            sources.append(str(path))
        # a private profile: no clash with another LibreOffice running on this machine
        profile = (work / "profile").as_uri()
        subprocess.run([binary, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                        "--convert-to", "pdf:calc_pdf_Export", "--outdir", str(work / "out"), *sources],
                       check=True, capture_output=True, timeout=SOFFICE_TIMEOUT,
                       env={**os.environ, "SAL_USE_VCLPLUGIN": "svp"})
        pdfs = {}
        for spec, layout in layouts:
            out = work / "out" / f"{spec['id']}.pdf"
            if not out.exists():
                raise RuntimeError(f"LibreOffice wrote no PDF for {spec['id']}")
            pdf = out.read_bytes()
            pages = _page_count(pdf)
            if pages != layout.pages:
                raise RuntimeError(f"{spec['id']}: LibreOffice printed {pages} pages, the layout has {layout.pages}")
            pdfs[spec["id"]] = pdf
        return pdfs
