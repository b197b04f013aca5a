"""How a night's work is cut into batches: one task per batch of PDFs or cities, not one per item.

Every task instance costs Airflow about 3 s (queueing, a worker process, the task's imports)
before it does any work, and a basic assessment parses in under a second: mapped over single
PDFs, a national night would spend more time in Airflow than in the parser. So the DAG maps its
parse task over batches of about ``PARSE_BATCH_SECONDS`` of estimated parsing each, and its crawl
task over batches of cities that a batch crawls all at once (``CRAWL_THREADS``). ``piawatch
run`` cuts the night the same way, so both paths run the same code.

Airflow refuses to map a task over more items than ``core.max_map_length`` (1024 by default,
``AIRFLOW__CORE__MAX_MAP_LENGTH``): the task that returned the list fails. Both planners take that
limit as ``max_batches`` and make fewer, larger batches rather than exceed it.

Plain functions over lists: no Airflow, no network, no PDF is opened here.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from ground.settings import DEFAULT_PARSE_BATCH_SECONDS

T = TypeVar("T")

# Airflow's own default for core.max_map_length.
AIRFLOW_MAX_MAP_LENGTH = 1024

# Seconds of estimated parsing per batch, by default (PIAWATCH_PARSE_BATCH_SECONDS sets it).
PARSE_BATCH_SECONDS = DEFAULT_PARSE_BATCH_SECONDS

# The estimate of one PDF's parse, from its size alone: the size is known without opening the
# file, and a PDF is only ever opened inside the parse sandbox (transform/sandbox.py), whose job
# is to contain what a hostile file does to the reader. Measured on 160 PDFs of the synthetic
# country (CPU seconds of the parse, 2-core AMD EPYC): a 5-page basic form takes 0.07 s whatever
# its size (13–150 KB, fonts embedded or not), a 68–88-page full one about 2.3 s (200–620 KB), a
# 300 dpi scan through OCR about 10 s (1.3 MB); each PDF adds a fork from the sandbox's zygote and
# its staging. Size alone cannot tell a 150 KB basic form from a 200 KB full one, so the two
# constants are set for the total: on that sample they add up to 1.3 times the measured parse
# time, a little long, so batches end within what they were planned for.
PARSE_FIXED_SECONDS = 0.1
PARSE_BYTES_PER_SECOND = 400_000

# A batch starts no PDF after this many seconds (the rest are staged as `timeout` failures and
# parsed next run): an estimate fooled by slow or hostile PDFs, each allowed PIAWATCH_PARSE_TIMEOUT
# (120 s), still ends well inside the parse task's one-hour execution_timeout.
PARSE_BATCH_BUDGET_SECONDS = 30 * 60.0

# The night's last parse batches are smaller, as shares of PIAWATCH_PARSE_BATCH_SECONDS. Workers
# take the batches in map-index order and the load waits for the last one, so with equal batches
# one worker idles for up to a whole batch while another finishes the last: at 300 bodies on two
# workers the last parse ended 7.7 and 20.5 s after the one before it. Two halves then two
# quarters let two workers end within about a quarter batch of each other, for two more tasks
# (about 3 s of Airflow overhead each) than equal batches.
PARSE_TAIL_SHARES = (0.5, 0.5, 0.25, 0.25)

# Cities per crawl batch, and how many of them a batch crawls at once: all of them. A crawl mostly
# waits for its host's turn (1 s between requests to one host by default, so a city's dozen or so
# requests take a dozen seconds whatever the machine) and for the network; cities usually sit on
# hosts of their own, so a thread per city overlaps those waits, and a night's crawl takes about
# requests × delay / (threads × crawl slots). Politeness stays per host across threads and
# processes (extract/http.py's host lock file): cities sharing a host take turns. Each city has
# its own HTTP session. Batches made larger by max_map_length still crawl CRAWL_THREADS at once.
CITIES_PER_CRAWL_BATCH = 8
CRAWL_THREADS = CITIES_PER_CRAWL_BATCH

# A crawl batch starts no city after this many seconds (the rest are `timeout` failure rows,
# crawled next run). A city's crawl has a budget of its own (HttpLimits.session_budget, 30 min),
# so a batch ends within 20 + 30 min, inside the crawl task's one-hour execution_timeout, even when
# max_map_length makes batches larger than CITIES_PER_CRAWL_BATCH.
CRAWL_BATCH_BUDGET_SECONDS = 20 * 60.0


def parse_seconds(size_bytes: int | None) -> float:
    """Estimated seconds to parse a PDF of ``size_bytes`` (an unknown size counts as empty)."""
    return PARSE_FIXED_SECONDS + max(size_bytes or 0, 0) / PARSE_BYTES_PER_SECOND


def batch_count(items: int, wanted: int, max_batches: int | None) -> int:
    """How many batches: ``wanted``, at least one, at most one per item and at most ``max_batches``."""
    if items == 0:
        return 0
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be at least 1, not {max_batches}")
    count = max(1, min(wanted, items))
    return count if max_batches is None else min(count, max_batches)


def balanced_batches(items: Sequence[T], cost: Callable[[T], float], capacities: Sequence[float],
                     key: Callable[[T], str] = str) -> list[list[T]]:
    """``items`` in one batch per capacity, each batch's cost about in proportion to its capacity.

    Largest first, each into the batch filled least relative to its capacity (the classic LPT
    rule: with equal capacities no batch ends more than the largest single item above the
    average). Ties go to the earlier batch and items are taken in ``key`` order among equals, so
    the same items always make the same batches; each batch lists its items in ``key`` order.
    """
    heap = [(0.0, index) for index in range(len(capacities))]
    batches: list[list[T]] = [[] for _ in capacities]
    loads = [0.0] * len(capacities)
    for item in sorted(items, key=lambda i: (-cost(i), key(i))):
        _, index = heapq.heappop(heap)
        batches[index].append(item)
        loads[index] += cost(item)
        heapq.heappush(heap, (loads[index] / capacities[index], index))
    return [sorted(batch, key=key) for batch in batches if batch]


def parse_capacities(total: float, documents: int, batch_seconds: float, max_batches: int | None) -> list[float]:
    """The estimated seconds each parse batch is cut to: ``batch_seconds``, the last few smaller
    (``PARSE_TAIL_SHARES``) when the night is long enough and no limit is in the way; all equal
    when ``max_batches`` or the number of documents caps the batches, or when the tail would be
    as many tasks as the rest of the night (a short night's tasks cost more than its tail)."""
    tail = [batch_seconds * share for share in PARSE_TAIL_SHARES]
    full = math.ceil((total - sum(tail)) / batch_seconds)
    # full + len(tail) is always more than the equal batches wanted, so a cap on those caps this too.
    if full < len(tail) or full + len(tail) > batch_count(documents, full + len(tail), max_batches):
        return [batch_seconds] * batch_count(documents, math.ceil(total / batch_seconds), max_batches)
    return [batch_seconds] * full + tail


def parse_batches(documents: Sequence[dict], size_of: Callable[[dict], int | None], *,
                  batch_seconds: float = PARSE_BATCH_SECONDS,
                  max_batches: int | None = None) -> list[list[dict]]:
    """The documents to parse, in batches of about ``batch_seconds`` of estimated parsing, the
    night's last few smaller (``PARSE_TAIL_SHARES``), in the order workers should take them.

    ``size_of(document)`` gives a document's size in bytes (None when unknown). A document
    estimated above ``batch_seconds`` is a batch of its own; with ``max_batches`` the batches grow
    so that there are never more than that many.
    """
    costs = {doc["sha256"]: parse_seconds(size_of(doc)) for doc in documents}
    capacities = parse_capacities(sum(costs.values()), len(documents), batch_seconds, max_batches)
    return balanced_batches(documents, lambda doc: costs[doc["sha256"]], capacities, key=lambda doc: doc["sha256"])


def city_batches(codes: Sequence[str], *, per_batch: int = CITIES_PER_CRAWL_BATCH,
                 max_batches: int | None = None) -> list[list[str]]:
    """The cities in consecutive batches of about ``per_batch`` (never more than ``max_batches``
    batches), in registry order; batch sizes differ by at most one."""
    count = batch_count(len(codes), math.ceil(len(codes) / per_batch), max_batches)
    if count == 0:
        return []
    size, extra = divmod(len(codes), count)
    batches, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        batches.append(list(codes[start:end]))
        start = end
    return batches
