"""Airflow plugin: tell the operators when a PIA Watch DAG run fails.

A DAG-level ``on_failure_callback`` crashes under ``airflow dags test`` (apache/airflow#64649), so
the notice comes from a listener, which the scheduler calls when a run ends in failure.
"""

from __future__ import annotations

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


class RunFailureListener:
    @hookimpl
    def on_dag_run_failed(self, dag_run, msg: str):
        # the project is imported only when a PIA Watch run failed: the scheduler loads every plugin
        if not dag_run.dag_id.startswith("piawatch"):
            return
        from alerts.run_failed import notify_run_failed
        from ground.settings import load_settings
        from piawatch.lifecycle import record_failed_run
        from piawatch.pipeline import run_id_from_airflow

        reason = msg or "a task failed after its retries"
        if dag_run.dag_id == "piawatch_nightly":  # the DAG whose runs have a row in the runs table
            record_failed_run(load_settings(), run_id_from_airflow(dag_run.run_id), f"Airflow: {reason}")
        notify_run_failed(dag_run.dag_id, dag_run.run_id, reason)


class PiaWatchPlugin(AirflowPlugin):
    name = "piawatch"
    listeners = [RunFailureListener()]
