"""Shared test set-up.

Airflow reads AIRFLOW_HOME once, at first import, so the throw-away home is set here before any
test module imports Airflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="piawatch-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_ROOT / "demo" / "corpus"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings whose data directory is a fresh temporary one."""
    from piawatch.settings import load_settings

    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PIAWATCH_WAREHOUSE", raising=False)
    return load_settings()
