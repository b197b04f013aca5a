"""A hostile web server on 127.0.0.1 for the adversarial suite: each path answers with a
*behaviour*, a function of the request handler, so a new attack is one more ``route``.

    server.route("/page.html", page('<a href="/a.pdf">a</a>'))
    server.route("/slow.pdf", drip(b"%PDF-1.4 ...", every=1.0))

Every request is recorded in ``server.hits`` (path and Host header) before it is answered, so a
test can assert that a forbidden target was never reached. Unrouted paths answer 404, robots.txt
included (a missing robots.txt allows everything).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileServer

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits.append((self.path, self.headers.get("Host")))
        self.server.routes.get(self.path, page(b"not here", status=404))(self)


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Behaviour] = {}
        self.hits: list[tuple[str, str | None]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def origin(self) -> tuple[str, str, int]:
        return ("http", "127.0.0.1", self.port)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]

    def handle_error(self, request, client_address):
        # a client hanging up on a drip is what the tests want
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


# --- behaviours -----------------------------------------------------------------------------
def page(body: bytes | str, *, status: int = 200, content_type: str = "text/html; charset=utf-8",
         headers: dict[str, str] | None = None) -> Behaviour:
    data = body.encode("utf-8") if isinstance(body, str) else body

    def answer(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def pdf(data: bytes) -> Behaviour:
    return page(data, content_type="application/pdf")


def redirect(location: str, status: int = 302) -> Behaviour:
    return page(b"", status=status, headers={"Location": location})


def drip(body: bytes, *, every: float = 1.0, announce_length: bool = True,
         content_type: str = "application/pdf") -> Behaviour:
    """Headers at once, then the body one byte per ``every`` seconds: never idle long enough for
    a read timeout. Without ``announce_length`` the body ends when the connection does."""

    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if announce_length:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.flush()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(every)

    return answer


def drip_headers(*, every: float = 1.0, header_bytes: int = 10_000) -> Behaviour:
    """The status line and then an endless header, one byte per ``every`` seconds: the response
    never even begins."""

    def answer(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        for _ in range(header_bytes):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(every)

    return answer


def conditional_pdf(data: bytes, etag: str = '"v1"') -> Behaviour:
    """A PDF with an ETag that answers 304 to a matching If-None-Match, as city servers do."""
    fresh = page(data, content_type="application/pdf", headers={"ETag": etag})
    same = page(b"", status=304, headers={"ETag": etag})

    def answer(handler):
        (same if handler.headers.get("If-None-Match") == etag else fresh)(handler)

    return answer


class SlowRelay:
    """A TCP relay in front of a server that passes what the client sends at once and what the
    server answers one byte per ``every`` seconds: any server, even a TLS handshake, made into
    a drip."""

    def __init__(self, target_port: int, every: float):
        import socket

        self.target_port, self.every = target_port, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._closing = threading.Event()

    def _pump(self, source, sink, every: float) -> None:
        try:
            while not self._closing.is_set():
                data = source.recv(1 if every else 65536)
                if not data:
                    break
                sink.sendall(data)
                if every:
                    time.sleep(every)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def _serve(self) -> None:
        import socket

        while not self._closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.every), daemon=True).start()

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._closing.set()
        self.listener.close()
