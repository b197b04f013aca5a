"""Field-level accuracy of the parser against the corpus truth, per layout family.

    .venv/bin/python tools/eval_parser.py [--family NAME ...] [--json] [--show-errors N]
                                          [--skip-ocr] [--workers N] [--corpus DIR] [ID ...]

Parses the PDFs of every layout family (demo/corpus/README.md: grid, sheet, flow, landscape,
stacked, bold, and the scans grid-scan, stacked-scan), main and wording specs, and compares the
records with their truths. It prints accuracy per family and field group (cover, threshold,
files, changes, risk answers), per family overall, the scans separately, and the
leave-one-family-out figure: the held-out family ``sheet``, whose files the parser's rules were
never written against. Families whose PDFs are written on demand (sheet, landscape, bold) are
built first when missing (LibreOffice for sheet: skipped with a note when it is not installed).

How fields count: a cover or threshold field is right when it equals the truth; files, change
rows and risk answers count one by one (an item is right when an equal item is in the record,
each used once; an item the record has beyond the truth counts as one more wrong). A field the
corpus manifest plants as unreadable (extraction.unread_section) is right when the parser
reports it unread and leaves it null. The per-field lines and ``all fields`` keep the older,
stricter measure (a list field is right only when the whole list equals the truth).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from ground.schema import FIELD_NAMES  # noqa: E402

CORPUS = PROJECT_ROOT / "demo" / "corpus"
COVER_FIELDS = ("kind", "assessment_number", "title", "organization", "published_on", "form_version",
                "is_draft", "ended_on")
THRESHOLD_FIELDS = ("subject_count_band", "subject_count_as_of", "handler_count_500_or_more",
                    "serious_incident_past_year", "serious_incident_past_3_years", "threshold_result",
                    "threshold_result_voluntary")
COMPARED_FIELDS = tuple(name for name in FIELD_NAMES if name != "source")
# field group -> fields; the list groups count item by item
GROUPS = {"cover": COVER_FIELDS, "threshold": THRESHOLD_FIELDS, "files": ("files",),
          "changes": ("changes",), "risk answers": ("risk_answers",)}
ITEM_GROUPS = {"files", "changes", "risk answers"}
HELD_OUT = "sheet"
# A field read together with a planted-unread one is unknown with it (not itself reported).
DERIVED = {"threshold_result_voluntary": "threshold_result"}


def families(corpus: Path = CORPUS) -> list[dict]:
    """Every layout family with its (collection, pdf dir, truth dir) pairs, scans last:
    [{"name", "scan", "held_out", "dirs": [(collection, pdf_dir, truth_dir), ...]}]."""
    from demo.corpus.families import FAMILIES, scan_families

    out = []
    for name in list(FAMILIES) + scan_families():
        dirs = []
        for collection, base in (("corpus", corpus), ("wording", corpus / "wording")):
            if collection == "corpus" and name == "grid":
                dirs.append((collection, base / "pdf", base / "truth"))
            else:
                dirs.append((collection, base / "families" / name / "pdf", base / "families" / name / "truth"))
        out.append({"name": name, "scan": name.endswith("-scan"), "held_out": name == HELD_OUT, "dirs": dirs})
    return out


def expected_unread(corpus: Path = CORPUS) -> dict[str, set[str]]:
    """Fields the corpus manifests plant as unreadable (extraction.unread_section), per document:
    the truth holds their printed values, the parser is expected to report them unread."""
    import yaml

    planted = {}
    for manifest in (corpus / "manifest.yaml", corpus / "wording" / "manifest.yaml"):
        if not manifest.exists():
            continue
        documents = (yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}).get("documents") or {}
        for doc_id, entries in documents.items():
            planted[doc_id] = {name for entry in entries or [] if entry.get("rule") == "extraction.unread_section"
                               for name in entry.get("fields") or []}
    return planted


def field_right(record: dict, truth: dict, name: str, planted_unread: set[str]) -> bool:
    if name in planted_unread:
        return record.get(name) in (None, []) and name in record["source"].get("unread_fields", [])
    if DERIVED.get(name) in planted_unread:
        return record.get(name) is None
    return record.get(name) == truth.get(name)


def items_right(parsed: list | None, truth: list) -> tuple[int, int]:
    """(items of the truth found in the record, truth items + record items beyond them)."""
    remaining = list(parsed or [])
    right = 0
    for item in truth:
        if item in remaining:
            remaining.remove(item)
            right += 1
    return right, len(truth) + len(remaining)


def _outcome(call) -> tuple[dict | None, str | None]:
    try:
        return call(), None
    except Exception as exc:  # a failed parse counts every field as wrong, and is reported
        return None, f"{type(exc).__name__}: {exc}"


def _parse_all(paths: list[str], workers: int) -> list[tuple[dict | None, str | None]]:
    """(record, error) per path; parse_pdf itself goes to the pool (this module may be loaded
    by path, so nothing of it can be pickled)."""
    from transform.parse import parse_pdf

    if workers <= 1 or len(paths) <= 1:
        return [_outcome(lambda p=path: parse_pdf(p)) for path in paths]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(parse_pdf, path) for path in paths]
        return [_outcome(future.result) for future in futures]


def _jobs(corpus: Path, names, ids, skip_ocr: bool) -> list[tuple[str, str, Path, Path]]:
    jobs = []
    for family in families(corpus):
        if names is not None and family["name"] not in names:
            continue
        if skip_ocr and family["scan"]:
            continue
        for _, pdf_dir, truth_dir in family["dirs"]:
            for truth_path in sorted(truth_dir.glob("*.json")):
                doc_id = truth_path.stem
                pdf_path = pdf_dir / f"{doc_id}.pdf"
                if not pdf_path.exists() or (ids is not None and doc_id not in ids):
                    continue
                if skip_ocr and "scanned" in doc_id:
                    continue
                jobs.append((family["name"], doc_id, pdf_path, truth_path))
    return jobs


def build_missing(corpus: Path = CORPUS, names=None, log=print) -> list[str]:
    """Write the PDFs of the on-demand families (not committed) that are missing; returns notes
    about families that could not be built (LibreOffice missing)."""
    if corpus.resolve() != CORPUS.resolve():
        return []
    from demo.corpus.build import ensure_pdfs
    from demo.corpus.documents import COLLECTIONS
    from demo.corpus.families import FAMILIES, ON_DEMAND
    from demo.corpus.spreadsheet import soffice

    notes = []
    for name in ON_DEMAND:
        if names is not None and name not in names:
            continue
        if FAMILIES[name].writer == "calc" and soffice() is None:
            notes.append(f"{name}: not built (LibreOffice is not installed)")
            continue
        for collection in COLLECTIONS:
            written = ensure_pdfs(name, collection)
            if written:
                log(f"built {len(written)} {name} PDFs ({collection})")
    return notes


def evaluate(corpus: Path = CORPUS, ids=None, skip_ocr: bool = False, *, family_names=("grid",),
             workers: int = 1) -> dict:
    """{"documents": [{id, family, kind, ocr, error, fields: {name: bool}, groups: {group: (right, total)}}],
    "mismatches": [...]} over the families named (None: all) or only `ids`; skip_ocr leaves out the
    scanned documents (minutes of OCR). Parses in a pool of `workers` processes."""
    planted = expected_unread(corpus)
    jobs = _jobs(corpus, None if family_names is None else set(family_names), ids, skip_ocr)
    results = _parse_all([str(pdf) for _, _, pdf, _ in jobs], workers)
    documents, mismatches = [], []
    for (family, doc_id, _, truth_path), (record, error) in zip(jobs, results):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        unread = planted.get(doc_id, set())
        entry = {"id": doc_id, "family": family, "kind": truth["kind"], "ocr": False, "error": error,
                 "fields": {}, "groups": {}}
        if record is None:
            entry["fields"] = {name: False for name in COMPARED_FIELDS}
            for group, names in GROUPS.items():
                if group in ITEM_GROUPS:
                    entry["groups"][group] = (0, len(truth.get(names[0]) or []))
                else:
                    entry["groups"][group] = (0, len(names))
            documents.append(entry)
            continue
        entry["ocr"] = bool(record["source"].get("ocr"))
        entry["unexpected_unread"] = sorted(set(record["source"].get("unread_fields") or []) - unread)
        if record["source"].get("pages") != truth.get("source", {}).get("pages"):
            mismatches.append({"id": doc_id, "family": family, "field": "source.pages",
                               "parsed": record["source"].get("pages"), "truth": truth["source"].get("pages")})
        for name in COMPARED_FIELDS:
            right = field_right(record, truth, name, unread)
            entry["fields"][name] = right
            if not right:
                mismatches.append({"id": doc_id, "family": family, "field": name, "parsed": record.get(name),
                                   "truth": truth.get(name)})
        for group, names in GROUPS.items():
            if group in ITEM_GROUPS:
                name = names[0]
                entry["groups"][group] = ((int(entry["fields"][name]), 1) if name in unread
                                          else items_right(record.get(name), truth.get(name) or []))
            else:
                entry["groups"][group] = (sum(entry["fields"][n] for n in names), len(names))
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


def group_accuracy(documents: list[dict], groups, predicate=lambda d: True) -> tuple[int, int]:
    right = total = 0
    for document in documents:
        if predicate(document):
            for group in groups:
                r, t = document["groups"].get(group, (0, 0))
                right, total = right + r, total + t
    return right, total


def summary(result: dict) -> dict:
    documents = result["documents"]
    key_fields = COVER_FIELDS + THRESHOLD_FIELDS
    names = list(dict.fromkeys(d.get("family", "grid") for d in documents))
    per_family = {}
    for name in names:
        in_family = (lambda d, n=name: d.get("family", "grid") == n)
        per_family[name] = {
            "documents": sum(map(in_family, documents)),
            **{group: group_accuracy(documents, (group,), in_family) for group in GROUPS},
            "overall": group_accuracy(documents, GROUPS, in_family),
        }
    scans = [n for n in names if n.endswith("-scan")]
    text_families = [n for n in names if not n.endswith("-scan")]
    return {
        "documents": len(documents),
        "failed": [f"{d.get('family', 'grid')}/{d['id']}: {d['error']}" for d in documents if d["error"]],
        "unexpected_unread": {f"{d.get('family', 'grid')}/{d['id']}" if d.get("family", "grid") != "grid" else d["id"]:
                              d["unexpected_unread"] for d in documents if d.get("unexpected_unread")},
        "all_fields": accuracy(documents, COMPARED_FIELDS),
        "per_field": {name: accuracy(documents, (name,)) for name in COMPARED_FIELDS},
        "per_kind": {kind: accuracy(documents, COMPARED_FIELDS, lambda d, k=kind: d["kind"] == k)
                     for kind in ("basic", "focused", "full")},
        "cover_threshold_text": accuracy(documents, key_fields, lambda d: not d["ocr"]),
        "cover_threshold_ocr": accuracy(documents, key_fields, lambda d: d["ocr"]),
        "per_family": per_family,
        "scans_cover_threshold": group_accuracy(
            documents, ("cover", "threshold"), lambda d: d.get("family", "grid") in scans or d["ocr"]),
        "held_out": HELD_OUT if HELD_OUT in per_family else None,
        "others_overall": group_accuracy(
            documents, GROUPS, lambda d: d.get("family", "grid") in text_families and d.get("family") != HELD_OUT),
    }


def _percent(pair: tuple[int, int]) -> str:
    right, total = pair
    return f"{100 * right / total:6.2f}% ({right}/{total})" if total else "   n/a"


def _short(pair: tuple[int, int]) -> str:
    right, total = pair
    return f"{100 * right / total:6.1f}%" if total else "    n/a"


def print_report(report: dict, result: dict, show_errors: int, notes=()) -> None:
    print(f"documents: {report['documents']}   failed to parse: {len(report['failed'])}")
    for note in notes:
        print(f"  {note}")
    for failure in report["failed"][:show_errors]:
        print(f"  FAILED {failure}")
    groups = list(GROUPS)
    print(f"\n{'family':14}{'docs':>5}  " + "".join(f"{g:>14}" for g in groups) + f"{'overall':>14}")
    for name, row in report["per_family"].items():
        label = name + (" *" if name == HELD_OUT else "")
        print(f"{label:14}{row['documents']:>5}  " + "".join(f"{_short(row[g]):>14}" for g in groups)
              + f"{_short(row['overall']):>14}")
    print("  * held out: the parser's rules were never written against this family")
    print(f"\nscans (OCR), cover+threshold  {_percent(report['scans_cover_threshold'])}")
    if report["held_out"]:
        held = report["per_family"][HELD_OUT]
        print(f"leave-one-family-out: {HELD_OUT} (parser rules never written against it): "
              f"cover+threshold {_percent(group_accuracy(result['documents'], ('cover', 'threshold'), lambda d: d.get('family') == HELD_OUT))}, "
              f"risk answers {_percent(held['risk answers'])}, overall {_percent(held['overall'])}; "
              f"the other text families overall {_percent(report['others_overall'])}")
    print(f"\nall fields (whole-field)   {_percent(report['all_fields'])}")
    print(f"cover+threshold, text PDFs {_percent(report['cover_threshold_text'])}")
    print(f"cover+threshold, OCR PDFs  {_percent(report['cover_threshold_ocr'])}")
    for doc_id, names in list(report["unexpected_unread"].items())[:show_errors]:
        print(f"  unread beyond the manifest: {doc_id}: {', '.join(names)}")
    print("per field (whole-field):")
    for name, pair in report["per_field"].items():
        print(f"  {name:32} {_percent(pair)}")
    for mismatch in result["mismatches"][:show_errors]:
        parsed = json.dumps(mismatch["parsed"], ensure_ascii=False, default=str)[:300]
        truth = json.dumps(mismatch["truth"], ensure_ascii=False, default=str)[:300]
        print(f"- {mismatch['family']}/{mismatch['id']} {mismatch['field']}\n    parsed {parsed}\n    truth  {truth}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--family", action="append", metavar="NAME",
                        help="only this layout family (repeatable; default: every family)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--show-errors", type=int, default=20, metavar="N",
                        help="print the first N mismatching fields (default 20)")
    parser.add_argument("--skip-ocr", action="store_true", help="leave the scanned documents out")
    parser.add_argument("--workers", type=int, default=2, help="parser processes (default 2)")
    parser.add_argument("ids", nargs="*", help="only these document ids")
    args = parser.parse_args(argv)
    known = [f["name"] for f in families(args.corpus)]
    for name in args.family or ():
        if name not in known:
            parser.error(f"unknown family {name!r} (known: {', '.join(known)})")
    notes = build_missing(args.corpus, args.family, log=lambda m: print(m, file=sys.stderr))
    result = evaluate(args.corpus, set(args.ids) or None, args.skip_ocr, family_names=args.family,
                      workers=args.workers)
    report = summary(result)
    if args.json:
        print(json.dumps({**report, "notes": notes, "mismatches": result["mismatches"][:args.show_errors]},
                         ensure_ascii=False, indent=1, default=str))
        return 0
    print_report(report, result, args.show_errors, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
