"""The warehouse schema: numbered SQL migrations, and the assessments columns derived from the record.

Tables are created only by the files in ``load/migrations/`` (``NNN_name.sql``), applied in order
and recorded in ``schema_version``. A migration is never edited once applied: a changed file is
refused, so every warehouse reaches the same schema by the same steps. The ``assessments`` table
holds one typed column per field of ``transform.record.FIELDS``; ``assessment_columns()`` is that
derivation, the test suite checks the migrated table against it, and ``python -m load.schema``
prints the DDL to paste into a new migration when a field is added.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from piawatch.errors import PiaWatchError
from transform.record import FIELDS

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

# Columns of `assessments` that are not record fields: the row's key and its provenance.
ASSESSMENT_KEY_COLUMNS = (
    ("sha256", "VARCHAR NOT NULL", "SHA-256 of the PDF bytes: the document version | hex digest | parse staging sha256"),
    ("city_code", "VARCHAR NOT NULL", "団体コード of the city that published it | 6 digits | crawl staging city_code"),
    ("url", "VARCHAR", "URL the parsed PDF was fetched from | — | parse staging url"),
    ("parser_version", "VARCHAR", "version of the parser that made the record | — | parse staging parser_version"),
    ("loaded_run", "VARCHAR", "run that loaded this record | — | load_run(run_id)"),
)


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    check: str | None
    comment: str


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def assessment_columns() -> list[Column]:
    """The record fields as typed columns; enums get a CHECK listing the record module's choices."""
    columns = []
    for field in FIELDS:
        check = None
        if field.choices:
            check = f"CHECK ({field.name} IN ({', '.join(_quote(c) for c in field.choices)}))"
        description = field.description
        if len(field.kinds) < 3 and "only" not in description:
            description += f" ({'/'.join(field.kinds)} only)"
        unit = "date" if field.sql_type.startswith("DATE") else "—"
        comment = f"{field.label}: {description} | {unit} | parse staging record.{field.name}"
        columns.append(Column(field.name, field.sql_type, check, comment))
    return columns


def render_assessments_ddl() -> str:
    """CREATE TABLE and COMMENT statements for `assessments`, as they belong in a migration."""
    lines = [f"    {name} {sql_type}," for name, sql_type, _ in ASSESSMENT_KEY_COLUMNS]
    for column in assessment_columns():
        check = f" {column.check}" if column.check else ""
        lines.append(f"    {column.name} {column.sql_type}{check},")
    lines.append("    PRIMARY KEY (sha256, city_code)")
    statements = ["CREATE TABLE assessments (\n" + "\n".join(lines) + "\n);",
                  "COMMENT ON TABLE assessments IS "
                  + _quote("one row per parsed document version (sha256) and city: every record field as a typed column")
                  + ";"]
    for name, _, comment in ASSESSMENT_KEY_COLUMNS:
        statements.append(f"COMMENT ON COLUMN assessments.{name} IS {_quote(comment)};")
    for column in assessment_columns():
        statements.append(f"COMMENT ON COLUMN assessments.{column.name} IS {_quote(column.comment)};")
    return "\n".join(statements) + "\n"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file, in version order; a badly named file or a repeated number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise SchemaError(f"migration file name must be NNN_lower_snake.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise SchemaError(f"two migrations numbered {version:03d}: {found[version].name}, {path.name}")
        found[version] = Migration(version, path.name, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


class SchemaError(PiaWatchError):
    """The migrations on disk and the ones applied to a warehouse disagree."""

    code = "schema"


_BOOKKEEPING = """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_version IS 'the migrations applied to this warehouse, one row each';
COMMENT ON COLUMN schema_version.version IS 'the NNN prefix of the migration file | — | load/migrations/';
COMMENT ON COLUMN schema_version.name IS 'the migration file name | — | load/migrations/';
COMMENT ON COLUMN schema_version.checksum IS 'SHA-256 of the file when it was applied | hex digest | load/migrations/';
COMMENT ON COLUMN schema_version.applied_at IS 'when it was applied | point in time (shown in the TimeZone setting of the session) | the loader''s clock';
CREATE TABLE schema_views (
    fingerprint VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_views IS 'which definition of the views (load/views.py) the warehouse holds, one row';
COMMENT ON COLUMN schema_views.fingerprint IS 'SHA-256 of the view definitions and their comments, then the schema version | hex digest and version | load/views.py';
COMMENT ON COLUMN schema_views.created_at IS 'when the views were last re-created | point in time (shown in the TimeZone setting of the session) | the loader''s clock';
"""


def apply_migrations(con, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                         "AND schema_name = 'main' AND table_name = 'schema_version'").fetchone()[0]
    if not exists:
        con.execute(_BOOKKEEPING)
    applied = {version: (name, checksum) for version, name, checksum
               in con.execute("SELECT version, name, checksum FROM schema_version").fetchall()}
    done = []
    for migration in migrations(directory):
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise SchemaError(f"migration {migration.name} was changed after it was applied "
                                  f"(as {name}); add a new numbered migration instead")
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute("INSERT INTO schema_version (version, name, checksum) VALUES (?, ?, ?)",
                        [migration.version, migration.name, migration.checksum])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        done.append(migration.name)
    return done


if __name__ == "__main__":
    print(render_assessments_ddl(), end="")
