"""The warehouses the load tests write to: a DuckDB file, or a DuckLake (both, for the loader's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.load.staged_runs import build_warehouse


@pytest.fixture
def db_file(tmp_path) -> Path:
    return tmp_path / "data" / "warehouse" / "piawatch.duckdb"


@pytest.fixture(params=["duckdb", "ducklake"])
def db(request, tmp_path):
    """A new warehouse on each backend: the loader's tests hold for both."""
    return tmp_path / "data" / "warehouse" / "piawatch.duckdb" if request.param == "duckdb" else request.getfixturevalue("lake")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    """A warehouse after two runs, shared by the tests that only read it."""
    return build_warehouse(tmp_path_factory.mktemp("two-runs") / "data")
