"""The stack's secrets: generated once, shared by every Airflow process.

``python -m stack.secrets`` prints a fresh set as ``NAME=value`` lines: append them to ``.env``
beside docker-compose.yml. ``make stack`` keeps its own set in ``$PIAWATCH_DATA_DIR/stack/secrets.env``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

SECRET_NAMES = (
    "PIAWATCH_FERNET_KEY",
    "PIAWATCH_JWT_SECRET",
    "PIAWATCH_API_SECRET_KEY",
    "PIAWATCH_POSTGRES_PASSWORD",
    "PIAWATCH_REDIS_PASSWORD",
    "PIAWATCH_ADMIN_PASSWORD",
)


def generate_secrets() -> dict[str, str]:
    values = {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}
    # Airflow only accepts a real Fernet key (urlsafe base64 of 32 bytes).
    values["PIAWATCH_FERNET_KEY"] = Fernet.generate_key().decode()
    return values


def format_env(values: dict[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


def parse_env_lines(text: str) -> dict[str, str]:
    """``NAME=value`` lines (no interpolation); blank lines and ``#`` comments skipped."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """The secrets kept in ``path``, created (mode 0600) on first use.

    They must outlive a restart: the Fernet key encrypts connections stored in the metadata DB
    and the passwords are baked into the PostgreSQL cluster and Redis configuration.
    """
    if path.exists():
        values = parse_env_lines(path.read_text(encoding="utf-8"))
        missing = [name for name in SECRET_NAMES if not values.get(name)]
        if not missing:
            return values
        values = {**generate_secrets(), **{k: v for k, v in values.items() if v}}
    else:
        values = generate_secrets()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(format_env(values))
    return values


if __name__ == "__main__":
    print(format_env(generate_secrets()), end="")
