"""Records → the pandas frames the Great Expectations suites validate.

Both entry points build these frames from records (``check_records`` from parser output,
``check_warehouse`` from the warehouse's latest versions turned back into records), so every rule
runs through one path. Columns derived here (the threshold rule's result, the comment period's
length, the cross-document lookup) are what the core expectations compare against.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ground.schema import FIELDS, THRESHOLD_RESULTS
from quality import threshold
from quality.rules import STALE_AFTER_YEARS, risk_question_kind

DATE_FIELDS = tuple(f.name for f in FIELDS if f.json_type == "date")
SCALAR_FIELDS = tuple(f.name for f in FIELDS if f.json_type not in ("list", "object"))
KIND_FIELDS = {kind: tuple(f.name for f in FIELDS if kind in f.kinds) for kind in threshold.KIND_WEIGHT}

# The frame a document's rows are keyed by: one row per document, or one per list item.
INDEX_COLUMNS = {
    "documents": ["doc_id"],
    "changes": ["doc_id", "row"],
    "reviews": ["doc_id", "row"],
    "risk_answers": ["doc_id", "row"],
    "files": ["doc_id", "row"],
    "field_reads": ["doc_id", "field"],
}


def as_date(value) -> date | None:
    """ISO text (parser output) or a date (warehouse) → date; blank → None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def city_key(record: dict) -> str | None:
    """The city a document belongs to: its 団体コード when known (warehouse), else the office.

    ``piawatch check`` gets bare parser output, which has no 団体コード; 評価書番号 are numbered
    per 評価実施機関, so the office's name groups the documents of one plan just as well.
    """
    return record.get("city_code") or record.get("organization")


def five_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - STALE_AFTER_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - STALE_AFTER_YEARS, day=28)


def comment_days(start: date | None, end: date | None) -> int | None:
    """Length of the comment period counting both ends (「6月8日から7月7日まで」 is 30 days)."""
    if start is None or end is None:
        return None
    return (end - start).days + 1


def required_document_present(record: dict, plans: dict) -> bool | None:
    """For a basic document: does its city have the heavier document its stated result requires?

    None where the question does not arise (other kinds, a result needing nothing more, an ended
    task, or no city/number to look under).
    """
    required = threshold.kind_required_by(record.get("threshold_result"))
    if record.get("kind") != "basic" or required is None or record.get("ended_on"):
        return None
    plan = (city_key(record), record.get("assessment_number"))
    if None in plan:
        return None
    return any(threshold.kind_satisfies(kind, required) for kind in plans.get(plan, ()))


def document_row(doc_id: str, record: dict, plans: dict, today: date) -> dict:
    row = {"doc_id": doc_id}
    for name in SCALAR_FIELDS:
        value = record.get(name)
        row[name] = as_date(value) if name in DATE_FIELDS else value
    row["is_draft"] = bool(record.get("is_draft"))
    kind = record.get("kind")
    stated = row["threshold_result"]
    # A stated result that needs nothing beyond the basic document weighs as much as "basic".
    stated_weight = (threshold.KIND_WEIGHT[threshold.kind_required_by(stated) or "basic"]
                     if stated in THRESHOLD_RESULTS else None)
    row.update({
        "expected_threshold_result": threshold.expected_result(
            kind, row["subject_count_band"], row["handler_count_500_or_more"],
            row["serious_incident_past_year"]),
        # Weights, so that "the kind is at least as heavy as its stated result requires" is a
        # pair comparison.
        "kind_weight": threshold.KIND_WEIGHT.get(kind),
        "stated_result_kind_weight": stated_weight,
        "required_document_present": required_document_present(record, plans),
        "public_comment_days": comment_days(row["public_comment_start"], row["public_comment_end"]),
        "public_comment_last_day": row["public_comment_end"] or row["public_comment_start"],
        "third_party_review_count": len(record.get("third_party_review_dates") or []),
        "stale_before": five_years_before(today),
    })
    return row


def kinds_by_plan(records: list[dict]) -> dict[tuple, set]:
    """(city, 評価書番号) → the kinds of document found for it."""
    plans: dict[tuple, set] = {}
    for record in records:
        plans.setdefault((city_key(record), record.get("assessment_number")), set()).add(record.get("kind"))
    return plans


def build_frames(records: list[dict], today: date) -> dict[str, pd.DataFrame]:
    """One frame per validated table; ``doc_id`` is the record's position in ``records``."""
    plans = kinds_by_plan(records)

    rows = {name: [] for name in INDEX_COLUMNS}
    for i, record in enumerate(records):
        doc_id = str(i)
        published_on = as_date(record.get("published_on"))
        rows["documents"].append(document_row(doc_id, record, plans, today))
        for n, change in enumerate(record.get("changes") or []):
            rows["changes"].append({"doc_id": doc_id, "row": n, "date": as_date(change.get("date")),
                                    "timing": change.get("timing"), "published_on": published_on})
        for n, day in enumerate(record.get("third_party_review_dates") or []):
            rows["reviews"].append({"doc_id": doc_id, "row": n, "date": as_date(day),
                                    "published_on": published_on})
        for n, answer in enumerate(record.get("risk_answers") or []):
            rows["risk_answers"].append({"doc_id": doc_id, "row": n, "section": answer.get("section"),
                                         "question": answer.get("question"),
                                         "question_kind": risk_question_kind(answer.get("question")),
                                         "answer": answer.get("answer")})
        for n, file in enumerate(record.get("files") or []):
            rows["files"].append({"doc_id": doc_id, "row": n, "name": file.get("name"),
                                  "subject_band": file.get("subject_band")})
        unread = set((record.get("source") or {}).get("unread_fields") or [])
        for field in sorted(set(KIND_FIELDS.get(record.get("kind"), ())) | unread):
            rows["field_reads"].append({"doc_id": doc_id, "field": field, "read": field not in unread})

    frames = {}
    for name, table_rows in rows.items():
        columns = list(table_rows[0]) if table_rows else INDEX_COLUMNS[name]
        # object dtype keeps None as None and dates as dates, so GX compares them as Python does.
        frames[name] = pd.DataFrame(table_rows, columns=columns, dtype=object)
    return frames
