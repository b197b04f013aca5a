"""Shared test set-up.

Airflow reads AIRFLOW_HOME once, at first import, so the throw-away home is set here before any
test module imports Airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="piawatch-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_ROOT / "demo" / "corpus"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings whose data directory is a fresh temporary one."""
    from ground.settings import load_settings

    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PIAWATCH_WAREHOUSE", raising=False)
    return load_settings()


class WebhookReceiver(ThreadingHTTPServer):
    """A real webhook endpoint on 127.0.0.1: answers 500 while ``failing``, records what it accepted."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.failing = False
        self.requests = 0
        self.accepted: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/piawatch"


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        if self.server.failing:
            self.send_response(500)
            self.end_headers()
            return
        self.server.accepted.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@contextmanager
def _serving(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook():
    with _serving(WebhookReceiver()) as server:
        yield server


@pytest.fixture(scope="module")
def webhook_receiver_module():
    with _serving(WebhookReceiver()) as server:
        yield server


@pytest.fixture(scope="session")
def corpus_manifest() -> dict:
    return yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def planted_threshold_truth(corpus_manifest) -> dict:
    """Ground truth of the edition-1 document whose stated しきい値判断結果 contradicts its 対象人数."""
    ids = [doc_id for doc_id, findings in corpus_manifest["documents"].items()
           if not doc_id.endswith("-ed2") and any(f["rule"] == "threshold.result_mismatch" for f in findings)]
    assert len(ids) == 1, ids
    return json.loads((CORPUS / "truth" / f"{ids[0]}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A snapshot of the corpus, so a regeneration running meanwhile cannot change it under a test."""
    copy = tmp_path_factory.mktemp("corpus")
    for part in ("specs", "pdf", "broken"):
        shutil.copytree(CORPUS / part, copy / part)
    return copy


@pytest.fixture(scope="module")
def specs(corpus):
    from demo.sites.site import load_specs

    return load_specs(corpus)


class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1, started the way ``make stack`` starts its own."""

    password = "lake-test-password"

    def __init__(self, root: Path):
        from stack.native import StackPaths, free_port, start_postgres

        self.root = root
        self.port = free_port()
        start_postgres(StackPaths(root), self.port, self.password)
        self._databases = 0

    def new_lake(self, data_path: Path):
        """A Warehouse on a new, empty DuckLake: its catalog a fresh database of this server."""
        import psycopg2

        from ground.settings import Warehouse

        self._databases += 1
        name = f"lake_{self._databases}"
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow",
                                      password=self.password, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            connection.close()
        location = (f"ducklake:postgres:dbname={name} host=127.0.0.1 port={self.port} user=airflow "
                    f"password={self.password}")
        return Warehouse(location, data_path)


@pytest.fixture(scope="session")
def postgres():
    """PostgreSQL for DuckLake catalogs, shared by the session and stopped by pid at its end."""
    from ground.capabilities import check
    from stack.native import stop

    if not check("postgresql").available:
        pytest.skip(check("postgresql").skip_reason)

    # As root, PostgreSQL runs as the postgres user, who cannot enter pytest's 0700 tmp dirs.
    root = Path(tempfile.mkdtemp(prefix="piawatch-postgres-"))
    root.chmod(0o755)
    try:
        yield PostgresServer(root)
    finally:
        stop(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lake(postgres, tmp_path):
    """A new, empty DuckLake warehouse (PostgreSQL catalog, Parquet files under tmp_path)."""
    return postgres.new_lake(tmp_path / "lake")
