"""docs/data-dictionary.md: complete, current, and every example query runs on realistic data."""

from __future__ import annotations

import re

import pytest

from load.dictionary import BEGIN, DICTIONARY_PATH, END, fresh_reference, split_comment
from load.warehouse import connect
from test_warehouse import build_warehouse

TEXT = DICTIONARY_PATH.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```sql\n(.*?)```", TEXT, re.S)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build_warehouse(tmp_path_factory.mktemp("dictionary") / "data")


@pytest.fixture(scope="module")
def lake_warehouse(tmp_path_factory, postgres):
    data = tmp_path_factory.mktemp("dictionary-lake") / "data"
    return build_warehouse(data, postgres.new_lake(data / "lake"))


@pytest.fixture(params=["duckdb", "ducklake"])
def any_warehouse(request):
    """The realistic warehouse on each backend."""
    return request.getfixturevalue("warehouse" if request.param == "duckdb" else "lake_warehouse")


def test_the_generated_reference_is_current():
    generated = TEXT.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == fresh_reference().strip(), "run: python -m load.dictionary"


def test_every_table_view_and_column_is_documented(warehouse):
    with connect(warehouse, read_only=True) as con:
        columns = con.execute("""
            SELECT table_name, column_name, comment FROM duckdb_columns()
            WHERE database_name = current_database() AND schema_name = 'main'""").fetchall()
    assert {table for table, _, _ in columns} >= {"documents", "assessments", "failures", "city_summary"}
    for table, column, comment in columns:
        description, unit, source = split_comment(comment, f"{table}.{column}")
        section = TEXT.split(f"### `{table}`\n", 1)[1].split("\n### ", 1)[0]
        assert f"| `{column}` |" in section, f"{table}.{column} is not in the dictionary"
        assert description in section.replace("\\|", "|")


def test_there_are_at_least_ten_example_questions():
    questions = re.findall(r"^### \d+\. .+\?$", TEXT, re.M)
    assert len(questions) >= 10
    assert len(EXAMPLES) == len(questions)


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example-{i}" for i in range(1, len(EXAMPLES) + 1)])
def test_example_query_answers_on_realistic_data(any_warehouse, sql):
    with connect(any_warehouse, read_only=True) as con:
        rows = con.execute(sql).fetchall()
    assert rows, "the example returns nothing on the realistic warehouse: fix the query or the fixtures"


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example-{i}" for i in range(1, len(EXAMPLES) + 1)])
def test_example_query_gives_the_same_answer_on_both_backends(warehouse, lake_warehouse, sql):
    answers = []
    for target in (warehouse, lake_warehouse):
        with connect(target, read_only=True) as con:
            answers.append(con.execute(sql).fetchall())
    assert answers[0] == answers[1]


def test_the_planted_threshold_contradiction_is_what_example_3_finds(warehouse):
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(EXAMPLES[2]).fetchall()
    assert [(city, number, stated, required) for city, number, _, _, _, _, stated, required in rows] == [
        ("豊橋市", 3, "basic_only", "basic_and_full")]
