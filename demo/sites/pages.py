"""The HTML of the demo municipal websites: plain templates, one function per kind of page."""

from __future__ import annotations

from html import escape

STYLE = ("body{font-family:sans-serif;margin:0 2em}table{border-collapse:collapse}"
         "td,th{border:1px solid #999;padding:.3em .6em}header,footer{background:#eef;padding:.5em}")


def page(*, city_name: str, slug: str, title: str, main: str, encoding: str) -> str:
    if encoding == "shift_jis":
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    else:
        meta = '<meta charset="UTF-8">'
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>{meta}<title>{escape(title)}｜{escape(city_name)}</title><style>{STYLE}</style></head>
<body>
<header><a href="{f"/{slug}/" if slug else "/"}">{escape(city_name)}ホームページ</a> &gt; 市政情報 &gt; {escape(title)}</header>
<main>
<h1>{escape(title)}</h1>
{main}
</main>
<footer>{escape(city_name)}役所 〒000-0000 （デモサイト：掲載内容は架空です）</footer>
</body>
</html>
"""


def intro() -> str:
    return ("<p>行政手続における特定の個人を識別するための番号の利用等に関する法律（番号法）第28条に基づき、"
            "特定個人情報保護評価書を公表します。</p>")


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def document_table(rows: list[tuple[int, str, str | None]]) -> str:
    """rows: (評価書番号, link HTML, 公表日 text or None)."""
    body = "\n".join(f"<tr><td>{number}</td><td>{anchor}</td><td>{escape(published or '')}</td></tr>"
                     for number, anchor, published in rows)
    return ("<table>\n<tr><th>評価書番号</th><th>評価書名</th><th>公表日</th></tr>\n"
            f"{body}\n</table>")


def bullet_list(anchors: list[str]) -> str:
    return "<ul>\n" + "\n".join(f"<li>{a}</li>" for a in anchors) + "\n</ul>"


def pagination(current: int, hrefs: list[str]) -> str:
    parts = []
    if current > 1:
        parts.append(link(hrefs[current - 2], "前へ"))
    for number, href in enumerate(hrefs, start=1):
        parts.append(f"<span>{number}</span>" if number == current else link(href, str(number)))
    if current < len(hrefs):
        parts.append(link(hrefs[current], "次へ"))
    return f'<nav class="pagination">{" ".join(parts)}</nav>'


def plain(text: str) -> str:
    return f"<p>{escape(text)}</p>"
