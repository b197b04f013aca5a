"""Build the static site from the warehouse: ``build_site(settings)``.

The site is written to ``<data root>/reports/site/`` (``site_dir``): beside the runs' reports, and
under the same data root as the stored PDFs (``raw/``), so its links to them are relative and
work from a file:// URL as well as from ``piawatch site --serve``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from website import charts, pages
from website.data import open_for_site, read_site_data
from website.render import Writer, content_hash

log = logging.getLogger(__name__)

PACKAGE = resources.files("website")
CHARTS = {"publications": charts.publications_by_kind, "problems": charts.problems_by_city,
          "required": charts.required_vs_published}


def site_dir(settings) -> Path:
    return settings.reports_dir / "site"


@dataclass(frozen=True)
class BuildResult:
    index: Path
    rendered: int
    skipped: int
    removed: int
    seconds: float


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("website", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined,
                             auto_reload=False)  # one build, one version of the templates (its fingerprint's)
    # A typed value as JSON, Japanese left readable (Jinja's tojson escapes it to \\uXXXX).
    env.filters["typed"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def _fingerprint(folder: str) -> str:
    """One hash over a package folder's files: a template or asset change re-renders everything."""
    files = sorted((p for p in PACKAGE.joinpath(folder).iterdir() if p.is_file()), key=lambda p: p.name)
    return content_hash(*[p.name.encode() + b"\0" + p.read_bytes() for p in files])


def _data_docs_link(settings, out_dir: Path, run_id: str | None) -> str | None:
    if not run_id:
        return None
    index = settings.reports_dir / run_id / "data-docs" / "index.html"
    return Path(os.path.relpath(index, out_dir)).as_posix() if index.exists() else None


def build_site(settings, out_dir: Path | None = None) -> BuildResult:
    """Read the warehouse (its published read-only copy) and write the site incrementally."""
    started = time.perf_counter()
    out_dir = Path(out_dir or site_dir(settings))
    con = open_for_site(settings.warehouse)
    try:
        data = read_site_data(con)
    finally:
        con.close()
    result = write_site(data, out_dir, settings.raw_dir,
                        data_docs=_data_docs_link(settings, out_dir, data.runs[-1]["run_id"] if data.runs else None))
    result = BuildResult(result.index, result.rendered, result.skipped, result.removed, time.perf_counter() - started)
    log.info("site %s: %d files written, %d unchanged, %d removed in %.1f s", result.index, result.rendered,
             result.skipped, result.removed, result.seconds)
    return result


def write_site(data, out_dir: Path, raw_dir: Path, *, data_docs: str | None = None) -> BuildResult:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _environment()
    templates = _fingerprint("templates")
    site = pages.Site(data, raw_dir, out_dir)
    writer = Writer.open(out_dir)

    for asset in sorted(PACKAGE.joinpath("assets").iterdir(), key=lambda p: p.name):
        body = asset.read_bytes()
        writer.put(f"assets/{asset.name}", content_hash(body), lambda body=body: body)

    def page(path: str, template: str, context: dict) -> None:
        depth = path.count("/")
        context = {**context, "root": "../" * depth, "path": path}
        writer.put(path, content_hash(templates, template, context),
                   lambda: env.get_template(template).render(**context))

    points = pages.chart_points(site)
    for name, make in CHARTS.items():
        writer.put(f"charts/{name}.svg", content_hash(name, points[name]),
                   lambda make=make, name=name: charts.render_svg(make(points[name])))
    overview = pages.overview(site, data_docs)
    page("index.html", "overview.html", {**overview, "points": points})
    page("search.html", "search.html", pages.search_page(site))
    index = pages.search_index(site)
    writer.put("assets/search-index.js", content_hash(index),
               lambda: "window.PIAWATCH_INDEX = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n")
    page("rules.html", "rules.html", pages.rules_index(site))
    for path, context in pages.rule_pages(site):
        page(path, "rule.html", context)
    for path, context in pages.city_pages(site):
        page(path, "city.html", context)
    for path, context in pages.document_pages(site):
        page(path, "document.html", context)
    removed = writer.close()
    return BuildResult(out_dir / "index.html", writer.rendered, writer.skipped, removed, time.perf_counter() - started)


def rebuild_after_run(settings) -> Path | None:
    """The pipeline's last step: rebuild the site; returns its index, or None when the build failed.

    A failed build is logged and never fails the run: everything the site shows is already stored,
    checked and alerted, and the next build (or ``piawatch site``) catches up.
    """
    try:
        return build_site(settings).index
    except Exception:
        log.exception("the site under %s could not be built", site_dir(settings))
        return None


def summary_line(settings) -> str:
    """The run summary's line naming the site, once there is one."""
    index = site_dir(settings) / "index.html"
    return f"  site                 {index}\n" if index.exists() else ""
