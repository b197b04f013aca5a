"""Spec → the CONTRACT record a perfect parser would return for the rendered PDF.

Built from the spec and its layout (for page numbers), never by reading the PDF, so a parser can
be scored against it. Strings are NFKC with whitespace collapsed, dates ISO, unknown is null.
"""

from __future__ import annotations

import re

from demo.corpus.documents import Layout, lay_out
from demo.corpus.wording import contract_text
from ground.schema import FIELDS, empty_record
from ground.vocabulary import TIMING_TEXT

DRAFT_MARK = re.compile(r"[（(](素案|案)[）)]")
KIND_ONLY = {f.name: f.kinds for f in FIELDS}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _file(file: dict) -> dict:
    return {
        "name": contract_text(file["name"]),
        "subject_band": file.get("subject_band"),
        "record_items_count": contract_text(file.get("record_items")),
        "held_since": _iso(file.get("held_since")),
        "outsourcing": [{"contractor": contract_text(o.get("contractor")),
                         "handler_count": contract_text(o.get("handlers")),
                         "subcontracting": bool(o.get("subcontracting"))}
                        for o in file.get("outsourcing") or []],
        "provisions": ([{"kind": "provision", "recipient": contract_text(p["recipient"])}
                        for p in file.get("provisions") or []]
                       + [{"kind": "transfer", "recipient": contract_text(p["recipient"])}
                          for p in file.get("transfers") or []]),
    }


def _change(change: dict) -> dict:
    timing = change.get("timing")
    return {
        "date": _iso(change.get("date")),
        "item": contract_text(change.get("item")),
        "before": contract_text(change.get("before")),
        "after": contract_text(change.get("after")),
        # the record keeps pre/post; anything else is what the form printed (a choice finding)
        "timing": timing if timing in TIMING_TEXT or timing is None else contract_text(timing),
        "note": contract_text(change.get("note")),
    }


def truth_record(spec: dict, layout: Layout | None = None) -> dict:
    """The record for one spec (its layout is computed when not given)."""
    layout = layout or lay_out(spec)
    kind = spec["kind"]
    comment = spec.get("public_comment") or {}
    review = spec.get("third_party_review") or {}
    record = empty_record()
    record.update({
        "kind": kind,
        "assessment_number": spec["assessment_number"],
        "title": contract_text(spec["title"]),
        "organization": contract_text(spec["organization"]),
        "published_on": _iso(spec.get("published_on")),
        "form_version": contract_text(spec.get("form_version")),
        "is_draft": bool(DRAFT_MARK.search(spec["title"])),
        "ended_on": _iso(spec.get("ended_on")),
        "business_name": contract_text(spec.get("business_name")),
        "subject_count_band": spec.get("subject_count"),
        "subject_count_as_of": _iso(spec.get("subject_count_as_of")),
        "handler_count_500_or_more": spec.get("handlers_500_or_more"),
        "serious_incident_past_year": spec.get("serious_incident_past_year"),
        "serious_incident_past_3_years": spec.get("serious_incident_past_3_years"),
        "threshold_result": spec.get("threshold_result"),
        "threshold_result_voluntary": (bool(spec.get("threshold_result_voluntary"))
                                       if spec.get("threshold_result") else None),
        "submitted_kinds": list(spec.get("submitted_kinds") or []),
        "basic_assessment_date": _iso(spec.get("basic_assessment_date")),
        "public_comment_start": _iso(comment.get("start")),
        "public_comment_end": _iso(comment.get("end")),
        "public_comment_shortened_reason": contract_text(comment.get("shortened_reason")) if kind == "full" else None,
        "third_party_review_dates": [_iso(d) for d in review.get("dates") or []],
        "files": [_file(f) for f in spec.get("files") or []],
        "changes": [_change(c) for c in spec.get("changes") or []],
        "risk_answers": [{"section": contract_text(a["section"]), "question": contract_text(a["question"]),
                          "answer": contract_text(a["answer"]), "page": a["page"]}
                         for a in layout.risk_answers],
        "source": {"pages": layout.pages},
    })
    # A field the kind's form does not have is unknown, whatever the spec says.
    for name, kinds in KIND_ONLY.items():
        if kind not in kinds:
            record[name] = [] if isinstance(record[name], list) else None
    return record
