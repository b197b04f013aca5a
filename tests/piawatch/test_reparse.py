"""`piawatch reparse` after a parser upgrade, on a real run: two tiny municipal sites on 127.0.0.1
link three real corpus PDFs (one of them minutes, not an assessment), `piawatch run` loads them
into a DuckDB warehouse, and then the stored records are made to look like an older parser's."""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import yaml

from extract.store import raw_path
from ground.schema import FIELDS
from ground.settings import load_settings
from load.loader import failure_id
from piawatch.cli import main
from transform.cache import cache_path, cached
from piawatch.progress import Progress
from piawatch.reparse import reparse
from piawatch.runlock import RunLocked, run_lock
from transform.parse import PARSER_VERSION
from transform.sandbox import parse_pdf_limited

CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
SITES = {  # path: (団体コード, slug, the PDFs its page links)
    "sakai": ("271403", "sakai", ["pdf/111007-saitama-36-basic.pdf", "pdf/232017-toyohashi-02-basic.pdf"]),
    "toyohashi": ("232017", "toyohashi", ["pdf/232017-toyohashi-02-basic.pdf", "broken/minutes.pdf"]),
}
OLD = "2025.01.01-1"
# The fields compared with a fresh parse: the warehouse keeps these as they are in the record.
SCALARS = [f.name for f in FIELDS if f.sql_type in ("VARCHAR", "INTEGER", "DATE", "BOOLEAN") and f.name != "source"]


class _Handler(SimpleHTTPRequestHandler):
    """Serves the sites' files; each request is counted (log_message is called once per request)."""

    def log_message(self, *args):
        self.server.requests.append(self.path)


def _site_files(root: Path) -> Path:
    for site, (_, _, pdfs) in SITES.items():
        (root / site).mkdir(parents=True)
        links = "".join(f'<a href="{i}.pdf">評価書{i}</a>' for i in range(len(pdfs)))
        (root / site / "index.html").write_text(f"<html><body>{links}</body></html>", encoding="utf-8")
        for i, pdf in enumerate(pdfs):
            shutil.copyfile(CORPUS / pdf, root / site / f"{i}.pdf")
    return root


def _environment(monkeypatch, root: Path, registry: Path) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("PIAWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIAWATCH_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("PIAWATCH_REGISTRY", str(registry))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    files = _site_files(tmp_path_factory.mktemp("sites"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(files)))
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, served):
    """A data directory after one real `piawatch run` of the two sites (made once, copied per test)."""
    from piawatch.pipeline import run_all

    root = tmp_path_factory.mktemp("first-run")
    registry = root / "cities.yaml"
    registry.write_text(yaml.safe_dump({"cities": [
        {"code": code, "slug": slug, "name": f"{slug}市", "prefecture": "テスト県", "demo": True, "depth": 1,
         "urls": [f"http://127.0.0.1:{served.server_address[1]}/{site}/index.html"], "hints": {"delay_seconds": 0}}
        for site, (code, slug, _) in SITES.items()]}, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _environment(monkeypatch, root, registry)
        status, _ = run_all(load_settings(), demo=True, progress=Progress(0))
    assert status == "partial"  # the minutes are a parse failure
    return root, registry


@pytest.fixture
def data(first_run, tmp_path, monkeypatch):
    """Settings on a copy of the first run's data directory."""
    root, registry = first_run
    shutil.copytree(root / "data", tmp_path / "data")
    _environment(monkeypatch, tmp_path, registry)
    return load_settings()


def _sql(settings, query, params=()):
    with duckdb.connect(str(settings.warehouse.path)) as con:
        return con.execute(query, list(params)).fetchall()


def _assessments(settings) -> dict[tuple[str, str], dict]:
    columns = ["sha256", "city_code", "parser_version", "loaded_run", *SCALARS]
    rows = _sql(settings, f"SELECT {', '.join(columns)} FROM assessments")
    return {(row[0], row[1]): dict(zip(columns, row)) for row in rows}


def _fresh(settings, sha256: str) -> dict:
    record = parse_pdf_limited(raw_path(settings.raw_dir, sha256), sha256=sha256)
    return {name: record[name] for name in SCALARS}


def _stored_values(row: dict) -> dict:
    return {name: row[name].isoformat() if hasattr(row[name], "isoformat") else row[name] for name in SCALARS}


def _make_old(settings) -> list[str]:
    """What an older parser would have left: records of version OLD with another 実施機関, and
    cache entries of version OLD holding that same wrong value. Returns every stored sha256."""
    _sql(settings, "UPDATE assessments SET parser_version = ?, organization = '旧パーサの値'", [OLD])
    shas = [row[0] for row in _sql(settings, "SELECT DISTINCT sha256 FROM documents ORDER BY sha256")]
    for sha in shas:
        path = cache_path(settings.parsed_dir, sha)
        entry = json.loads(path.read_text(encoding="utf-8"))
        if "record" in entry:
            entry["record"]["organization"] = "旧パーサの値"
        path.write_text(json.dumps({**entry, "parser_version": OLD}, ensure_ascii=False), encoding="utf-8")
    return shas


def test_reparse_brings_every_record_to_this_parser_version_without_downloading(data, served, capsys):
    shas = _make_old(data)
    assert len(shas) == 3
    # an entry written by another parser version is never served from the cache
    assert all(cached(data.parsed_dir, sha) is None for sha in shas)
    requests_before = len(served.requests)
    runs_before = _sql(data, "SELECT count(*) FROM runs")[0][0]

    assert main(["reparse", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"parser {PARSER_VERSION}: 3 document versions to read again, 2 parsed, 1 failed" in out

    assert len(served.requests) == requests_before  # read from the raw store only
    stored = _assessments(data)
    assert len(stored) == 3  # toyohashi-02 is linked by both cities: one record each
    (run_id,) = {row["loaded_run"] for row in stored.values()}
    assert run_id.startswith("reparse__")
    assert {row["parser_version"] for row in stored.values()} == {PARSER_VERSION}
    for (sha, _), row in stored.items():
        assert _stored_values(row) == _fresh(data, sha)
        assert row["organization"] != "旧パーサの値"
    # the cache now holds this version's entries, and the minutes are still a parse failure
    for sha in shas:
        assert json.loads(cache_path(data.parsed_dir, sha).read_text(encoding="utf-8"))["parser_version"] == PARSER_VERSION
    minutes = next(sha for sha in shas if sha not in {key[0] for key in stored})
    assert _sql(data, "SELECT code, status, last_seen_run FROM failures WHERE failure_id = ?",
                [failure_id("parse", city_code=None, url=None, sha256=minutes)]) == [
        ("not_an_assessment", "open", run_id)]
    # recorded as a run of its own, loaded and checked, with no city crawled
    (run,) = _sql(data, "SELECT status, cities, assessments_loaded, parse_failures, checked_at IS NOT NULL "
                        "FROM runs WHERE run_id = ?", [run_id])
    assert run == ("partial", 0, 3, 1, True)
    assert _sql(data, "SELECT count(*) FROM findings WHERE last_seen_run = ?", [run_id])[0][0] > 0

    # nothing left to do: a second reparse records no run and changes nothing
    again = reparse(data, progress=Progress(0))
    assert again == {"run_id": None, "chosen": 0, "parsed": 0, "failed": 0, "missing": 0, "status": None}
    assert _sql(data, "SELECT count(*) FROM runs")[0][0] == runs_before + 1
    assert _assessments(data) == stored


def test_since_and_city_choose_the_versions(data):
    _make_old(data)
    saitama = _sql(data, "SELECT DISTINCT sha256 FROM documents WHERE city_code = '271403' AND sha256 NOT IN "
                         "(SELECT sha256 FROM documents WHERE city_code = '232017')")[0][0]
    _sql(data, "UPDATE assessments SET parser_version = '2026.06.01-1' WHERE sha256 <> ?", [saitama])

    # only what a parser older than 2026.01.01-1 made: saitama's record (and no other)
    done = reparse(data, since="2026.01.01-1", city="271403", progress=Progress(0))
    assert (done["chosen"], done["parsed"], done["failed"]) == (1, 1, 0)
    versions = {sha: version for sha, version in _sql(data, "SELECT sha256, parser_version FROM assessments")}
    assert versions[saitama] == PARSER_VERSION
    assert {v for sha, v in versions.items() if sha != saitama} == {"2026.06.01-1"}

    with pytest.raises(Exception, match="expected a parser version YYYY.MM.DD-N"):
        reparse(data, since="latest", progress=Progress(0))


def test_all_reads_again_what_this_version_made(data):
    """--all replaces a record even of this parser version (the machine's fonts or OCR changed)."""
    _sql(data, "UPDATE assessments SET organization = '別の機械の値'")
    assert reparse(data, progress=Progress(0))["chosen"] == 0  # same version: not chosen by default

    done = reparse(data, all_versions=True, progress=Progress(0))
    assert (done["chosen"], done["parsed"], done["failed"]) == (3, 2, 1)
    for (sha, _), row in _assessments(data).items():
        assert row["loaded_run"] == done["run_id"]
        assert _stored_values(row) == _fresh(data, sha)


def test_a_pdf_that_now_fails_is_a_failure_row_and_the_run_lock_is_respected(data, monkeypatch):
    _make_old(data)
    with run_lock(data.run_lock_path, "nightly"):
        with pytest.raises(RunLocked):
            reparse(data, progress=Progress(0))
    assert _sql(data, "SELECT count(*) FROM runs WHERE run_id LIKE 'reparse%'")[0][0] == 0

    monkeypatch.setenv("PIAWATCH_PARSE_TIMEOUT", "0.001")  # every parse now breaks its time limit
    done = reparse(data, progress=Progress(0))
    assert (done["chosen"], done["parsed"], done["failed"], done["status"]) == (3, 0, 3, "partial")
    codes = _sql(data, "SELECT sha256, code, status FROM failures WHERE stage = 'parse' AND last_seen_run = ?",
                 [done["run_id"]])
    assert sorted(code for _, code, _ in codes) == ["parse_limit"] * 3
    assert {status for _, _, status in codes} == {"open"}
    # the records the old parser made stay until a parse succeeds
    assert {row["parser_version"] for row in _assessments(data).values()} == {OLD}
