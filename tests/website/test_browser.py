"""The static site in a real browser, after a real demo run.

`piawatch run --demo` crawls the demo websites (served here on 127.0.0.1), parses, loads, checks
and alerts, and ends by building the site. Debian's Chromium, driven by Playwright from the
venv, then opens the overview, 豊橋市's page and the document with the planted threshold
contradiction, follows its link to the PDF page, and uses the search filters; no request may
leave 127.0.0.1 and the console must stay free of errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from alerts.wording import label
from demo.server import DemoServer
from ground.capabilities import check

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
PLANTED = "232017-toyohashi-02-basic"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One real `piawatch run --demo` in a fresh data directory; (data dir, its printed summary)."""
    if not CHROMIUM.exists():
        pytest.skip(check("chromium").skip_reason if not check("chromium").available
                    else f"no Chromium at {CHROMIUM} (Debian's chromium package; `sudo make system-deps`)")
    data_dir = tmp_path_factory.mktemp("site-browser") / "data"
    env = {k: v for k, v in os.environ.items() if k != "PIAWATCH_WAREHOUSE"}
    with DemoServer(port=0, edition=1) as server:
        env.update(PIAWATCH_DATA_DIR=str(data_dir), PIAWATCH_DEMO_URL=server.url)
        done = subprocess.run([str(Path(sys.executable).parent / "piawatch"), "run", "--demo"], env=env,
                              capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return data_dir, done.stdout


@pytest.fixture(scope="module")
def browser(demo_run):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def visit(demo_run, browser):
    """A page on the served site that records every request and every console error."""
    from website.serve import SiteServer

    data_dir, _ = demo_run
    with SiteServer(data_dir / "reports" / "site", data_dir / "raw") as server:
        context = browser.new_context()
        page = context.new_page()
        page.requests, page.errors = [], []
        page.on("request", lambda request: page.requests.append(request.url))
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.base = server.url.rsplit("/", 1)[0] + "/"
        yield page
        context.close()
    hosts = {urlsplit(url).hostname for url in page.requests if not url.startswith("data:")}
    assert hosts <= {"127.0.0.1"}, f"requests left the local host: {sorted(hosts)}"
    assert not page.errors, page.errors


def test_the_run_ends_by_printing_the_sites_path(demo_run):
    data_dir, summary = demo_run
    last = summary.strip().splitlines()[-1]
    assert last.split() == ["site", str(data_dir / "reports" / "site" / "index.html")]


def test_overview_city_and_the_planted_contradiction_with_its_pdf_page(visit):
    page = visit
    page.goto(page.base + "index.html")
    assert page.locator("h1").inner_text() == "概要"
    assert page.locator("img[src$='charts/publications.svg']").evaluate("img => img.naturalWidth") > 0

    page.locator("#cities").locator("xpath=..").get_by_role("link", name="豊橋市", exact=True).click()
    page.wait_for_url("**/city/232017.html")
    assert "豊橋市" in page.locator("h1").inner_text()

    page.locator(f"a[href$='doc/{PLANTED}.html']").first.click()
    page.wait_for_url(f"**/doc/{PLANTED}.html")
    problem = page.locator(".finding", has=page.locator("a", has_text="しきい値判断結果の誤り")).first
    text = problem.inner_text()
    assert "対象人数が30万人以上であるのに、しきい値判断結果が「基礎項目評価の実施が義務付けられる」となっている" in text
    values = problem.locator("table.values tbody tr").all_inner_texts()
    assert any("対象人数" in row and "30万人以上" in row and "3" in row for row in values), values
    expected = label("expected_threshold_result")  # worded as the alert words it
    assert any(expected in row and "基礎項目評価及び全項目評価の実施が義務付けられる" in row for row in values), values

    href = problem.locator("a.pdf-link").get_attribute("href")
    target, fragment = urldefrag(href)
    assert fragment == "page=3"
    absolute = page.evaluate("href => new URL(href, document.baseURI).href", target)
    response = page.request.get(absolute)
    assert response.status == 200 and response.body().startswith(b"%PDF-")
    import pypdfium2

    assert len(pypdfium2.PdfDocument(response.body())) >= 3  # the page the link names exists


def test_the_filters_narrow_the_list(visit):
    page = visit
    page.goto(page.base + "search.html")
    count = page.locator("#result-count")
    rows = page.locator("#results tbody tr")
    total = rows.count()
    assert total > 40 and count.inner_text().startswith(f"{total} 件")

    page.select_option("#f-city", "232017")
    toyohashi = rows.count()
    assert 0 < toyohashi < total and all(r.startswith("豊橋市") for r in rows.all_inner_texts())
    page.select_option("#f-rule", "threshold.result_mismatch")
    assert rows.count() == 1 and rows.first.locator(f"a[href$='doc/{PLANTED}.html']").count() == 1

    page.select_option("#f-rule", "")
    page.select_option("#f-city", "")
    page.select_option("#f-prefecture", "愛知県")
    assert rows.count() == toyohashi
    page.select_option("#f-kind", "full")
    assert all("全項目評価書" in r for r in rows.all_inner_texts()) and 0 < rows.count() < toyohashi

    page.select_option("#f-prefecture", "")
    page.select_option("#f-kind", "")
    page.fill("#f-from", "2025-01-01")
    dates = [r.split("\t")[5] for r in rows.all_inner_texts()]
    assert dates and all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) and d >= "2025-01-01" for d in dates), dates

    page.goto(page.base + "search.html?rule=procedure.no_third_party_review")
    assert rows.count() >= 1 and page.locator("#f-rule").input_value() == "procedure.no_third_party_review"
