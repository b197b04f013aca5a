"""The real nightly DAG, run in-process with `airflow dags test`, against the demo websites.

One Airflow run per edition of the demo sites, sharing one data directory the way successive
nights do: the first night finds everything, the second (nothing changed) downloads nothing and
alerts on nothing, the third (edition 2: two cities republished) adds versions and resolves the
alert whose document was fixed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from demo.server import DemoServer
from piawatch.demo_run import airflow_environment, run_dag_in_process

pytestmark = pytest.mark.slow


CORPUS = Path(__file__).resolve().parent.parent / "demo" / "corpus"


def _published_ids(edition: int) -> set[str]:
    ids = set()
    for spec_path in sorted((CORPUS / "specs").glob("*.yaml")):
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        if spec.get("published", True) and spec.get("edition", 1) <= edition:
            ids.add(spec["id"])
    return ids


@pytest.fixture(scope="module")
def nights(tmp_path_factory, webhook_receiver_module):
    """Run three nights and keep what each left behind."""
    base = tmp_path_factory.mktemp("e2e")
    data_dir = base / "data"
    results = []
    with DemoServer(port=0, edition=1) as server:
        env = airflow_environment(base / "airflow-home", {
            "PIAWATCH_DATA_DIR": str(data_dir),
            "PIAWATCH_DEMO_URL": server.url,
            "PIAWATCH_ALERT_WEBHOOK_URL": webhook_receiver_module.url,
        })
        for edition in (1, 1, 2):
            server.set_edition(edition)
            server.clear_log()
            sent_before = len(webhook_receiver_module.accepted)
            state = run_dag_in_process(base / "airflow-home", env, base / f"night{len(results)}.log",
                                       conf={"demo": True})
            results.append({
                "state": state,
                "requests": list(server.requests),
                "alerts_posted": webhook_receiver_module.accepted[sent_before:],
            })
    warehouse = data_dir / "warehouse" / "piawatch.duckdb"
    return results, warehouse


def test_every_night_succeeds(nights):
    results, _ = nights
    assert [r["state"] for r in results] == ["success", "success", "success"]


def test_warehouse_holds_every_published_assessment(nights):
    _, warehouse = nights
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = {row[0] for row in con.sql("SELECT DISTINCT url FROM documents").fetchall()}
    assessments = con.execute("SELECT count(*) FROM latest_assessments").fetchone()[0]
    kinds = {row[0] for row in con.sql("SELECT DISTINCT kind FROM assessments").fetchall()}
    assert kinds == {"basic", "focused", "full"}
    # every published, readable document of edition 1 is in the warehouse
    assert assessments >= len([i for i in _published_ids(1) if "scanned" not in i]) - 1
    assert len(loaded) >= assessments


def test_first_night_alerts_on_the_planted_threshold_contradiction(nights, planted_threshold_truth):
    results, warehouse = nights
    doc = planted_threshold_truth
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("""
        SELECT f.rule, a.title FROM findings f JOIN assessments a USING (sha256)
        WHERE f.rule = 'threshold.result_mismatch'""").fetchall()
    assert (("threshold.result_mismatch", doc["title"]) in rows)
    posted = results[0]["alerts_posted"]
    threshold_alerts = [p for p in posted if "threshold.result_mismatch" in p["text"]]
    assert len(threshold_alerts) == 1
    assert doc["title"] in threshold_alerts[0]["text"]


def test_second_night_downloads_nothing_and_alerts_nothing(nights):
    results, _ = nights
    second = results[1]
    pdf_requests = [r for r in second["requests"] if r.path.endswith(".pdf")]
    assert pdf_requests, "the second night asked for no PDF at all"
    assert sum(r.bytes_sent for r in pdf_requests) == 0
    assert all(r.conditional for r in pdf_requests if r.status in (200, 304))
    assert second["alerts_posted"] == []


def test_third_night_adds_versions_and_resolves_the_fixed_alert(nights):
    results, warehouse = nights
    con = duckdb.connect(str(warehouse), read_only=True)
    versions = con.sql("""
        SELECT city_code, assessment_number, kind, count(*) AS n FROM assessments
        GROUP BY ALL HAVING n > 1""").fetchall()
    assert {row[0] for row in versions} >= {"152013", "232017"}
    resolved = con.sql("SELECT rule FROM alerts WHERE status = 'resolved'").fetchall()
    assert ("threshold.result_mismatch",) in resolved
    assert results[2]["alerts_posted"] == []
