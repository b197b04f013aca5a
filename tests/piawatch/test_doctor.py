"""`piawatch doctor`: each check against the real thing — a DuckDB file, a closed port, a real
webhook receiver, a listening socket — and the settings it reads."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import duckdb
import pytest

from ground.settings import KNOWN_VARIABLES, unknown_variables
from piawatch.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean PIA Watch environment: a fresh data directory, no channels, no stack addresses."""
    import os

    for name in list(os.environ):
        if name.startswith(("PIAWATCH_", "AIRFLOW_CONN_PIAWATCH", "STACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def doctor(capsys, *args) -> tuple[int, dict[str, list[tuple[str, str]]]]:
    code = main(["doctor", "--format", "json", *args])
    checks: dict[str, list[tuple[str, str]]] = {}
    for check in json.loads(capsys.readouterr().out):
        checks.setdefault(check["name"], []).append((check["status"], check["detail"]))
    return code, checks


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_fresh_configuration_passes_and_names_what_it_found(env, capsys):
    code, checks = doctor(capsys)
    assert code == 0
    assert checks["environment"] == [("ok", "every PIAWATCH_* variable set is a known setting")]
    assert checks["registry"][0][0] == "ok" and re.search(r"cities\.yaml: \d+ cities \(\d+ demo, \d+ real\)", checks["registry"][0][1])
    assert checks["warehouse"][0][0] == "ok" and checks["warehouse"][0][1].endswith(
        "piawatch.duckdb does not exist yet: the first run creates it")
    assert checks["alert channels"] == [("ok", "log")]
    assert checks["stack"][0][0] == "ok" and checks["stack"][0][1].startswith("not configured")
    assert {"ocr: tesseract", "ocr: tesserocr", "postgresql", "redis", "japanese_fonts"} <= set(checks)


def test_a_misspelt_variable_is_warned_about_with_the_likely_name(env, capsys):
    env.setenv("PIAWATCH_DATA_DIRR", "/srv/piawatch")
    code, checks = doctor(capsys)
    assert code == 0  # a warning, not a failure
    assert checks["environment"] == [("warn", "PIAWATCH_DATA_DIRR is not a PIA Watch setting and is ignored "
                                              "— did you mean PIAWATCH_DATA_DIR?")]


def test_a_broken_channel_fails_and_a_working_one_gets_a_test_message(env, capsys, webhook):
    env.setenv("PIAWATCH_SMTP_URL", "smtp://alerts:pw@mail.example.org:70000?from=a@example.org&to=b@example.org")
    code, checks = doctor(capsys)
    assert code == 1
    assert checks["alert channels"] == [("fail", "PIAWATCH_SMTP_URL has an invalid port (Port out of range 0-65535)")]

    env.delenv("PIAWATCH_SMTP_URL")
    env.setenv("PIAWATCH_ALERT_WEBHOOK_URL", webhook.url)
    code, checks = doctor(capsys, "--send-test")
    assert code == 0 and checks["send test: webhook"] == [("ok", "sent")]
    assert webhook.accepted[0]["text"].startswith("[PIA Watch] test message from piawatch doctor --send-test")

    webhook.failing = True
    code, checks = doctor(capsys, "--send-test")
    assert code == 1 and checks["send test: webhook"] == [("fail", "webhook answered HTTP 500")]


def test_the_warehouse_is_checked_for_its_migrations(env, capsys, tmp_path):
    from load.schema import migrations

    latest = max(m.version for m in migrations())
    assert main(["migrate"]) == 0
    capsys.readouterr()
    code, checks = doctor(capsys)
    assert checks["warehouse"][0][0] == "ok" and checks["warehouse"][0][1].endswith(f"schema version {latest}")

    # a warehouse written by an older release: the last migration is not applied yet
    with duckdb.connect(str(tmp_path / "data" / "warehouse" / "piawatch.duckdb")) as con:
        con.execute("DELETE FROM schema_version WHERE version = ?", [latest])
    code, checks = doctor(capsys)
    status, detail = checks["warehouse"][0]
    assert code == 0 and status == "warn"
    assert re.search(rf"is at schema version \d+, this release has {latest}: the next run migrates it", detail)


def test_an_unreachable_lake_fails_without_showing_any_part_of_a_quoted_password(env, capsys):
    env.setenv("PIAWATCH_WAREHOUSE", f"ducklake:postgres:dbname=lake host=127.0.0.1 port={closed_port()} "
                                     f"user=u password='Pg Secret3' connect_timeout=3")
    code, checks = doctor(capsys)
    status, detail = checks["warehouse"][0]
    assert code == 1 and status == "fail" and detail.startswith("cannot open the DuckLake")
    assert "Secret3" not in detail and "Pg " not in detail.replace("postgres:", "")
    assert "password=***" in detail


@pytest.mark.parametrize("text, masked", [
    ("dbname=lake password='Pg Secret3' host=db", "dbname=lake password=*** host=db"),
    ("dbname=lake password = 'it\\'s secret' host=db", "dbname=lake password = *** host=db"),
    ("dbname=lake password=s3cret host=db", "dbname=lake password=*** host=db"),
    ("postgresql://piawatch:s3cret@db:5432/lake", "postgresql://piawatch:***@db:5432/lake"),
    ("postgresql://piawatch@db/lake?sslmode=require&password=s3cret", "postgresql://piawatch@db/lake?sslmode=require&password=***"),
])
def test_every_libpq_password_form_is_masked(text, masked):
    from ground.settings import mask_passwords

    assert mask_passwords(text) == masked


def test_stack_services_are_checked_where_configured(env, capsys):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        dead = closed_port()
        env.setenv("STACK_POSTGRES", f"127.0.0.1:{port}")
        env.setenv("STACK_REDIS", f"127.0.0.1:{dead}")
        code, checks = doctor(capsys)
    assert checks["stack: STACK_POSTGRES"] == [("ok", f"127.0.0.1:{port} accepts connections")]
    [(status, detail)] = checks["stack: STACK_REDIS"]
    assert code == 1 and status == "fail" and detail.startswith(f"127.0.0.1:{dead} unreachable: ConnectionRefusedError")


def test_an_invalid_registry_and_an_unwritable_setting_fail(env, capsys, tmp_path):
    registry = tmp_path / "cities.yaml"
    registry.write_text("cities:\n  - code: '123456'\n", encoding="utf-8")
    env.setenv("PIAWATCH_REGISTRY", str(registry))
    code, checks = doctor(capsys)
    assert code == 1 and checks["registry"][0][0] == "fail" and "cities[0]" in checks["registry"][0][1]

    env.setenv("PIAWATCH_FAILED_SHARE", "lots")
    assert main(["doctor"]) == 1
    assert capsys.readouterr().err.strip() == "piawatch doctor: PIAWATCH_FAILED_SHARE='lots': not a number"


def test_every_piawatch_variable_the_project_mentions_is_a_known_setting():
    """So `doctor` never warns about a real setting: any PIAWATCH_* name in the code or the docs."""
    mentioned = set()
    for pattern in ("*.py", "*.yaml", "*.yml", "*.env", "*.md", "Makefile", "*.mk", "Dockerfile"):
        for path in PROJECT_ROOT.rglob(pattern):
            if ".venv" in path.parts or "tests" in path.parts or "data" in path.parts[len(PROJECT_ROOT.parts):][:1]:
                continue
            text = path.read_text(errors="replace").replace("window.PIAWATCH_INDEX", "")  # a JavaScript name
            mentioned |= set(re.findall(r"\bPIAWATCH_[A-Z][A-Z0-9_]*[A-Z0-9]\b", text))
    mentioned.discard("PIAWATCH_DATA_DIRR")  # the README's example of a misspelt name
    assert sorted(mentioned - set(KNOWN_VARIABLES)) == []
    assert unknown_variables({name: "x" for name in KNOWN_VARIABLES}) == []
