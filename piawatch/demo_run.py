"""``make run``: the nightly DAG, run once in-process on the bundled demo websites.

Serves the demo municipal websites on 127.0.0.1, gives Airflow a throw-away home on SQLite,
runs ``airflow dags test piawatch_nightly`` and prints the run summary from the warehouse.
The data directory is kept, so a second run only makes conditional requests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from demo.server import DemoServer
from ground.settings import DEMO_PORT, PROJECT_ROOT, load_settings
from piawatch.doctor import preflight
from piawatch.pipeline import report_step

DAG_ID = "piawatch_nightly"


def airflow_environment(airflow_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite, no examples, this project's DAGs and plugins."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore",
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.update(extra or {})
    return env


def run_dag_in_process(airflow_home: Path, env: dict[str, str], log_path: Path,
                       conf: dict | None = None) -> str:
    """Migrate a fresh metadata DB and run the DAG once with ``airflow dags test``.

    Returns the DAG run's final state; Airflow's own output goes to ``log_path``.
    """
    shutil.rmtree(airflow_home, ignore_errors=True)
    airflow_home.mkdir(parents=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        subprocess.run([airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        command = [airflow, "dags", "test", DAG_ID]
        if conf:
            command += ["-c", json.dumps(conf)]
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    listed = subprocess.run([airflow, "dags", "list-runs", DAG_ID, "-o", "json"], env=env,
                            capture_output=True, text=True, check=True)
    runs = json.loads(listed.stdout[listed.stdout.index("["):])
    return runs[0]["state"] if runs else "none"


def run_demo(*, edition: int = 1, fresh: bool = False) -> int:
    settings = load_settings()
    # What this machine cannot do, said before the run (the DAG's first task checks the same).
    for warning in preflight(settings):
        print(f"warning: {warning}", file=sys.stderr)
    if fresh:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PIAWATCH_DEMO_PORT", DEMO_PORT))
    log_path = settings.reports_dir / "airflow-dags-test.log"
    with DemoServer(port=port, edition=edition) as server:
        print(f"demo municipal websites: {server.url}/  (edition {edition})")
        env = airflow_environment(settings.data_dir / "airflow-home", {
            "PIAWATCH_DEMO_URL": server.url,
            "PIAWATCH_DATA_DIR": str(settings.data_dir),
        })
        print(f"running `airflow dags test {DAG_ID}` in-process (log: {log_path}) …", flush=True)
        state = run_dag_in_process(settings.data_dir / "airflow-home", env, log_path, conf={"demo": True})
    print(f"DAG run state: {state}\n")
    if state != "success":
        print(f"the DAG run did not succeed; see {log_path}", file=sys.stderr)
        return 1
    print(report_step(settings))
    return 0
