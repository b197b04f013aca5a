"""Where a run is: one log line per city and per stage, and a progress bar with an ETA on a terminal.

The lines go through ``logging`` (logger ``piawatch.progress``), so the same lines appear in a
terminal, in a redirected log and in the Airflow task logs (where each crawl task logs its city's
line). The bar (rich) is drawn only when stderr is a terminal and the run is not quiet.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

log = logging.getLogger("piawatch.progress")

QUIET, NORMAL, VERBOSE = 0, 1, 2


def pages_read(crawl: dict) -> int:
    """The HTML pages of a city's crawl that answered (a 404 listing page is not read)."""
    return sum(1 for p in crawl.get("pages", []) if isinstance(p.get("status"), int) and 200 <= p["status"] < 400)


def city_line(city_code: str, crawl: dict) -> str:
    """One city's crawl: pages read, PDFs found, new versions, failures."""
    documents = crawl.get("documents", [])
    new = sum(1 for d in documents if d.get("is_new_version"))
    failures = crawl.get("failures", [])
    codes = sorted({f.get("code") for f in failures})
    failed = f"{len(failures)} failures" + (f" ({', '.join(map(str, codes))})" if failures else "")
    return (f"{city_code}: {pages_read(crawl)} pages, {len(documents)} PDFs found, "
            f"{new} new versions, {failed}")


class _CurrentStderr:
    """sys.stderr as it is at each write: while a bar is drawn, rich puts its own in place, and
    routes what is written there above the bar."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(verbosity: int) -> None:
    """The CLI's logging: -q warnings only, default progress lines, -v everything at INFO and DEBUG for piawatch."""
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbosity >= VERBOSE else logging.WARNING)
    level = {QUIET: logging.WARNING, NORMAL: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.getLogger("piawatch").setLevel(level)
    for name in ("extract", "transform", "load", "quality", "alerts"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= VERBOSE else logging.WARNING)


def _eta(done: int, total: int, elapsed: float) -> str:
    if not done or done >= total:
        return ""
    return f", ETA {round(elapsed / done * (total - done))} s"


class Stage:
    """Counts the items of one stage; logs each item's line with 'n/total' and an ETA."""

    def __init__(self, name: str, total: int, bar=None, task=None):
        self.name, self.total, self.done = name, total, 0
        self.started = time.monotonic()
        self._bar, self._task = bar, task

    def advance(self, line: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        log.info("%s %d/%d%s — %s", self.name, self.done, self.total, _eta(self.done, self.total, elapsed), line)
        if self._bar is not None:
            self._bar.advance(self._task)

    def finish(self, summary: str = "") -> None:
        elapsed = time.monotonic() - self.started
        log.info("%s done: %d in %.1f s%s", self.name, self.done, elapsed, f" — {summary}" if summary else "")


class Progress:
    """``with progress.stage("crawl", n) as stage: stage.advance(line)`` for each item."""

    def __init__(self, verbosity: int = NORMAL, stream=None):
        self.verbosity = verbosity
        self.stream = stream or sys.stderr

    @property
    def draws_bar(self) -> bool:
        return self.verbosity >= NORMAL and getattr(self.stream, "isatty", lambda: False)()

    @contextmanager
    def stage(self, name: str, total: int):
        if not self.draws_bar:
            stage = Stage(name, total)
            yield stage
            stage.finish()
            return
        with Bar(TextColumn("{task.description:>7}"), BarColumn(), MofNCompleteColumn(), TextColumn("ETA"),
                 TimeRemainingColumn(), console=Console(file=self.stream), transient=True) as bar:
            stage = Stage(name, total, bar, bar.add_task(name, total=total))
            yield stage
        stage.finish()
