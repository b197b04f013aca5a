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
        if not dag_run.dag_id.startswith("piawatch"):
            return
        from alerts.operators import notify_run_failed

        notify_run_failed(dag_run.dag_id, dag_run.run_id, msg or "a task failed after its retries")


class PiaWatchPlugin(AirflowPlugin):
    name = "piawatch"
    listeners = [RunFailureListener()]
