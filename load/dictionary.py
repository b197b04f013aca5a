"""The table and view reference of docs/data-dictionary.md, generated from the warehouse itself.

Every column carries a comment "description | unit | source" (set in the migrations and in
``load.views``); this module renders them as Markdown between two markers in the dictionary, so
the reference cannot drift from the schema. ``python -m load.dictionary`` rewrites that part;
the test suite fails when it is out of date.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from load.schema import KEYS
from load.views import VIEWS
from load.connection import connect

DICTIONARY_PATH = Path(__file__).resolve().parent.parent / "docs" / "data-dictionary.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE: python -m load.dictionary rewrites this part -->"
END = "<!-- END GENERATED REFERENCE -->"


def split_comment(comment: str | None, where: str) -> tuple[str, str, str]:
    parts = [part.strip() for part in (comment or "").split(" | ")]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{where}: the comment must read 'description | unit | source', found {comment!r}")
    return parts[0], parts[1], parts[2]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _columns_table(con, relation: str) -> list[str]:
    lines = ["| column | type | unit | source | meaning |", "|---|---|---|---|---|"]
    for name, data_type, comment in con.execute("""
            SELECT column_name, data_type, comment FROM duckdb_columns()
            WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
            ORDER BY column_index""", [relation]).fetchall():
        description, unit, source = split_comment(comment, f"{relation}.{name}")
        lines.append(f"| `{name}` | {data_type} | {_cell(unit)} | {_cell(source)} | {_cell(description)} |")
    return lines


def render_reference(con) -> str:
    """Markdown for every table (in creation order) and every view (in dependency order)."""
    lines = ["## Tables", ""]
    for name, comment, sql in con.execute("""
            SELECT table_name, comment, sql FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_oid""").fetchall():
        key = KEYS.get(name)
        lines += [f"### `{name}`", "", comment or "", ""]
        if key:
            lines += [f"Key: {', '.join(f'`{c}`' for c in key)}.", ""]
        lines += _columns_table(con, name) + [""]
    lines += ["## Views", ""]
    comments = dict(con.execute("SELECT view_name, comment FROM duckdb_views() "
                                "WHERE database_name = current_database() AND NOT internal").fetchall())
    for view in VIEWS:
        lines += [f"### `{view.name}`", "", comments.get(view.name) or "", ""]
        lines += _columns_table(con, view.name) + [""]
    return "\n".join(lines).rstrip() + "\n"


def fresh_reference() -> str:
    """The reference as a newly migrated warehouse has it."""
    with tempfile.TemporaryDirectory() as tmp, connect(Path(tmp) / "reference.duckdb") as con:
        return render_reference(con)


def with_reference(document: str, reference: str) -> str:
    if BEGIN not in document or END not in document:
        raise ValueError(f"the dictionary must hold the markers {BEGIN!r} and {END!r}")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{reference}\n{END}{tail}"


def main() -> int:
    text = DICTIONARY_PATH.read_text(encoding="utf-8")
    updated = with_reference(text, fresh_reference())
    if updated != text:
        DICTIONARY_PATH.write_text(updated, encoding="utf-8")
        print(f"updated {DICTIONARY_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
