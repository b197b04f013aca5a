"""Finding the PDF links a city publishes: walk from its listing pages to detail pages.

Breadth-first from the listing URLs, following page links within the allowed hosts up to
``depth`` hops, reading at most ``page_limit`` pages. A link is a PDF when its path ends in .pdf
or, for opaque download URLs, when the server answers with a PDF Content-Type. Pagination
(「次へ」, 「2」) needs nothing special: those are links like any other. A page that cannot be read
becomes a failure row and the walk goes on.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from extract.http import HttpLimits, PoliteSession, origins_of
from extract.links import is_pdf_url, may_be_page, parse_links
from ground.errors import FetchError, HTTPStatusError, failure_row

log = logging.getLogger(__name__)

HTML_TYPES = {"text/html", "application/xhtml+xml", ""}
PDF_TYPES = {"application/pdf", "application/x-pdf"}


@dataclass
class Discovery:
    pages: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    # The exception each failure came from, for callers that must re-raise (the CLI).
    errors: list[FetchError] = field(default_factory=list, repr=False)

    def fail(self, url: str, exc: FetchError) -> None:
        self.failures.append(failure_row("discover", url, exc.code, exc.reason))
        self.errors.append(exc)

    def add_link(self, url: str, text: str | None, found_on: str | None) -> None:
        row = {"url": url, "link_text": text, "found_on": found_on}
        if row not in self.links:
            self.links.append(row)


def discover(session: PoliteSession, start_urls, *, depth: int, page_limit: int,
             selector: str | None = None, encoding: str | None = None) -> Discovery:
    found = Discovery()
    queue = deque((url, 0, None, None) for url in start_urls)  # url, hops, found_on, link text
    queued = {url for url in start_urls}
    while queue:
        url, hops, found_on, text = queue.popleft()
        if len(found.pages) >= page_limit:
            found.fail(url, FetchError(f"page limit of {page_limit} pages reached; {url} and "
                                       f"{len(queue)} more pages not read"))
            break
        try:
            response = session.get(url, read_body_for=lambda ctype: ctype in HTML_TYPES)
        except FetchError as exc:
            found.pages.append({"url": url, "status": None, "encoding": None, "found_on": found_on})
            found.fail(url, exc)
            continue
        page = {"url": url, "status": response.status, "encoding": None, "found_on": found_on}
        if response.url != url:
            page["redirected_to"] = response.url
        if not response.ok:
            found.pages.append(page)
            found.fail(url, HTTPStatusError(f"HTTP {response.status} for {url}"))
            continue
        if response.content_type in PDF_TYPES:
            found.add_link(url, text, found_on)
            continue
        if response.content_type not in HTML_TYPES:
            log.debug("not following %s: %s", url, response.content_type)
            continue
        parsed = parse_links(response.body, response.url, http_charset=response.charset,
                             encoding=encoding, selector=selector)
        page["encoding"] = parsed.encoding
        found.pages.append(page)
        queued.add(response.url)
        for link in parsed.links:
            # found_on is where the link really is: after a redirect, the page redirected to
            if is_pdf_url(link.url):
                found.add_link(link.url, link.text, response.url)
            elif (hops < depth and link.url not in queued and may_be_page(link.url)
                  and session.allows(link.url)):
                queued.add(link.url)
                queue.append((link.url, hops + 1, response.url, link.text))
    return found


def discover_pdf_links(url: str, *, depth: int = 2, allow_private: bool = False, settings,
                       limits: HttpLimits = HttpLimits(), page_limit: int = 100) -> list[dict]:
    """``piawatch discover``: the PDF links reachable from ``url`` on its own host.

    Raises the fetch error when ``url`` itself cannot be read; later pages that fail are logged.
    """
    with PoliteSession(user_agent=settings.user_agent, allowed_origins=origins_of([url]),
                       allow_private=allow_private, limits=limits) as session:
        found = discover(session, [url], depth=depth, page_limit=page_limit)
    if found.failures and found.failures[0]["url"] == url:
        raise found.errors[0]
    for failure in found.failures:
        log.warning("%s: %s", failure["url"], failure["reason"])
    return found.links
