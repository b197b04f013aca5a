"""The pure link parser on recorded HTML fixtures: decoding, link text, URL resolution. No network."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.links import decode_html, is_pdf_url, may_be_page, parse_links, sniff_encoding

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "html"
PAGE = "https://www.city.example.lg.jp/kurashi/pia/index.html"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def texts_by_url(page) -> dict[str, str | None]:
    return {link.url: link.text for link in page.links}


def test_shift_jis_declared_only_in_meta_http_equiv():
    page = parse_links(read("table_shift_jis_meta.html"), PAGE)
    assert page.encoding == "shift_jis"
    links = texts_by_url(page)
    assert links["https://www.city.example.lg.jp/kurashi/pia/hyoka/01kiso.pdf"] == \
        "住民基本台帳に関する事務 基礎項目評価書(PDF:175KB)"


def test_link_text_is_nfkc_with_whitespace_collapsed():
    links = texts_by_url(parse_links(read("table_shift_jis_meta.html"), PAGE))
    # a line break and ideographic spaces inside the anchor, full-width brackets and digits
    assert links["https://www.city.example.lg.jp/kurashi/pia/hyoka/01zen.pdf"] == \
        "住民基本台帳に関する事務 全項目評価書(案)(PDF:1,203KB)"
    assert links["https://www.city.example.lg.jp/kurashi/hyoka/09juten.PDF"] == \
        "国民健康保険に関する事務 重点項目評価書(PDF:210KB)"


def test_relative_root_and_fragment_links_resolve_and_non_http_links_are_dropped():
    urls = [link.url for link in parse_links(read("table_shift_jis_meta.html"), PAGE).links]
    assert "https://www.city.example.lg.jp/kurashi/index.html" in urls          # ../index.html
    assert "https://www.city.example.lg.jp/kurashi/hyoka/09juten.PDF" in urls   # root path, #page=2 dropped
    assert not [u for u in urls if u.startswith(("mailto:", "javascript:")) or "#" in u]
    assert PAGE not in urls  # "#top" is the page itself


def test_image_link_takes_its_alt_text():
    links = texts_by_url(parse_links(read("table_shift_jis_meta.html"), PAGE))
    assert links["https://get.adobe.com/jp/reader/"] == "Adobe Acrobat Reader のダウンロード"


def test_undeclared_euc_jp_is_detected():
    page = parse_links(read("list_euc_jp_undeclared.html"), PAGE)
    assert page.encoding.startswith("euc")
    texts = [link.text for link in page.links]
    assert "個人住民税の賦課・徴収に関する事務について" in texts


def test_pagination_links_are_ordinary_links():
    links = parse_links(read("list_euc_jp_undeclared.html"), PAGE).links
    assert [(link.url, link.text) for link in links if "page=2" in link.url] == [
        ("https://www.city.example.lg.jp/kurashi/pia/list.html?page=2", "次へ"),
        ("https://www.city.example.lg.jp/kurashi/pia/list.html?page=2", "2"),
    ]


def test_http_charset_wins_over_a_wrong_meta_charset():
    body = read("detail_utf8_base_href.html")  # UTF-8 bytes whose <meta> claims Shift_JIS
    assert sniff_encoding(body) == "shift_jis"
    assert sniff_encoding(body, http_charset="UTF-8") == "utf-8"
    page = parse_links(body, PAGE, http_charset="utf-8")
    assert "住民基本台帳事務 全項目評価書(別添)" in [link.text for link in page.links]


def test_registry_encoding_override_wins_over_everything():
    text, encoding = decode_html(read("detail_utf8_base_href.html"), http_charset="shift_jis", override="utf-8")
    assert encoding == "utf-8" and "住民基本台帳事務" in text


def test_base_href_and_duplicates():
    page = parse_links(read("detail_utf8_base_href.html"), PAGE, http_charset="utf-8")
    pdfs = [link for link in page.links if is_pdf_url(link.url)]
    assert [(link.url, link.text) for link in pdfs] == [
        ("https://www.city.example.lg.jp/soshiki/somu/files/jumin_kiso_r6.pdf",
         "住民基本台帳事務 基礎項目評価書 [PDFファイル/312KB]"),
        ("https://www.city.example.lg.jp/soshiki/somu/files/jumin_zen_r6.pdf", "全項目評価書"),
        ("https://www.city.example.lg.jp/uploaded/attachment/40211.pdf", "住民基本台帳事務 全項目評価書(別添)"),
    ]


def test_selector_limits_where_links_are_taken_from():
    page = parse_links(read("detail_utf8_base_href.html"), PAGE, http_charset="utf-8", selector="main")
    urls = [link.url for link in page.links]
    assert "https://www.city.example.lg.jp/index.html" not in urls       # in <nav>
    assert "https://www.city.example.lg.jp/policy.html" not in urls      # in <footer>
    assert len(urls) == 4


@pytest.mark.parametrize("url, pdf, page", [
    ("https://x.jp/a/b.pdf", True, False),
    ("https://x.jp/a/B.PDF?download=1", True, False),
    ("https://x.jp/a/list.html?page=2", False, True),
    ("https://x.jp/a/", False, True),
    ("https://x.jp/a/form.xlsx", False, False),
    ("https://x.jp/pdf/index.html", False, True),
])
def test_link_kinds(url, pdf, page):
    assert is_pdf_url(url) is pdf
    assert may_be_page(url) is page
