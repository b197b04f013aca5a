"""Building the demo websites: sites.yaml + the corpus specs → a map of URL path → Route.

Nothing here speaks HTTP; demo/server.py serves the routes. The document lists are derived from
whatever specs exist under demo/corpus/specs (only ``published`` ones of the edition served, and
only once their PDF is built), so the sites grow with the corpus.
"""

from __future__ import annotations

import logging
import math
import posixpath
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import yaml

from demo.sites import pages

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent
CORPUS_DIR = DEMO_DIR / "corpus"
DESCRIPTION = Path(__file__).with_name("sites.yaml")
KIND_ORDER = {"basic": 0, "focused": 1, "full": 2}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Route:
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    file: Path | None = None          # served from disk, with ETag / Last-Modified
    last_modified: datetime | None = None
    location: str | None = None       # redirects
    slow: bool = False                # sleeps before answering
    flaky: bool = False               # the first request answers 503


@dataclass(frozen=True)
class Listed:
    """A document as a city's site lists it."""
    id: str
    kind: str
    assessment_number: int
    title: str
    published_on: date | None
    pdf: Path
    path: str                          # the URL path it is served at


def load_description(path: Path = DESCRIPTION) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def load_specs(corpus_dir: Path) -> list[dict]:
    specs = []
    for path in sorted((corpus_dir / "specs").glob("*.yaml")):
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        if isinstance(spec, dict) and spec.get("id"):
            specs.append(spec)
    return specs


def listed_documents(specs: list[dict], site: dict, corpus_dir: Path, edition: int,
                     *, published: bool = True) -> list[Listed]:
    """The city's documents in ``edition``: edition-2 documents join; a ``replaces`` takes its place.

    ``published=False`` gives the documents the site does not link publicly instead.
    """
    live = [s for s in specs if str(s.get("city_code")) == site["code"]
            and bool(s.get("published", True)) == published and int(s.get("edition", 1)) <= edition]
    replaced_by = {s["replaces"]: s for s in live if s.get("replaces")}
    listed = []
    for spec in live:
        if spec["id"] in replaced_by:
            continue
        pdf = corpus_dir / "pdf" / f"{spec['id']}.pdf"
        if not pdf.exists():
            log.info("not listing %s: its PDF is not built yet", spec["id"])
            continue
        url_name = spec.get("replaces") or spec["id"]
        directory = site["pdf_dir"] if published else site["private_dir"]
        published_on = spec.get("published_on")
        listed.append(Listed(id=spec["id"], kind=spec["kind"], assessment_number=int(spec["assessment_number"]),
                             title=str(spec["title"]), published_on=published_on if isinstance(published_on, date) else None,
                             pdf=pdf, path=f"{directory}{url_name}.pdf"))
    return sorted(listed, key=lambda d: (d.assessment_number, KIND_ORDER.get(d.kind, 9), d.id))


def link_text(document: Listed) -> str:
    kilobytes = max(1, math.ceil(document.pdf.stat().st_size / 1024))
    return f"{document.title}（PDF:{kilobytes}KB）"


def japanese_date(value: date | None) -> str | None:
    return f"{value.year}年{value.month}月{value.day}日" if value else None


def business_name(title: str) -> str:
    """「住民基本台帳事務　基礎項目評価書」 → 「住民基本台帳事務」 (the 事務 a detail page is about)."""
    head, _, tail = title.replace("\u3000", " ").rpartition(" ")
    return head.strip() if head and "評価書" in tail else title


def last_modified_of(document: Listed) -> datetime:
    if document.published_on:
        return datetime(document.published_on.year, document.published_on.month, document.published_on.day,
                         tzinfo=timezone.utc)
    return datetime.fromtimestamp(int(document.pdf.stat().st_mtime), tz=timezone.utc)


class SiteBuilder:
    """The routes of one city's site."""

    def __init__(self, site: dict, documents: list[Listed], base_url: str, corpus_dir: Path,
                 unpublished: list[Listed] = ()):
        self.site, self.documents, self.base_url, self.corpus_dir = site, documents, base_url, corpus_dir
        self.unpublished = list(unpublished)
        self.routes: dict[str, Route] = {}

    def href(self, path: str, from_path: str) -> str:
        style = self.site.get("links", "root")
        if style == "absolute":
            return f"{self.base_url}{path}"
        if style == "relative":
            directory = from_path if from_path.endswith("/") else posixpath.dirname(from_path) + "/"
            target = posixpath.relpath(path, directory)
            return target + "/" if path.endswith("/") and not target.endswith("/") else target
        return path

    def html(self, path: str, title: str, main: str, *, flaky=False, slow=False) -> None:
        encoding = self.site.get("encoding", "utf-8")
        text = pages.page(city_name=self.site["name"], slug=self.site["slug"], title=title, main=main,
                          encoding=encoding)
        body = text.encode("cp932" if encoding == "shift_jis" else encoding, errors="xmlcharrefreplace")
        header_charset = {"shift_jis": "Shift_JIS", "utf-8": "UTF-8"}.get(encoding, encoding)
        content_type = (f"text/html; charset={header_charset}" if self.site.get("charset_header", True)
                        else "text/html")
        self.routes[path] = Route(content_type=content_type, body=body, flaky=flaky, slow=slow)

    def document_anchor(self, document: Listed, from_path: str) -> str:
        return pages.link(self.href(document.path, from_path), link_text(document))

    def extra_anchors(self, from_path: str) -> list[str]:
        anchors = []
        for extra in self.site.get("extra_links", []):
            if self.add_extra(extra):
                anchors.append(pages.link(self.href(extra["path"], from_path), extra["text"]))
        return anchors

    def add_extra(self, extra: dict) -> bool:
        """Add the route behind an extra link; False when it cannot exist yet (file not built)."""
        kind, path = extra["kind"], extra["path"]
        if kind == "dead":
            return True
        if kind == "slow":
            self.html(path, extra["text"], pages.plain("現在公表している評価書は一覧のとおりです。"), slow=True)
            return True
        if kind == "broken":
            source = self.corpus_dir / "broken" / extra["file"]
            if not source.exists():
                return False
            self.routes[path] = Route(content_type="application/pdf", file=source)
            return True
        if kind == "private":
            # the city's unpublished documents (published: false) sit behind robots.txt
            if not self.unpublished:
                return False
            anchors = []
            for document in self.unpublished:
                self.routes[document.path] = Route(content_type="application/pdf", file=document.pdf)
                anchors.append(pages.link(self.href(document.path, path), f"{document.title}（作成中）"))
            self.html(path, extra["text"], pages.bullet_list(anchors))
            return True
        raise ValueError(f"unknown extra link kind {kind!r} in {DESCRIPTION}")

    def build(self) -> dict[str, Route]:
        site = self.site
        for document in self.documents:
            self.routes[document.path] = Route(content_type="application/pdf", file=document.pdf,
                                               last_modified=last_modified_of(document))
        listing = site["listing"]
        self.html(f"/{site['slug']}/", f"{site['name']}ホームページ",
                  pages.bullet_list([pages.link(listing, "特定個人情報保護評価書の公表")]))
        getattr(self, f"build_{site['style']}")(listing)
        for old, new in (site.get("redirects") or {}).items():
            self.routes[old] = Route(status=301, location=new, body=b"")
        return self.routes

    def rows(self, documents: list[Listed], from_path: str):
        return [(d.assessment_number, self.document_anchor(d, from_path), japanese_date(d.published_on))
                for d in documents]

    def build_table(self, listing: str) -> None:
        main = pages.intro() + pages.document_table(self.rows(self.documents, listing))
        extras = self.extra_anchors(listing)
        if extras:
            main += "<h2>関連情報</h2>" + pages.bullet_list(extras)
        self.html(listing, "特定個人情報保護評価書の公表", main, flaky=listing in self.site.get("flaky", []))

    def build_paginated(self, listing: str) -> None:
        per_page = max(1, math.ceil(len(self.documents) / 2))
        chunks = [self.documents[i:i + per_page] for i in range(0, len(self.documents), per_page)] or [[]]
        hrefs = [listing] + [f"{listing}?page={n}" for n in range(2, len(chunks) + 1)]
        for number, chunk in enumerate(chunks, start=1):
            main = pages.intro() + pages.document_table(self.rows(chunk, listing))
            if len(chunks) > 1:
                main += pages.pagination(number, [self.href(h, listing) for h in hrefs])
            self.html(hrefs[number - 1], f"特定個人情報保護評価書の公表（{number}ページ目）", main)

    def build_list_detail(self, listing: str) -> None:
        by_number: dict[int, list[Listed]] = {}
        for document in self.documents:
            by_number.setdefault(document.assessment_number, []).append(document)
        anchors = []
        for number, documents in by_number.items():
            detail = f"{self.site['detail_dir']}{number:02d}.html"
            name = business_name(documents[0].title)
            anchors.append(pages.link(self.href(detail, listing), f"評価書番号{number} {name}"))
            main = (pages.plain(f"{name}に係る特定個人情報保護評価書です。")
                    + pages.bullet_list([self.document_anchor(d, detail) for d in documents])
                    + f"<p>{pages.link(self.href(listing, detail), '評価書の一覧へ戻る')}</p>")
            self.html(detail, f"{name}（評価書番号{number}）", main)
        anchors += self.extra_anchors(listing)
        self.html(listing, "特定個人情報保護評価書の公表", pages.intro() + pages.bullet_list(anchors))


def build_site(base_url: str, edition: int = 1, *, corpus_dir: Path = CORPUS_DIR,
               description: Path = DESCRIPTION) -> dict[str, Route]:
    """Every route of every demo city for ``edition``, plus / and /robots.txt."""
    spec = load_description(description)
    specs = load_specs(corpus_dir)
    routes: dict[str, Route] = {}
    index = []
    for site in spec["cities"]:
        documents = listed_documents(specs, site, corpus_dir, edition)
        unpublished = listed_documents(specs, site, corpus_dir, edition, published=False) if "private_dir" in site else []
        routes.update(SiteBuilder(site, documents, base_url, corpus_dir, unpublished).build())
        index.append(pages.link(site["listing"], f"{site['name']}（{site['code']}）: {len(documents)}件"))
    robots = "User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in spec.get("robots_disallow", []))
    routes["/robots.txt"] = Route(content_type="text/plain; charset=utf-8", body=robots.encode("utf-8"))
    home = pages.page(city_name="PIA Watch デモ", slug="", title=f"デモ自治体サイト（第{edition}版）",
                      main=pages.bullet_list(index), encoding="utf-8")
    routes["/"] = Route(body=home.encode("utf-8"))
    return routes
