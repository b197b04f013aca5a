"""
### PIA Watch — nightly crawl of municipal 特定個人情報保護評価書

Every night at 02:00 Asia/Tokyo:

0. **list_cities**: the same checks as `piawatch doctor` (registry, warehouse, alert channels):
   a broken configuration fails the run here, before anything is crawled.
1. **crawl_city** (mapped over the registry's cities, in parallel): discover PDF links, fetch new or
   changed PDFs into the content-addressed store, stage `crawl/<city>.json`.
2. **parse_document** (mapped over PDF versions not parsed before): parse to the CONTRACT record,
   stage `parse/<sha256>.json`. A bad PDF is staged as a failure, never fails the run.
3. **load_warehouse**: the one writer of the warehouse (DuckDB file or DuckLake), one transaction per run.
4. **check_quality**: the Great Expectations rules; findings into the warehouse, Data Docs built.
5. **send_alerts**: once per new `error` finding; resolved when a new version fixes it.
6. **report**: the run's status (success, partial or failed, see `piawatch.lifecycle`); the static
   site rebuilt under `reports/site/` (`website/`); a short summary in the task log and under
   `reports/<run_id>/summary.md`.

Logic lives in `piawatch.pipeline`; `piawatch run` does the same without a scheduler.
Configuration: `PIAWATCH_DATA_DIR`, `PIAWATCH_REGISTRY`, `PIAWATCH_WAREHOUSE`, alert channels,
`PIAWATCH_CRAWL_QUEUE` (see README).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

# The loader is the warehouse's only writer; it must never run twice at once, even across runs.
WAREHOUSE_POOL = "piawatch_warehouse"

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
    def list_cities() -> list[str]:
        from piawatch.pipeline import plan_run

        params = get_current_context()["params"]
        return plan_run(_settings(), only=params["cities"] or None, demo=params["demo"])

    @task(max_active_tis_per_dagrun=4, queue=CRAWL_QUEUE)
    def crawl_city(city_code: str) -> list[dict]:
        from piawatch.pipeline import crawl_step

        return crawl_step(_settings(), _run_id(), city_code)

    @task
    def select_new_versions(crawled: list[list[dict]]) -> list[dict]:
        from piawatch.pipeline import documents_to_parse, stage_cached_parses

        settings = _settings()
        # Index rather than iterate: iterating a lazy XCom sequence probes one past its end.
        crawled = [crawled[i] for i in range(len(crawled))]
        stage_cached_parses(settings, _run_id(), crawled)
        return documents_to_parse(settings, crawled)

    @task(execution_timeout=timedelta(minutes=10))
    def parse_document(document: dict) -> dict:
        from piawatch.pipeline import parse_step

        return parse_step(_settings(), _run_id(), document)

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

    crawled = crawl_city.expand(city_code=list_cities())
    parsed = parse_document.expand(document=select_new_versions(crawled))
    loaded = load_warehouse()
    parsed >> loaded >> check_quality() >> send_alerts() >> report()


piawatch_nightly()
