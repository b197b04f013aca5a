"""One city's crawl: discover its PDF links, fetch each into the store, report everything.

``crawl_city`` returns the staged "crawl" format of docs/architecture.md. A problem with one URL
(404, timeout, robots.txt, not a PDF…) is a failure row, never an exception: the crawl goes on.
Requests are sequential, so a city's host never sees more than one at a time; cities run in
parallel as separate tasks.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from extract.discover import discover
from extract.fetch import fetch_pdf
from extract.http import HttpLimits, PoliteSession
from extract.registry import City
from ground.errors import FetchError, UnreadablePDF, failure_row
from ground.settings import Settings


def limits_for(city: City, base: HttpLimits | None = None) -> HttpLimits:
    """The HTTP limits for ``city``: ``base`` (defaults) with the registry's per-city hints."""
    limits = base or HttpLimits()
    changes = {}
    if city.delay_seconds is not None:
        changes["delay_seconds"] = city.delay_seconds
    if city.read_timeout is not None:
        changes["read_timeout"] = city.read_timeout
    return dataclasses.replace(limits, **changes)


def crawl_city(city: City, settings: Settings, *, limits: HttpLimits | None = None) -> dict:
    crawled_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    limits = limits_for(city, limits)
    with PoliteSession(user_agent=settings.user_agent, allowed_origins=city.allowed_origins,
                       allow_private=city.allow_private, limits=limits,
                       host_locks_dir=settings.http_state_dir / "hosts") as session:
        found = discover(session, city.urls, depth=city.depth, page_limit=city.page_limit,
                         selector=city.selector, encoding=city.encoding)
        documents, failures = [], list(found.failures)
        fetched: set[str] = set()
        for link in found.links:
            if link["url"] in fetched:
                continue
            fetched.add(link["url"])
            try:
                document = fetch_pdf(session, link["url"], raw_dir=settings.raw_dir,
                                     http_state_dir=settings.http_state_dir, max_bytes=limits.max_pdf_bytes)
            except (FetchError, UnreadablePDF) as exc:
                failures.append(failure_row("fetch", link["url"], exc.code, exc.reason))
                continue
            documents.append({**document, "link_text": link["link_text"], "found_on": link["found_on"]})
        fetches = session.fetch_log
    return {"city_code": city.code, "crawled_at": crawled_at, "pages": found.pages, "links": found.links,
            "fetches": fetches, "documents": documents, "failures": failures}
