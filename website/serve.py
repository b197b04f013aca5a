"""``piawatch site --serve``: the site and the stored PDFs over HTTP on 127.0.0.1.

The site links the stored PDFs relatively (``../../raw/…``), so the server's root is the data
root, but it answers only under the site and raw/ folders: the warehouse, staging files and
HTTP state beside them are not served.
"""

from __future__ import annotations

import functools
import os
import threading
import webbrowser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from website.build import build_site, site_dir


class _Handler(SimpleHTTPRequestHandler):
    allowed: tuple[str, ...] = ()
    home = "/"

    def _permitted(self) -> bool:
        path = os.path.normpath(unquote(urlsplit(self.path).path))
        return any(path == a or path.startswith(a + "/") for a in self.allowed)

    def _route(self):
        if urlsplit(self.path).path in ("", "/"):
            self.send_response(302)
            self.send_header("Location", self.home)
            self.end_headers()
            return False
        if not self._permitted():
            self.send_error(404, "not part of the site")
            return False
        return True

    def do_GET(self):
        if self._route():
            super().do_GET()

    def do_HEAD(self):
        if self._route():
            super().do_HEAD()

    def log_message(self, format, *args):  # the CLI prints the URL; one line per request is noise
        pass


class SiteServer(ThreadingHTTPServer):
    """Serve ``site_dir`` and ``raw_dir`` (which share a parent) on 127.0.0.1; port 0 picks one."""

    daemon_threads = True

    def __init__(self, site_dir: Path, raw_dir: Path, port: int = 0):
        root = Path(os.path.commonpath([site_dir.resolve(), raw_dir.resolve()]))
        site = "/" + site_dir.resolve().relative_to(root).as_posix()
        raw = "/" + raw_dir.resolve().relative_to(root).as_posix()
        handler = type("SiteHandler", (_Handler,), {"allowed": (site, raw), "home": f"{site}/index.html"})
        super().__init__(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
        self.home = f"{site}/index.html"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.home}"

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def serve(settings, *, open_browser: bool = False, serve: bool = False, port: int = 8000) -> int:
    """``piawatch site``: build, print the index's path, then open and/or serve it."""

    result = build_site(settings)
    print(f"{result.index}  ({result.rendered} files written, {result.skipped} unchanged, "
          f"{result.removed} removed, {result.seconds:.1f} s)", flush=True)
    if not serve:
        if open_browser:
            webbrowser.open(result.index.as_uri())
        return 0
    with SiteServer(site_dir(settings), settings.raw_dir, port=port) as server:
        print(f"serving {server.url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(server.url)
        try:
            server._thread.join()
        except KeyboardInterrupt:
            pass
    return 0
