"""Runtime configuration, read from environment variables once.

The same variables configure ``make run``, the ``piawatch`` CLI, the Airflow tasks and the
docker-compose stack (see ``.env.example``), so the paths cannot drift apart.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ground.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every PIAWATCH_* variable the project reads. `piawatch doctor` and the start of a run warn about
# any other one: a misspelt name would otherwise be ignored without a word.
# (tests/piawatch/test_doctor.py checks that every PIAWATCH_* name the code and docs mention is listed here.)
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
    "PIAWATCH_PARSE_BATCH_SECONDS": "estimated seconds of parsing per parse batch (task)",
    "PIAWATCH_FAILED_SHARE": "share of cities that may fail before a run counts as failed",
    "PIAWATCH_STALE_RUN_HOURS": "hours after which a run still 'running' is marked failed",
    "PIAWATCH_LAKE_SNAPSHOT_DAYS": "days of DuckLake snapshots (time travel) lake maintenance keeps",
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
# The Airflow pool every warehouse-writing task runs in: one slot, so one writer at a time
# (the DAG's tasks take it; the stack creates it).
WAREHOUSE_POOL = "piawatch_warehouse"
# Where `make demo-serve`, `piawatch demo serve` and `make run` serve the demo websites, and where
# the registry's demo entries look when PIAWATCH_DEMO_URL is not set.
DEMO_PORT = 8765
DEMO_URL = f"http://127.0.0.1:{DEMO_PORT}"
DEFAULT_STALE_RUN_HOURS = 12.0
DEFAULT_LAKE_SNAPSHOT_DAYS = 7.0
# Seconds of estimated parsing per parse batch (piawatch.batches): the ~3 s a task instance costs
# Airflow is then a tenth of the batch, while a retried batch redoes at most half a minute and
# batches still spread over every worker slot.
DEFAULT_PARSE_BATCH_SECONDS = 30.0


LAKE_PREFIX = "ducklake:"
# libpq passwords: key=value, the value quoted (password='Pg Secret3', with \' and \\ escapes) or
# not; a URI's user:password@; and a URI's ?password= parameter (the key=value pattern).
_PASSWORDS = (re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE),
              re.compile(r"(://[^:/@\s]+:)([^@\s]+)(?=@)"))


@dataclass(frozen=True)
class Warehouse:
    """A warehouse location: a DuckDB file path, or a ``ducklake:`` catalog and its data path."""

    location: str
    lake_data_path: Path | None = None

    @property
    def is_lake(self) -> bool:
        return self.location.startswith(LAKE_PREFIX)

    @property
    def backend(self) -> str:
        return "ducklake" if self.is_lake else "duckdb"

    @property
    def path(self) -> Path:
        """The DuckDB file (file backend only)."""
        if self.is_lake:
            raise ConfigError(f"{self} is a DuckLake, not a DuckDB file")
        return Path(self.location)

    def __str__(self) -> str:
        return mask_passwords(self.location)

    def __repr__(self) -> str:
        return f"Warehouse({str(self)!r}, lake_data_path={self.lake_data_path!r})"


def mask_passwords(text: str) -> str:
    """``text`` with any libpq ``password=…`` setting blanked, fit for logs and error messages."""
    for pattern in _PASSWORDS:
        text = pattern.sub(r"\1***", text)
    return text


def as_warehouse(target) -> Warehouse:
    """A Warehouse from a Warehouse, or from a path (str or Path) of a DuckDB file."""
    if isinstance(target, Warehouse):
        return target
    if str(target).startswith(LAKE_PREFIX):
        raise ConfigError(f"{target}: a DuckLake needs its data path (see load.backend.warehouse_from)")
    return Warehouse(str(Path(target)))


def warehouse_from(environ: Mapping[str, str], data_dir: Path) -> Warehouse:
    """The warehouse ``PIAWATCH_WAREHOUSE`` names in ``environ`` (default: a file in the data dir)."""
    location = environ.get("PIAWATCH_WAREHOUSE")
    if not location:
        return Warehouse(str(data_dir / "warehouse" / "piawatch.duckdb"))
    if not location.startswith(LAKE_PREFIX):
        return Warehouse(str(Path(location)))
    if location == LAKE_PREFIX:
        raise ConfigError("PIAWATCH_WAREHOUSE=ducklake: needs a catalog, e.g. "
                          "ducklake:postgres:dbname=piawatch_lake host=127.0.0.1")
    return Warehouse(location, Path(environ.get("PIAWATCH_LAKE_DATA_PATH") or data_dir / "lake"))


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
    # Lake maintenance (load.maintenance) expires DuckLake snapshots older than this.
    lake_snapshot_days: float = DEFAULT_LAKE_SNAPSHOT_DAYS
    # Parse batches hold about this many seconds of estimated parsing each.
    parse_batch_seconds: float = DEFAULT_PARSE_BATCH_SECONDS

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
                                            0.01, 24 * 365),
                    lake_snapshot_days=_number(os.environ, "PIAWATCH_LAKE_SNAPSHOT_DAYS", DEFAULT_LAKE_SNAPSHOT_DAYS,
                                               0, 3650),
                    parse_batch_seconds=_number(os.environ, "PIAWATCH_PARSE_BATCH_SECONDS",
                                                DEFAULT_PARSE_BATCH_SECONDS, 1, 3600))
