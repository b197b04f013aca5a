"""The demo municipal websites on 127.0.0.1, served by a real ThreadingHTTPServer.

PDFs carry ETag and Last-Modified and answer conditional requests with 304; the quirks of
demo/sites/sites.yaml (a 301 from an old address, a dead link, a slow page, a listing that fails
once with 503, an HTML page served as .pdf, a robots.txt Disallow) behave as a real city's server
would. Every request is logged so tests can check what a crawler asked for.

    python -m demo.server [--port PORT] [--edition 2]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from demo.sites.site import CORPUS_DIR, Route, build_site
from ground.settings import DEMO_PORT

DEFAULT_SLOW_SECONDS = 5.0
NOT_FOUND_PAGE = ("<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"UTF-8\"><title>ページが見つかりません"
                  "</title></head><body><h1>お探しのページは見つかりませんでした（404 Not Found）</h1>"
                  "</body></html>").encode("utf-8")


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    bytes_sent: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None

    @property
    def conditional(self) -> bool:
        return bool(self.if_none_match or self.if_modified_since)


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format, *args) -> None:  # the request log replaces stderr lines
        pass

    def _answer(self, *, send_body: bool) -> None:
        parts = urlsplit(self.path)
        key = parts.path + (f"?{parts.query}" if parts.query else "")
        route = self.server.demo.route(key)
        if route is None:
            self._send(404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE, send_body)
        elif route.flaky and self.server.demo.first_request(key):
            self._send(503, {"Content-Type": "text/plain; charset=utf-8",
                             "Retry-After": str(self.server.demo.retry_after)},
                       "ただいまアクセスが集中しています。".encode("utf-8"), send_body)
        elif route.location:
            self._send(route.status, {"Location": route.location, "Content-Type": "text/html"}, b"", send_body)
        elif route.file is not None:
            self._send_file(route, send_body)
        else:
            if route.slow:
                time.sleep(self.server.demo.slow_seconds)
            self._send(route.status, {"Content-Type": route.content_type}, route.body, send_body)

    def _send_file(self, route: Route, send_body: bool) -> None:
        data = route.file.read_bytes()
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        modified = route.last_modified or datetime.fromtimestamp(int(route.file.stat().st_mtime), tz=timezone.utc)
        headers = {"Content-Type": route.content_type, "ETag": etag,
                   "Last-Modified": format_datetime(modified, usegmt=True)}
        if _not_modified(self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, modified):
            self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"}, b"", send_body)
        else:
            self._send(200, headers, data, send_body)

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        # Logged before the answer goes out, so a client that has its answer finds it in the log.
        entry = LoggedRequest(
            method=self.command, path=self.path, status=status,
            bytes_sent=len(body) if send_body and status != 304 else 0,
            if_none_match=self.headers.get("If-None-Match"),
            if_modified_since=self.headers.get("If-Modified-Since"),
            user_agent=self.headers.get("User-Agent"))
        self.server.demo.log(entry)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if entry.bytes_sent:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            entry.bytes_sent = 0  # the client gave up (e.g. its read timeout on the slow page)


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, modified: datetime) -> bool:
    # RFC 9110 13.2.2: If-None-Match, when present, decides alone.
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and modified <= since
    return False


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    demo: DemoServer

    def handle_error(self, request, client_address) -> None:
        # a crawler that stops reading (size limit, timeout) is normal here, not a server error
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RequestLog:
    """What a server was asked, appended to by its handler threads and read by tests and benches."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list = []

    def append(self, entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class DemoServer:
    """The demo websites on 127.0.0.1:``port`` (0: any free port), in a background thread.

    ``with DemoServer() as server: server.url`` … ``server.requests`` is the request log.
    """

    def __init__(self, port: int = 0, edition: int = 1, *, corpus_dir: Path = CORPUS_DIR,
                 slow_seconds: float = DEFAULT_SLOW_SECONDS, retry_after: int = 1, host: str = "127.0.0.1",
                 echo: bool = False):
        self.corpus_dir = Path(corpus_dir)
        self.echo = echo
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.edition = edition
        self._httpd = _DemoHTTPServer((host, port), _Handler)
        self._httpd.demo = self
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._lock = threading.Lock()
        self._requests = RequestLog()
        self._answered: set[str] = set()
        self._routes = build_site(self.url, edition, corpus_dir=self.corpus_dir)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def requests(self) -> list[LoggedRequest]:
        return self._requests.entries()

    def clear_log(self) -> None:
        self._requests.clear()

    def set_edition(self, edition: int) -> None:
        """Serve ``edition`` of the sites from now on (the corpus is read again)."""
        routes = build_site(self.url, edition, corpus_dir=self.corpus_dir)
        with self._lock:
            self.edition, self._routes = edition, routes

    def paths(self) -> list[str]:
        with self._lock:
            return sorted(self._routes)

    def route(self, key: str) -> Route | None:
        with self._lock:
            return self._routes.get(key)

    def first_request(self, key: str) -> bool:
        with self._lock:
            first = key not in self._answered
            self._answered.add(key)
            return first

    def log(self, request: LoggedRequest) -> None:
        self._requests.append(request)
        if self.echo:
            conditional = " (conditional)" if request.conditional else ""
            print(f"{request.method} {request.path} → {request.status}, {request.bytes_sent} bytes{conditional}",
                  file=sys.stderr, flush=True)

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(port: int = DEMO_PORT, edition: int = 1) -> None:
    server = DemoServer(port=port, edition=edition, echo=True)
    print(f"demo municipal websites (edition {edition}): {server.url}/  — Ctrl-C stops", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEMO_PORT)
    parser.add_argument("--edition", type=int, default=1, choices=[1, 2],
                        help="2 = the sites after some cities republished documents")
    args = parser.parse_args(argv)
    serve_forever(port=args.port, edition=args.edition)


if __name__ == "__main__":
    main()
