"""The warehouse schema: numbered SQL migrations, and the assessments columns derived from the record.

Tables are created only by the files in ``load/migrations/`` (``NNN_name.sql``), applied in order
and recorded in ``schema_version``. A migration is never edited once applied: a changed file is
refused, so every warehouse reaches the same schema by the same steps. The ``assessments`` table
holds one typed column per field of ``ground.schema.FIELDS``; ``assessment_columns()`` is that
derivation, the test suite checks the migrated table against it, and ``python -m load.schema``
prints the DDL to paste into a new migration when a field is added.

Both warehouse backends (a DuckDB file, a DuckLake) run the same migrations, and DuckLake has no
PRIMARY KEY, UNIQUE or CHECK constraints. So the migrations declare none: each table's key is in
``KEYS`` and each closed set of values in ``ALLOWED_VALUES``, every writer upserts on those keys,
and ``check_integrity`` runs before every write transaction commits, on either backend.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ground.errors import PiaWatchError
from ground.schema import CHANGE_TIMINGS, FIELDS, FILE_SUBJECT_BANDS, KINDS
from load.backend import in_transaction
from load.sql import literal

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


# Each table's key: the columns no two rows share, none of them null.
KEYS = {
    "schema_version": ("version",),
    "municipalities": ("city_code",),
    "sources": ("url",),
    "documents": ("sha256", "city_code"),
    "assessments": ("sha256", "city_code"),
    "assessment_files": ("sha256", "city_code", "file_index"),
    "file_outsourcing": ("sha256", "city_code", "file_index", "outsourcing_index"),
    "risk_answers": ("sha256", "city_code", "answer_index"),
    "change_rows": ("sha256", "city_code", "change_index"),
    "fetch_log": ("run_id", "city_code", "seq"),
    "failures": ("failure_id",),
    "findings": ("finding_id",),
    "alerts": ("alert_id",),
    "dismissals": ("dismissal_id",),
    "alert_deliveries": ("alert_id", "channel", "notice", "attempt"),
    "runs": ("run_id",),
}

SEVERITIES = ("error", "warning", "info")
# What an alert delivery carries: the alert when it opens, a notice when a new version fixes it.
NOTICES = ("opened", "resolved")
# A failure stays open until a later run succeeds (resolved) or stops linking its URL (gone).
FAILURE_STATUSES = ("open", "resolved", "gone")
# An alert is open until its problem is gone (resolved) or a person dismissed its finding.
ALERT_STATUSES = ("open", "resolved", "dismissed")

# Columns that hold one of a closed set of values (or null).
ALLOWED_VALUES = {
    ("documents", "kind"): KINDS,
    **{("assessments", f.name): f.choices for f in FIELDS if f.choices},
    ("assessment_files", "subject_band"): FILE_SUBJECT_BANDS,
    ("change_rows", "timing"): CHANGE_TIMINGS,
    ("findings", "severity"): SEVERITIES,
    ("alerts", "severity"): SEVERITIES,
    ("alerts", "status"): ALERT_STATUSES,
    ("failures", "status"): FAILURE_STATUSES,
    ("dismissals", "kind"): KINDS,
    ("alert_deliveries", "status"): ("sent", "failed"),
    ("alert_deliveries", "notice"): NOTICES,
    ("runs", "status"): ("running", "success", "partial", "failed"),
}


class IntegrityError(PiaWatchError):
    """A write would leave two rows with one key, a null key, or a value outside its set."""

    code = "integrity"


def _integrity_query() -> str:
    """Every rule in one query: on a lake, each query is also a round trip to the catalog."""
    checks = []
    for table, key in KEYS.items():
        shown = ", ".join(f"coalesce(CAST({column} AS VARCHAR), 'null')" for column in key)
        nulls = " OR ".join(f"{column} IS NULL" for column in key)
        checks.append(f"(SELECT {len(checks)} AS rule, concat_ws(', ', {shown}) AS value, count(*) AS n "
                      f"FROM {table} GROUP BY ALL HAVING count(*) > 1 OR {nulls} LIMIT 3)")
    for (table, column), allowed in ALLOWED_VALUES.items():
        choices = ", ".join(literal(value) for value in allowed)
        checks.append(f"(SELECT {len(checks)} AS rule, {column} AS value, count(*) AS n "
                      f"FROM {table} WHERE {column} NOT IN ({choices}) GROUP BY ALL LIMIT 3)")
    return "\nUNION ALL\n".join(checks)


def _describe_violation(rule: int, value: str, count: int) -> str:
    rules = list(KEYS.items())
    if rule < len(rules):
        table, key = rules[rule]
        return f"{table}: {count} rows with key ({', '.join(key)}) = ({value})"
    (table, column), allowed = list(ALLOWED_VALUES.items())[rule - len(rules)]
    return f"{table}.{column} = {value!r}, not one of {', '.join(allowed)}"


def integrity_violations(con) -> list[str]:
    """What breaks ``KEYS`` or ``ALLOWED_VALUES`` in the warehouse ``con`` is connected to, as text."""
    return [_describe_violation(*row) for row in con.execute(_integrity_query() + "\nORDER BY ALL").fetchall()]


def check_integrity(con) -> None:
    """Raise IntegrityError when the warehouse breaks a key or an allowed-values rule."""
    problems = integrity_violations(con)
    if problems:
        raise IntegrityError("; ".join(problems))


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    comment: str


def assessment_columns() -> list[Column]:
    """The record fields as typed columns (an enum's choices are in ``ALLOWED_VALUES``)."""
    columns = []
    for field in FIELDS:
        description = field.description
        if len(field.kinds) < 3 and "only" not in description:
            description += f" ({'/'.join(field.kinds)} only)"
        unit = "date" if field.sql_type.startswith("DATE") else "—"
        comment = f"{field.label}: {description} | {unit} | parse staging record.{field.name}"
        columns.append(Column(field.name, field.sql_type, comment))
    return columns


def render_assessments_ddl() -> str:
    """CREATE TABLE and COMMENT statements for `assessments`, as they belong in a migration."""
    lines = [f"    {name} {sql_type}," for name, sql_type, _ in ASSESSMENT_KEY_COLUMNS]
    lines += [f"    {column.name} {column.sql_type}," for column in assessment_columns()]
    lines[-1] = lines[-1].rstrip(",")
    statements = ["CREATE TABLE assessments (\n" + "\n".join(lines) + "\n);",
                  "COMMENT ON TABLE assessments IS "
                  + literal("one row per parsed document version (sha256) and city: every record field as a typed column")
                  + ";"]
    for name, _, comment in ASSESSMENT_KEY_COLUMNS:
        statements.append(f"COMMENT ON COLUMN assessments.{name} IS {literal(comment)};")
    for column in assessment_columns():
        statements.append(f"COMMENT ON COLUMN assessments.{column.name} IS {literal(column.comment)};")
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
    version INTEGER NOT NULL,
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
        in_transaction(con, lambda c: c.execute(_BOOKKEEPING))
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

        def apply(c, migration=migration):
            c.execute(migration.sql)
            c.execute("INSERT INTO schema_version (version, name, checksum) VALUES (?, ?, ?)",
                      [migration.version, migration.name, migration.checksum])

        in_transaction(con, apply)
        done.append(migration.name)
    return done


if __name__ == "__main__":
    print(render_assessments_ddl(), end="")
