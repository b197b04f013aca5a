"""The pipeline's load step with the real registry: piawatch.pipeline.load_step → load.loader."""

from __future__ import annotations

from extract.registry import load_registry
from load.connection import connect
from piawatch.pipeline import load_step
from tests.load.staged_runs import RUN_1, run_1_documents, stage_run


def test_load_step_loads_the_staged_run_and_the_registry(settings):
    stage_run(settings.data_dir, RUN_1, run_1_documents())
    counts = load_step(settings, RUN_1)
    assert counts["documents_new"] == 8 and counts["assessments_loaded"] == 7
    registry = load_registry(settings.registry_path)
    with connect(settings.warehouse, read_only=True) as con:
        municipalities = con.execute("SELECT city_code, name, prefecture, demo, urls FROM municipalities "
                                     "ORDER BY city_code").fetchall()
        summary = con.execute("SELECT name, full_documents, open_failures FROM city_summary "
                              "WHERE city_code = '271403'").fetchone()
    assert municipalities == sorted((c.code, c.name, c.prefecture, c.demo, list(c.urls)) for c in registry)
    assert summary == ("堺市", 1, 0)
