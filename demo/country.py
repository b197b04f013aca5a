"""A synthetic country: hundreds of bodies, each with its own website on its own loopback address.

    python -m demo.country                          build the default country (300 bodies, ≥3,000 PDFs)
    python -m demo.country --scale 1800             more bodies (about 10 PDFs each on average)
    python -m demo.country --scale 12 --serve       build (or reuse) and serve it until Ctrl-C
    python -m demo.country --serve --edition 2      … as it is after some bodies republished

Then, in another shell, run the pipeline against it (the registry lists demo entries only):

    PIAWATCH_REGISTRY=build/country/<key>/registry.yaml .venv/bin/piawatch run --demo

From Python (tools/bench_scale.py)::

    from demo.country import build_country, serve_country
    country = build_country(scale=300, seed=1, out_dir=Path("build/country"))
    with serve_country(country) as server:        # every host on 127.0.x.y:server.port
        registry = server.registry_path            # the registry for the port it listens on
        ...                                        # night 1
        server.set_edition(2)                      # some bodies republish some documents
        ...                                        # night 2: only those are downloaded

A body is a prefecture, a city, town or village, or an 一部事務組合 / 広域連合, with a made-up name and a
valid 6-digit 全国地方公共団体コード (check digit included). Its documents are the corpus's specs
(demo/corpus/specs and wording/specs) renamed to the body (its name, code and organization, every
date moved by the same number of days), printed in the layout family the body uses, so every PDF's
bytes are its own: a pipeline that stores by content hash parses every one of them.

The country is rendered once and kept on disk under ``out_dir/<key>/`` (the key holds the scale,
the seed and a hash of everything else that shapes it), so a second build is a read of its
manifest. For a seed it is the same country, byte for byte, except the ``sheet`` family's PDFs
(LibreOffice writes its own creation time into them).

Behaviours (``Profile``; each share is of the bodies, drawn with the seed):

- slow hosts (``slow_share``): every answer waits ``slow_seconds`` first;
- failing hosts (``failing_share``): one mode each — ``http_500`` (some PDFs answer 500),
  ``reset`` (some PDFs' connections are reset), ``timeout`` (some PDFs stall past the registry's
  ``read_timeout``), ``down`` (every request answers 503, the listing included); the failing PDFs
  are ``failing_pdf_share`` of the host's, at least one;
- republishing hosts (``republish_share``): in edition 2, ``republish_doc_share`` of their
  documents (at least one) are published again with a later 公表日 and one more 変更箇所 row, at
  the same URL, with a new ETag and Last-Modified; everything else answers 304 to a conditional GET.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from demo.corpus.documents import lay_out, load_specs, render
from demo.corpus.families import FAMILIES
from demo.corpus.render import IPAEX_FILES, ipaex_font_file
from demo.corpus.scan import scan_300dpi
from demo.corpus.spreadsheet import export_pdfs, soffice
from extract.registry import check_digit

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "build" / "country"
DEFAULT_SCALE = 300
DEFAULT_SEED = 1
DEFAULT_PORT = 8766
# bumped when the generator changes what it writes, so an old cache is not reused
GENERATOR_VERSION = 2
# no date moves past this, so a republished 公表日 is never in the future of a demo run
LATEST_DATE = dt.date(2026, 10, 30)
MANIFEST = "country.json"
REGISTRY = "registry.yaml"


@dataclass(frozen=True)
class Profile:
    """The shares and timings that shape a country; every share is of the bodies."""

    slow_share: float = 0.10
    slow_seconds: float = 0.3
    failing_share: float = 0.05
    failing_pdf_share: float = 0.3
    failing_modes: tuple[str, ...] = ("http_500", "reset", "timeout", "down")
    # a stalled request outlasts the registry's read_timeout for every country body
    read_timeout: float = 3.0
    stall_seconds: float = 4.0
    republish_share: float = 0.10
    republish_doc_share: float = 0.3
    # per-host politeness written into the registry (the crawler's own default is 1 s; the
    # country's hosts are loopback, and 3,000 requests at 1 s each would be an hour of waiting)
    delay_seconds: float = 0.1
    # share of basic documents printed and scanned (image-only, read by OCR: slow to parse)
    scan_share: float = 0.005
    # how often a body prints in each layout family (a body prints all its documents alike)
    family_weights: tuple[tuple[str, int], ...] = (("grid", 3), ("flow", 2), ("stacked", 2),
                                                   ("landscape", 1), ("bold", 1), ("sheet", 1))
    site_styles: tuple[str, ...] = ("table", "table", "paginated", "list_detail")


# --- bodies ------------------------------------------------------------------------------------

PREFECTURES = ("北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
               "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
               "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
               "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
               "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
               "鹿児島県", "沖縄県")
PREFECTURE_SLUGS = ("hokkaido", "aomori", "iwate", "miyagi", "akita", "yamagata", "fukushima", "ibaraki",
                    "tochigi", "gunma", "saitama", "chiba", "tokyo", "kanagawa", "niigata", "toyama",
                    "ishikawa", "fukui", "yamanashi", "nagano", "gifu", "shizuoka", "aichi", "mie", "shiga",
                    "kyoto", "osaka", "hyogo", "nara", "wakayama", "tottori", "shimane", "okayama",
                    "hiroshima", "yamaguchi", "tokushima", "kagawa", "ehime", "kochi", "fukuoka", "saga",
                    "nagasaki", "kumamoto", "oita", "miyazaki", "kagoshima", "okinawa")
FIRST = (("青", "ao"), ("赤", "aka"), ("東", "higashi"), ("西", "nishi"), ("南", "minami"), ("北", "kita"),
         ("大", "o"), ("小", "ko"), ("高", "taka"), ("中", "naka"), ("上", "kami"), ("下", "shimo"),
         ("松", "matsu"), ("杉", "sugi"), ("桜", "sakura"), ("若", "waka"), ("富", "tomi"), ("白", "shira"),
         ("黒", "kuro"), ("長", "naga"), ("新", "nii"), ("古", "furu"), ("石", "ishi"), ("岩", "iwa"),
         ("森", "mori"), ("竹", "take"), ("梅", "ume"), ("柳", "yanagi"), ("菊", "kiku"), ("鶴", "tsuru"),
         ("亀", "kame"), ("鹿", "shika"), ("熊", "kuma"), ("雲", "kumo"), ("朝", "asa"), ("星", "hoshi"),
         ("泉", "izumi"), ("清", "kiyo"), ("宮", "miya"), ("浦", "ura"), ("藤", "fuji"), ("豊", "toyo"),
         ("栄", "sakae"), ("春", "haru"), ("秋", "aki"), ("玉", "tama"), ("金", "kane"), ("平", "hira"))
MIDDLE = (("ノ", "no"), ("ケ", "ga"), ("和", "wa"), ("川", "kawa"), ("山", "yama"), ("津", "tsu"))
SECOND = (("田", "ta"), ("野", "no"), ("原", "hara"), ("沢", "sawa"), ("島", "shima"), ("崎", "saki"),
          ("岡", "oka"), ("浜", "hama"), ("山", "yama"), ("川", "kawa"), ("津", "tsu"), ("瀬", "se"),
          ("井", "i"), ("木", "ki"), ("谷", "ya"), ("里", "sato"), ("根", "ne"), ("見", "mi"))
# body type -> (name suffix, slug suffix, organization suffix, PDFs per body (low, high))
TYPES = {
    "prefecture": ("", "pref", "知事", (16, 24)),
    "city": ("市", "shi", "長", (10, 18)),
    "town": ("町", "machi", "長", (6, 10)),
    "village": ("村", "mura", "長", (4, 7)),
    "kouiki": ("広域連合", "kouiki", "長", (2, 4)),
    "kumiai": ("事務組合", "kumiai", "管理者", (1, 3)),
}
# the wording specs of such bodies are theirs first (their covers read like theirs)
UNION_SOURCES = ("kouiki", "kyosai", "kon119", "nishiharima-fd")
PREFECTURE_SOURCES = ("pref",)
# the share of a city's assessments drawn from the basic-only ones (the rest may have a full one)
CITY_BASIC_ONLY_SHARE = 0.6


@dataclass
class Document:
    id: str
    kind: str
    assessment_number: int
    title: str
    family: str              # the layout family it is printed in ("<family>-scan" for a scan)
    path: str                # URL path on the body's host
    file: str                # edition 1, relative to the country directory
    bytes: int
    sha256: str
    pages: int
    published_on: str
    republished_file: str | None = None   # edition 2 (same URL), when the body republishes it
    republished_bytes: int | None = None
    republished_sha256: str | None = None
    republished_on: str | None = None
    failure: str | None = None            # the host's failing mode, for the PDFs that fail


@dataclass
class Body:
    code: str
    slug: str
    name: str
    prefecture: str
    type: str
    host: str                # 127.0.x.y
    family: str
    style: str
    listing: str             # URL path of the listing page
    slow: bool = False
    failing: str | None = None
    republishes: bool = False
    documents: list[Document] = field(default_factory=list)


@dataclass
class Country:
    directory: Path
    scale: int
    seed: int
    profile: Profile
    bodies: list[Body]
    port: int = DEFAULT_PORT
    notes: list[str] = field(default_factory=list)   # e.g. a family whose renderer is missing

    @property
    def registry_path(self) -> Path:
        """The registry for the default port (``serve_country`` writes one for the port it gets)."""
        return self.directory / REGISTRY

    @property
    def hosts(self) -> list[str]:
        return [b.host for b in self.bodies]

    @property
    def pdf_count(self) -> int:
        return sum(len(b.documents) for b in self.bodies)

    @property
    def pdf_bytes(self) -> int:
        return sum(d.bytes for b in self.bodies for d in b.documents)

    @property
    def pages(self) -> int:
        return sum(d.pages for b in self.bodies for d in b.documents)

    def body(self, code: str) -> Body:
        return next(b for b in self.bodies if b.code == code)

    def file(self, relative: str) -> Path:
        return self.directory / relative

    def write_registry(self, path: Path, port: int) -> Path:
        path.write_text(registry_text(self, port), encoding="utf-8")
        return path

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        families: dict[str, int] = {}
        for body in self.bodies:
            for document in body.documents:
                kinds[document.kind] = kinds.get(document.kind, 0) + 1
                families[document.family] = families.get(document.family, 0) + 1
        types: dict[str, int] = {}
        for body in self.bodies:
            types[body.type] = types.get(body.type, 0) + 1
        republished = sum(1 for b in self.bodies for d in b.documents if d.republished_file)
        failing = sum(1 for b in self.bodies for d in b.documents if d.failure)
        lines = [f"synthetic country {self.directory}",
                 f"  bodies    {len(self.bodies)}  ({', '.join(f'{t} {n}' for t, n in sorted(types.items()))})",
                 f"  PDFs      {self.pdf_count}  ({self.pdf_bytes / 1e6:.1f} MB, {self.pages} pages; "
                 f"{', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})",
                 f"  families  {', '.join(f'{k} {n}' for k, n in sorted(families.items()))}",
                 f"  hosts     slow {sum(b.slow for b in self.bodies)}, failing "
                 f"{sum(bool(b.failing) for b in self.bodies)} ({failing} PDFs or whole sites), "
                 f"republishing {sum(b.republishes for b in self.bodies)} ({republished} PDFs in edition 2)",
                 f"  registry  {self.registry_path}"]
        lines += [f"  note      {note}" for note in self.notes]
        return "\n".join(lines)


def host_address(index: int) -> str:
    """The loopback address of the ``index``-th body: 127.0.1.1, 127.0.1.2, … 127.0.1.250, 127.0.2.1, …
    (Linux routes all of 127.0.0.0/8 to the loopback interface; 127.0.0.1 is left to other servers)."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def body_code(prefecture: int, number: int) -> str:
    first_five = f"{prefecture:02d}{number:03d}"
    return first_five + str(check_digit(first_five))


def _type_counts(scale: int) -> dict[str, int]:
    """About the country's proportions: 47 prefectures, 1,741 municipalities (792 cities, 743 towns,
    183 villages, 23 wards) and the 広域連合 and 一部事務組合 that handle My Number."""
    prefectures = min(47, max(1, round(scale * 47 / 1900)))
    kouiki = min(prefectures, max(1 if scale >= 6 else 0, round(scale * 0.02)))
    kumiai = max(1 if scale >= 8 else 0, round(scale * 0.03))
    municipalities = max(0, scale - prefectures - kouiki - kumiai)
    cities = max(1, round(municipalities * 0.46)) if municipalities else 0
    villages = round(municipalities * 0.11)
    towns = municipalities - cities - villages
    return {"prefecture": prefectures, "kouiki": kouiki, "kumiai": kumiai, "city": cities,
            "town": towns, "village": villages}


def _names(rng: random.Random, count: int) -> Iterator[tuple[str, str]]:
    """Unique made-up place names with their romanisation, two kanji first, then three."""
    pairs = [(a + b, ra + rb) for a, ra in FIRST for b, rb in SECOND if a != b]
    rng.shuffle(pairs)
    triples = [(a + m + b, ra + rm + rb) for a, ra in FIRST for m, rm in MIDDLE for b, rb in SECOND]
    rng.shuffle(triples)
    seen: set[str] = set()
    made = 0
    for name, romaji in pairs + triples:
        if made == count:
            return
        if romaji in seen:  # 岡 and 丘 would both read oka: a slug must be unique
            continue
        seen.add(romaji)
        made += 1
        yield name, romaji


def plan_bodies(scale: int, rng: random.Random, profile: Profile, families: list[str]) -> list[Body]:
    counts = _type_counts(scale)
    prefecture_numbers = sorted(rng.sample(range(1, 48), counts["prefecture"]))
    names = _names(rng, scale)
    next_number: dict[tuple[int, str], int] = {}
    first_number = {"city": 201, "town": 301, "village": 501, "kouiki": 801, "kumiai": 851}
    bodies: list[Body] = []
    weights = dict(profile.family_weights)
    family_names = [f for f in families if weights.get(f)]
    family_weights = [weights[f] for f in family_names]

    def add(kind: str, code: str, slug: str, name: str, prefecture: str) -> None:
        index = len(bodies)
        style = rng.choice(profile.site_styles)
        listing = {"table": f"/{slug}/pia/index.html", "paginated": f"/{slug}/soshiki/hyoka.html",
                   "list_detail": f"/{slug}/kurashi/mynumber/pia.html"}[style]
        bodies.append(Body(code=code, slug=slug, name=name, prefecture=prefecture, type=kind,
                           host=host_address(index), family=rng.choices(family_names, family_weights)[0],
                           style=style, listing=listing))

    for number in prefecture_numbers:
        add("prefecture", body_code(number, 0), f"{PREFECTURE_SLUGS[number - 1]}-pref",
            PREFECTURES[number - 1], PREFECTURES[number - 1])
    for kind in ("kouiki", "kumiai", "city", "town", "village"):
        for position in range(counts[kind]):
            # 広域連合: one per prefecture (後期高齢者医療); the rest spread over the prefectures
            number = prefecture_numbers[position % len(prefecture_numbers)]
            prefecture = PREFECTURES[number - 1]
            municipal = next_number.get((number, kind), first_number[kind])
            next_number[(number, kind)] = municipal + 1
            place, romaji = next(names)
            suffix, slug_suffix, _, _ = TYPES[kind]
            if kind == "kouiki":
                name = f"{prefecture}後期高齢者医療広域連合"
                slug = f"{PREFECTURE_SLUGS[number - 1]}-kouiki"
            elif kind == "kumiai":
                name = f"{place}地区{rng.choice(['衛生', '消防', '介護保険', '広域行政'])}事務組合"
                slug = f"{romaji}-{slug_suffix}"
            else:
                name, slug = place + suffix, f"{romaji}-{slug_suffix}"
            add(kind, body_code(number, municipal), slug, name, prefecture)
    return bodies


# --- documents ---------------------------------------------------------------------------------

def spec_groups() -> list[list[dict]]:
    """The corpus's assessments: the documents of one body and 評価書番号 (a basic one, with its
    full or focused one when there is one), published in edition 1 and printed with a text layer."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for collection in ("corpus", "wording"):
        for spec in load_specs(collection):
            variants = spec.get("variants") or {}
            if (not spec.get("published", True) or int(spec.get("edition", 1)) != 1
                    or variants.get("scanned") or variants.get("image_pages")):
                continue
            source = spec["id"].rsplit("-", 2)[0] if collection == "wording" else str(spec["city_code"])
            groups.setdefault((collection, source, int(spec["assessment_number"])), []).append(spec)
    order = {"basic": 0, "focused": 1, "full": 2}
    return [sorted(group, key=lambda s: order[s["kind"]]) for _, group in sorted(groups.items())]


# the documents a basic one's しきい値判断結果 requires beside it (a heavier one will do)
REQUIRED = {"basic_only": set(), "basic_and_focused": {"focused", "full"}, "basic_and_full": {"full"}}


def complete(group: list[dict]) -> bool:
    """Whether an assessment holds a basic document and what its result requires: most bodies
    publish what their threshold asks for, so a country of incomplete ones would be all alerts."""
    kinds = {s["kind"] for s in group}
    required = REQUIRED.get(str(group[0].get("threshold_result")))
    return group[0]["kind"] == "basic" and required is not None and (not required or bool(kinds & required))


def _pools(groups: list[list[dict]]) -> dict[str, list[list[dict]]]:
    """Complete assessments only (the corpus's planted contradictions inside them stay), by who
    would publish them."""
    groups = [g for g in groups if complete(g)]

    def source(group):
        return group[0]["id"]

    union = [g for g in groups if any(word in source(g) for word in UNION_SOURCES)]
    prefecture = [g for g in groups if any(word in source(g) for word in PREFECTURE_SOURCES)]
    basic_only = [g for g in groups if len(g) == 1 and g not in union]
    general = [g for g in groups if g not in union]
    return {"union": union, "prefecture": prefecture + general, "general": general, "basic_only": basic_only}


def _pick_groups(body: Body, rng: random.Random, pools: dict[str, list[list[dict]]]) -> list[list[dict]]:
    low, high = TYPES[body.type][3]
    wanted = rng.randint(low, high)
    if body.type in ("kouiki", "kumiai"):
        pool = pools["union"] or pools["basic_only"]
    elif body.type in ("town", "village"):
        pool = pools["basic_only"]  # a small body has no assessment of 30万人 or more
    elif body.type == "prefecture":
        pool = pools["prefecture"]
    else:
        pool = pools["general"]
    picked: list[list[dict]] = []
    while sum(len(g) for g in picked) < wanted:
        # most of a city's 事務 concern fewer than 10万人: a basic assessment alone
        small = body.type == "city" and rng.random() < CITY_BASIC_ONLY_SHARE
        picked.append(rng.choice(pools["basic_only"] if small else pool))
    return picked


def _replace_text(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    return value


def _shift_dates(value, days: int):
    """Every date in a spec moved by the same number of days: its own order (a change before its
    publication, a count before its date) is kept."""
    if isinstance(value, dt.date):
        return min(value + dt.timedelta(days=days), LATEST_DATE)
    if isinstance(value, list):
        return [_shift_dates(v, days) for v in value]
    if isinstance(value, dict):
        return {k: _shift_dates(v, days) for k, v in value.items()}
    return value


def body_spec(spec: dict, body: Body, number: int, days: int) -> dict:
    """The corpus spec as ``body``'s own: its name everywhere the seed body's was, its code and
    organization, a new 評価書番号, every date moved by ``days``."""
    seed_name = str(spec.get("declarant") or "").strip()
    out = _replace_text(spec, seed_name, body.name) if seed_name else dict(spec)
    out = _shift_dates(out, days)
    organization = body.name + TYPES[body.type][2]
    out.update(id=f"{body.code}-{body.slug}-{number:02d}-{spec['kind']}", city_code=body.code,
               city_slug=body.slug, assessment_number=number, organization=organization,
               declarant=body.name, edition=1, published=True)
    out.pop("replaces", None)
    return out


def republished_spec(spec: dict, rng: random.Random) -> dict:
    """The same document published again later, with one more 変更箇所 row saying why."""
    published = spec.get("published_on")
    if not isinstance(published, dt.date):
        published = dt.date(2024, 4, 1)
    later = min(published + dt.timedelta(days=rng.randint(30, 240)), LATEST_DATE)
    if later <= published:
        later = published + dt.timedelta(days=1)
    out = dict(spec, published_on=later, edition=2)
    row = {"date": later, "item": "Ⅱ 1いつ時点の計数か", "before": "令和5年4月1日時点",
           "after": f"令和{later.year - 2018}年{later.month}月1日時点", "timing": "post", "note": None}
    out["changes"] = list(spec.get("changes") or []) + [row]
    return out


# --- rendering ---------------------------------------------------------------------------------

def available_families(profile: Profile) -> tuple[list[str], list[str]]:
    """The families whose renderer this machine has, and one note per family left out."""
    usable, notes = [], []
    for family, weight in profile.family_weights:
        if not weight:
            continue
        look = FAMILIES[family]
        if look.writer == "calc" and soffice() is None:
            notes.append(f"layout family {family} left out: LibreOffice (soffice) is not installed "
                         f"(Debian package libreoffice-calc-nogui); its bodies print in the other families")
            continue
        if look.embedded and any(ipaex_font_file(name) is None for name in IPAEX_FILES):
            notes.append(f"layout family {family} left out: the IPAex fonts are not installed "
                         f"(Debian package fonts-ipaexfont); its bodies print in the other families")
            continue
        usable.append(family)
    if not usable:
        raise RuntimeError("no layout family can be rendered on this machine: " + "; ".join(notes))
    return usable, notes


def _render_one(job: tuple[dict, str, bool]) -> tuple[str, bytes, int]:
    """(id, PDF bytes, pages) of one reportlab-family document; ``scan``: printed, then scanned."""
    spec, family, scanned = job
    layout = lay_out(spec, family)
    pdf = render(spec, layout)
    if scanned:
        pdf = scan_300dpi(pdf, seed=spec["id"])
    return spec["id"], pdf, layout.pages


def _render_sheets(specs: list[dict], chunk: int = 80) -> dict[str, tuple[bytes, int]]:
    """The sheet family through LibreOffice, many documents per run (its start costs seconds)."""
    out: dict[str, tuple[bytes, int]] = {}
    for start in range(0, len(specs), chunk):
        layouts = [(spec, lay_out(spec, "sheet")) for spec in specs[start:start + chunk]]
        pdfs = export_pdfs(layouts)
        out.update({spec["id"]: (pdfs[spec["id"]], layout.pages) for spec, layout in layouts})
    return out


def render_all(jobs: list[tuple[dict, str, bool]], workers: int) -> dict[str, tuple[bytes, int]]:
    sheets = [spec for spec, family, _ in jobs if family == "sheet"]
    others = [job for job in jobs if job[1] != "sheet"]
    rendered: dict[str, tuple[bytes, int]] = {}
    # full documents first, so the long ones do not all land at the end of one worker's queue
    others.sort(key=lambda job: job[0]["kind"] != "full")
    started = time.monotonic()
    if workers > 1 and len(others) > 20:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for doc_id, pdf, pages in pool.map(_render_one, others, chunksize=8):
                rendered[doc_id] = (pdf, pages)
    else:
        for job in others:
            doc_id, pdf, pages = _render_one(job)
            rendered[doc_id] = (pdf, pages)
    log.info("rendered %d PDFs with reportlab in %.0f s (%d processes)", len(others),
             time.monotonic() - started, workers)
    if sheets:
        started = time.monotonic()
        rendered.update(_render_sheets(sheets))
        log.info("rendered %d PDFs with LibreOffice in %.0f s", len(sheets), time.monotonic() - started)
    return rendered


# --- the whole country -------------------------------------------------------------------------

def _share(count: int, share: float) -> int:
    """How many of ``count`` bodies get a behaviour: at least one whenever the share is not 0."""
    return min(count, max(1, round(count * share))) if share > 0 else 0


def assign_behaviours(bodies: list[Body], rng: random.Random, profile: Profile) -> None:
    """Slow, failing (the modes in turn) and republishing bodies, drawn with the seed; a
    republishing body is not a failing one (its new edition must be reachable)."""
    for body in rng.sample(bodies, _share(len(bodies), profile.slow_share)):
        body.slow = True
    if profile.failing_modes:
        for position, body in enumerate(rng.sample(bodies, _share(len(bodies), profile.failing_share))):
            body.failing = profile.failing_modes[position % len(profile.failing_modes)]
    reachable = [b for b in bodies if not b.failing]
    for body in rng.sample(reachable, min(len(reachable), _share(len(bodies), profile.republish_share))):
        body.republishes = True


def cache_key(scale: int, seed: int, profile: Profile, families: list[str]) -> str:
    shape = json.dumps([GENERATOR_VERSION, dataclasses.asdict(profile), families], sort_keys=True)
    return f"scale{scale}-seed{seed}-{hashlib.sha256(shape.encode()).hexdigest()[:10]}"


def build_country(scale: int = DEFAULT_SCALE, seed: int = DEFAULT_SEED, out_dir: Path = DEFAULT_OUT, *,
                  profile: Profile = Profile(), workers: int = 2) -> Country:
    """The country of ``scale`` bodies for ``seed``: read from ``out_dir/<key>/`` when it was built
    before, else rendered there (``workers`` processes) and kept."""
    if scale < 1:
        raise ValueError("scale is a number of bodies, at least 1")
    families, notes = available_families(profile)
    for note in notes:
        log.warning("%s", note)
    directory = Path(out_dir) / cache_key(scale, seed, profile, families)
    if (directory / MANIFEST).exists():
        country = load_country(directory)
        country.notes = notes
        return country
    started = time.monotonic()
    rng = random.Random(seed)
    bodies = plan_bodies(scale, rng, profile, families)
    pools = _pools(spec_groups())
    jobs: list[tuple[dict, str, bool]] = []
    republish_jobs: list[tuple[dict, str, bool]] = []
    assign_behaviours(bodies, rng, profile)
    for body in bodies:
        days = -rng.randint(0, 400)
        number = 0
        for group in _pick_groups(body, rng, pools):
            number += 1
            for seed_spec in group:
                spec = body_spec(seed_spec, body, number, days)
                scanned = (spec["kind"] == "basic" and body.family != "sheet"
                           and rng.random() < profile.scan_share)
                family = f"{body.family}-scan" if scanned else body.family
                document = Document(id=spec["id"], kind=spec["kind"], assessment_number=number,
                                    title=str(spec["title"]), family=family,
                                    path=f"/{body.slug}/pia/files/{spec['id']}.pdf",
                                    file=f"pdf/{body.code}/{spec['id']}.pdf", bytes=0, sha256="", pages=0,
                                    published_on=str(spec.get("published_on") or ""))
                body.documents.append(document)
                jobs.append((spec, body.family, scanned))
                if body.republishes and rng.random() < profile.republish_doc_share:
                    again = republished_spec(spec, rng)
                    again_id = f"{spec['id']}-ed2"
                    document.republished_file = f"pdf/{body.code}/{again_id}.pdf"
                    document.republished_on = str(again["published_on"])
                    republish_jobs.append((dict(again, id=again_id), body.family, scanned))
        if body.republishes and not any(d.republished_file for d in body.documents):
            document = body.documents[0]
            spec = next(s for s, _, _ in jobs if s["id"] == document.id)
            again = republished_spec(spec, rng)
            document.republished_file = f"pdf/{body.code}/{spec['id']}-ed2.pdf"
            document.republished_on = str(again["published_on"])
            republish_jobs.append((dict(again, id=f"{spec['id']}-ed2"), body.family,
                                   document.family.endswith("-scan")))
        if body.failing and body.failing != "down":
            count = max(1, round(len(body.documents) * profile.failing_pdf_share))
            for document in rng.sample(body.documents, count):
                document.failure = body.failing
    rendered = render_all(jobs + republish_jobs, workers)
    directory.mkdir(parents=True, exist_ok=True)
    for body in bodies:
        for document in body.documents:
            pdf, pages = rendered[document.id]
            _write(directory / document.file, pdf)
            document.bytes, document.sha256, document.pages = len(pdf), hashlib.sha256(pdf).hexdigest(), pages
            if document.republished_file:
                again, _ = rendered[Path(document.republished_file).stem]
                _write(directory / document.republished_file, again)
                document.republished_bytes = len(again)
                document.republished_sha256 = hashlib.sha256(again).hexdigest()
    country = Country(directory=directory, scale=scale, seed=seed, profile=profile, bodies=bodies, notes=notes)
    country.write_registry(directory / REGISTRY, DEFAULT_PORT)
    # the manifest last: its presence says the country is complete
    manifest = {"scale": scale, "seed": seed, "profile": dataclasses.asdict(profile),
                "render_seconds": round(time.monotonic() - started, 1),
                "bodies": [dataclasses.asdict(b) for b in bodies]}
    _write(directory / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    log.info("rendered %d PDFs for %d bodies in %.0f s", country.pdf_count, len(bodies), time.monotonic() - started)
    return country


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def load_country(directory: Path) -> Country:
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    profile_fields = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
                      for k, v in manifest["profile"].items()}
    bodies = []
    for raw in manifest["bodies"]:
        documents = [Document(**d) for d in raw.pop("documents")]
        bodies.append(Body(**raw, documents=documents))
    return Country(directory=directory, scale=manifest["scale"], seed=manifest["seed"],
                   profile=Profile(**profile_fields), bodies=bodies)


def registry_text(country: Country, port: int) -> str:
    """The country's registry in the format of config/cities.yaml: demo entries, one host each."""
    profile = country.profile
    hints = f"{{delay_seconds: {profile.delay_seconds:g}, read_timeout: {profile.read_timeout:g}}}"
    lines = [f"# The synthetic country (demo/country.py): {len(country.bodies)} bodies, {country.pdf_count} PDFs,",
             f"# scale {country.scale}, seed {country.seed}; each body on its own loopback host, port {port}.",
             "# Generated: do not edit; `python -m demo.country --serve` serves it.", "", "cities:"]
    for body in country.bodies:
        # JSON strings are YAML double-quoted scalars: the code stays text, names need no escaping
        lines += [f"  - code: {json.dumps(body.code)}", f"    slug: {body.slug}",
                  f"    name: {json.dumps(body.name, ensure_ascii=False)}",
                  f"    prefecture: {json.dumps(body.prefecture, ensure_ascii=False)}",
                  f"    urls: [{json.dumps(f'http://{body.host}:{port}{body.listing}')}]",
                  "    demo: true", f"    hints: {hints}", ""]
    return "\n".join(lines)


@contextmanager
def serve_country(country: Country, *, port: int = 0, edition: int = 1):
    """Serve every body on its own loopback host (see demo/country_server.py); yields the server,
    whose ``registry_path`` names the registry for the port it listens on."""
    # deferred: demo.country_server builds on this module's Country
    from demo.country_server import CountryServer

    with CountryServer(country, port=port, edition=edition) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.country", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1].split("From Python")[0])
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="number of bodies (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where countries are kept (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (default %(default)s)")
    parser.add_argument("--delay", type=float, default=Profile.delay_seconds,
                        help="per-host delay written into the registry, seconds (default %(default)s)")
    parser.add_argument("--serve", action="store_true", help="then serve it until Ctrl-C")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of every host (default %(default)s)")
    parser.add_argument("--edition", type=int, default=1, choices=[1, 2],
                        help="2 = after the republishing bodies published again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    profile = dataclasses.replace(Profile(), delay_seconds=args.delay)
    country = build_country(args.scale, args.seed, args.out, profile=profile, workers=args.workers)
    print(country.summary(), flush=True)
    if not args.serve:
        return 0
    from demo.country_server import CountryServer  # deferred, as in serve_country

    server = CountryServer(country, port=args.port, edition=args.edition)
    print(f"serving {len(country.bodies)} hosts (edition {args.edition}) on port {server.port}, e.g. "
          f"http://{country.bodies[0].host}:{server.port}{country.bodies[0].listing}\n"
          f"  PIAWATCH_REGISTRY={server.registry_path} .venv/bin/piawatch run --demo   — Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
