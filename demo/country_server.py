"""The synthetic country's websites: one loopback address per body, all served by one process.

Each body of demo/country.py listens on its own address (127.0.x.y, same port), so a crawler's
per-host politeness is per body, as on the real internet. One thread waits on every listening
socket at once and hands each connection to a thread of its own (as ``ThreadingHTTPServer`` does
for one socket); the answers are demo/server.py's (ETag, Last-Modified, 304 to a conditional GET)
with the body's behaviour in front: a slow host waits before every answer, a failing one answers
500, resets the connection, stalls past the read timeout, or is down (503 to everything).
"""

from __future__ import annotations

import datetime as dt
import errno
import selectors
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from demo.country import DEFAULT_PORT, REGISTRY, Body, Country, _write, registry_text
from demo.server import LoggedRequest, RequestLog, _DemoHTTPServer, _Handler
from demo.sites.site import Listed, Route, SiteBuilder

ROBOTS = b"User-agent: *\nDisallow:\n"
BIND_ATTEMPTS = 10


@dataclass
class HostRequest:
    """One request as a host saw it (``status`` 0: the connection was reset or left to stall)."""
    host: str
    request: LoggedRequest


def host_routes(country: Country, body: Body, edition: int) -> dict[str, Route]:
    """Every route of one body's site in ``edition``: its listing (the body's page style), its
    PDFs (edition 2: the republished file at the same URL), a home page and robots.txt."""
    documents = []
    for document in body.documents:
        republished = edition >= 2 and document.republished_file
        file = document.republished_file if republished else document.file
        published = document.republished_on if republished else document.published_on
        documents.append(Listed(id=document.id, kind=document.kind, assessment_number=document.assessment_number,
                                title=document.title,
                                published_on=dt.date.fromisoformat(published) if published else None,
                                pdf=country.file(file), path=document.path))
    site = {"slug": body.slug, "name": body.name, "code": body.code, "style": body.style,
            "listing": body.listing, "pdf_dir": f"/{body.slug}/pia/files/",
            "detail_dir": f"/{body.slug}/pia/jimu/", "links": "root", "encoding": "utf-8"}
    routes = SiteBuilder(site, documents, f"http://{body.host}", country.directory).build()
    routes["/robots.txt"] = Route(content_type="text/plain; charset=utf-8", body=ROBOTS)
    return routes


class _Host:
    """What demo/server.py's handler asks its server for, for one body."""

    def __init__(self, server: CountryServer, body: Body, edition: int):
        self.server, self.body = server, body
        self.slow_seconds = server.country.profile.slow_seconds
        self.stall_seconds = server.country.profile.stall_seconds
        self.retry_after = 1
        self.failing_paths = {d.path for d in body.documents if d.failure}
        self.routes = host_routes(server.country, body, edition)

    def route(self, key: str) -> Route | None:
        return self.routes.get(key)

    def first_request(self, key: str) -> bool:
        return False  # no flaky routes here: a failing host fails every time

    def failure(self, path: str) -> str | None:
        if self.body.failing == "down":
            return "down"
        return self.body.failing if path in self.failing_paths else None

    def log(self, request: LoggedRequest) -> None:
        self.server._log(HostRequest(self.body.host, request))


class _CountryHandler(_Handler):
    def _answer(self, *, send_body: bool) -> None:
        host: _Host = self.server.demo
        if host.body.slow:
            time.sleep(host.slow_seconds)
        mode = host.failure(urlsplit(self.path).path)
        if mode == "down":
            self._send(503, {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "1"},
                       "ただいまメンテナンス中です。".encode("utf-8"), send_body)
        elif mode == "http_500":
            self._send(500, {"Content-Type": "text/plain; charset=utf-8"}, b"Internal Server Error", send_body)
        elif mode in ("reset", "timeout"):
            if mode == "timeout":
                time.sleep(host.stall_seconds)
            host.log(LoggedRequest(method=self.command, path=self.path, status=0, bytes_sent=0,
                                   if_none_match=self.headers.get("If-None-Match"),
                                   if_modified_since=self.headers.get("If-Modified-Since"),
                                   user_agent=self.headers.get("User-Agent")))
            self._reset()
        else:
            super()._answer(send_body=send_body)

    def _reset(self) -> None:
        """Close with an RST instead of an answer (SO_LINGER 0), as a crashing server would."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):  # the socket was reset on purpose
            pass


class _HostServer(_DemoHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer looks its address up in reverse DNS (socket.getfqdn): for hundreds of
        # 127.0.x.y addresses that is seconds each on some resolvers, and nothing here needs it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class CountryServer:
    """Every body of ``country`` on ``host:port`` (0: a free port, the same on every address).

    ``requests`` is the log of what every host was asked; ``set_edition(2)`` serves the
    republished documents from then on; ``registry_path`` is a registry for this port.
    """

    def __init__(self, country: Country, *, port: int = 0, edition: int = 1):
        self.country = country
        self.edition = edition
        self._requests = RequestLog()
        self._servers: list[_DemoHTTPServer] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.port = self._bind(port)
        for server, body in zip(self._servers, country.bodies):
            server.demo = _Host(self, body, edition)
        self.registry_path = (country.registry_path if self.port == DEFAULT_PORT
                              else country.directory / f"{Path(REGISTRY).stem}-{self.port}.yaml")
        if self.port != DEFAULT_PORT or not self.registry_path.exists():
            _write(self.registry_path, registry_text(country, self.port).encode("utf-8"))

    def _bind(self, port: int) -> int:
        for _ in range(BIND_ATTEMPTS):
            chosen = port
            try:
                for body in self.country.bodies:
                    server = _HostServer((body.host, chosen), _CountryHandler)
                    self._servers.append(server)
                    chosen = server.server_address[1]
                return chosen
            except OSError as exc:
                self._close_servers()
                # a free port on the first address can be taken on another: try another one
                if exc.errno != errno.EADDRINUSE or port != 0:
                    raise
        raise OSError(errno.EADDRINUSE, f"no port free on all {len(self.country.bodies)} addresses")

    def _close_servers(self) -> None:
        for server in self._servers:
            server.server_close()
        self._servers.clear()

    # what a driver such as tools/bench_scale.py reads: the registry to point PIAWATCH_REGISTRY
    # at, the sizes, and the environment a run needs (none: the registry holds the addresses)
    @property
    def registry(self) -> Path:
        return self.registry_path

    @property
    def bodies(self) -> int:
        return len(self.country.bodies)

    @property
    def pdfs(self) -> int:
        return self.country.pdf_count

    @property
    def environ(self) -> dict[str, str]:
        return {}

    def url(self, body: Body) -> str:
        return f"http://{body.host}:{self.port}{body.listing}"

    @property
    def requests(self) -> list[HostRequest]:
        return self._requests.entries()

    def clear_log(self) -> None:
        self._requests.clear()

    def _log(self, request: HostRequest) -> None:
        self._requests.append(request)

    def set_edition(self, edition: int) -> None:
        for server in self._servers:
            server.demo = _Host(self, server.demo.body, edition)
        self.edition = edition

    def serve_forever(self) -> None:
        with selectors.DefaultSelector() as selector:
            for server in self._servers:
                selector.register(server, selectors.EVENT_READ, server)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.2):
                    # accept and hand to a thread of its own (ThreadingMixIn.process_request)
                    key.data._handle_request_noblock()

    def start(self) -> CountryServer:
        self._thread = threading.Thread(target=self.serve_forever, name="country-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._close_servers()

    def __enter__(self) -> CountryServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
