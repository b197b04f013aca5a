"""The warehouse schema: columns derived from the record schema, migrations, and keys and allowed
values checked before every commit.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from ground.rows import CHILD_TABLES, NUMBER_SQL_TYPE, RECORD_EXTRA_COLUMNS, RECORD_EXTRA_SQL_TYPE
from ground.schema import FIELDS
from ground.settings import as_warehouse
from load.connection import connect, write_transaction
from load.schema import ALLOWED_VALUES, KEYS, IntegrityError


def test_assessment_columns_agree_with_record_fields(db):
    with connect(db) as con:
        columns = con.execute("""
            SELECT column_name, data_type FROM duckdb_columns()
            WHERE table_name = 'assessments' AND database_name = current_database() ORDER BY column_index
            """).fetchall()
    record_columns = [(name, sql_type) for name, sql_type in columns
                      if name not in ("sha256", "city_code", "url", "parser_version", "loaded_run")]
    expected_types = {"VARCHAR[]": "VARCHAR[]", "DATE[]": "DATE[]"}
    assert record_columns == [(f.name, expected_types.get(f.sql_type, f.sql_type)) for f in FIELDS] + [
        (name, RECORD_EXTRA_SQL_TYPE) for name in RECORD_EXTRA_COLUMNS]
    for field in (f for f in FIELDS if f.choices):
        assert ALLOWED_VALUES[("assessments", field.name)] == field.choices


@pytest.mark.parametrize("field", [f for f in FIELDS if f.choices], ids=lambda f: f.name)
def test_a_write_with_a_value_outside_the_record_choices_is_rolled_back(db, field):
    with connect(db) as con:
        with pytest.raises(IntegrityError, match=f"assessments.{field.name} = 'bogus'"):
            write_transaction(con, lambda c: c.execute(
                f"INSERT INTO assessments (sha256, city_code, {field.name}) VALUES ('x', '271403', 'bogus')"))
        assert con.execute("SELECT count(*) FROM assessments").fetchone()[0] == 0


@pytest.mark.parametrize("table", sorted(KEYS))
def test_a_write_that_repeats_a_key_is_rolled_back(db, table):
    """The migrations declare no keys (DuckLake has none): the check before COMMIT holds them."""
    with connect(db) as con:
        required = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND table_name = ? AND NOT is_nullable ORDER BY column_index", [table]).fetchall()
        literals = {"BOOLEAN": "true", "INTEGER": "1", "BIGINT": "1", "TIMESTAMP WITH TIME ZONE": "now()"}
        values = ", ".join(literals.get(data_type) or f"'{ALLOWED_VALUES.get((table, column), ('x',))[0]}'"
                           for column, data_type in required)
        columns = [column for column, _ in required]
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"
        with pytest.raises(IntegrityError, match=rf"{table}: \d+ rows with key"):
            write_transaction(con, lambda c: (c.execute(insert), c.execute(insert)))
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before


def test_migrations_are_recorded_once_and_a_changed_migration_is_refused(db, tmp_path):
    from load.schema import SchemaError, apply_migrations, migrations

    with connect(db) as con:
        versions = con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert versions == [(m.version, m.name) for m in migrations()]
    with connect(db) as con:  # a second connection applies nothing new
        assert apply_migrations(con) == []

    changed = tmp_path / "migrations"
    changed.mkdir()
    for m in migrations():
        (changed / m.name).write_text(m.sql + "\n-- edited after release\n", encoding="utf-8")
    with connect(db) as con, pytest.raises(SchemaError, match="changed after it was applied"):
        apply_migrations(con, changed)


def test_a_later_numbered_migration_is_applied_in_order(db, tmp_path):
    from load.schema import apply_migrations, migrations
    from load.views import create_views

    directory = tmp_path / "migrations"
    directory.mkdir()
    for m in migrations():
        (directory / m.name).write_text(m.sql, encoding="utf-8")
    (directory / "999_reviewer.sql").write_text("ALTER TABLE assessments ADD COLUMN reviewer VARCHAR;",
                                                encoding="utf-8")
    with connect(db) as con:
        assert apply_migrations(con, directory) == ["999_reviewer.sql"]
        create_views(con)  # latest_assessments selects a.*: re-created, it shows the new column
        assert ("reviewer",) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'latest_assessments'").fetchall()


def test_migration_030_brings_rows_of_an_older_warehouse_to_the_new_rules(db, tmp_path):
    """Rows loaded before the page, blank and status columns existed get them from what they held."""
    from load.backend import open_lake
    from load.schema import apply_migrations, migrations

    older = tmp_path / "migrations-020"
    older.mkdir()
    for m in migrations():
        if m.version <= 20:
            (older / m.name).write_text(m.sql, encoding="utf-8")
    target = as_warehouse(db)
    if target.is_lake:
        con = open_lake(target)
    else:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(target.path))
    try:
        apply_migrations(con, older)
        source = {"field_pages": {"changes": 69, "files": 7}, "unread_fields": ["risk_answers"]}
        con.execute("""INSERT INTO assessments (sha256, city_code, kind, assessment_number, title, public_comment_start,
                         submitted_kinds, third_party_review_dates, files, changes, risk_answers, source)
                       VALUES ('s1', '232017', 'full', 1, 'T', NULL, [], [], '[]', '[{"item": "x"}]', '[]', ?)""",
                    [json.dumps(source)])
        con.execute("INSERT INTO change_rows (sha256, city_code, change_index, item) VALUES ('s1', '232017', 1, 'x')")
        con.execute("""INSERT INTO findings (finding_id, run_id, sha256, city_code, rule, family, severity, message,
                         evidence, first_seen_run, last_seen_run)
                       VALUES ('f1', 'r', 's1', '232017', 'threshold.result_mismatch', 'threshold', 'error', 'm',
                               '{"values": {}, "pages": {"threshold_result": 3, "subject_count_band": 2, "x": 3}}',
                               'r', 'r')""")
        con.execute("""INSERT INTO failures (failure_id, run_id, stage, code, first_seen_run, last_seen_run,
                         occurrences, resolved) VALUES ('x1', 'r', 'fetch', 'timeout', 'r', 'r', 1, false),
                                                       ('x2', 'r', 'fetch', 'timeout', 'r', 'r', 1, true)""")
    finally:
        con.close()
    with connect(db) as con:  # applies 030 and later
        assert con.execute("""SELECT submitted_kinds, third_party_review_dates, files, changes, risk_answers,
                                     unread_fields, list_contains(blank_fields, 'public_comment_start'),
                                     list_contains(blank_fields, 'risk_answers')
                              FROM assessments""").fetchone() == (
            None, [], "[]", '[{"item": "x"}]', None, ["risk_answers"], True, False)
        assert con.execute("SELECT page FROM change_rows").fetchall() == [(69,)]
        assert con.execute("SELECT pages FROM findings").fetchall() == [([2, 3],)]
        assert con.execute("SELECT failure_id, status FROM failures ORDER BY 1").fetchall() == [
            ("x1", "open"), ("x2", "resolved")]


def test_child_tables_have_the_columns_ground_rows_declares(db):
    """The typed staged files (``load.typed.SCHEMA``) and the loader's inserts take each child
    table's columns and types from ``ground.rows.CHILD_TABLES``; the migrations must have made
    exactly those, in that order."""
    with connect(db) as con:
        for table in CHILD_TABLES:
            columns = con.execute("""
                SELECT column_name, data_type FROM duckdb_columns()
                WHERE table_name = ? AND database_name = current_database() ORDER BY column_index
                """, [table.name]).fetchall()
            assert [name for name, _ in columns] == list(table.column_names), table.name
            assert columns == [("sha256", "VARCHAR"), ("city_code", "VARCHAR"), *table.row_types], table.name
        assert con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = 'documents' "
                           "AND column_name = 'pages' AND database_name = current_database()").fetchall() == [
            (NUMBER_SQL_TYPE,)]
