"""Everything the site shows, read from the warehouse's tables and views in one pass.

The site reads the published read-only copy (``piawatch-readonly.duckdb``) of a DuckDB file, so it
can be built while the next run writes; a DuckLake is read directly. Columns are read by name
with ``SELECT *``, so a column a later migration adds is carried along and never breaks a build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path



@dataclass
class SiteData:
    runs: list[dict] = field(default_factory=list)
    cities: list[dict] = field(default_factory=list)
    latest: list[dict] = field(default_factory=list)      # latest_assessments
    versions: list[dict] = field(default_factory=list)    # every assessment version with its document row
    diffs: list[dict] = field(default_factory=list)       # assessment_version_diffs
    findings: list[dict] = field(default_factory=list)    # every finding, with is_open
    failures: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)     # crawl health per city


def published_copy(warehouse) -> Path:
    """The read-only copy ``load.export.publish_copy`` writes beside a DuckDB file warehouse."""
    path = Path(warehouse.path)
    return path.with_name(f"{path.stem}-readonly.duckdb")


def open_for_site(warehouse):
    """A read-only connection to what the site is built from (see the module docstring)."""
    import duckdb

    from load.connection import WarehouseMissing, connect

    if warehouse.is_lake:
        return connect(warehouse, read_only=True)
    copy = published_copy(warehouse)
    if not copy.exists():
        raise WarehouseMissing(f"no published warehouse copy at {copy}: run the pipeline (piawatch run) first")
    return duckdb.connect(str(copy), read_only=True)


def _plain(is_json: bool, value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if is_json and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, (list, tuple)):
        return [_plain(False, v) for v in value]
    return value


def rows(con, sql: str, params=()) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    is_json = [str(d[1]) == "JSON" for d in cursor.description]
    return [{n: _plain(j, v) for n, j, v in zip(names, is_json, row)} for row in cursor.fetchall()]


def read_site_data(con) -> SiteData:
    # open_findings carries what the findings table does not (the latest URL, page_url, dismissed)
    open_rows = {r["finding_id"]: r for r in rows(con, "SELECT * FROM open_findings")}
    findings = rows(con, "SELECT * FROM findings ORDER BY city_code, assessment_number NULLS LAST, rule, finding_key")
    for finding in findings:
        finding.update(open_rows.get(finding["finding_id"], {}))
        finding["is_open"] = finding["finding_id"] in open_rows
    return SiteData(
        runs=rows(con, "SELECT * FROM runs ORDER BY started_at NULLS LAST, run_id"),
        cities=rows(con, """
            SELECT s.*, m.slug, m.urls FROM city_summary s LEFT JOIN municipalities m USING (city_code)
            ORDER BY s.city_code"""),
        latest=rows(con, "SELECT * FROM latest_assessments ORDER BY city_code, assessment_number NULLS LAST, kind, sha256"),
        versions=rows(con, """
            SELECT a.sha256, a.city_code, a.kind, a.assessment_number, a.title, a.published_on, a.url,
                   d.first_seen_at, d.first_seen_run, d.pages, d.bytes
            FROM assessments a JOIN documents d USING (sha256, city_code)
            ORDER BY a.city_code, a.assessment_number NULLS LAST, a.kind, d.first_seen_at NULLS FIRST, a.sha256"""),
        diffs=rows(con, "SELECT * FROM assessment_version_diffs ORDER BY city_code, assessment_number, kind, new_version, field"),
        findings=findings,
        failures=rows(con, "SELECT * FROM failures ORDER BY city_code, stage, url"),
        sources=rows(con, """
            SELECT city_code, count(*) AS pages,
                   max(last_seen_at) FILTER (WHERE last_status BETWEEN 200 AND 399) AS last_success
            FROM sources GROUP BY city_code"""),
    )
