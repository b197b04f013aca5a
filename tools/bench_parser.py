"""Parser speed and memory against a baseline measured in the same run.

    .venv/bin/python tools/bench_parser.py [--all] [--json] [PDF ...]

Parses a realistic set (by default: two basic, one focused and three full documents of the demo
corpus, including the longest, plus the 300+ page demo/corpus/broken/large.pdf) with
transform.parse.parse_pdf, and reads the same pages with plain pdfplumber ``extract_text()`` as
the baseline. Each side runs in its own fresh process, so the peak memory (ru_maxrss) is its own.
Prints pages per second for both, their ratio (target ≥ 5×), and the peak memory of parsing the
large PDF alone (target < 500 MB). Scanned documents are left out: OCR speed is Tesseract's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

CORPUS = PROJECT_ROOT / "demo" / "corpus"
LARGE_PDF = CORPUS / "broken" / "large.pdf"
TARGET_SPEEDUP = 5.0
TARGET_PEAK_MB = 500


def default_set(everything: bool) -> list[Path]:
    """Text PDFs of every kind, longest full documents first, and the large PDF."""
    pdfs = sorted(p for p in (CORPUS / "pdf").glob("*.pdf") if "scanned" not in p.stem)
    if not everything:
        by_kind = {kind: [p for p in pdfs if p.stem.split("-")[3] == kind] for kind in ("basic", "focused", "full")}
        by_kind["full"].sort(key=lambda p: p.stat().st_size, reverse=True)
        pdfs = by_kind["basic"][:2] + by_kind["focused"][:1] + by_kind["full"][:3]
    return pdfs + ([LARGE_PDF] if LARGE_PDF.exists() else [])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_worker(side: str, paths: list[str]) -> dict:
    """Read the PDFs one way in this process; pages, seconds and peak memory."""
    if side == "parser":
        from transform.parse import parse_pdf

        started = time.perf_counter()
        pages = sum(parse_pdf(path)["source"]["pages"] for path in paths)
    else:
        import pdfplumber

        started = time.perf_counter()
        pages = 0
        for path in paths:
            with pdfplumber.open(path) as pdf:
                for page in pdf.pages:
                    page.extract_text()
                    page.flush_cache()
                    pages += 1
    return {"side": side, "pages": pages, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def measure(side: str, paths: list[Path]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", side, *map(str, paths)],
                          capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*", type=Path, help="PDFs to read (default: a realistic set)")
    parser.add_argument("--all", action="store_true", help="every text PDF of the corpus")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=("parser", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, [str(p) for p in args.pdfs])))
        return 0
    paths = args.pdfs or default_set(args.all)
    ours = measure("parser", paths)
    baseline = measure("baseline", paths)
    large = measure("parser", [LARGE_PDF]) if LARGE_PDF.exists() else None
    speed = ours["pages"] / ours["seconds"]
    base_speed = baseline["pages"] / baseline["seconds"]
    result = {
        "documents": len(paths), "pages": ours["pages"],
        "parser_pages_per_s": round(speed, 1), "baseline_pages_per_s": round(base_speed, 1),
        "speedup": round(speed / base_speed, 2),
        "parser_peak_mb": round(ours["peak_mb"]), "baseline_peak_mb": round(baseline["peak_mb"]),
        "large_pdf_pages": large and large["pages"], "large_pdf_peak_mb": large and round(large["peak_mb"]),
        "large_pdf_seconds": large and round(large["seconds"], 2),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['documents']} PDFs, {result['pages']} pages")
    print(f"parse_pdf                   {speed:8.1f} pages/s  peak {ours['peak_mb']:6.0f} MB")
    print(f"pdfplumber extract_text()   {base_speed:8.1f} pages/s  peak {baseline['peak_mb']:6.0f} MB")
    print(f"speed ratio parser/baseline {result['speedup']:8.2f}×  (target ≥ {TARGET_SPEEDUP:g}×)")
    if large:
        print(f"large.pdf ({large['pages']} pages): {large['seconds']:.1f} s, peak {large['peak_mb']:.0f} MB "
              f"= {large['peak_mb'] / TARGET_PEAK_MB:.2f} of the {TARGET_PEAK_MB} MB budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
