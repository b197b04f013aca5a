"""
### PIA Watch — nightly crawl of municipal 特定個人情報保護評価書

Every night at 02:00 Asia/Tokyo:

0. **list_cities**: the same checks as `piawatch doctor` (registry, warehouse, alert channels):
   a broken configuration fails the run here, before anything is crawled. Returns the registry's
   cities in crawl batches (`piawatch.batches`).
1. **crawl_cities** (mapped over the batches of cities, in parallel; each batch crawls its 8
   cities at once, one request at a time per host): discover PDF links, fetch new or changed PDFs
   into the content-addressed store, stage `crawl/<city>.json`. A failing city is its failure row.
2. **select_new_versions**: stage the cached parses; cut the PDF versions never parsed into
   batches of about 30 s of parsing, estimated from their size (the last four smaller, taken last,
   so that the workers end together).
3. **parse_documents** (mapped over those batches): parse each PDF to the CONTRACT record, stage
   `parse/<sha256>.json`. A bad PDF is staged as its failure, never fails the batch or the run.
4. **load_warehouse**: the one writer of the warehouse (DuckDB file or DuckLake), one transaction per run.
5. **check_quality**: the Great Expectations rules; findings into the warehouse, Data Docs built.
6. **send_alerts**: once per new `error` finding; resolved when a new version fixes it.
7. **report**: the run's status (success, partial or failed, see `piawatch.lifecycle`); the static
   site rebuilt under `reports/site/` (`website/`); a short summary in the task log and under
   `reports/<run_id>/summary.md`.
8. **maintain_warehouse**: on a DuckLake, small files merged, snapshots older than
   `PIAWATCH_LAKE_SNAPSHOT_DAYS` expired, unused files deleted; on a DuckDB file, a CHECKPOINT.
   The task log shows the file counts before and after (`load.maintenance`). Housekeeping that
   fails is a warning in this task's log, not a failed night: the data is loaded by then.

Both mappings stay within Airflow's `core.max_map_length` (default 1024,
`AIRFLOW__CORE__MAX_MAP_LENGTH`): batches grow rather than outnumber it.

Logic lives in `piawatch.pipeline`; `piawatch run` does the same without a scheduler.
Configuration: `PIAWATCH_DATA_DIR`, `PIAWATCH_REGISTRY`, `PIAWATCH_WAREHOUSE`, alert channels,
`PIAWATCH_CRAWL_QUEUE` (see README).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

# At the top, unlike the tasks' imports: ground.settings is plain Python, cheap to parse the DAG with.
from ground.settings import WAREHOUSE_POOL

# The loader is the warehouse's only writer; it must never run twice at once, even across runs.

# The Celery queue of the crawl tasks. A data root on object storage shares no file locks between
# hosts, so the crawler's one-request-per-host rule then needs every crawl on one worker: give
# that worker a queue of its own (`airflow celery worker --queues crawl`) and name it here.
CRAWL_QUEUE = os.environ.get("PIAWATCH_CRAWL_QUEUE") or "default"

default_args = {
    "owner": "piawatch",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=1),
}


def _settings():
    from ground.settings import load_settings

    return load_settings()


def _max_batches() -> int:
    """Airflow refuses to map over more items than core.max_map_length: make no more batches."""
    from airflow.sdk import conf

    from piawatch.batches import AIRFLOW_MAX_MAP_LENGTH

    return conf.getint("core", "max_map_length", fallback=AIRFLOW_MAX_MAP_LENGTH)


def _run_id() -> str:
    from piawatch.pipeline import run_id_from_airflow

    return run_id_from_airflow(get_current_context()["run_id"])


@dag(
    dag_id="piawatch_nightly",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Tokyo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Tokyo"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["piawatch", "nightly"],
    doc_md=__doc__,
    params={
        "cities": Param([], type="array", description="Only these 団体コード (empty: every city in the registry)"),
        # Scheduled runs crawl the real cities only: the demo entries answer only while the
        # bundled demo websites are served (make run, make stack-demo pass demo: true).
        "demo": Param(False, type=["null", "boolean"],
                      description="false (scheduled runs): only real cities; true: only the demo cities; "
                                  "null: every registry entry"),
    },
)
def piawatch_nightly():
    @task
    def list_cities() -> list[list[str]]:
        from piawatch.pipeline import crawl_plan

        params = get_current_context()["params"]
        return crawl_plan(_settings(), only=params["cities"] or None, demo=params["demo"],
                          max_batches=_max_batches())

    @task(max_active_tis_per_dagrun=4, queue=CRAWL_QUEUE)
    def crawl_cities(city_codes: list[str]) -> list[dict]:
        from piawatch.pipeline import crawl_batch_step

        return crawl_batch_step(_settings(), _run_id(), city_codes)

    @task
    def select_new_versions(crawled: list[list[dict]]) -> list[list[dict]]:
        from piawatch.pipeline import parse_plan

        # Index rather than iterate: iterating a lazy XCom sequence probes one past its end.
        crawled = [crawled[i] for i in range(len(crawled))]
        return parse_plan(_settings(), _run_id(), crawled, max_batches=_max_batches())

    # A batch starts no PDF after 30 min (piawatch.batches.PARSE_BATCH_BUDGET_SECONDS) and each
    # parse has its own limit (PIAWATCH_PARSE_TIMEOUT), so the hour is never reached by a batch.
    @task(execution_timeout=timedelta(hours=1))
    def parse_documents(documents: list[dict]) -> list[dict]:
        from piawatch.pipeline import parse_batch_step

        return parse_batch_step(_settings(), _run_id(), documents)

    @task(trigger_rule="none_failed", pool=WAREHOUSE_POOL, max_active_tis_per_dag=1)
    def load_warehouse() -> dict:
        from piawatch.pipeline import load_step

        return load_step(_settings(), _run_id())

    @task(pool=WAREHOUSE_POOL, max_active_tis_per_dag=1)
    def check_quality() -> dict:
        from piawatch.pipeline import check_step

        return check_step(_settings(), _run_id())

    @task(pool=WAREHOUSE_POOL, max_active_tis_per_dag=1)
    def send_alerts() -> dict:
        from piawatch.pipeline import alert_step

        return alert_step(_settings(), _run_id())

    @task(pool=WAREHOUSE_POOL)
    def report() -> str:
        from piawatch.pipeline import finish_step, report_step, site_step

        settings, run_id = _settings(), _run_id()
        finish_step(settings, run_id)
        site_step(settings)
        summary = report_step(settings, run_id)
        print(summary)
        return summary

    @task(pool=WAREHOUSE_POOL, max_active_tis_per_dag=1)
    def maintain_warehouse() -> dict:
        from piawatch.pipeline import maintain_after_night

        return maintain_after_night(_settings())

    crawled = crawl_cities.expand(city_codes=list_cities())
    parsed = parse_documents.expand(documents=select_new_versions(crawled))
    loaded = load_warehouse()
    parsed >> loaded >> check_quality() >> send_alerts() >> report() >> maintain_warehouse()


piawatch_nightly()
