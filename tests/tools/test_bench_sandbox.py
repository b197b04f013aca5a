"""tools/bench_sandbox.py: the three ways parse the same PDFs to the same records, and the table's
ratios are against the interpreter-per-PDF baseline (its logic, not its timings)."""

from __future__ import annotations

import importlib.util

from ground.settings import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("bench_sandbox", PROJECT_ROOT / "tools" / "bench_sandbox.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

PDFS = [PROJECT_ROOT / "demo" / "corpus" / "pdf" / name
        for name in ("232017-toyohashi-02-basic.pdf", "111007-saitama-36-basic.pdf")]


def test_every_way_parses_the_same_records_and_the_zygote_way_counts_its_children(capsys):
    assert bench.main([str(p) for p in PDFS]) == 0
    out = capsys.readouterr().out
    assert "same records every way: yes" in out
    rows = {line.split(" | ")[0].strip("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert set(rows) >= set(bench.WAYS)
    # the baseline's ratios are 1 by definition
    assert rows["interpreter per PDF"].split(" | ")[3] == "1.00"
    zygote = bench.measure(PDFS, "zygote")
    assert [r["title"] for r in zygote["records"]] == [r["title"] for r in bench.measure(PDFS, "in-process")["records"]]
    assert zygote["cpu_s"] > 0.3  # the zygote's imports and children are counted once it is closed


def test_the_table_divides_by_the_baseline_medians():
    runs = {"in-process": [{"wall_s": 2.0, "cpu_s": 1.0}], "interpreter per PDF": [{"wall_s": 8.0, "cpu_s": 6.0}],
            "zygote": [{"wall_s": 4.0, "cpu_s": 2.0}, {"wall_s": 3.0, "cpu_s": 1.5}, {"wall_s": 5.0, "cpu_s": 3.0}]}
    lines = bench.table(PDFS, runs)
    assert lines[3] == "| in-process | 2.0 | 1.00 | 4.00 | 1.0 | 0.500 | 6.00 |"
    assert lines[4] == "| interpreter per PDF | 8.0 | 0.25 | 1.00 | 6.0 | 3.000 | 1.00 |"
    assert lines[5] == "| zygote | 4.0 (3.0–5.0) | 0.50 (0.40–0.67) | 2.00 | 2.0 (1.5–3.0) | 1.000 | 3.00 |"
