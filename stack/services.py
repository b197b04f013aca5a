"""The one list of the stack's services and the one reader of ``stack/airflow.env``.

docker-compose.yml and ``make stack`` (stack/native.py) both run exactly these Airflow commands
with exactly this configuration; tests/stack/test_compose.py checks the compose file against this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ground.errors import ConfigError
from ground.settings import WAREHOUSE_POOL

STACK_DIR = Path(__file__).resolve().parent
ENV_FILE = STACK_DIR / "airflow.env"

# The single writer of the warehouse: the DAG's loader and the steps after it run in this pool.
WAREHOUSE_POOL_SLOTS = 1
WAREHOUSE_POOL_DESCRIPTION = "the one writer of the PIA Watch warehouse"

# What airflow-init (compose) and `make stack` run once, before any service starts.
INIT_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("db", "migrate"),
    ("pools", "set", WAREHOUSE_POOL, str(WAREHOUSE_POOL_SLOTS), WAREHOUSE_POOL_DESCRIPTION),
)

# Project variables handed through from the caller's environment when set (never given a value
# here: an empty alert URL must stay "not configured").
PASSTHROUGH_VARIABLES = (
    "PIAWATCH_REGISTRY",
    "PIAWATCH_DEMO_URL",
    "PIAWATCH_CONTACT",
    "PIAWATCH_ALERT_WEBHOOK_URL",
    "PIAWATCH_SMTP_URL",
    "PIAWATCH_CRAWL_QUEUE",
)

# The names airflow.env refers to for where things are (see its header).
LOCATION_VARIABLES = ("STACK_POSTGRES", "STACK_REDIS", "STACK_API", "STACK_PROJECT_DIR", "PIAWATCH_DATA_DIR")


@dataclass(frozen=True)
class Service:
    """One long-running Airflow process: ``airflow <command…>``.

    ``{api_host}``, ``{api_port}`` and ``{worker}`` in the command are filled in per stack:
    compose listens on every container address, ``make stack`` on 127.0.0.1 only.
    """

    name: str
    command: tuple[str, ...]
    replicas: int = 1

    def argv(self, *, api_host: str, api_port: int, worker: str = "worker") -> list[str]:
        return [part.format(api_host=api_host, api_port=api_port, worker=worker) for part in self.command]


# Airflow's log server binds every address: task logs are on the shared data root instead.
# No triggerer: no task of the DAG defers, and an idle triggerer still polls the database every
# second (about 2 % of a core, taken from the workers on a small machine). Add one with the first
# deferrable operator. Workers neither gossip (each would hear every other's heartbeat event every
# 2 s) nor mingle at start-up: Airflow tracks tasks through its database, not Celery's events.
SERVICES: tuple[Service, ...] = (
    Service("airflow-apiserver", ("api-server", "--host", "{api_host}", "--port", "{api_port}")),
    Service("airflow-scheduler", ("scheduler", "--skip-serve-logs")),
    Service("airflow-dag-processor", ("dag-processor",)),
    Service("airflow-worker", ("celery", "worker", "--skip-serve-logs", "--without-gossip", "--without-mingle",
                               "--celery-hostname", "{worker}@%h"),
            replicas=2),
)

_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


def read_env_file(variables: dict[str, str], path: Path = ENV_FILE) -> dict[str, str]:
    """The file's ``NAME=value`` lines, interpolated as docker compose does for an env_file.

    A reference is looked up among the lines above it, then in ``variables``. ``${NAME:?msg}``
    raises ConfigError when NAME is unset or empty, ``${NAME:-default}`` falls back; a plain
    ``${NAME}`` that is unset is an error too (compose would quietly make it empty).
    """
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, raw = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: not a NAME=value line: {line!r}")

        def substitute(match: re.Match) -> str:
            ref, op, arg = match["name"], match["op"], match["arg"]
            value = values.get(ref, variables.get(ref))
            if value:
                return value
            if op == ":-":
                return arg
            message = arg if op == ":?" else "is not set"
            raise ConfigError(f"{path}:{number}: {name} needs {ref}: {message}")

        values[name.strip()] = _REFERENCE.sub(substitute, raw.strip())
    return values
