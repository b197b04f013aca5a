"""Loading staged runs: every staged fact stored, history, idempotency, crash safety, failures."""

from __future__ import annotations

import copy
import json
import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ground.errors import BadStagedFile
from ground.schema import FIELDS
from ground.settings import as_warehouse
from load import loader, typed
from load.connection import connect
from load.loader import load_run
from load.staging import read_typed, stage_parse
from tests.load.staged_runs import (CITIES, Doc, RUN_1, RUN_2, SITE, _stamp, row_counts, run_1_documents,
                                    run_2_documents, sakai_full, sha_of, snapshot, stage_run, stored_record, write_json)


def test_load_run_stores_every_staged_fact(tmp_path, db):
    counts = load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    assert counts == {"cities": 6, "pages": 6, "documents_seen": 8, "documents_new": 8, "assessments_loaded": 7,
                      "fetches": 16, "fetch_failures": 2, "parse_failures": 1, "failures_resolved": 0}
    with connect(db, read_only=True) as con:
        sakai = con.execute("""
            SELECT kind, assessment_number, published_on, subject_count_band, threshold_result,
                   third_party_review_dates, json_array_length(files)
            FROM assessments WHERE sha256 = ?""", [sha_of("271403-sakai-01-full")]).fetchone()
        assert sakai == ("full", 1, date(2024, 3, 25), "300k_plus", "basic_and_full", [date(2024, 2, 9)], 3)
        assert con.execute("SELECT kind, pages, link_text, found_on FROM documents WHERE sha256 = ?",
                           [sha_of("271403-sakai-01-full")]).fetchone() == (
            "full", 72, "住民基本台帳に関する事務 全項目評価書（PDF:175KB）", f"{SITE}/sakai/pia/index.html")
        assert con.execute("SELECT contractor, handler_count, subcontracting FROM file_outsourcing "
                           "WHERE city_code = '271403'").fetchall() == [
            ("富士フィルムシステムサービス株式会社", "10人以上50人未満", False)]
        assert con.execute("SELECT count(*) FROM assessment_files WHERE city_code = '271403'").fetchone() == (3,)
        assert con.execute("SELECT city_code, section FROM risk_answers WHERE answer = '課題が残されている' "
                           "ORDER BY 1").fetchall() == [("111007", "III 3 特定個人情報の使用"),
                                                        ("232017", "III 2 特定個人情報の入手")]
        assert con.execute("SELECT encoding FROM sources WHERE city_code = '112020'").fetchone() == ("shift_jis",)
        assert con.execute("SELECT stage, code, sha256 IS NOT NULL FROM failures ORDER BY code").fetchall() == [
            ("fetch", "http_status", False), ("parse", "no_text_layer", True), ("fetch", "not_a_pdf", False)]
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE demo) FROM municipalities").fetchone() == (6, 6)
        assert con.execute("SELECT status, documents_new, load_seconds IS NOT NULL, loaded_at IS NOT NULL "
                           "FROM runs").fetchone() == ("running", 8, True, True)




def test_every_field_of_every_record_survives_the_round_trip(tmp_path, db):
    docs = [d for d in run_1_documents() if d.record is not None]
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    with connect(db, read_only=True) as con:
        for doc in docs:
            # The parser gives a list its form does not have as []; the warehouse stores NULL.
            expected = {f.name: None if f.json_type == "list" and doc.record["kind"] not in f.kinds
                        else doc.record[f.name] for f in FIELDS}
            assert stored_record(con, doc.sha256, doc.city_code) == expected, doc.doc_id


def test_a_blank_field_is_told_apart_from_one_the_form_does_not_have(tmp_path, db):
    """豊橋市 #1 (full) left 意見の聴取 and 第三者点検 empty; いわき市 #1 (basic) has no such fields;
    the OCR edition of いわき市 #2 could not read いつ時点の計数か."""
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    load_run(db, RUN_2, stage_run(tmp_path / "data", RUN_2, run_2_documents()), cities=CITIES)
    with connect(db, read_only=True) as con:
        rows = {doc: con.execute("""
            SELECT third_party_review_dates, files, submitted_kinds,
                   list_contains(blank_fields, 'public_comment_start'), unread_fields
            FROM assessments WHERE sha256 = ?""", [sha_of(doc)]).fetchone()
            for doc in ("232017-toyohashi-01-full", "072044-iwaki-01-basic", "072044-iwaki-02-basic-scanned")}
        skipped = con.execute("""
            SELECT m.name, l.assessment_number FROM latest_assessments l JOIN municipalities m USING (city_code)
            WHERE l.kind = 'full' AND list_contains(l.blank_fields, 'public_comment_start')""").fetchall()
        unknown = con.execute("""
            SELECT count(*) FROM latest_assessments
            WHERE public_comment_start IS NULL AND NOT list_contains(blank_fields, 'public_comment_start')
              AND kind = 'full'""").fetchone()[0]
    assert rows["232017-toyohashi-01-full"] == ([], "[]", None, True, [])
    assert rows["072044-iwaki-01-basic"] == (None, None, ["basic", "full"], False, [])
    assert rows["072044-iwaki-02-basic-scanned"][4] == ["subject_count_as_of"]
    # Full assessments that skipped public comment: only 豊橋市 #1; 熊谷市's draft states its period.
    assert skipped == [("豊橋市", 1)]
    assert unknown == 0


def test_rows_carry_the_page_they_were_read_on(tmp_path, db):
    record = sakai_full(1)
    record["source"]["field_pages"].update(changes=69, files=7)
    record["changes"][0]["page"] = 71  # a parser that knows the row's own page
    docs = [Doc("271403-sakai-01-full", record)]
    load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, docs), cities=CITIES)
    with connect(db, read_only=True) as con:
        changes = con.execute("SELECT change_index, page FROM change_rows ORDER BY 1").fetchall()
        files = con.execute("SELECT file_index, page FROM assessment_files ORDER BY 1").fetchall()
        outsourcing = con.execute("SELECT file_index, page FROM file_outsourcing").fetchall()
        location = con.execute("SELECT url, first_url, raw_path FROM document_locations").fetchone()
    sha = sha_of("271403-sakai-01-full")
    assert changes == [(1, 71)]
    assert files == [(1, 7), (2, 7), (3, 7)]
    assert outsourcing == [(1, 7)]
    assert location == (docs[0].url, docs[0].url, f"raw/{sha[:2]}/{sha}.pdf")


def test_loading_the_same_run_twice_changes_nothing(tmp_path, db):
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    first = load_run(db, RUN_1, staging_dir, cities=CITIES)
    state = snapshot(db)
    assert load_run(db, RUN_1, staging_dir, cities=CITIES) == first
    assert snapshot(db) == state


def test_duplicates_within_a_run_are_resolved_before_writing(tmp_path, db):
    """The same PDF linked twice and the same page read twice: one row each, first link wins."""
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    path = staging_dir / "crawl" / "271403.json"
    crawl = json.loads(path.read_text(encoding="utf-8"))
    again = copy.deepcopy(crawl["documents"][0])
    again.update(link_text="全項目評価書（再掲）", found_on=f"{SITE}/sakai/pia/detail1.html",
                 fetched_at=_stamp(RUN_1, 30))
    crawl["documents"].append(again)
    crawl["pages"].append({**crawl["pages"][0], "status": 200})
    crawl["failures"] += [{"stage": "discover", "url": f"{SITE}/sakai/pia/old.html", "code": "http_status",
                           "reason": "HTTP 503"}] * 2
    write_json(path, crawl)
    counts = load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert counts["documents_seen"] == 8
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT link_text, last_seen_at FROM documents WHERE sha256 = ?",
                           [sha_of("271403-sakai-01-full")]).fetchone()[0] == "住民基本台帳に関する事務 全項目評価書（PDF:175KB）"
        assert con.execute("SELECT count(*) FROM sources WHERE city_code = '271403'").fetchone() == (1,)
        assert con.execute("SELECT occurrences FROM failures WHERE stage = 'discover'").fetchone() == (1,)


def test_a_city_whose_crawl_crashed_is_loaded_as_a_failure(tmp_path, db):
    """What piawatch.pipeline.crawl_step stages when crawling a city raised: nothing but the failure."""
    staging_dir = tmp_path / "data" / "staging" / RUN_1
    write_json(staging_dir / "crawl" / "401005.json", {
        "city_code": "401005", "crawled_at": _stamp(RUN_1), "pages": [], "links": [], "fetches": [],
        "documents": [], "failures": [{"stage": "crawl", "url": f"{SITE}/kitakyushu/pia.html",
                                       "code": "timeout", "reason": "FetchTimeout: no answer within 10 s"}]})
    counts = load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert counts == {"cities": 1, "pages": 0, "documents_seen": 0, "documents_new": 0, "assessments_loaded": 0,
                      "fetches": 0, "fetch_failures": 1, "parse_failures": 0, "failures_resolved": 0}
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT stage, city_code, code, resolved FROM failures").fetchall() == [
            ("crawl", "401005", "timeout", False)]
        assert con.execute("SELECT open_failures FROM city_summary WHERE city_code = '401005'").fetchone() == (1,)
    # The next night the city answers again: the crash is resolved.
    load_run(db, RUN_2, stage_run(tmp_path / "data", RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT resolved, resolved_run FROM failures WHERE stage = 'crawl'").fetchone() == (
            True, RUN_2)


def test_a_republished_pdf_adds_a_version_and_the_diff_view_names_the_changes(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    counts = load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert counts["documents_new"] == 1
    old, new = sha_of("271403-sakai-01-full"), sha_of("271403-sakai-01-full", 2)
    with connect(db, read_only=True) as con:
        versions = con.execute("""
            SELECT sha256, first_seen_run, last_seen_run FROM documents
            WHERE city_code = '271403' AND kind = 'full' ORDER BY first_seen_at""").fetchall()
        assert versions == [(old, RUN_1, RUN_1), (new, RUN_2, RUN_2)]
        assert con.execute("SELECT published_on FROM assessments WHERE sha256 = ?", [old]).fetchone()[0].isoformat() \
            == "2024-03-25"  # the first version is kept as it was
        latest = con.execute("SELECT sha256, versions FROM latest_assessments "
                             "WHERE city_code = '271403' AND kind = 'full'").fetchall()
        assert latest == [(new, 2)]
        unchanged = con.execute("SELECT last_seen_run FROM documents WHERE sha256 = ?",
                                [sha_of("111007-saitama-36-focused")]).fetchone()
        assert unchanged == (RUN_2,)
        diffs = con.execute("""
            SELECT old_sha256, new_sha256, field, old_value, new_value FROM assessment_version_diffs
            ORDER BY field""").fetchall()
    fields = {field: (old_value, new_value) for _, _, field, old_value, new_value in diffs}
    assert {(o, n) for o, n, *_ in diffs} == {(old, new)}
    assert set(fields) == {"published_on", "basic_assessment_date", "public_comment_start", "public_comment_end",
                           "third_party_review_dates", "changes", "risk_answers"}
    assert fields["published_on"] == ("2024-03-25", "2025-04-01")
    assert fields["third_party_review_dates"] == ("[2024-02-09]", "[2025-03-05]")


def test_a_withdrawn_pdf_stays_in_history_but_is_no_longer_linked(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    withdrawn = [d for d in run_2_documents() if d.doc_id != "232017-toyohashi-01-full"]
    load_run(db, RUN_2, stage_run(data, RUN_2, withdrawn, dead_link_fixed=True), cities=CITIES)
    with connect(db, read_only=True) as con:
        linked = dict(con.execute("SELECT kind, currently_linked FROM latest_assessments "
                                  "WHERE city_code = '232017'").fetchall())
        assert linked == {"basic": True, "full": False}
        assert con.execute("SELECT basic_documents, full_documents, document_versions FROM city_summary "
                           "WHERE city_code = '232017'").fetchone() == (1, 0, 2)
        # 堺市's crawl of run 2 found everything: nothing of it looks withdrawn.
        assert con.execute("SELECT bool_and(currently_linked) FROM latest_assessments "
                           "WHERE city_code = '271403'").fetchone() == (True,)


def test_failures_are_resolved_when_a_later_run_succeeds(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    counts = load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert counts["failures_resolved"] == 2
    with connect(db, read_only=True) as con:
        rows = con.execute("""
            SELECT code, first_seen_run, last_seen_run, occurrences, resolved, resolved_run FROM failures
            ORDER BY code""").fetchall()
        assert rows == [
            ("http_status", RUN_1, RUN_1, 1, True, RUN_2),  # the dead link answers 200 now
            ("no_text_layer", RUN_1, RUN_1, 1, True, RUN_2),  # OCR read the scanned document
            ("not_a_pdf", RUN_1, RUN_2, 2, False, None),  # still an HTML page
        ]
        assert con.execute("SELECT extractor FROM (SELECT source->>'extractor' AS extractor FROM assessments "
                           "WHERE sha256 = ?)", [sha_of("072044-iwaki-02-basic-scanned")]).fetchone() == ("ocr",)


def test_a_failure_whose_url_is_no_longer_linked_is_closed_as_gone(tmp_path, db):
    """The next night 北九州市 no longer links its HTML-instead-of-PDF page, and いわき市 took the
    scanned PDF down: neither will be retried, so neither stays open."""
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    docs = [d for d in run_2_documents() if d.doc_id != "072044-iwaki-02-basic-scanned"]
    run_dir = stage_run(data, RUN_2, docs, dead_link_fixed=True)
    crawl_file = run_dir / "crawl" / "401005.json"
    crawl = json.loads(crawl_file.read_text(encoding="utf-8"))
    crawl["fetches"] = [f for f in crawl["fetches"] if not f["url"].endswith("03-full.pdf")]
    crawl["failures"] = []
    write_json(crawl_file, crawl)
    load_run(db, RUN_2, run_dir, cities=CITIES)
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT code, status, resolved, resolved_run FROM failures ORDER BY code").fetchall()
        open_failures = con.execute("SELECT sum(open_failures) FROM city_summary").fetchone()[0]
    assert rows == [("http_status", "resolved", True, RUN_2), ("no_text_layer", "gone", False, RUN_2),
                    ("not_a_pdf", "gone", False, RUN_2)]
    assert open_failures == 0


def test_a_failure_that_comes_back_is_reopened(tmp_path, db):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    run_3 = "20261125T010000Z"
    load_run(db, run_3, stage_run(data, run_3, run_2_documents(), dead_link_fixed=False), cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT occurrences, resolved, resolved_run, last_seen_run FROM failures "
                           "WHERE code = 'http_status'").fetchone() == (2, False, None, run_3)


def test_an_older_run_is_not_loaded_over_a_newer_one(tmp_path, db):
    """An Airflow clear of yesterday's load after today's: refused, nothing rewound."""
    from load.loader import OutOfOrderLoad

    data = tmp_path / "data"
    yesterday = stage_run(data, RUN_1, run_1_documents())
    load_run(db, RUN_1, yesterday, cities=CITIES)
    load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    before = snapshot(db)
    with pytest.raises(OutOfOrderLoad, match=f"before run {RUN_2}"):
        load_run(db, RUN_1, yesterday, cities=CITIES)
    assert snapshot(db) == before


def test_a_crash_between_statements_leaves_the_previous_state(tmp_path, db, monkeypatch):
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)

    def crash(*args, **kwargs):
        raise RuntimeError("killed after documents and assessments were written")

    monkeypatch.setattr(loader, "_load_fetch_log", crash)
    with pytest.raises(RuntimeError, match="killed"):
        load_run(db, RUN_2, stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True), cities=CITIES)
    assert snapshot(db) == before


def test_a_typed_row_outside_its_allowed_values_aborts_the_load(tmp_path, db):
    """A typed file rewritten after staging with a value outside its closed set (its schema still
    right): the key and allowed-value check before COMMIT refuses the run whole."""
    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)
    staging_dir = stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True)
    bad = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full', 2)}{typed.SUFFIX}"
    row = read_typed([bad])
    column = row.schema.get_field_index("threshold_result")
    typed.write_typed(bad, row.set_column(column, "threshold_result",
                                          pa.array(["全項目評価の実施が義務付けられる"])))  # not one of its choices
    with pytest.raises(BadStagedFile, match="threshold_result"):
        load_run(db, RUN_2, staging_dir, cities=CITIES)
    assert snapshot(db) == before


def test_a_process_killed_mid_load_leaves_the_previous_state(tmp_path, db):
    """A hard exit (no rollback, no close) between two statements of the transaction."""
    import subprocess
    import sys

    data = tmp_path / "data"
    load_run(db, RUN_1, stage_run(data, RUN_1, run_1_documents()), cities=CITIES)
    before = snapshot(db)
    staging_dir = stage_run(data, RUN_2, run_2_documents(), dead_link_fixed=True)
    script = (
        "import os, sys\n"
        "from load import loader\n"
        "from ground.settings import load_settings\n"
        "loader._load_fetch_log = lambda *args: os._exit(9)\n"
        "loader.load_run(load_settings().warehouse, sys.argv[1], sys.argv[2])\n"
    )
    target = as_warehouse(db)
    settings = {"PIAWATCH_WAREHOUSE": target.location, "PIAWATCH_LAKE_DATA_PATH": str(target.lake_data_path)}
    killed = subprocess.run([sys.executable, "-c", script, RUN_2, str(staging_dir)], env={**os.environ, **settings},
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert snapshot(db) == before
    load_run(db, RUN_2, staging_dir, cities=CITIES)  # and the next attempt loads the run
    assert row_counts(db)["documents"] == 9


def _torn(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _wrong_schema(path: Path) -> None:
    """The row as it was, its assessment_number as text: every value there, one type wrong."""
    row = read_typed([path])
    column = row.schema.get_field_index("assessment_number")
    typed.write_typed(path, row.set_column(column, "assessment_number", pa.array(["1"])))


def _another_documents_row(path: Path) -> None:
    path.write_bytes((path.parent / f"{sha_of('271403-sakai-01-basic')}{typed.SUFFIX}").read_bytes())


def _typed_file_removed(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("damage, message", [
    (_torn, "not a whole typed staged file"),
    (_wrong_schema, r"not the typed row's schema .*column 4 is assessment_number: string, expected assessment_number: int32"),
    (_another_documents_row, "expected the row of document"),
    (_typed_file_removed, "a staged record without its row in a typed file"),
])
def test_a_damaged_typed_file_is_refused_before_anything_is_written(tmp_path, db, damage, message):
    connect(db).close()
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    path = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full')}{typed.SUFFIX}"
    damage(path)
    with pytest.raises(BadStagedFile, match=message) as refused:
        load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert sha_of("271403-sakai-01-full") in str(refused.value)  # the file is named
    assert sum(row_counts(db).values()) == 0


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "not valid UTF-8 JSON"),
    (lambda text: text.replace('"error": {', '"record": {}, "error": {'), "exactly one of"),
])
def test_a_damaged_parse_failure_is_refused_before_anything_is_written(tmp_path, db, damage, message):
    connect(db).close()
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    failed = next(d for d in run_1_documents() if d.record is None)
    path = staging_dir / "parse" / f"{failed.sha256}.json"
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(BadStagedFile, match=message):
        load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert sum(row_counts(db).values()) == 0


def test_a_typed_file_without_its_json_is_refused(tmp_path, db):
    """A parse task killed between the two files: the record's typed file is there, its JSON not."""
    connect(db).close()
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    json_path = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full')}.json"
    json_path.unlink()
    with pytest.raises(BadStagedFile, match="a typed row without its staged JSON"):
        load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert sum(row_counts(db).values()) == 0


def test_a_newer_parser_replaces_the_record_of_the_same_bytes(tmp_path, db):
    data = tmp_path / "data"
    staging_dir = stage_run(data, RUN_1, run_1_documents())
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    path = staging_dir / "parse" / f"{sha_of('232017-toyohashi-03-basic')}.json"
    staged = json.loads(path.read_text(encoding="utf-8"))
    staged["parser_version"] = "0.4.0"
    staged["record"]["risk_answers"] = staged["record"]["risk_answers"][:1]
    stage_parse(staging_dir, staged)
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT parser_version FROM assessments WHERE city_code = '232017' "
                           "AND assessment_number = 3").fetchone() == ("0.4.0",)
        assert con.execute("SELECT count(*) FROM risk_answers WHERE sha256 = ?",
                           [sha_of("232017-toyohashi-03-basic")]).fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM documents WHERE city_code = '232017'").fetchone() == (2,)


def _restaged_in_one_batch(staging_dir: Path) -> list[dict]:
    """The run's parses staged again together, as one parse batch stages them (one typed file)."""
    from load.staging import stage_parses

    parse_dir = staging_dir / "parse"
    for path in parse_dir.glob(f"*{typed.SUFFIX}"):
        path.unlink()
    return stage_parses(staging_dir, [json.loads(path.read_text(encoding="utf-8"))
                                      for path in sorted(parse_dir.glob("*.json"))])


def test_a_batch_staged_in_one_typed_file_loads_as_its_parses_staged_alone(tmp_path):
    alone, together = tmp_path / "alone.duckdb", tmp_path / "together.duckdb"
    load_run(alone, RUN_1, stage_run(tmp_path / "a", RUN_1, run_1_documents()), cities=CITIES)
    staging_dir = stage_run(tmp_path / "b", RUN_1, run_1_documents())
    _restaged_in_one_batch(staging_dir)
    files = sorted(path.name for path in (staging_dir / "parse").glob(f"*{typed.SUFFIX}"))
    assert len(files) == 1 and files[0].startswith(typed.BATCH_PREFIX)
    load_run(together, RUN_1, staging_dir, cities=CITIES)
    assert snapshot(together) == snapshot(alone)
    assert row_counts(together)["assessments"] == 7


def test_a_retried_batch_replaces_its_typed_file_and_a_document_it_now_fails_keeps_no_row(tmp_path, db):
    from load.staging import read_staged_run, stage_parses

    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    parses = _restaged_in_one_batch(staging_dir)
    timed_out = next(p for p in parses if "record" in p)
    retried = [{**{k: v for k, v in p.items() if k != "record"}, "error": {"code": "timeout", "reason": "retried"}}
               if p is timed_out else p for p in parses]
    stage_parses(staging_dir, retried)
    assert len(list((staging_dir / "parse").glob(f"*{typed.SUFFIX}"))) == 1
    run = read_staged_run(staging_dir)
    assert timed_out["sha256"] not in run.record_files
    assert sorted(run.record_files) == sorted(p["sha256"] for p in retried if "record" in p)
    assert timed_out["sha256"] in [f.data["sha256"] for f in run.failures if f.data["error"]["code"] == "timeout"]
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert row_counts(db)["assessments"] == 6


def test_a_document_staged_in_two_batches_loads_once_and_two_different_rows_are_refused(tmp_path, db):
    """A night whose parse plan ran again (its cached records staged as another batch): the same
    row twice is one document; two different rows of it are refused before anything is written."""
    from load.staging import stage_parses

    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    parses = _restaged_in_one_batch(staging_dir)
    records = [p for p in parses if "record" in p]
    stage_parses(staging_dir, records[:2])  # the same two records again, in a batch of their own
    assert len(list((staging_dir / "parse").glob(f"*{typed.SUFFIX}"))) == 2
    load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert row_counts(db)["assessments"] == 7

    other = tmp_path / "other.duckdb"
    connect(other).close()
    changed = copy.deepcopy(records[:2])
    changed[1]["record"]["organization"] = "別の機関"
    stage_parses(staging_dir, changed)  # the same batch of two, its second row now different
    with pytest.raises(BadStagedFile, match=f"document {records[1]['sha256']} staged again, its row differing"):
        load_run(other, RUN_1, staging_dir, cities=CITIES)
    assert sum(row_counts(other).values()) == 0


def test_a_typed_file_of_no_row_written_another_way_is_refused_not_a_crash(tmp_path, db):
    """The schema's bytes differ (metadata added, as another writer might), so the file is read the
    slow way; with no row in it the load stops with BadStagedFile naming it."""
    connect(db).close()
    staging_dir = stage_run(tmp_path / "data", RUN_1, run_1_documents())
    path = staging_dir / "parse" / f"{sha_of('271403-sakai-01-full')}{typed.SUFFIX}"
    typed.write_typed(path, typed.SCHEMA.with_metadata({b"writer": b"another"}).empty_table())
    with pytest.raises(BadStagedFile, match="no row") as refused:
        load_run(db, RUN_1, staging_dir, cities=CITIES)
    assert sha_of("271403-sakai-01-full") in str(refused.value)
    assert sum(row_counts(db).values()) == 0
