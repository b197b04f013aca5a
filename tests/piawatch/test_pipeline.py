"""The pipeline's parse step on real PDFs: records and failures are staged, nothing is parsed twice."""

from __future__ import annotations

import json

import pytest

from extract.store import store_pdf
from load.staging import read_typed
from load.typed import SUFFIX, typed_table, typed_values
from piawatch.pipeline import documents_to_parse, parse_batch_step, parse_step, stage_cached_parses

CORPUS_PDF = "111007-saitama-36-basic"


@pytest.fixture
def stored(settings):
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "demo" / "corpus"

    def store(relative: str) -> dict:
        sha256 = store_pdf(settings.raw_dir, (corpus / relative).read_bytes())
        return {"sha256": sha256, "url": f"http://example.lg.jp/{relative}", "city_code": "111007"}

    return store


def _staged(settings, run_id, sha256) -> dict:
    return json.loads((settings.run_staging_dir(run_id) / "parse" / f"{sha256}.json").read_text(encoding="utf-8"))


def _typed(settings, run_id, sha256):
    return settings.run_staging_dir(run_id) / "parse" / f"{sha256}{SUFFIX}"


def test_a_parsed_version_is_staged_and_cached(settings, stored):
    document = stored(f"pdf/{CORPUS_PDF}.pdf")
    assert parse_step(settings, "run1", document) == {"sha256": document["sha256"], "ok": True, "error": None}
    staged = _staged(settings, "run1", document["sha256"])
    assert staged["record"]["organization"] == "さいたま市長"
    assert staged["record"]["source"]["sha256"] == document["sha256"]

    # the next night: the version is known, so nothing is selected for parsing, and the cached
    # record is staged for the loader as it was
    cache = settings.parsed_dir / f"{document['sha256']}.json"
    before = cache.stat().st_mtime_ns
    assert documents_to_parse(settings, [[document]]) == []
    assert stage_cached_parses(settings, "run2", [[document]]) == 1
    assert _staged(settings, "run2", document["sha256"])["record"] == staged["record"]
    assert cache.stat().st_mtime_ns == before

    # each staged record has its typed row (load.typed), the cached one as much as the fresh one
    for run_id in ("run1", "run2"):
        row = read_typed([_typed(settings, run_id, document["sha256"])])
        assert row.equals(typed_table([typed_values(_staged(settings, run_id, document["sha256"]), "expected")]))
    assert row.column("organization").to_pylist() == ["さいたま市長"]


def test_a_failure_staged_over_a_record_takes_its_typed_file_away(settings, stored):
    """A retried parse batch that runs out of time stages a timeout where the first attempt staged
    a record: the loader must not find the old record's typed row."""
    document = stored(f"pdf/{CORPUS_PDF}.pdf")
    assert parse_batch_step(settings, "run1", [document])[0]["ok"]
    assert _typed(settings, "run1", document["sha256"]).exists()
    assert parse_batch_step(settings, "run1", [document], budget_s=-1)[0]["error"] == "timeout"
    assert _staged(settings, "run1", document["sha256"])["error"]["code"] == "timeout"
    assert not _typed(settings, "run1", document["sha256"]).exists()


@pytest.mark.parametrize("name, code, cached", [
    ("broken/html-error-page.pdf", "not_a_pdf", True),
    ("broken/truncated.pdf", "corrupt_pdf", True),
    ("broken/encrypted.pdf", "encrypted_pdf", True),
    ("broken/minutes.pdf", "not_an_assessment", True),
])
def test_an_unreadable_version_is_staged_as_a_failure(settings, stored, name, code, cached):
    document = stored(name)
    result = parse_step(settings, "run1", document)
    assert result["ok"] is False and result["error"] == code
    staged = _staged(settings, "run1", document["sha256"])
    assert staged["error"]["code"] == code and staged["error"]["reason"]
    assert (settings.parsed_dir / f"{document['sha256']}.json").exists() is cached
    assert not _typed(settings, "run1", document["sha256"]).exists()


def test_a_missing_raw_file_is_a_failure_not_a_crash(settings):
    document = {"sha256": "0" * 64, "url": "http://example.lg.jp/gone.pdf", "city_code": "111007"}
    result = parse_step(settings, "run1", document)
    assert result["ok"] is False
    assert _staged(settings, "run1", document["sha256"])["error"]["reason"]


def test_maintenance_that_fails_after_the_night_is_a_warning_not_a_failed_night(settings, caplog):
    import subprocess
    import sys

    from load.connection import WarehouseBusy, connect
    from piawatch.pipeline import maintain_after_night, maintain_step

    connect(settings.warehouse).close()  # the night's warehouse exists
    # another process holds the DuckDB file for writing, so maintenance cannot open it
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.read()", str(settings.warehouse.path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with caplog.at_level("WARNING", logger="piawatch.pipeline"):
            result = maintain_after_night(settings)
        assert "open for writing by another process" in result["error"]
        assert "warehouse maintenance failed, the night's data is loaded" in caplog.text
        with pytest.raises(WarehouseBusy):  # run by hand (`piawatch maintain`), it fails loudly
            maintain_step(settings)
    finally:
        holder.communicate("")
    assert maintain_after_night(settings)["backend"] == "duckdb"
