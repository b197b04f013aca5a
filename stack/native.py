"""`make stack`: the docker-compose stack, run natively on 127.0.0.1.

A private PostgreSQL cluster and Redis under ``$PIAWATCH_DATA_DIR/stack/``, then the Airflow
services of ``stack/services.py`` configured by ``stack/airflow.env`` — the same commands and the
same variables as docker-compose.yml, only the addresses differ. Every process it starts is
recorded in ``stack/run/<name>.json`` (pid and start time) and stopped by that pid.

    python -m stack.native start [--workers N] [--concurrency N] [--dags-folder DIR] [--demo]
    python -m stack.native stop
    python -m stack.native status
    python -m stack.native trigger DAG_ID [--conf JSON] [--wait SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis

from ground.capabilities import POSTGRES_BIN
from ground.errors import ConfigError, PiaWatchError
from ground.settings import Warehouse, warehouse_from
from ground.settings import PROJECT_ROOT, load_settings
from stack.airflow_init import ADMIN_USER, airflow_executable, initialise
from stack.api import AirflowAPI, AirflowAPIError
from stack.usage import cpu_seconds, memory_bytes, process_tree
from stack.secrets import load_or_create_secrets
from stack.services import PASSTHROUGH_VARIABLES, SERVICES, read_env_file

HOST = "127.0.0.1"
# PostgreSQL refuses to run as root; as root the cluster belongs to this user instead.
POSTGRES_OS_USER = "postgres"
STOP_TIMEOUT_S = 15.0
# A demo stack runs only the runs it is asked for: unpausing the nightly DAG would otherwise start
# its latest scheduled run at once (catchup=False still runs the last interval), over every city.
DEMO_OVERRIDES = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}


class StackError(PiaWatchError):
    code = "stack"


@dataclass(frozen=True)
class StackPaths:
    data_dir: Path

    @property
    def root(self) -> Path:
        return self.data_dir / "stack"

    @property
    def postgres(self) -> Path:
        return self.root / "pg"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow-home"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.env"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.json"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@dataclass(frozen=True)
class Stack:
    """A running native stack: where it is and how to reach it."""

    paths: StackPaths
    postgres_port: int
    redis_port: int
    api_port: int
    workers: tuple[str, ...]
    environ: dict[str, str]

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def slots(self) -> int:
        """Task slots of all workers together (each runs AIRFLOW__CELERY__WORKER_CONCURRENCY tasks)."""
        return len(self.workers) * int(self.environ["AIRFLOW__CELERY__WORKER_CONCURRENCY"])

    @property
    def admin_password(self) -> str:
        return self.environ["PIAWATCH_ADMIN_PASSWORD"]

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse the stack's tasks write (stack/airflow.env: a DuckLake by default)."""
        return warehouse_from(self.environ, self.paths.data_dir)


# --- processes, recorded and stopped by pid --------------------------------------------------
def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, a unique identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # A zombie has exited; only its parent's wait() is missing.
    return None if fields[0] == "Z" else fields[19]


def is_running(pid: int) -> bool:
    return _start_time(pid) is not None


def _record(paths: StackPaths, name: str, pid: int, group: bool) -> None:
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.pid_file(name).write_text(json.dumps({"pid": pid, "started": _start_time(pid), "group": group}))


def recorded_pid(paths: StackPaths, name: str) -> int | None:
    """The pid recorded for ``name`` if that same process still runs."""
    path = paths.pid_file(name)
    if not path.exists():
        return None
    entry = json.loads(path.read_text())
    # A recycled pid belongs to another process (another start time): never signal it.
    started = _start_time(entry["pid"])
    return entry["pid"] if started is not None and started == entry["started"] else None


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_processes(paths: StackPaths, names: list[str], first_signal: int = signal.SIGTERM,
                   timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop the recorded processes (and their process groups) together; the names that ran."""
    running = {}
    for name in names:
        pid = recorded_pid(paths, name)
        if pid is not None:
            running[name] = (pid, json.loads(paths.pid_file(name).read_text())["group"])
        else:
            paths.pid_file(name).unlink(missing_ok=True)
    # The processes a group leader forked, seen before it dies (then they are orphans that no
    # longer show as its children): stop() returns only once every one of them is gone too.
    forked = process_tree([pid for pid, group in running.values() if group])
    for pid, group in running.values():
        _signal(pid, first_signal, group)
    deadline = time.monotonic() + timeout
    while any(is_running(pid) for pid, _ in running.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name, (pid, group) in running.items():
        if is_running(pid) or group:
            # Children that outlived their leader (a task mid-run) go with the group.
            _signal(pid, signal.SIGKILL, group)
        paths.pid_file(name).unlink(missing_ok=True)
    # SIGKILL is not instant: return only once the ports and files are free for a restart.
    deadline = time.monotonic() + 5
    while any(is_running(pid) for pid in forked | {pid for pid, _ in running.values()}) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(running)


def kill_process(paths: StackPaths, name: str) -> int:
    """SIGKILL a recorded service and its process group at once, as a crashed host would; its pid."""
    pid = recorded_pid(paths, name)
    if pid is None:
        raise StackError(f"{name} is not running")
    _signal(pid, signal.SIGKILL, json.loads(paths.pid_file(name).read_text())["group"])
    paths.pid_file(name).unlink(missing_ok=True)
    return pid


def spawn_recorded(paths: StackPaths, name: str, argv: list[str], environ: dict[str, str]) -> int:
    paths.logs.mkdir(parents=True, exist_ok=True)
    with paths.log_file(name).open("ab") as log:
        # Own session: the service and everything it forks form one group, stopped together,
        # and it outlives the `make stack` that started it.
        process = subprocess.Popen(argv, env=environ, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=paths.root)
    _record(paths, name, process.pid, group=True)
    return process.pid


def stack_memory_bytes(paths: StackPaths) -> int:
    """Memory of every process the stack runs, PostgreSQL backends and Celery pool processes included."""
    roots = [pid for pid in (recorded_pid(paths, name) for name in _recorded_names(paths)) if pid]
    return memory_bytes(process_tree(roots))


def stack_cpu_seconds(paths: StackPaths) -> dict[str, float]:
    """CPU seconds each recorded service has used so far, its whole process tree (PostgreSQL's
    backends, a worker's task processes) included; the difference of two readings is what each
    used in between."""
    pids = {name: recorded_pid(paths, name) for name in _recorded_names(paths)}
    return {name: cpu_seconds(process_tree([pid])) for name, pid in pids.items() if pid}


# --- ports ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_for(what: str, probe, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.3)
    where = f" (see {log})" if log else ""
    raise StackError(f"{what} did not come up within {timeout:.0f} s{where}")


# --- PostgreSQL -------------------------------------------------------------------------------
def _as_postgres_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def _check_reachable_by(user: str, directory: Path) -> None:
    """PostgreSQL, run as ``user``, must be able to walk down to its data directory."""
    entry = pwd.getpwnam(user)
    for parent in reversed(directory.parents):
        mode = parent.stat()
        others_may_enter = mode.st_mode & 0o001
        owner_may_enter = mode.st_uid == entry.pw_uid and mode.st_mode & 0o100
        group_may_enter = mode.st_gid == entry.pw_gid and mode.st_mode & 0o010
        if not (others_may_enter or owner_may_enter or group_may_enter):
            raise StackError(
                f"{parent} is closed to the '{user}' user that must run PostgreSQL when the stack "
                f"is started as root: use a PIAWATCH_DATA_DIR below world-traversable directories "
                f"(or `chmod o+x {parent}`)")


def start_postgres(paths: StackPaths, port: int, password: str) -> int:
    pgdata = paths.postgres
    log = paths.log_file("postgres")
    paths.logs.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _check_reachable_by(POSTGRES_OS_USER, pgdata)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        pwfile = paths.root / ".pg-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(password + "\n")
        if os.geteuid() == 0:
            owner = pwd.getpwnam(POSTGRES_OS_USER)
            os.chown(pgdata, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        try:
            subprocess.run(_as_postgres_owner([
                str(POSTGRES_BIN / "initdb"), "-D", str(pgdata), "-U", "airflow", f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
            ]), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except subprocess.CalledProcessError as exc:
            raise StackError(f"initdb failed: {exc.stderr.decode(errors='replace').strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(POSTGRES_OS_USER)
        log.touch()
        os.chown(log, owner.pw_uid, owner.pw_gid)
    options = f"-p {port} -c listen_addresses={HOST} -c unix_socket_directories={pgdata}"
    started = subprocess.run(_as_postgres_owner([
        str(POSTGRES_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", options, "-w", "-t", "60", "start",
    ]), capture_output=True, text=True)
    if started.returncode != 0:
        raise StackError(f"PostgreSQL did not start: {started.stdout.strip()} {started.stderr.strip()} (see {log})")
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    _record(paths, "postgres", pid, group=False)
    _create_database(port, password)
    return pid


def _create_database(port: int, password: str) -> None:
    connection = psycopg2.connect(host=HOST, port=port, user="airflow", password=password, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE DATABASE airflow")
    finally:
        connection.close()


# --- Redis ------------------------------------------------------------------------------------
def start_redis(paths: StackPaths, port: int, password: str) -> int:
    paths.redis.mkdir(parents=True, exist_ok=True)
    pidfile = paths.redis / "redis.pid"
    pidfile.unlink(missing_ok=True)
    config = paths.redis / "redis.conf"
    # The password goes in a private file, not on a command line every local user can read.
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(f"bind {HOST}\nport {port}\nrequirepass {password}\nsave \"\"\nappendonly no\n"
                   f"daemonize yes\npidfile {pidfile}\nlogfile {paths.log_file('redis')}\ndir {paths.redis}\n")
    paths.logs.mkdir(parents=True, exist_ok=True)
    redis_server = shutil.which("redis-server") or "redis-server"
    subprocess.run([redis_server, str(config)], check=True)
    _wait_for("Redis", pidfile.exists, 20, paths.log_file("redis"))
    pid = int(pidfile.read_text().strip())
    _record(paths, "redis", pid, group=False)

    _wait_for("Redis", lambda: _redis_ping(redis.Redis(host=HOST, port=port, password=password)), 20,
              paths.log_file("redis"))
    return pid


def _redis_ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # not accepting connections yet
        return False


# --- Airflow ----------------------------------------------------------------------------------
def stack_environment(paths: StackPaths, secrets: dict[str, str], *, postgres_port: int, redis_port: int,
                      api_port: int, dags_folder: Path | None = None,
                      overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Airflow process: stack/airflow.env resolved for this machine."""
    locations = {
        "STACK_POSTGRES": f"{HOST}:{postgres_port}",
        "STACK_REDIS": f"{HOST}:{redis_port}",
        "STACK_API": f"{HOST}:{api_port}",
        "STACK_PROJECT_DIR": str(PROJECT_ROOT),
        "PIAWATCH_DATA_DIR": str(paths.data_dir),
    }
    venv_bin = str(Path(sys.executable).parent)
    environ = {
        # The caller's environment minus stray Airflow settings that would override the file.
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        **secrets,
        **locations,
        **read_env_file({**secrets, **locations}),
        "AIRFLOW_HOME": str(paths.airflow_home),
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        # CLI warnings on stdout break `-o json`.
        "PYTHONWARNINGS": "ignore",
    }
    if dags_folder is not None:
        environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    environ.update(overrides or {})
    return {name: value for name, value in environ.items()
            if name not in PASSTHROUGH_VARIABLES or value}


def worker_names(count: int) -> tuple[str, ...]:
    return tuple(f"worker{index}" for index in range(1, count + 1))


def start_airflow_service(stack_paths: StackPaths, environ: dict[str, str], service_name: str, *,
                          api_port: int, worker: str | None = None) -> int:
    service = next(s for s in SERVICES if s.name == service_name)
    argv = [airflow_executable(), *service.argv(api_host=HOST, api_port=api_port, worker=worker or "worker")]
    if worker:
        environ = {**environ, "PIAWATCH_WORKER_HOSTNAME": f"{worker}@{socket.getfqdn()}"}
    return spawn_recorded(stack_paths, worker or service.name, argv, environ)


def _http_status(url: str) -> int | None:
    """The HTTP status ``url`` answers with, None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def start_demo_site(paths: StackPaths, environ: dict[str, str]) -> str:
    """The bundled demo municipal websites (demo/server.py) as one more recorded process; their URL."""
    port = free_port()
    spawn_recorded(paths, "demo-server", [sys.executable, "-m", "demo.server", "--port", str(port)],
                   {**environ, "PYTHONPATH": str(PROJECT_ROOT)})
    url = f"http://{HOST}:{port}"
    _wait_for("the demo websites", lambda: _http_status(url) is not None, 30, paths.log_file("demo-server"))
    return url


def start(data_dir: Path, *, workers: int = 2, concurrency: int | None = None, dags_folder: Path | None = None,
          overrides: dict[str, str] | None = None, demo: bool = False) -> Stack:
    """Start the whole stack and return once the api-server answers; stops what it started on error.

    ``workers`` Celery workers, each its own process, host name, log and pid file; ``concurrency``:
    tasks each runs at once (default stack/airflow.env's). One worker process per core at
    concurrency 1 makes the number of workers the number of tasks at once, as separate hosts would.
    ``demo``: also serve the bundled demo websites and point ``PIAWATCH_DEMO_URL`` at them.
    """
    if workers < 1 or (concurrency is not None and concurrency < 1):
        raise StackError("a stack needs at least 1 worker with at least 1 slot")
    if concurrency is not None:
        overrides = {**(overrides or {}), "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency)}
    paths = StackPaths(data_dir.resolve())
    running = [name for name in _recorded_names(paths) if recorded_pid(paths, name)]
    if running:
        raise StackError(f"the stack under {paths.root} is already running ({', '.join(running)}): "
                         f"stop it first with `make stack-stop`")
    paths.root.mkdir(parents=True, exist_ok=True)
    secrets = load_or_create_secrets(paths.secrets)
    postgres_port, redis_port, api_port = free_port(), free_port(), free_port()
    try:
        if demo:
            overrides = {**(overrides or {}), **DEMO_OVERRIDES,
                         "PIAWATCH_DEMO_URL": start_demo_site(paths, dict(os.environ))}
        environ = stack_environment(paths, secrets, postgres_port=postgres_port, redis_port=redis_port,
                                    api_port=api_port, dags_folder=dags_folder, overrides=overrides)
        stack = Stack(paths, postgres_port, redis_port, api_port, worker_names(workers), environ)
        start_postgres(paths, postgres_port, secrets["PIAWATCH_POSTGRES_PASSWORD"])
        start_redis(paths, redis_port, secrets["PIAWATCH_REDIS_PASSWORD"])
        paths.airflow_home.mkdir(parents=True, exist_ok=True)
        with paths.log_file("airflow-init").open("ab") as log:
            initialise(environ, log)
        for service in SERVICES:
            if service.name == "airflow-worker":
                for worker in stack.workers:
                    start_airflow_service(paths, environ, service.name, api_port=api_port, worker=worker)
            else:
                start_airflow_service(paths, environ, service.name, api_port=api_port)
        health = f"{stack.api_url}/api/v2/monitor/health"
        _wait_for("the Airflow api-server", lambda: _http_status(health) == 200, 120,
                  paths.log_file("airflow-apiserver"))
        # The execution API (Cadwyn) builds its routes for every API version on its first request:
        # about 9 s of the api-server's CPU (py-spy), which the first night's first task waited
        # for (its /run took 9.0-9.7 s, was answered 400 and retried; make bench-scale, 60 bodies).
        # Any request builds them, and the health one needs no token: built here, at start.
        execution_health = f"{stack.api_url}/execution/health"
        _wait_for("the Airflow execution API", lambda: _http_status(execution_health) == 200, 120,
                  paths.log_file("airflow-apiserver"))
    except BaseException:
        stop(data_dir)
        raise
    paths.state.write_text(json.dumps({
        "postgres_port": postgres_port, "redis_port": redis_port, "api_port": api_port,
        "workers": list(stack.workers), "concurrency": stack.slots // len(stack.workers),
    }))
    return stack


INFRASTRUCTURE = ("redis", "postgres")


def _recorded_names(paths: StackPaths) -> list[str]:
    return sorted(path.stem for path in paths.run.glob("*.json")) if paths.run.exists() else []


def stop(data_dir: Path) -> list[str]:
    """Stop every process the stack under ``data_dir`` started, by pid; the names stopped.

    The Airflow services first (together), then Redis, then PostgreSQL.
    """
    paths = StackPaths(data_dir.resolve())
    recorded = _recorded_names(paths)
    stopped = stop_processes(paths, [name for name in recorded if name not in INFRASTRUCTURE])
    stopped += stop_processes(paths, [name for name in recorded if name == "redis"])
    # PostgreSQL: SIGINT is its fast shutdown (abort transactions, then exit cleanly).
    stopped += stop_processes(paths, [name for name in recorded if name == "postgres"], signal.SIGINT)
    paths.state.unlink(missing_ok=True)
    return stopped


def load_stack(data_dir: Path) -> Stack:
    """The running stack under ``data_dir`` (ports from its state file)."""
    paths = StackPaths(data_dir.resolve())
    if not paths.state.exists():
        raise StackError(f"no stack is running under {paths.root}: start one with `make stack`")
    state = json.loads(paths.state.read_text())
    secrets = load_or_create_secrets(paths.secrets)
    environ = stack_environment(paths, secrets, postgres_port=state["postgres_port"],
                                redis_port=state["redis_port"], api_port=state["api_port"],
                                overrides={"AIRFLOW__CELERY__WORKER_CONCURRENCY": str(state["concurrency"])}
                                if "concurrency" in state else None)
    return Stack(paths, state["postgres_port"], state["redis_port"], state["api_port"],
                 tuple(state["workers"]), environ)


def describe(stack: Stack) -> str:
    lines = [
        f"Airflow UI:  {stack.api_url}/   login: {ADMIN_USER} / {stack.admin_password}",
        f"Celery workers: {', '.join(stack.workers)} ({stack.slots} task slots)   PostgreSQL {HOST}:{stack.postgres_port}   "
        f"Redis {HOST}:{stack.redis_port}",
        f"pids: {stack.paths.run}/   logs: {stack.paths.logs}/",
        f"warehouse ({stack.warehouse.backend}): {stack.warehouse}",
    ]
    if recorded_pid(stack.paths, "demo-server"):
        lines.append(f"demo websites: {stack.environ['PIAWATCH_DEMO_URL']}/")
    lines.append("trigger the nightly DAG: .venv/bin/python -m stack.native trigger piawatch_nightly --wait 900")
    lines.append("stop it all: make stack-stop")
    return "\n".join(lines)


def api_client(stack: Stack) -> AirflowAPI:
    return AirflowAPI(stack.api_url, ADMIN_USER, stack.admin_password)


def trigger(stack: Stack, dag_id: str, conf: dict, wait: float) -> int:
    api = api_client(stack)
    api.wait_for_dag(dag_id)
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, conf)
    print(f"triggered {dag_id}: {run_id}")
    if not wait:
        return 0
    state = api.wait_for_run(dag_id, run_id, timeout=wait)
    print(f"{run_id}: {state}")
    return 0 if state == "success" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.native", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start the stack under $PIAWATCH_DATA_DIR/stack")
    start_parser.add_argument("--workers", type=int, default=2, help="Celery workers to run (default 2)")
    start_parser.add_argument("--concurrency", type=int,
                              help="tasks each worker runs at once (default: stack/airflow.env's, 4)")
    start_parser.add_argument("--dags-folder", type=Path, help="another DAG folder than the project's dags/")
    start_parser.add_argument("--demo", action="store_true",
                              help="also serve the bundled demo municipal websites to crawl")
    commands.add_parser("stop", help="stop every process the stack started")
    commands.add_parser("status", help="which of the stack's processes run")
    trigger_parser = commands.add_parser("trigger", help="unpause and trigger a DAG on the running stack")
    trigger_parser.add_argument("dag_id")
    trigger_parser.add_argument("--conf", type=json.loads, default={}, help="the run's conf, as JSON")
    trigger_parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                                help="wait this long for the run to finish; exit 1 unless it succeeded")
    args = parser.parse_args(argv)
    data_dir = load_settings().data_dir
    try:
        if args.command == "start":
            stack = start(data_dir, workers=args.workers, concurrency=args.concurrency,
                          dags_folder=args.dags_folder, demo=args.demo)
            print(describe(stack))
        elif args.command == "trigger":
            return trigger(load_stack(data_dir), args.dag_id, args.conf, args.wait)
        elif args.command == "stop":
            stopped = stop(data_dir)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        else:
            paths = StackPaths(data_dir)
            for name in _recorded_names(paths):
                pid = recorded_pid(paths, name)
                print(f"{name:24} {'running, pid ' + str(pid) if pid else 'not running'}")
    except (StackError, ConfigError, AirflowAPIError) as exc:
        print(f"stack: {exc.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
