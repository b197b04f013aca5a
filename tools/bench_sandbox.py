"""The parse sandbox's own cost, against a baseline measured in the same run.

    .venv/bin/python tools/bench_sandbox.py [--repeat R] [PDF ...]

Parses the same PDFs (by default every text and scanned PDF of the demo corpus) three ways, each
in a fresh process so the CPU figures are its own:

- **in-process**: ``transform.parse.parse_pdf`` in the measuring process, no sandbox: the parse's
  own cost, the floor;
- **interpreter per PDF**: ``transform.sandbox.parse_pdf_limited`` for each file, a new sandbox
  (interpreter, imports) every time: what the night paid before the zygote;
- **zygote**: one ``transform.sandbox.Sandbox`` for all of them, each PDF in a child forked from
  it: what ``piawatch.pipeline.parse_batch_step`` does now.

Prints PDFs per second (wall) and CPU seconds (the process and every child it waited for) for
each, their ratios to the interpreter-per-PDF baseline, and checks that the three give the same
records. ``--repeat R`` runs each way R times and prints the median and range.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tools.bench_scale import spread  # noqa: E402 - the median and range, as every bench prints them

CORPUS = PROJECT_ROOT / "demo" / "corpus"
WAYS = ("in-process", "interpreter per PDF", "zygote")

# Run in a fresh interpreter per way: the imports' cost counts where it is paid (the in-process
# way pays them once, inside its measurement, as the pipeline's task would).
_MEASURE = """
import json, resource, sys, time
paths, way = json.loads(sys.argv[1]), sys.argv[2]

def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

def outcome(parse, path):
    try:
        return parse(path)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"

started, cpu_started = time.perf_counter(), cpu()
if way == "in-process":
    from transform.parse import parse_pdf
    records = [outcome(parse_pdf, p) for p in paths]
elif way == "interpreter per PDF":
    from transform.sandbox import parse_pdf_limited
    records = [outcome(parse_pdf_limited, p) for p in paths]
else:
    from transform.sandbox import Sandbox
    with Sandbox() as sandbox:  # closed, so its zygote and children are counted
        records = [outcome(sandbox.parse, p) for p in paths]
print(json.dumps({"wall_s": time.perf_counter() - started, "cpu_s": cpu() - cpu_started, "records": records},
                 ensure_ascii=False, default=str))
"""


def default_set() -> list[Path]:
    """Every PDF of the demo corpus that parses to a record: basic, focused and full forms, text
    and scanned."""
    return sorted((CORPUS / "pdf").glob("*.pdf"))


def measure(paths: list[Path], way: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps([str(p) for p in paths]), way],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    return json.loads(done.stdout)


def table(paths: list[Path], runs: dict[str, list[dict]]) -> list[str]:
    """The figures as a Markdown table, ratios against the interpreter-per-PDF baseline's medians."""
    base_wall = statistics.median(r["wall_s"] for r in runs["interpreter per PDF"])
    base_cpu = statistics.median(r["cpu_s"] for r in runs["interpreter per PDF"])
    lines = [f"{len(paths)} PDFs, {len(next(iter(runs.values())))} run(s) each (median, range)",
             "| way | wall s | PDFs/s | × (wall) | CPU s | CPU s a PDF | × (CPU) |", "|---|---|---|---|---|---|---|"]
    for way, measured in runs.items():
        walls, cpus = [r["wall_s"] for r in measured], [r["cpu_s"] for r in measured]
        lines.append(f"| {way} | {spread(walls, '{:.1f}')} | {spread([len(paths) / w for w in walls], '{:.2f}')} | "
                     f"{base_wall / statistics.median(walls):.2f} | {spread(cpus, '{:.1f}')} | "
                     f"{statistics.median(cpus) / len(paths):.3f} | {base_cpu / statistics.median(cpus):.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdfs", nargs="*", type=Path, help="PDFs to parse (default: the demo corpus)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each way, for the spread")
    args = parser.parse_args(argv)
    paths = args.pdfs or default_set()
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    for _ in range(args.repeat):
        for way in WAYS:  # interleaved, so a neighbour's load falls on every way alike
            runs[way].append(measure(paths, way))
    print("\n".join(table(paths, runs)))
    same = all(r["records"] == runs["in-process"][0]["records"] for measured in runs.values() for r in measured)
    print(f"same records every way: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
