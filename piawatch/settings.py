"""Runtime configuration, read from environment variables once.

The same variables configure ``make run``, the ``piawatch`` CLI, the Airflow tasks and the
docker-compose stack (see ``.env.example``), so the paths cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from load.backend import Warehouse, warehouse_from

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    registry_path: Path
    user_agent: str
    contact: str

    @property
    def raw_dir(self) -> Path:
        """Content-addressed PDFs: raw/<sha[:2]>/<sha>.pdf, never overwritten."""
        return self.data_dir / "raw"

    @property
    def http_state_dir(self) -> Path:
        """Conditional-GET validators (ETag, Last-Modified) per URL."""
        return self.data_dir / "http"

    @property
    def parsed_dir(self) -> Path:
        """Parse cache: parsed/<sha>.json, so no PDF version is parsed twice."""
        return self.data_dir / "parsed"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    def run_staging_dir(self, run_id: str) -> Path:
        return self.staging_dir / run_id

    @property
    def warehouse(self) -> Warehouse:
        """PIAWATCH_WAREHOUSE: a DuckDB file (default data/warehouse/piawatch.duckdb) or a DuckLake."""
        return warehouse_from(os.environ, self.data_dir)

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("PIAWATCH_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    registry = Path(os.environ.get("PIAWATCH_REGISTRY", PROJECT_ROOT / "config" / "cities.yaml"))
    contact = os.environ.get("PIAWATCH_CONTACT", "piawatch@example.org")
    user_agent = os.environ.get(
        "PIAWATCH_USER_AGENT", f"PIAWatch/0.1 (+https://github.com/piawatch/piawatch; {contact})"
    )
    return Settings(data_dir=data_dir, registry_path=registry, user_agent=user_agent, contact=contact)
