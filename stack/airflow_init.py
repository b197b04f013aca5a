"""One-time set-up of an Airflow metadata DB for the stack (compose's airflow-init, `make stack`).

Runs ``INIT_COMMANDS`` (migrate the Airflow DB, create the warehouse pool, create or migrate the
PIA Watch warehouse) and writes the admin password the simple auth manager reads, from
``PIAWATCH_ADMIN_PASSWORD``. Idempotent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ground.errors import ConfigError
from stack.services import INIT_COMMANDS

ADMIN_USER = "admin"


def airflow_executable() -> str:
    beside_python = Path(sys.executable).parent / "airflow"
    return str(beside_python) if beside_python.exists() else (shutil.which("airflow") or "airflow")


def write_admin_password(environ: dict[str, str]) -> Path:
    path = Path(environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    password = environ.get("PIAWATCH_ADMIN_PASSWORD")
    if not password:
        raise ConfigError("PIAWATCH_ADMIN_PASSWORD is not set: run python -m stack.secrets")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({ADMIN_USER: password}, file)
    return path


def initialise(environ: dict[str, str], log=None) -> None:
    """Run the init commands with ``environ``; raise CalledProcessError naming the one that failed."""
    for command in INIT_COMMANDS:
        subprocess.run([airflow_executable(), *command], env=environ, check=True,
                       stdout=log, stderr=subprocess.STDOUT if log else None)
    # Migrated once here, so the first night's tasks do not all race to create the schema.
    subprocess.run([sys.executable, "-m", "piawatch.cli", "migrate"], env=environ, check=True,
                   stdout=log, stderr=subprocess.STDOUT if log else None)
    write_admin_password(environ)


if __name__ == "__main__":
    initialise(dict(os.environ))
