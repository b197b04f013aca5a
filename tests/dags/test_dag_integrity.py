"""Every DAG imports, has no cycles, and follows the house rules (thin, documented, retried)."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_imports(dagbag):
    assert dagbag.import_errors == {}
    assert "piawatch_nightly" in dagbag.dags


def test_dags_are_documented_tagged_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.tags, f"{dag_id} has no tags"
        for t in dag.tasks:
            assert t.retries >= 1, f"{dag_id}.{t.task_id} is never retried"


def test_no_cycles_and_expected_chain(dagbag):
    dag = dagbag.dags["piawatch_nightly"]
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("crawl_cities") < order.index("parse_documents") < order.index("load_warehouse")
    assert order.index("load_warehouse") < order.index("check_quality") < order.index("send_alerts") < order.index("report")
    assert order.index("report") < order.index("maintain_warehouse")  # lake maintenance after the night's writes


def test_nightly_schedule_is_tokyo_and_single_writer(dagbag):
    dag = dagbag.dags["piawatch_nightly"]
    assert str(dag.timetable.timezone) == "Asia/Tokyo"
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.max_active_runs == 1
    loader = dag.get_task("load_warehouse")
    assert loader.pool == "piawatch_warehouse"
    assert loader.max_active_tis_per_dag == 1
    maintenance = dag.get_task("maintain_warehouse")
    assert (maintenance.pool, maintenance.max_active_tis_per_dag) == ("piawatch_warehouse", 1)
    assert dag.get_task("crawl_cities").is_mapped
    assert dag.get_task("parse_documents").is_mapped


def test_dag_files_hold_no_logic():
    """DAG files wire tasks; anything that parses, fetches or writes lives in importable modules."""
    for path in DAGS_FOLDER.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for forbidden in ("import duckdb", "import requests", "import pdfplumber", "open("):
            assert forbidden not in source, f"{path.name} does {forbidden!r} at DAG level"


def test_a_scheduled_run_crawls_only_the_real_cities(dagbag, settings):
    """The demo entries answer only while the demo websites are served: not at 02:00 in production."""
    from extract.registry import load_registry
    from piawatch.pipeline import city_codes

    params = dagbag.dags["piawatch_nightly"].params
    scheduled = city_codes(settings, only=params["cities"] or None, demo=params["demo"])
    registry = load_registry(settings.registry_path)
    assert scheduled == [c.code for c in registry if not c.demo] == ["212148", "124109"]
    assert city_codes(settings, demo=True) == [c.code for c in registry if c.demo]
    assert city_codes(settings, demo=None) == [c.code for c in registry]


def test_naming_a_demo_city_in_a_real_run_says_why_it_is_not_crawled(settings):
    from ground.errors import PiaWatchError
    from piawatch.pipeline import city_codes

    with pytest.raises(PiaWatchError, match="232017: demo entries of the registry, which a run with demo=false"):
        city_codes(settings, only=["232017"], demo=False)
    with pytest.raises(PiaWatchError, match="not in the registry"):
        city_codes(settings, only=["999999"], demo=False)


def test_the_crawl_tasks_can_be_pinned_to_a_queue_of_their_own(dagbag, monkeypatch):
    from airflow.models.dagbag import DagBag

    assert dagbag.dags["piawatch_nightly"].get_task("crawl_cities").queue == "default"
    monkeypatch.setenv("PIAWATCH_CRAWL_QUEUE", "crawl")
    pinned = DagBag(dag_folder=str(DAGS_FOLDER)).dags["piawatch_nightly"]
    assert pinned.get_task("crawl_cities").queue == "crawl"
    assert pinned.get_task("parse_documents").queue == "default"
