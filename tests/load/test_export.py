"""Exports (Parquet, CSV, xlsx) and the published read-only copy."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from load.connection import connect
from load.export import export
from tests.load.staged_runs import SITE, TABLES, build_warehouse, sha_of


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_every_table_and_view_readable_back(two_runs, tmp_path, fmt):
    db = two_runs
    out = tmp_path / "export"
    paths = export(db, out, fmt=fmt)
    names = {p.stem for p in paths}
    assert set(TABLES) | {"schema_version", "schema_views", "latest_assessments", "open_findings", "city_summary",
                          "assessment_version_diffs", "document_locations"} == names
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    with connect(db, read_only=True) as con, duckdb.connect() as files:
        for path in paths:
            exported = files.execute(f"SELECT count(*) FROM {reader}('{path}')").fetchone()[0]
            assert exported == con.execute(f"SELECT count(*) FROM {path.stem}").fetchone()[0], path.name
        if fmt == "parquet":
            titles = files.execute(f"SELECT title FROM read_parquet('{out / 'latest_assessments.parquet'}') "
                                   "WHERE organization = '堺市長' ORDER BY kind").fetchall()
            assert titles == [("住民基本台帳に関する事務 基礎項目評価書",), ("住民基本台帳に関する事務 全項目評価書",)]


def test_piawatch_export_command_writes_the_files(two_runs, tmp_path, monkeypatch, capsys):
    from piawatch.cli import main

    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(two_runs))
    assert main(["export", str(tmp_path / "csv"), "--format", "csv", "--no-bom"]) == 0
    printed = capsys.readouterr().out.split()
    assert str(tmp_path / "csv" / "city_summary.csv") in printed
    raw = (tmp_path / "csv" / "city_summary.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    header = next(__import__("csv").reader(raw.decode("utf-8").splitlines()))
    assert header[:5] == ["city_code", "name", "prefecture", "demo", "basic_documents"]


def test_csv_export_fits_a_spreadsheet(two_runs, tmp_path):
    """UTF-8 with a BOM, codes with their leading zero as quoted text, lists as JSON."""
    import csv
    import pandas as pd

    export(two_runs, tmp_path, fmt="csv")
    raw = (tmp_path / "assessments.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    iwaki = next(r for r in rows if r["sha256"] == sha_of("072044-iwaki-01-basic"))
    assert iwaki["city_code"] == "072044"
    assert json.loads(iwaki["submitted_kinds"]) == ["basic", "full"]
    assert iwaki["third_party_review_dates"] == ""  # not on the basic form: NULL, not []
    assert '"072044"' in raw.decode("utf-8-sig")
    frame = pd.read_csv(tmp_path / "municipalities.csv", encoding="utf-8-sig", dtype={"city_code": str})
    assert "072044" in set(frame["city_code"]) and frame.columns[0] == "city_code"
    assert json.loads(frame.loc[frame["city_code"] == "072044", "urls"].iloc[0]) == [f"{SITE}/iwaki/list.html"]


def test_parquet_export_reads_in_pandas(two_runs, tmp_path):
    import pandas as pd

    export(two_runs, tmp_path, fmt="parquet")
    frame = pd.read_parquet(tmp_path / "latest_assessments.parquet")
    iwaki = frame[frame["sha256"] == sha_of("072044-iwaki-01-basic")].iloc[0]
    assert iwaki["city_code"] == "072044"
    assert list(iwaki["submitted_kinds"]) == ["basic", "full"]
    assert iwaki["published_on"] == date(2024, 9, 10)


def test_xlsx_export_opens_with_codes_as_text(two_runs, tmp_path, monkeypatch, capsys):
    from load.backend import excel_extension_file
    from piawatch.cli import main

    monkeypatch.setenv("PIAWATCH_WAREHOUSE", str(two_runs))
    assert main(["export", str(tmp_path), "--format", "xlsx"]) == 0
    assert str(tmp_path / "city_summary.xlsx") in capsys.readouterr().out.split()
    with duckdb.connect() as files:
        files.execute(f"LOAD '{excel_extension_file()}'")
        rows = files.execute(f"SELECT city_code, title, submitted_kinds FROM read_xlsx('{tmp_path / 'assessments.xlsx'}', "
                             "all_varchar = true) WHERE sha256 = ?", [sha_of("072044-iwaki-01-basic")]).fetchall()
        sheets = files.execute(f"SELECT count(*) FROM read_xlsx('{tmp_path / 'findings.xlsx'}')").fetchone()[0]
    assert [(code, json.loads(kinds)) for code, _, kinds in rows] == [("072044", ["basic", "full"])]
    with connect(two_runs, read_only=True) as con:
        assert sheets == con.execute("SELECT count(*) FROM findings").fetchone()[0]


def test_a_published_copy_can_be_read_while_the_pipeline_writes(tmp_path):
    import subprocess
    import sys

    from load.export import publish_copy

    db = build_warehouse(tmp_path / "data")
    with connect(db, read_only=True) as con:
        latest = con.execute("SELECT count(*) FROM latest_assessments").fetchone()[0]
    copy_path = publish_copy(db)
    assert copy_path == db.with_name("piawatch-readonly.duckdb")
    read = ("import sys, duckdb\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print(con.execute('SELECT count(*) FROM latest_assessments').fetchone()[0])\n")
    with connect(db) as writer:
        writer.execute("UPDATE runs SET alerts_sent = 0")  # the next run is busy writing
        reader = subprocess.run([sys.executable, "-c", read, str(copy_path)], capture_output=True, text=True)
        blocked = subprocess.run([sys.executable, "-c", read, str(db)], capture_output=True, text=True)
    assert reader.returncode == 0, reader.stderr
    assert int(reader.stdout) == latest == 8
    assert blocked.returncode != 0 and "lock" in blocked.stderr.lower()
    assert publish_copy(db) == copy_path  # replacing an existing copy works too
