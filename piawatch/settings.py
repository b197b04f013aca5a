"""Runtime configuration, read from environment variables once.

The same variables configure ``make run``, the ``piawatch`` CLI, the Airflow tasks and the
docker-compose stack (see ``.env.example``), so the paths cannot drift apart.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from load.backend import Warehouse, warehouse_from
from piawatch.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every PIAWATCH_* variable the project reads. `piawatch doctor` and the start of a run warn about
# any other one: a misspelt name would otherwise be ignored without a word.
# (tests/test_doctor.py checks that every PIAWATCH_* name the code and docs mention is listed here.)
KNOWN_VARIABLES = {
    "PIAWATCH_DATA_DIR": "the data directory (default ./data)",
    "PIAWATCH_REGISTRY": "the city registry (default config/cities.yaml)",
    "PIAWATCH_CONTACT": "contact address sent in the crawler's User-Agent",
    "PIAWATCH_USER_AGENT": "the crawler's whole User-Agent",
    "PIAWATCH_WAREHOUSE": "a DuckDB file or a ducklake: catalog",
    "PIAWATCH_LAKE_DATA_PATH": "where a DuckLake keeps its Parquet files",
    "PIAWATCH_ALERT_WEBHOOK_URL": "post alerts to this webhook",
    "PIAWATCH_SMTP_URL": "send alerts by e-mail",
    "PIAWATCH_ALERT_DIGEST": "true: one digest message per run and channel instead of one per alert",
    "PIAWATCH_ALERT_WEBHOOK_FORMAT": "slack (default) or markdown: what the webhook is sent",
    "PIAWATCH_DEMO_URL": "base URL of the demo websites",
    "PIAWATCH_DEMO_PORT": "port of the demo websites for make run",
    "PIAWATCH_CRAWL_QUEUE": "Celery queue of the crawl tasks",
    "PIAWATCH_PARSE_TIMEOUT": "seconds one PDF may take to parse",
    "PIAWATCH_PARSE_MEMORY_MB": "memory one PDF's parse may use",
    "PIAWATCH_FAILED_SHARE": "share of cities that may fail before a run counts as failed",
    "PIAWATCH_STALE_RUN_HOURS": "hours after which a run still 'running' is marked failed",
    "PIAWATCH_POSTGRES_BIN": "directory of the stack's PostgreSQL programs",
    "PIAWATCH_POSTGRES_PASSWORD": "stack secret",
    "PIAWATCH_REDIS_PASSWORD": "stack secret",
    "PIAWATCH_ADMIN_PASSWORD": "stack secret",
    "PIAWATCH_FERNET_KEY": "stack secret",
    "PIAWATCH_JWT_SECRET": "stack secret",
    "PIAWATCH_API_SECRET_KEY": "stack secret",
    "PIAWATCH_WORKER_HOSTNAME": "a stack worker's Celery host name",
    "PIAWATCH_UI_PORT": "the stack's api-server port",
    "PIAWATCH_UI_BIND": "the stack's api-server address",
}
DEFAULT_FAILED_SHARE = 0.5
DEFAULT_STALE_RUN_HOURS = 12.0


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per PIAWATCH_* variable the project does not read, with the likely intended one."""
    environ = os.environ if environ is None else environ
    warnings = []
    for name in sorted(n for n in environ if n.startswith("PIAWATCH_") and n not in KNOWN_VARIABLES):
        close = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0.8)
        hint = f" — did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is not a PIA Watch setting and is ignored{hint}")
    return warnings


def _number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r}: must be from {low:g} to {high:g}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    registry_path: Path
    user_agent: str
    contact: str
    # A run is `failed` when more than this share of its cities failed, `partial` when some did.
    failed_share: float = DEFAULT_FAILED_SHARE
    # A run still `running` this long after it started has lost its process: marked failed.
    stale_run_hours: float = DEFAULT_STALE_RUN_HOURS

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

    @property
    def run_lock_path(self) -> Path:
        """Held by the `piawatch run` that is running (piawatch.runlock)."""
        return self.data_dir / "run.lock"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("PIAWATCH_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    registry = Path(os.environ.get("PIAWATCH_REGISTRY", PROJECT_ROOT / "config" / "cities.yaml"))
    contact = os.environ.get("PIAWATCH_CONTACT", "piawatch@example.org")
    user_agent = os.environ.get(
        "PIAWATCH_USER_AGENT", f"PIAWatch/0.1 (+https://github.com/piawatch/piawatch; {contact})"
    )
    return Settings(data_dir=data_dir, registry_path=registry, user_agent=user_agent, contact=contact,
                    failed_share=_number(os.environ, "PIAWATCH_FAILED_SHARE", DEFAULT_FAILED_SHARE, 0, 1),
                    stale_run_hours=_number(os.environ, "PIAWATCH_STALE_RUN_HOURS", DEFAULT_STALE_RUN_HOURS,
                                            0.01, 24 * 365))
