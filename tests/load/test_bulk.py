"""The bulk loader (rows through Arrow, one statement per table) stores exactly what the row-by-row
loader stored, refuses what it refused, and loads a run twice without change, on both backends.

"Before" is the loader at ``tools/bench_load.BASELINE_REV``, extracted from the repository's own
history with ``git archive`` and run from there in a process of its own, on the same staged files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ground.errors import BadStagedFile
from load.connection import connect
from load.loader import load_run
from tests.conftest import PROJECT_ROOT
from tests.load.test_load_corpus import TRUTH, _corpus_documents, _stage
from tests.load.staged_runs import (CITIES, RUN_1, RUN_2, TABLES, run_1_documents, run_2_documents, sha_of,
                                       snapshot, stage_run)

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
from bench_load import BASELINE_REV, baseline_tree  # noqa: E402  (tools/ is not a package)

CORPUS_RUNS = ("20261123T010000Z", "20261124T010000Z")


def staged_nights(data: Path) -> list[tuple[str, Path, bool]]:
    """(run_id, staging dir, with the registry) of four nights: the demo corpus' truth, then its
    edition-2 republications; the two nights of tests/load/staged_runs (failures that resolve
    and go, a republished PDF, a scan read by OCR on the second night)."""
    documents = _corpus_documents()
    first = [d for d in documents if d["edition"] == 1]
    republished = [d for d in documents if d["edition"] == 2]
    second = [d for d in first if d["url"] not in {d["url"] for d in republished}] + republished
    return [(CORPUS_RUNS[0], _stage(data / "corpus", CORPUS_RUNS[0], first), False),
            (CORPUS_RUNS[1], _stage(data / "corpus", CORPUS_RUNS[1], second), False),
            (RUN_1.replace("20261123", "20261125"), stage_run(data / "demo", RUN_1.replace("20261123", "20261125"),
                                                              run_1_documents()), True),
            (RUN_2.replace("20261124", "20261126"), stage_run(data / "demo", RUN_2.replace("20261124", "20261126"),
                                                              run_2_documents(), dead_link_fixed=True), True)]


# Loads the nights with the loader of the tree it runs in (the baseline's: everything in load.warehouse).
LOAD_NIGHTS = r"""
import json, sys
from pathlib import Path
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from load.warehouse import load_run
nights, cities = json.loads(sys.argv[3]), [SimpleNamespace(**c) for c in json.loads(sys.argv[4])]
for run_id, staging, with_cities in nights:
    load_run(sys.argv[2], run_id, staging, cities=cities if with_cities else None)
"""


def _cities_json() -> str:
    return json.dumps([{"code": c.code, "slug": c.slug, "name": c.name, "prefecture": c.prefecture,
                        "demo": c.demo, "urls": list(c.urls)} for c in CITIES], ensure_ascii=False)


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory):
    """The same four nights loaded by the row-by-row loader and by this one, each into a DuckDB file."""
    if not TRUTH:
        pytest.skip("demo/corpus/truth/*.json is not committed yet")
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("the baseline loader comes from the repository's history: git or .git is missing")
    work = tmp_path_factory.mktemp("bulk")
    try:
        tree = baseline_tree(BASELINE_REV, work / "baseline")
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"revision {BASELINE_REV} is not in this clone (shallow?): {exc.stderr.decode().strip()}")
    nights = staged_nights(work / "data")
    before, after = work / "before.duckdb", work / "after.duckdb"
    loaded = subprocess.run([sys.executable, "-c", LOAD_NIGHTS, str(tree), str(before),
                             json.dumps([(r, str(s), c) for r, s, c in nights]), _cities_json()],
                            cwd=tree, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    for run_id, staging, with_cities in nights:
        load_run(after, run_id, staging, cities=CITIES if with_cities else None)
    return before, after, nights


def test_the_bulk_loader_stores_exactly_what_the_row_by_row_loader_stored(before_and_after):
    before, after, _ = before_and_after
    old, new = snapshot(before), snapshot(after)
    for table in TABLES:
        assert new[table] == old[table], table
    assert len(new["assessments"]) > 60 and len(new["risk_answers"]) > 1000 and new["change_rows"]
    assert new["assessment_files"] and new["file_outsourcing"] and new["failures"]


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_loading_the_nights_again_changes_nothing(before_and_after, backend, tmp_path, request):
    _, after, nights = before_and_after
    target = after
    if backend == "ducklake":
        target = request.getfixturevalue("lake")
        for run_id, staging, with_cities in nights:
            load_run(target, run_id, staging, cities=CITIES if with_cities else None)
    loaded = snapshot(target)
    for run_id, staging, with_cities in nights[-1:]:
        with connect(target, read_only=True) as con:
            recorded = con.execute("SELECT assessments_loaded, pages FROM runs WHERE run_id = ?", [run_id]).fetchone()
        counts = load_run(target, run_id, staging, cities=CITIES if with_cities else None)
        assert (counts["assessments_loaded"], counts["pages"]) == recorded
    assert snapshot(target) == loaded


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_a_run_that_would_repeat_a_key_is_refused_whole(backend, tmp_path, request):
    """A child row left behind (its assessment is not there) collides with the record the run
    brings: the integrity check refuses the commit and nothing of the run is stored."""
    db = tmp_path / "w.duckdb" if backend == "duckdb" else request.getfixturevalue("lake")
    sha = sha_of("271403-sakai-01-full")
    with connect(db) as con:
        con.execute("INSERT INTO risk_answers (sha256, city_code, answer_index, section) VALUES (?, '271403', 1, 'x')",
                    [sha])
    before = snapshot(db)
    with pytest.raises(BadStagedFile, match=r"risk_answers: 2 rows with key \(sha256, city_code, answer_index\)"):
        load_run(db, RUN_1, stage_run(tmp_path / "data", RUN_1, run_1_documents()), cities=CITIES)
    assert snapshot(db) == before
