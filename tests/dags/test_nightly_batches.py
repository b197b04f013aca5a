"""The nightly DAG's batched mapping, run by Airflow itself (`airflow dags test`, in-process) on
the demo websites, with ``core.max_map_length`` lowered until it binds.

The demo's PDFs want more parse batches of 5 s (PIAWATCH_PARSE_BATCH_SECONDS) than the limit
allows: the DAG must make exactly as many as the limit, and still stage, load and report every document — the one PDF that is not
an assessment as its one failure row — and end with lake maintenance (a CHECKPOINT on the DuckDB
file the demo run writes).
"""

from __future__ import annotations

import json
import sqlite3

import duckdb
import pytest

from demo.server import DemoServer
from piawatch.batches import parse_batches
from piawatch.demo_run import airflow_environment, run_dag_in_process

pytestmark = pytest.mark.slow

MAX_MAP_LENGTH = 2
# The demo's 57 PDFs are about 20 s of estimated parsing: four batches of 5 s, over the limit.
BATCH_SECONDS = 5


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    base = tmp_path_factory.mktemp("batched-night")
    data_dir = base / "data"
    with DemoServer(port=0) as server:
        env = airflow_environment(base / "airflow-home", {
            "PIAWATCH_DATA_DIR": str(data_dir),
            "PIAWATCH_DEMO_URL": server.url,
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(MAX_MAP_LENGTH),
            "PIAWATCH_PARSE_BATCH_SECONDS": str(BATCH_SECONDS),
        })
        for name in ("PIAWATCH_WAREHOUSE", "PIAWATCH_ALERT_WEBHOOK_URL", "PIAWATCH_SMTP_URL"):
            env.pop(name, None)
        state = run_dag_in_process(base / "airflow-home", env, base / "night.log", conf={"demo": True})
    with sqlite3.connect(base / "airflow-home" / "airflow.db") as metadata:
        tasks = metadata.execute("SELECT task_id, map_index, state FROM task_instance").fetchall()
    [staging] = (data_dir / "staging").iterdir()
    return {"state": state, "tasks": tasks, "staging": staging, "data_dir": data_dir,
            "log": (base / "night.log").read_text(encoding="utf-8", errors="replace")}


def _instances(night, task_id: str) -> list[tuple[int, str]]:
    return sorted((index, state) for task, index, state in night["tasks"] if task == task_id)


def _staged(night, kind: str) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((night["staging"] / kind).glob("*.json"))]


def test_the_night_succeeds_with_no_more_batches_than_max_map_length(night):
    assert night["state"] == "success", night["log"][-3000:]
    crawled = _instances(night, "crawl_cities")
    parsed = _instances(night, "parse_documents")
    assert crawled == [(0, "success")]  # the 8 demo cities are one batch
    assert parsed == [(index, "success") for index in range(MAX_MAP_LENGTH)]
    assert _instances(night, "maintain_warehouse") == [(-1, "success")]


def test_the_limit_bound_more_batches_were_wanted(night):
    documents = {d["sha256"]: d for crawl in _staged(night, "crawl") for d in crawl["documents"]}
    wanted = parse_batches(list(documents.values()), lambda d: d["bytes"], batch_seconds=BATCH_SECONDS)
    assert len(wanted) > MAX_MAP_LENGTH


def test_every_document_is_staged_once_and_the_bad_one_is_one_failure_row(night):
    found = {d["sha256"] for crawl in _staged(night, "crawl") for d in crawl["documents"]}
    staged = _staged(night, "parse")
    assert {entry["sha256"] for entry in staged} == found
    failed = {entry["sha256"]: entry["error"]["code"] for entry in staged if "error" in entry}
    assert "not_an_assessment" in failed.values()
    con = duckdb.connect(str(night["data_dir"] / "warehouse" / "piawatch.duckdb"), read_only=True)
    rows = con.execute("SELECT sha256, code FROM failures WHERE stage = 'parse' AND NOT resolved").fetchall()
    assert dict(rows) == failed and len(rows) == len(failed)
    loaded = {sha for (sha,) in con.execute("SELECT DISTINCT sha256 FROM assessments").fetchall()}
    assert loaded == {entry["sha256"] for entry in staged if "record" in entry}
