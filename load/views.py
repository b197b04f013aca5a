"""The analyst views, re-created on every write connection.

Views hold no data, so unlike tables they are not migrations: they are rebuilt from this module
(and from ``ground.schema.FIELDS`` for the version diff) each time the loader connects, and
always match the code that fills the tables under them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ground.schema import FIELDS
from load.backend import backend_of, in_transaction
from load.sql import literal

# Fields that cannot differ between two versions of one assessment, or always do.
_NOT_DIFFED = {"kind", "assessment_number", "source"}

RULE_FAMILIES = ("required", "threshold", "dates", "procedure", "choice", "extraction")

# One version chain per city, 評価書番号 and kind; a record without a number is its own chain
# rather than being merged with every other unnumbered record.
_CHAIN = "a.city_code, a.kind, coalesce(CAST(a.assessment_number AS VARCHAR), 'sha256:' || a.sha256)"


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    sql: str
    # Columns copied from a table are described by pointing at it; the rest are listed here.
    inherits_from: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _diff_pairs_sql() -> str:
    pairs = ", ".join(
        f"{{'field': '{f.name}', 'old_value': CAST(ao.{f.name} AS VARCHAR), "
        f"'new_value': CAST(an.{f.name} AS VARCHAR)}}"
        for f in FIELDS if f.name not in _NOT_DIFFED
    )
    return f"[{pairs}]"


# Where a document's raw PDF is kept, relative to $PIAWATCH_DATA_DIR (extract.store.raw_path).
_RAW_PATH = "'raw/' || {t}.sha256[1:2] || '/' || {t}.sha256 || '.pdf'"
# A link that opens the PDF at a page (RFC 3778 fragment; browsers' PDF viewers follow it).
_PAGE_URL = "CASE WHEN {page} IS NOT NULL THEN {url} || '#page=' || CAST({page} AS VARCHAR) END"

VIEWS = (
    View(
        "document_locations",
        "where each document version is: its latest URL, the URL first seen, the raw PDF's path",
        f"""
        SELECT sha256, city_code, last_url AS url, url AS first_url, last_seen_run,
               {_RAW_PATH.format(t="documents")} AS raw_path
        FROM documents
        """,
        columns={
            "sha256": "the document version | hex digest | documents.sha256",
            "city_code": "the publishing city | 6 digits | documents.city_code",
            "url": "the URL this version was most recently seen at: use it in links | — | documents.last_url",
            "first_url": "the URL this version was first fetched from | — | documents.url",
            "last_seen_run": "latest run that saw this version still linked | — | documents.last_seen_run",
            "raw_path": "the PDF as fetched, relative to $PIAWATCH_DATA_DIR (raw/<sha[:2]>/<sha256>.pdf) | path | extract.store.raw_path",
        },
    ),
    View(
        "latest_assessments",
        "the newest version of each assessment (per city, 評価書番号 and kind, by when the PDF was first seen)",
        f"""
        WITH linked AS (
            -- A city's documents seen by its latest crawl are still on its site; a crawl that
            -- failed outright updates none, so it does not make every document look withdrawn.
            SELECT *, last_seen_run = first_value(last_seen_run) OVER (
                       PARTITION BY city_code ORDER BY last_seen_at DESC NULLS LAST, last_seen_run DESC
                   ) AS currently_linked
            FROM documents
        )
        SELECT a.*,
               d.first_seen_run, d.first_seen_at, d.last_seen_run, d.last_seen_at, d.bytes, d.pages,
               d.currently_linked, count(*) OVER chain AS versions, d.last_url,
               {_RAW_PATH.format(t="d")} AS raw_path
        FROM assessments a
        JOIN linked d USING (sha256, city_code)
        WINDOW chain AS (PARTITION BY {_CHAIN})
        QUALIFY row_number() OVER (PARTITION BY {_CHAIN}
                                   ORDER BY d.first_seen_at DESC NULLS LAST, d.first_seen_run DESC, a.sha256) = 1
        """,
        inherits_from="assessments",
        columns={
            "first_seen_run": "run that first saw this version | — | documents.first_seen_run",
            "first_seen_at": "when this version was first fetched | point in time (shown in the TimeZone setting of the session) | documents.first_seen_at",
            "last_seen_run": "latest run that saw this version still linked | — | documents.last_seen_run",
            "last_seen_at": "when this version was last fetched or confirmed | point in time (shown in the TimeZone setting of the session) | documents.last_seen_at",
            "bytes": "size of the PDF | bytes | documents.bytes",
            "pages": "number of pages | pages | documents.pages",
            "currently_linked": "the city's latest crawl still found this PDF on its site | — | documents.last_seen_run",
            "versions": "how many versions of this assessment the warehouse holds | versions | counted over assessments",
            "last_url": "the URL this version was most recently seen at (url is where it was first fetched) | — | documents.last_url",
            "raw_path": "the PDF as fetched, relative to $PIAWATCH_DATA_DIR | path | extract.store.raw_path",
        },
    ),
    View(
        "open_findings",
        "findings the latest checked run still found (runs.checked_at; without it, the latest run that wrote findings)",
        f"""
        SELECT f.*, coalesce(d.url, f.source) AS url,
               {_PAGE_URL.format(page="f.pages[1]", url="coalesce(d.url, f.source)")} AS page_url,
               d.raw_path,
               EXISTS (SELECT 1 FROM dismissals x WHERE x.finding_id = f.finding_id) AS dismissed
        FROM findings f
        LEFT JOIN document_locations d ON d.sha256 = f.sha256 AND d.city_code = f.city_code
        WHERE f.last_seen_run = coalesce(
            (SELECT run_id FROM runs WHERE checked_at IS NOT NULL ORDER BY checked_at DESC LIMIT 1),
            (SELECT g.last_seen_run FROM findings g LEFT JOIN runs r ON r.run_id = g.last_seen_run
             ORDER BY r.started_at DESC NULLS LAST, g.last_seen_run DESC LIMIT 1))
        """,
        inherits_from="findings",
        columns={
            "url": "the document's latest URL | — | document_locations.url",
            "page_url": "the PDF opened at the first page of the evidence (url#page=N) | — | url, findings.pages",
            "raw_path": "the PDF as fetched, relative to $PIAWATCH_DATA_DIR | path | document_locations.raw_path",
            "dismissed": "a person dismissed it as a false positive (table dismissals) | — | dismissals",
        },
    ),
    View(
        "city_summary",
        "one row per city: current documents by kind, the newest 公表日, open findings by family, open failures",
        f"""
        WITH cities AS (
            SELECT city_code FROM municipalities UNION SELECT city_code FROM documents
        )
        SELECT c.city_code, m.name, m.prefecture, m.demo,
               (SELECT count(*) FROM latest_assessments l WHERE l.city_code = c.city_code AND l.kind = 'basic' AND l.currently_linked) AS basic_documents,
               (SELECT count(*) FROM latest_assessments l WHERE l.city_code = c.city_code AND l.kind = 'focused' AND l.currently_linked) AS focused_documents,
               (SELECT count(*) FROM latest_assessments l WHERE l.city_code = c.city_code AND l.kind = 'full' AND l.currently_linked) AS full_documents,
               (SELECT count(*) FROM documents d WHERE d.city_code = c.city_code) AS document_versions,
               (SELECT max(l.published_on) FROM latest_assessments l WHERE l.city_code = c.city_code) AS newest_published_on,
               {", ".join(f"(SELECT count(*) FROM open_findings o WHERE o.city_code = c.city_code AND o.family = '{family}') AS open_{family}_findings" for family in RULE_FAMILIES)},
               (SELECT count(*) FROM failures x WHERE x.city_code = c.city_code AND x.status = 'open') AS open_failures
        FROM cities c
        LEFT JOIN municipalities m USING (city_code)
        """,
        columns={
            "city_code": "団体コード | 6 digits | municipalities, documents",
            "name": "city name (null when the city is not in the registry any more) | — | municipalities.name",
            "prefecture": "prefecture | — | municipalities.prefecture",
            "demo": "a bundled demo city | — | municipalities.demo",
            "basic_documents": "基礎項目評価書 on the site now (latest versions) | documents | latest_assessments",
            "focused_documents": "重点項目評価書 on the site now (latest versions) | documents | latest_assessments",
            "full_documents": "全項目評価書 on the site now (latest versions) | documents | latest_assessments",
            "document_versions": "every PDF version ever seen, parsed or not | documents | documents",
            "newest_published_on": "the latest 公表日 among the current documents | date | latest_assessments.published_on",
            **{f"open_{family}_findings": f"open findings of the {family} family | findings | open_findings"
               for family in RULE_FAMILIES},
            "open_failures": "fetch and parse failures still open (neither resolved nor gone) | failures | failures.status",
        },
    ),
    View(
        "assessment_version_diffs",
        "field-by-field differences between consecutive versions of the same assessment (same city, 評価書番号 and kind)",
        f"""
        WITH versions AS (
            SELECT a.city_code, a.assessment_number, a.kind, a.sha256, d.first_seen_run, d.first_seen_at,
                   row_number() OVER (PARTITION BY a.city_code, a.assessment_number, a.kind
                                      ORDER BY d.first_seen_at NULLS FIRST, d.first_seen_run, a.sha256) AS version
            FROM assessments a
            JOIN documents d USING (sha256, city_code)
            WHERE a.assessment_number IS NOT NULL
        ), pairs AS (
            SELECT n.city_code, n.assessment_number, n.kind, o.sha256 AS old_sha256, n.sha256 AS new_sha256,
                   n.version AS new_version, n.first_seen_run AS new_first_seen_run
            FROM versions n
            JOIN versions o ON o.city_code = n.city_code AND o.assessment_number = n.assessment_number
                           AND o.kind = n.kind AND o.version = n.version - 1
        ), diffs AS (
            SELECT p.*, unnest({_diff_pairs_sql()}) AS d
            FROM pairs p
            JOIN assessments ao ON ao.sha256 = p.old_sha256 AND ao.city_code = p.city_code
            JOIN assessments an ON an.sha256 = p.new_sha256 AND an.city_code = p.city_code
        )
        SELECT city_code, assessment_number, kind, old_sha256, new_sha256, new_version, new_first_seen_run,
               d.field AS field, d.old_value AS old_value, d.new_value AS new_value
        FROM diffs
        WHERE d.old_value IS DISTINCT FROM d.new_value
        """,
        columns={
            "city_code": "the publishing city | 6 digits | assessments.city_code",
            "assessment_number": "評価書番号 | — | assessments.assessment_number",
            "kind": "basic / focused / full | — | assessments.kind",
            "old_sha256": "the earlier version | hex digest | assessments.sha256",
            "new_sha256": "the version that followed it | hex digest | assessments.sha256",
            "new_version": "position of the new version in the chain (the first version is 1) | — | ordered by documents.first_seen_at",
            "new_first_seen_run": "run that first saw the new version | — | documents.first_seen_run",
            "field": "the record field (a column of assessments) that differs | — | ground.schema.FIELDS",
            "old_value": "its value in the earlier version, as text (dates ISO, lists and JSON as printed) | — | assessments",
            "new_value": "its value in the new version, as text | — | assessments",
        },
    ),
)


def view_column_comment(view: View, column: str) -> str:
    if column in view.columns:
        return view.columns[column]
    if view.inherits_from:
        return f"as {view.inherits_from}.{column} | — | {view.inherits_from}.{column}"
    raise KeyError(f"view {view.name} has no description for column {column}")


def _fingerprint() -> str:
    text = "\n".join(f"{v.name}\n{v.comment}\n{v.sql}\n{v.inherits_from}\n{sorted(v.columns.items())}"
                     for v in VIEWS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_views(con) -> None:
    """(Re)create every view with its comments, unless the warehouse already has these ones.

    Views depend on earlier ones, so order matters. Views over ``a.*`` pick up columns a newer
    migration added only when re-created, so the fingerprint also covers the schema version.
    """
    fingerprint = _fingerprint() + ":" + str(con.execute("SELECT max(version) FROM schema_version").fetchone()[0])
    if con.execute("SELECT count(*) FROM schema_views WHERE fingerprint = ?", [fingerprint]).fetchone()[0]:
        return
    in_transaction(con, lambda c: _replace_views(c, fingerprint))


def _replace_views(con, fingerprint: str) -> None:
    # DuckLake keeps no comments on a view's columns; they are in this module and in the dictionary.
    comments_view_columns = backend_of(con) != "ducklake"
    for view in VIEWS:
        con.execute(f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}")
        con.execute(f"COMMENT ON VIEW {view.name} IS {literal(view.comment)}")
        if not comments_view_columns:
            continue
        columns = [row[0] for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", [view.name]).fetchall()]
        for column in columns:
            con.execute(f"COMMENT ON COLUMN {view.name}.{column} IS {literal(view_column_comment(view, column))}")
    con.execute("DELETE FROM schema_views")
    con.execute("INSERT INTO schema_views (fingerprint) VALUES (?)", [fingerprint])
