"""``piawatch doctor``: what this machine and this configuration can do, checked one by one.

Each check gives one line: ``ok``, ``warn`` (works, with a cost) or ``fail`` (the nightly run
would not start or would break). ``piawatch run`` runs the checks a run needs (``preflight``)
before it crawls anything, so a misconfigured alert channel stops it at the start, in one line,
rather than after the whole crawl.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import asdict, dataclass

from alerts import channels_from_environment
from extract.registry import load_registry
from ground import capabilities
from ground.errors import PiaWatchError
from ground.settings import Settings, unknown_variables
from load.connection import WarehouseBusy, WarehouseMissing
from load.export import open_read_only
from load.schema import migrations
from stack.native import StackPaths, recorded_pid
from stack.services import LOCATION_VARIABLES
from transform import ocr

OK, WARN, FAIL = "ok", "warn", "fail"
TEST_SUBJECT = "[PIA Watch] test message from piawatch doctor --send-test"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:4}  {self.name:18} {self.detail}"


class PreflightFailed(PiaWatchError):
    code = "preflight"


def check_variables(environ=None) -> list[Check]:
    warnings = unknown_variables(environ)
    if not warnings:
        return [Check("environment", OK, "every PIAWATCH_* variable set is a known setting")]
    return [Check("environment", WARN, warning) for warning in warnings]


def check_registry(settings: Settings) -> Check:
    try:
        cities = load_registry(settings.registry_path)
    except PiaWatchError as exc:
        return Check("registry", FAIL, exc.reason)
    demo = sum(1 for c in cities if c.demo)
    return Check("registry", OK, f"{settings.registry_path}: {len(cities)} cities ({demo} demo, {len(cities) - demo} real)")


def check_data_dir(settings: Settings) -> Check:
    """The data directory can be written: raw PDFs, staging and the warehouse file live there."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data directory", FAIL, f"{settings.data_dir} is not writable ({exc.strerror}): the operator's "
                                             f"problem — check the mount, free space and permissions")
    return Check("data directory", OK, f"{settings.data_dir} is writable")


def check_warehouse(settings: Settings) -> Check:
    """Reachable (a lake's catalog answers) and migrated (every migration of this release applied)."""
    try:
        warehouse = settings.warehouse
    except PiaWatchError as exc:
        return Check("warehouse", FAIL, exc.reason)
    latest = max(m.version for m in migrations())
    try:
        con = open_read_only(warehouse)
    except WarehouseMissing:
        return Check("warehouse", OK, f"{warehouse} does not exist yet: the first run creates it")
    except WarehouseBusy as exc:
        return Check("warehouse", WARN, exc.reason)
    except PiaWatchError as exc:
        return Check("warehouse", FAIL, exc.reason)
    try:
        version = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] or 0
    finally:
        con.close()
    if version < latest:
        return Check("warehouse", WARN, f"{warehouse} is at schema version {version}, this release has {latest}: "
                                        f"the next run migrates it (or run `piawatch migrate`)")
    return Check("warehouse", OK, f"{warehouse.backend} {warehouse}, schema version {version}")


def alert_channels(environ=None) -> list:
    """The configured channels; raises ConfigError naming the variable at fault."""
    return channels_from_environment(environ)


def check_alerts(environ=None, *, send_test: bool = False) -> list[Check]:
    try:
        channels = alert_channels(environ)
    except PiaWatchError as exc:
        return [Check("alert channels", FAIL, exc.reason)]
    checks = [Check("alert channels", OK, ", ".join(repr_channel(c) for c in channels))]
    if send_test:
        for channel in channels:
            try:
                channel.send_notice(TEST_SUBJECT, "PIA Watch can reach this channel. No action needed.")
            except PiaWatchError as exc:
                checks.append(Check(f"send test: {channel.name}", FAIL, exc.reason))
            else:
                checks.append(Check(f"send test: {channel.name}", OK, "sent"))
    return checks


def repr_channel(channel) -> str:
    """A channel named without its secrets (a webhook URL is one)."""
    if channel.name == "smtp":
        return f"smtp {channel.host}:{channel.port} → {', '.join(channel.recipients)}"
    if channel.name == "webhook":
        return "webhook (URL set)"
    return channel.name


def check_ocr() -> list[Check]:
    """The OCR engines (libtesseract from the tesserocr wheel, the tesseract program) with Japanese data."""
    usable = ocr.available()
    checks = [Check("ocr", OK, "scanned PDFs are read by OCR") if usable
              else Check("ocr", WARN, capabilities.check("tesseract").cost)]
    for name in ("tesserocr", "tesseract"):
        capability = capabilities.check(name)
        if capability.available:
            checks.append(Check(f"ocr: {name}", OK, capability.detail))
        else:
            checks.append(Check(f"ocr: {name}", OK if usable else WARN, f"absent: {capability.detail}"))
    return checks


def check_programs() -> list[Check]:
    return [Check(c.name, OK if c.available else WARN, c.detail if c.available else c.warning)
            for c in (capabilities.check(n) for n in ("japanese_fonts", "postgresql", "redis", "chromium", "libreoffice"))]


def _reachable(address: str) -> str | None:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return None
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def check_stack(settings: Settings, environ=None) -> list[Check]:
    """The stack's services, where a stack is configured: STACK_* addresses, or a native stack's pids."""
    environ = os.environ if environ is None else environ
    addresses = {v: environ[v] for v in LOCATION_VARIABLES if v.startswith("STACK_") and ":" in environ.get(v, "")}
    checks = []
    for variable, address in addresses.items():
        problem = _reachable(address)
        checks.append(Check(f"stack: {variable}", FAIL if problem else OK,
                            f"{address} {'unreachable: ' + problem if problem else 'accepts connections'}"))
    paths = StackPaths(settings.data_dir)
    names = sorted(p.stem for p in paths.run.glob("*.json")) if paths.run.is_dir() else []
    for name in names:
        pid = recorded_pid(paths, name)
        checks.append(Check(f"stack: {name}", OK if pid else FAIL,
                            f"running, pid {pid}" if pid else f"recorded in {paths.run} but not running "
                                                              f"(make stack-stop, then make stack)"))
    return checks or [Check("stack", OK, "not configured (no STACK_* addresses, no native stack under the data directory)")]


def run_checks(settings: Settings, *, send_test: bool = False, environ=None) -> list[Check]:
    """Everything ``piawatch doctor`` reports."""
    return [*check_variables(environ), check_data_dir(settings), check_registry(settings), check_warehouse(settings),
            *check_alerts(environ, send_test=send_test), *check_ocr(), *check_programs(),
            *check_stack(settings, environ)]


def preflight(settings: Settings, environ=None) -> list[str]:
    """The checks a run needs before it crawls: raises PreflightFailed with the first failure in one
    line; returns the warnings (unknown variables, missing OCR…) for the start of the run."""
    checks = [*check_variables(environ), check_data_dir(settings), check_registry(settings),
              check_warehouse(settings), *check_alerts(environ)]
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        raise PreflightFailed(f"not started: {failed[0].name}: {failed[0].detail}")
    return [c.detail for c in checks if c.status == WARN] + startup_warnings()


def as_json(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]


def startup_warnings() -> list[str]:
    """What a run on this machine cannot do, one line each, for the start of ``piawatch run`` / ``make run``.

    Only what the nightly job itself needs: OCR (either engine). Fonts and the stack's programs
    are ``piawatch doctor``'s business.
    """
    return [] if ocr.available() else [capabilities.check("tesseract").warning]
