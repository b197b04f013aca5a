"""The two ways to run the rules: on parser output (``piawatch check``) and on the warehouse.

Both turn their input into records and run ``_findings`` on them, so a rule behaves the same
whether a file was checked by hand or by the nightly job.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date
from pathlib import Path

from ground.schema import FIELDS
from load.connection import write_transaction
from load.merge import merge_rows
from load.runs import record_run_step
from quality.findings import build_findings
from quality.frames import build_frames
from quality.gx_suites import validate

JSON_FIELDS = tuple(f.name for f in FIELDS if f.sql_type == "JSON")


def _findings(records: list[dict], documents: list[dict], today: date | None,
              data_docs_dir: Path | None = None) -> tuple[list[dict], str | None]:
    today = today or date.today()
    if not records:
        return [], None
    frames = build_frames(records, today)
    failures, docs_index = validate(frames, data_docs_dir)
    return build_findings(failures, records, documents, frames, today), docs_index


def check_records(records: list[dict], *, sources: list[str], today: date | None = None) -> list[dict]:
    """Run every rule on parsed records; ``sources[i]`` is where record i came from (path or URL).

    The cross-document rule looks for documents among ``records`` only, so pass a city's whole
    set of documents to check it.
    """
    if len(sources) != len(records):
        raise ValueError(f"{len(records)} records but {len(sources)} sources")
    documents = [{"sha256": (record.get("source") or {}).get("sha256"),
                  "city_code": record.get("city_code"), "source": source}
                 for record, source in zip(records, sources)]
    findings, _ = _findings(records, documents, today)
    return findings


def _record_from_row(row: dict) -> dict:
    """A warehouse row back into the shape of parser output (ISO dates, parsed JSON)."""
    record = {}
    for f in FIELDS:
        value = row.get(f.name)
        if f.name in JSON_FIELDS:
            value = json.loads(value) if isinstance(value, str) else value
            if value is None and f.json_type == "list":
                value = []  # not on this kind's form, or unread: the parser's [] (see unread_fields)
        elif f.json_type == "date" and value is not None:
            value = value.isoformat()
        elif f.name == "third_party_review_dates":
            value = [d.isoformat() for d in value or []]
        elif f.json_type == "list":
            value = list(value or [])
        record[f.name] = value
    record["source"] = record["source"] or {}
    record["city_code"] = row["city_code"]
    return record


def stored_record(con, sha256: str, city_code: str) -> dict | None:
    """One stored version as a record (None when the warehouse has no such assessment)."""
    cursor = con.execute("SELECT * FROM assessments WHERE sha256 = ? AND city_code = ?", [sha256, city_code])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return _record_from_row(dict(zip(names, row))) if row else None


def latest_records(con) -> tuple[list[dict], list[dict]]:
    """The latest version of every document in the warehouse, as records and their provenance."""
    cursor = con.execute("SELECT * FROM latest_assessments ORDER BY city_code, assessment_number, kind, sha256")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    records = [_record_from_row(row) for row in rows]
    documents = [{"sha256": row["sha256"], "city_code": row["city_code"],
                  "source": row.get("last_url") or row.get("url") or row["sha256"]} for row in rows]
    return records, documents


FINDING_COLUMNS = ("finding_id", "run_id", "sha256", "city_code", "rule", "family", "severity", "message",
                   "source", "organization", "assessment_number", "title", "evidence", "finding_key",
                   "first_seen_run", "last_seen_run", "pages")
# A finding seen again keeps what identifies it and its first_seen_run; the rest is this run's.
FINDING_UPDATE = ", ".join(f"{column} = staged.{column}" for column in (
    "run_id", "severity", "message", "source", "organization", "assessment_number", "title", "evidence",
    "last_seen_run", "pages"))


def evidence_pages(evidence: dict) -> list[int]:
    """The pages the evidence's values were read on, each once, smallest first."""
    return sorted({p for p in (evidence.get("pages") or {}).values() if isinstance(p, int)})


def check_warehouse(con, run_id: str, *, today: date | None = None,
                    data_docs_dir: Path | None = None) -> dict:
    """Check the latest version of every document; upsert the findings; build the Data Docs.

    Re-running the same run is harmless: a finding's id is fixed by document, rule and key, and
    its first_seen_run is kept. A finding not seen again keeps its old last_seen_run (closed).
    """
    started = time.monotonic()
    records, documents = latest_records(con)
    findings, docs_index = _findings(records, documents, today, data_docs_dir)
    rows = [(f["finding_id"], run_id, f["sha256"], f["city_code"], f["rule"], f["family"], f["severity"],
             f["message"], f["source"], f["organization"], f["assessment_number"], f["title"],
             json.dumps(f["evidence"], ensure_ascii=False, default=str), f["key"], run_id, run_id,
             evidence_pages(f["evidence"]))
            for f in findings]
    # A finding's id names the PDF's bytes, not the city: a PDF two cities link is one finding.
    rows = list({row[0]: row for row in rows}.values())

    def write(con) -> None:
        merge_rows(con, "findings", FINDING_COLUMNS, rows, update=FINDING_UPDATE)
        # checked_at marks this run's findings as the current ones (the open_findings view).
        record_run_step(con, run_id, "check", seconds=round(time.monotonic() - started, 3),
                        counts={"findings": len(findings)})

    write_transaction(con, write, describe=f"writing the findings of run {run_id}")
    return {
        "run_id": run_id,
        "documents": len(records),
        "findings": len(findings),
        "by_rule": dict(sorted(Counter(f["rule"] for f in findings).items())),
        "by_severity": dict(sorted(Counter(f["severity"] for f in findings).items())),
        "data_docs": docs_index,
    }
