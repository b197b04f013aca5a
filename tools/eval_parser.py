"""Field-level accuracy of the parser against the corpus truth.

    .venv/bin/python tools/eval_parser.py [--corpus demo/corpus] [--json] [--show-errors N]
                                          [--skip-ocr] [ID ...]

Parses every demo/corpus/pdf/<id>.pdf, compares each CONTRACT field with
demo/corpus/truth/<id>.json and prints accuracy per field and per kind, and for the cover and
threshold fields separately on text and OCR documents (the targets: 100 % on text PDFs, ≥ 95 %
on OCR). A list field counts as right only when the whole list equals the truth. A field the
corpus manifest plants as unreadable (extraction.unread_section) is right when the parser reports
it unread and leaves it null.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from transform.parse import parse_pdf  # noqa: E402
from transform.record import FIELD_NAMES  # noqa: E402

COVER_FIELDS = ("kind", "assessment_number", "title", "organization", "published_on", "form_version",
                "is_draft", "ended_on")
THRESHOLD_FIELDS = ("subject_count_band", "subject_count_as_of", "handler_count_500_or_more",
                    "serious_incident_past_year", "serious_incident_past_3_years", "threshold_result",
                    "threshold_result_voluntary")
COMPARED_FIELDS = tuple(name for name in FIELD_NAMES if name != "source")


def expected_unread(corpus: Path) -> dict[str, set[str]]:
    """Fields the corpus manifest plants as unreadable (extraction.unread_section), per document:
    the truth holds their printed values, the parser is expected to report them unread."""
    manifest = corpus / "manifest.yaml"
    if not manifest.exists():
        return {}
    import yaml

    documents = (yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}).get("documents") or {}
    return {doc_id: {name for entry in entries or [] if entry.get("rule") == "extraction.unread_section"
                     for name in entry.get("fields") or []}
            for doc_id, entries in documents.items()}


# A field read together with a planted-unread one is unknown with it (not itself reported).
DERIVED = {"threshold_result_voluntary": "threshold_result"}


def field_right(record: dict, truth: dict, name: str, planted_unread: set[str]) -> bool:
    if name in planted_unread:
        return record.get(name) in (None, []) and name in record["source"].get("unread_fields", [])
    if DERIVED.get(name) in planted_unread:
        return record.get(name) is None
    return record.get(name) == truth.get(name)


def evaluate(corpus: Path, ids=None, skip_ocr: bool = False) -> dict:
    """{"documents": [{id, kind, ocr, error, fields: {name: bool}}], "mismatches": [...]} over the
    corpus documents (or only `ids`); skip_ocr leaves out the scanned ones (minutes of OCR)."""
    documents, mismatches = [], []
    planted = expected_unread(corpus)
    for truth_path in sorted((corpus / "truth").glob("*.json")):
        pdf_path = corpus / "pdf" / f"{truth_path.stem}.pdf"
        if not pdf_path.exists() or (ids is not None and truth_path.stem not in ids):
            continue
        if skip_ocr and "scanned" in truth_path.stem:
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        entry = {"id": truth_path.stem, "kind": truth["kind"], "ocr": False, "error": None, "fields": {}}
        try:
            record = parse_pdf(pdf_path)
        except Exception as exc:  # a failed parse counts every field as wrong, and is reported
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["fields"] = {name: False for name in COMPARED_FIELDS}
            documents.append(entry)
            continue
        entry["ocr"] = bool(record["source"].get("ocr"))
        entry["unexpected_unread"] = sorted(set(record["source"].get("unread_fields") or [])
                                            - planted.get(entry["id"], set()))
        if record["source"].get("pages") != truth.get("source", {}).get("pages"):
            mismatches.append({"id": entry["id"], "field": "source.pages",
                               "parsed": record["source"].get("pages"), "truth": truth["source"].get("pages")})
        for name in COMPARED_FIELDS:
            right = field_right(record, truth, name, planted.get(entry["id"], set()))
            entry["fields"][name] = right
            if not right:
                mismatches.append({"id": entry["id"], "field": name, "parsed": record.get(name),
                                   "truth": truth.get(name)})
        documents.append(entry)
    return {"documents": documents, "mismatches": mismatches}


def accuracy(documents: list[dict], fields, predicate=lambda d: True) -> tuple[int, int]:
    right = total = 0
    for document in documents:
        if not predicate(document):
            continue
        for name in fields:
            total += 1
            right += bool(document["fields"].get(name))
    return right, total


def summary(result: dict) -> dict:
    documents = result["documents"]
    per_field = {name: accuracy(documents, (name,)) for name in COMPARED_FIELDS}
    per_kind = {kind: accuracy(documents, COMPARED_FIELDS, lambda d, k=kind: d["kind"] == k)
                for kind in ("basic", "focused", "full")}
    key_fields = COVER_FIELDS + THRESHOLD_FIELDS
    return {
        "documents": len(documents),
        "failed": [d["id"] + ": " + d["error"] for d in documents if d["error"]],
        "unexpected_unread": {d["id"]: d["unexpected_unread"] for d in documents if d.get("unexpected_unread")},
        "all_fields": accuracy(documents, COMPARED_FIELDS),
        "per_field": per_field,
        "per_kind": per_kind,
        "cover_threshold_text": accuracy(documents, key_fields, lambda d: not d["ocr"]),
        "cover_threshold_ocr": accuracy(documents, key_fields, lambda d: d["ocr"]),
    }


def _percent(pair: tuple[int, int]) -> str:
    right, total = pair
    return f"{100 * right / total:6.2f}% ({right}/{total})" if total else "   n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "demo" / "corpus")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--show-errors", type=int, default=20, metavar="N",
                        help="print the first N mismatching fields (default 20)")
    parser.add_argument("--skip-ocr", action="store_true", help="leave the scanned documents out")
    parser.add_argument("ids", nargs="*", help="only these document ids")
    args = parser.parse_args(argv)
    result = evaluate(args.corpus, set(args.ids) or None, args.skip_ocr)
    report = summary(result)
    if args.json:
        print(json.dumps({**report, "mismatches": result["mismatches"][:args.show_errors]},
                         ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"documents: {report['documents']}   failed to parse: {len(report['failed'])}")
    for failure in report["failed"]:
        print(f"  FAILED {failure}")
    for doc_id, names in report["unexpected_unread"].items():
        print(f"  unread beyond the manifest: {doc_id}: {', '.join(names)}")
    print(f"all fields                 {_percent(report['all_fields'])}")
    print(f"cover+threshold, text PDFs {_percent(report['cover_threshold_text'])}")
    print(f"cover+threshold, OCR PDFs  {_percent(report['cover_threshold_ocr'])}")
    print("per kind:")
    for kind, pair in report["per_kind"].items():
        print(f"  {kind:8} {_percent(pair)}")
    print("per field:")
    for name, pair in report["per_field"].items():
        print(f"  {name:32} {_percent(pair)}")
    for mismatch in result["mismatches"][:args.show_errors]:
        parsed = json.dumps(mismatch["parsed"], ensure_ascii=False, default=str)[:300]
        truth = json.dumps(mismatch["truth"], ensure_ascii=False, default=str)[:300]
        print(f"- {mismatch['id']} {mismatch['field']}\n    parsed {parsed}\n    truth  {truth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
