"""OCR accuracy on 300 dpi scans: cover and threshold fields of scanned corpus documents.

    .venv/bin/python tools/eval_ocr.py [--before REV] [--limit N] [--show-errors] [--keep DIR] [ID ...]
    .venv/bin/python tools/eval_ocr.py --corpus-scans [--before REV] [--show-errors]

Each document (default: every demo/corpus/pdf/*-basic.pdf and one full one) is scanned by the
scanned families' copier (demo.corpus.scan.scan_300dpi: 300 dpi, skew up to ±1.5°, speckles,
JPEG) into an image-only PDF of just the pages that hold its cover and threshold fields (the
pages the text parse reads them from), in a temporary directory. --corpus-scans measures the
corpus's own scanned families (demo/corpus/families/*-scan) instead. The scan is parsed with the real parser
(transform.parse.parse_pdf) and compared with demo/corpus/truth/<id>.json, field by field, for
the fields the document's kind has. With --before REV the same scans are also parsed with the
transform/ocr.py of git revision REV, so before and after are measured on the same files in one
run. Prints accuracy and OCR seconds per page.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import pypdfium2  # noqa: E402

CORPUS = PROJECT_ROOT / "demo" / "corpus"

FULL_SAMPLE = ("271403-sakai-01-full",)


@lru_cache(maxsize=1)
def eval_parser():
    """tools/eval_parser.py: the field lists and the field comparison (imports the parser)."""
    spec = importlib.util.spec_from_file_location("eval_parser", PROJECT_ROOT / "tools" / "eval_parser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fields() -> tuple[str, ...]:
    """The cover and threshold fields."""
    return eval_parser().COVER_FIELDS + eval_parser().THRESHOLD_FIELDS


def scan_pages(pdf: Path, pages: list[int], out: Path, seed: str | None = None) -> None:
    """Write a scan of the given 1-based pages of `pdf` (the scanned families' copier,
    demo.corpus.scan.scan_300dpi). Rendered in a fresh interpreter: once transform.pdf has opened
    a PDF, pdfium draws every font a PDF does not embed as boxes (transform.pdf.pin_fonts), and
    the corpus embeds none."""
    done = subprocess.run([sys.executable, __file__, "--render-scan", str(pdf), str(out), seed or pdf.stem,
                           *map(str, pages)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scanning {pdf.name} failed: {done.stderr.strip()[-500:]}")


def _render_scan(pdf: Path, pages: list[int], out: Path, seed: str) -> None:
    from demo.corpus.scan import scan_300dpi

    assert "transform.pdf" not in sys.modules, "render before transform.pdf pins pdfium's fonts"
    with pypdfium2.PdfDocument(str(pdf)) as source:
        chosen = pypdfium2.PdfDocument.new()
        chosen.import_pages(source, [number - 1 for number in pages])
        buffer = io.BytesIO()
        chosen.save(buffer)
        chosen.close()
    out.write_bytes(scan_300dpi(buffer.getvalue(), seed))


def field_pages(pdf: Path) -> list[int]:
    """The pages the text parse reads the cover and threshold fields from."""
    from transform.parse import parse_pdf

    pages = parse_pdf(pdf)["source"]["field_pages"]
    return sorted({page for name, page in pages.items() if name in fields()})


def kind_fields(kind: str) -> list[str]:
    from ground.schema import FIELDS as RECORD_FIELDS

    kinds = {f.name: f.kinds for f in RECORD_FIELDS}
    return [name for name in fields() if kind in kinds[name]]


def score(record: dict, truth: dict) -> dict[str, bool]:
    """Field → right, for the cover and threshold fields the truth's kind has."""
    return {name: eval_parser().field_right(record, truth, name, set()) for name in kind_fields(truth["kind"])}


def ocr_module_at(revision: str):
    """transform/ocr.py as it was at a git revision, as a module."""
    source = subprocess.run(["git", "show", f"{revision}:transform/ocr.py"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"ocr_{revision}")
    exec(compile(source, f"transform/ocr.py@{revision}", "exec"), module.__dict__)
    return module


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the tesseract program runs as one)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(scans: dict[str, tuple[Path, Path]], ocr_module=None) -> tuple[dict[str, dict[str, bool]], dict[str, dict], dict, int]:
    """(per document: field → right, per document: record, {"wall": s, "cpu": s}, pages) with the
    given OCR module in place of transform.ocr (None: the current one). CPU seconds count
    Tesseract wherever it runs (in-process or as a program); on a shared machine they are the
    fairer figure."""
    import transform.parse as parse

    current = parse.ocr
    if ocr_module is not None:
        parse.ocr = ocr_module
    results, records, seconds, pages = {}, {}, {"wall": 0.0, "cpu": 0.0}, 0
    try:
        for doc_id, (scan, truth_path) in scans.items():
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            started, cpu = time.perf_counter(), _cpu_seconds()
            try:
                record = parse.parse_pdf(scan)
            except Exception as exc:  # a scan the parser refuses scores nothing
                record = {"source": {"unread_fields": []}, "error": f"{type(exc).__name__}: {exc}"}
            seconds["wall"] += time.perf_counter() - started
            seconds["cpu"] += _cpu_seconds() - cpu
            with pypdfium2.PdfDocument(str(scan)) as document:
                pages += len(document)
            records[doc_id] = record
            results[doc_id] = score(record, truth) if "error" not in record else {
                name: False for name in kind_fields(truth["kind"])}
    finally:
        parse.ocr = current
    return results, records, seconds, pages


def summary(label: str, results: dict[str, dict[str, bool]], seconds: dict, pages: int) -> str:
    right = sum(sum(r.values()) for r in results.values())
    total = sum(len(r) for r in results.values())
    by_field: dict[str, list[bool]] = {}
    for r in results.values():
        for name, ok in r.items():
            by_field.setdefault(name, []).append(ok)
    lines = [f"{label}: {right}/{total} cover+threshold fields right ({100 * right / max(total, 1):.1f} %), "
             f"{seconds['cpu'] / max(pages, 1):.2f} CPU s/page ({seconds['wall'] / max(pages, 1):.2f} s wall) "
             f"over {pages} pages"]
    lines += [f"    {name:32} {sum(oks)}/{len(oks)}" for name, oks in by_field.items() if not all(oks)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--render-scan"]:  # scan_pages' child process
        pdf, out, seed, *pages = argv[1:]
        _render_scan(Path(pdf), [int(p) for p in pages], Path(out), seed)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="corpus document ids (default: every basic one and a full one)")
    parser.add_argument("--before", help="also measure transform/ocr.py of this git revision on the same scans")
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument("--show-errors", action="store_true", help="print every wrong field with truth and value")
    parser.add_argument("--keep", type=Path, help="write the scans to this directory and keep them")
    parser.add_argument("--corpus-scans", action="store_true",
                        help="measure the corpus's own scans (demo/corpus/families/*-scan) instead of making scans")
    args = parser.parse_args(argv)
    if args.corpus_scans:
        return report(corpus_scans(), args)
    ids = args.ids or sorted(p.stem for p in (CORPUS / "pdf").glob("*-basic.pdf")) + list(FULL_SAMPLE)
    ids = ids[:args.limit] if args.limit else ids
    with tempfile.TemporaryDirectory(prefix="piawatch-scans-") as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        scans = {}
        for doc_id in ids:
            pdf = CORPUS / "pdf" / f"{doc_id}.pdf"
            scans[doc_id] = (directory / f"{doc_id}-scan300.pdf", CORPUS / "truth" / f"{doc_id}.json")
            scan_pages(pdf, field_pages(pdf), scans[doc_id][0])
        return report(scans, args)


def corpus_scans() -> dict[str, tuple[Path, Path]]:
    """family/id -> (scan, truth) of the scanned families the corpus holds."""
    return {f"{pdf.parent.parent.name}/{pdf.stem}": (pdf, pdf.parent.parent / "truth" / f"{pdf.stem}.json")
            for pdf in sorted((CORPUS / "families").glob("*-scan/pdf/*.pdf"))}


def report(scans: dict[str, tuple[Path, Path]], args) -> int:
    runs = [("before " + args.before, ocr_module_at(args.before))] if args.before else []
    runs.append(("after", None))
    for label, module in runs:
        results, records, seconds, pages = measure(scans, module)
        print(summary(label, results, seconds, pages), flush=True)
        if args.show_errors:
            for doc_id, result in results.items():
                truth = json.loads(scans[doc_id][1].read_text(encoding="utf-8"))
                for name, ok in result.items():
                    if not ok:
                        print(f"      {doc_id} {name}: truth {truth.get(name)!r} read "
                              f"{records[doc_id].get(name, records[doc_id].get('error'))!r}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
