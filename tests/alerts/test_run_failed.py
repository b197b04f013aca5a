"""Run-failure notices for operators, sent by the Airflow plugin's listener on the alert channels."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from alerts.run_failed import notify_run_failed

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "piawatch_listener.py"


@pytest.fixture
def plugin_module():
    spec = importlib.util.spec_from_file_location("piawatch_listener", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_registers_the_listener(plugin_module):
    assert plugin_module.PiaWatchPlugin.name == "piawatch"
    [listener] = plugin_module.PiaWatchPlugin.listeners
    assert hasattr(listener, "on_dag_run_failed")


def test_failed_nightly_run_reaches_the_webhook(plugin_module, webhook, monkeypatch):
    monkeypatch.setenv("PIAWATCH_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.delenv("PIAWATCH_SMTP_URL", raising=False)
    listener = plugin_module.PiaWatchPlugin.listeners[0]
    listener.on_dag_run_failed(SimpleNamespace(dag_id="piawatch_nightly", run_id="scheduled__2026-11-23"),
                               "task_failure")
    listener.on_dag_run_failed(SimpleNamespace(dag_id="someone_elses_dag", run_id="r1"), "task_failure")
    [notice] = webhook.accepted
    assert "piawatch_nightly" in notice["text"] and "scheduled__2026-11-23" in notice["text"]
    assert "task_failure" in notice["text"]


def test_an_unreachable_channel_does_not_hide_the_log_line(webhook, caplog):
    webhook.failing = True
    with caplog.at_level("ERROR", logger="piawatch.alerts"):
        reached = notify_run_failed("piawatch_nightly", "r1", "load_warehouse failed",
                                    environ={"PIAWATCH_ALERT_WEBHOOK_URL": webhook.url})
    assert reached == ["log"]
    assert "load_warehouse failed" in caplog.text
    assert "webhook answered HTTP 500" in caplog.text
