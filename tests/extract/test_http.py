"""The polite, safe HTTP layer on a small real server on 127.0.0.1: the cases the demo sites lack."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from extract.discover import discover
from extract.http import (HttpLimits, PoliteSession, blocked_address_reason, origins_of, require_success,
                          retry_after_seconds)
from ground.errors import DisallowedURL, FetchTimeout, HTTPStatusError, TooLarge

FAST = HttpLimits(connect_timeout=2, read_timeout=1, delay_seconds=0, backoff_seconds=0.05)
CHUNK = b"x" * 65536


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        hits = self.server.hits.count(self.path)
        if self.path == "/robots.txt":
            if self.server.robots_status != 200:
                return self.reply(self.server.robots_status, b"")
            return self.reply(200, b"User-agent: *\nCrawl-delay: 0\nDisallow: /closed/\n")
        if self.path == "/out":
            return self.reply(302, b"", location=f"http://localhost:{self.server.server_address[1]}/page")
        if self.path == "/ftp":
            return self.reply(302, b"", location="ftp://127.0.0.1/file.pdf")
        if self.path == "/loop":
            return self.reply(302, b"", location="/loop")
        if self.path.startswith("/unstable") and hits < 3:
            return self.reply(500, b"busy")
        if self.path == "/big-unannounced":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(4):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
            self.wfile.write(b"0\r\n\r\n")
            return None
        if self.path == "/big-announced":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024 * 1024))
            self.end_headers()
            return None
        if self.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"%PDF-1.4\n")
            self.wfile.flush()
            time.sleep(2)
            return None
        if self.path == "/listing.html":
            return self.reply(200, '<a href="/download?id=3">介護保険事務 基礎項目評価書</a> '
                                   '<a href="/download?id=4">様式（Excel）</a>'.encode("utf-8"),
                              content_type="text/html; charset=utf-8")
        if self.path == "/download?id=3":
            return self.reply(200, b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
        if self.path == "/download?id=4":
            return self.reply(200, b"PK\x03\x04", content_type="application/vnd.ms-excel")
        return self.reply(200, b"<html><body>ok</body></html>")

    def reply(self, status, body, location=None, content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the client hanging up is the test
            super().handle_error(request, client_address)


@pytest.fixture
def site():
    server = QuietServer(("127.0.0.1", 0), Handler)
    server.hits, server.robots_status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def session(site, limits=FAST):
    return PoliteSession(user_agent="PIAWatch-test/1 (test@example.org)",
                         allowed_origins={("http", "127.0.0.1", site.server_address[1])}, allow_private=True,
                         limits=limits)


def url(site, path):
    return f"http://127.0.0.1:{site.server_address[1]}{path}"


def test_redirect_hops_are_checked_like_the_first_url(site):
    with session(site) as http:
        with pytest.raises(DisallowedURL, match="http://localhost:[0-9]+ is not among the allowed origins"):
            http.get(url(site, "/out"))
        with pytest.raises(DisallowedURL, match="only http and https"):
            http.get(url(site, "/ftp"))
    assert "/page" not in site.hits


def test_redirect_loops_end(site):
    with session(site) as http, pytest.raises(Exception, match="more than 5 redirects"):
        http.get(url(site, "/loop"))
    assert site.hits.count("/loop") == 6


def test_robots_disallow_and_unreachable_robots(site):
    with session(site) as http:
        with pytest.raises(DisallowedURL, match="disallowed by .*robots.txt"):
            http.get(url(site, "/closed/page.html"))
        assert http.get(url(site, "/open.html")).status == 200
    site.robots_status = 503
    with session(site, HttpLimits(delay_seconds=0, retries=0)) as http:
        with pytest.raises(DisallowedURL, match="robots.txt answered HTTP 503"):
            http.get(url(site, "/open.html"))
    site.robots_status = 404
    with session(site) as http:
        assert http.get(url(site, "/closed/page.html")).status == 200


def test_5xx_is_retried_with_backoff(site):
    with session(site) as http:
        response = http.get(url(site, "/unstable"))
        assert response.status == 200
        assert [row["status"] for row in http.fetch_log if row["url"].endswith("/unstable")] == [500, 500, 200]
    with session(site, HttpLimits(delay_seconds=0, retries=1, backoff_seconds=0.01)) as http:
        with pytest.raises(HTTPStatusError, match="HTTP 500"):
            require_success(http.get(url(site, "/unstable-again")))


def test_size_limit_while_streaming_and_when_announced(site):
    with session(site, FAST) as http:
        with pytest.raises(TooLarge, match="more than 100000 bytes"):
            http.get(url(site, "/big-unannounced"), max_bytes=100_000)
        assert http.fetch_log[-1]["error"].endswith("download stopped")
        with pytest.raises(TooLarge, match="10485760 bytes announced"):
            http.get(url(site, "/big-announced"), max_bytes=1_000_000)
        assert len(http.get(url(site, "/big-unannounced"), max_bytes=1_000_000).body) == 4 * len(CHUNK)


def test_a_stalled_body_times_out(site):
    with session(site, HttpLimits(read_timeout=0.3, delay_seconds=0)) as http, pytest.raises(FetchTimeout):
        http.get(url(site, "/stall"))


def test_requests_to_one_host_are_spaced(site):
    with session(site, HttpLimits(delay_seconds=0.25)) as http:
        started = time.monotonic()
        for _ in range(3):
            http.get(url(site, "/page.html"))
        # robots.txt + 3 pages: three gaps of at least the delay
        assert time.monotonic() - started >= 0.75


def _crawl_pages_in_a_process(address: str, locks_dir: str, times) -> None:
    limits = HttpLimits(delay_seconds=0.3)
    with PoliteSession(user_agent="PIAWatch-test/1 (test@example.org)", allowed_origins=origins_of([address]),
                       allow_private=True, limits=limits, host_locks_dir=Path(locks_dir)) as http:
        for _ in range(3):
            http.get(f"{address}/page.html")
            times.append(time.time())


def test_parallel_crawls_of_one_host_take_turns_across_processes(site, tmp_path):
    """Two cities on one host, crawled by two processes at once, still space their requests."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        times = manager.list()
        address = url(site, "")
        workers = [context.Process(target=_crawl_pages_in_a_process, args=(address, str(tmp_path), times))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        stamps = sorted(times)
    assert len(stamps) == 6
    # every request of either process (robots.txt and 3 pages each) waited for the other's:
    # the pages alone are 6 turns of the same host, at least 5 delays apart
    assert stamps[-1] - stamps[0] >= 5 * 0.3 * 0.9
    assert all(later - earlier >= 0.3 * 0.9 for earlier, later in zip(stamps, stamps[1:]))


@pytest.mark.parametrize("host, kind", [
    ("127.0.0.1", "a loopback"), ("localhost", "a loopback"), ("::1", "a loopback"),
    ("10.1.2.3", "a private"), ("192.168.0.10", "a private"), ("fd00::1", "a private"),
    ("169.254.169.254", "a link-local"), ("fe80::1", "a link-local"), ("0.0.0.0", "an unspecified"),
    ("100.64.0.1", "not a public"), ("224.0.0.1", "a multicast"),
])
def test_private_addresses_are_refused(host, kind):
    assert f"resolves to" in blocked_address_reason(host)
    assert f"{kind} address" in blocked_address_reason(host)


def test_public_addresses_pass():
    assert blocked_address_reason("8.8.8.8") is None


def test_refused_before_any_request():
    public = PoliteSession(user_agent="t", allowed_origins={("http", "127.0.0.1", 9)}, allow_private=False,
                           limits=FAST)
    with pytest.raises(DisallowedURL, match="127.0.0.1 resolves to 127.0.0.1, a loopback address"):
        public.get("http://127.0.0.1:9/x.pdf")
    assert public.fetch_log == []


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert 100 < retry_after_seconds(format_datetime(later, usegmt=True)) <= 120
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_pdf_behind_an_opaque_url_is_known_by_its_content_type(site):
    with session(site) as http:
        found = discover(http, [url(site, "/listing.html")], depth=1, page_limit=10)
        assert found.links == [{"url": url(site, "/download?id=3"), "link_text": "介護保険事務 基礎項目評価書",
                                "found_on": url(site, "/listing.html")}]
        # discovery only looked at the headers: the PDF is downloaded once, by the fetch step
        assert next(r for r in http.fetch_log if r["url"].endswith("id=3"))["bytes"] == 0
    assert found.failures == []
