"""The typed staged file (load.typed): what ground.rows gives for a record, staged beside its JSON
by the one function every staged parse goes through (load.staging.stage_parse), read back exactly."""

from __future__ import annotations

import json

import pytest

from ground.rows import CHILD_TABLES, RECORD_EXTRA_COLUMNS, record_rows
from ground.schema import FIELD_NAMES
from load.staging import read_staged_run, read_typed, stage_parse
from load.typed import PROVENANCE, SCHEMA, SUFFIX, child_column, typed_table, typed_values
from tests.load.staged_runs import RUN_1, run_1_documents, run_2_documents, sha_of, stage_run
from tests.load.test_load_corpus import TRUTH


def _records() -> list[tuple[str, dict]]:
    """Every record the tests stage: the demo cities' (both nights) and the corpus's ground truth."""
    records = [(doc.doc_id, doc.record) for doc in run_1_documents() + run_2_documents() if doc.record]
    records += [(path.stem, json.loads(path.read_text(encoding="utf-8"))) for path in TRUTH]
    return [(name, record) for name, record in records if record.get("kind")]


def test_the_schema_is_the_column_lists_of_ground():
    assert SCHEMA.names == [*PROVENANCE, *FIELD_NAMES, *RECORD_EXTRA_COLUMNS, "pages",
                            *(child_column(table) for table in CHILD_TABLES)]
    for table in CHILD_TABLES:
        assert [f.name for f in SCHEMA.field(child_column(table)).type.value_type] == list(table.column_names[2:])


@pytest.mark.parametrize("name, record", _records(), ids=lambda value: value if isinstance(value, str) else "")
def test_the_typed_row_is_what_ground_rows_gives_for_the_record(tmp_path, name, record):
    sha = sha_of(name)
    staged = stage_parse(tmp_path, {"sha256": sha, "parser_version": "0.3.0", "url": f"http://x/{name}.pdf",
                                    "record": record})
    assert staged["record"] == record
    row = read_typed([tmp_path / "parse" / f"{sha}{SUFFIX}"]).to_pylist()[0]
    values, children, pages = record_rows(record, name)
    assert [row[column] for column in PROVENANCE] == [sha, "0.3.0", f"http://x/{name}.pdf"]
    assert [row[column] for column in (*FIELD_NAMES, *RECORD_EXTRA_COLUMNS)] == values
    assert row["pages"] == pages
    for table in CHILD_TABLES:
        assert [tuple(item.values()) for item in row[child_column(table)]] == children[table.name], table.name
    assert any(children.values())


@pytest.mark.parametrize("change, message", [
    ({"published_on": "令和6年3月25日"}, "expected an ISO date"),
    ({"assessment_number": "1"}, "expected an integer"),
    ({"jimu_name": "住民基本台帳に関する事務"}, "not in ground.schema.FIELDS: jimu_name"),
    ({"threshold_result": "全項目評価の実施が義務付けられる"}, "is not one of"),
])
def test_a_record_the_warehouse_refuses_is_staged_as_its_documents_failure(tmp_path, change, message):
    """A cached record of an older parser, say: its document's invalid_record failure, no typed file
    (a record the loader would refuse must not stop the night's load)."""
    record = {**run_1_documents()[0].record, **change}
    sha = sha_of("refused")
    staged = stage_parse(tmp_path, {"sha256": sha, "parser_version": "0.3.0", "url": "http://x/a.pdf",
                                    "record": record})
    written = json.loads((tmp_path / "parse" / f"{sha}.json").read_text(encoding="utf-8"))
    assert written == staged and "record" not in written
    assert written["error"]["code"] == "invalid_record" and message in written["error"]["reason"]
    assert not (tmp_path / "parse" / f"{sha}{SUFFIX}").exists()


def test_a_run_is_read_with_its_records_from_the_typed_files_alone(tmp_path):
    """The records' JSON is not decoded: a record JSON made unreadable after staging does not
    matter to the loader, its typed file does (tests/load/test_loader.py: damaged typed files)."""
    staging_dir = stage_run(tmp_path, RUN_1, run_1_documents())
    path = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full')}.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"record"', '"rec'), encoding="utf-8")
    run = read_staged_run(staging_dir)
    assert sorted(run.record_files) == sorted(d.sha256 for d in run_1_documents() if d.record)
    assert sorted(run.records.column("sha256").to_pylist()) == sorted(run.record_files)
    assert [f.data["error"]["code"] for f in run.failures] == [d.error[0] for d in run_1_documents() if d.error]


def test_the_benchmarks_stage_their_records_as_the_parse_step_does(tmp_path):
    """tools/bench_site.stage_synthetic_run (make bench-load's and bench-site's staging) goes
    through stage_parses a parse batch at a time: every record it stages has its row, the one
    typed_values makes of it, in its batch's typed file."""
    import sys
    from datetime import datetime, timezone

    from tests.conftest import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT / "tools"))
    from bench_site import stage_synthetic_run, synthetic_cities

    stage_synthetic_run(tmp_path, synthetic_cities(3), 400, datetime(2026, 11, 1, 1, tzinfo=timezone.utc))
    staged = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (tmp_path / "parse").glob("*.json")}
    assert len(staged) == 400
    batches = sorted((tmp_path / "parse").glob(f"*{SUFFIX}"))
    assert 1 < len(batches) < 40  # in parse batches (30 s of ~0.35 s PDFs), not a file a record
    run = read_staged_run(tmp_path)
    assert sorted(run.record_files) == sorted(staged)
    for index, sha in enumerate(run.records.column("sha256").to_pylist()):
        expected = typed_table([typed_values(staged[sha], "expected")])
        assert run.records.slice(index, 1).to_pylist() == expected.to_pylist(), sha
