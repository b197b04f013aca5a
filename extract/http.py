"""The one way PIA Watch talks HTTP: polite to city servers and safe for us.

Polite: robots.txt is obeyed (cached per host, Crawl-delay honoured), requests to one host are
spaced by a delay, the User-Agent names the project and a contact, 5xx/429 are retried a bounded
number of times honouring Retry-After. Safe: http/https only, only the city's hosts, no private,
loopback or link-local address (checked at every redirect hop) unless the city is a local demo,
timeouts on connect and read, and a size limit enforced while streaming.

Every request made (robots.txt, redirect hops and retries included) is appended to
``PoliteSession.fetch_log`` as one fetch-log row.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import time
import urllib.robotparser
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from piawatch.errors import DisallowedURL, FetchError, FetchTimeout, HTTPStatusError, TooLarge

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 500, 502, 503, 504}
CHUNK_BYTES = 64 * 1024
# A Crawl-delay larger than this is a misconfiguration, not a request we can follow at night.
MAX_CRAWL_DELAY = 60.0


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # A whole response must arrive within this, however slowly the server drips it.
    total_timeout: float = 120.0
    max_page_bytes: int = 5 * 1024 * 1024
    max_pdf_bytes: int = 64 * 1024 * 1024
    retries: int = 2
    backoff_seconds: float = 1.0
    max_retry_wait: float = 30.0
    delay_seconds: float = 1.0
    max_redirects: int = 5


@dataclass
class Response:
    url: str
    status: int
    headers: CaseInsensitiveDict
    body: bytes
    elapsed_ms: int
    log_row: dict = field(repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for parameter in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"').lower()
        return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def require_success(response: Response) -> Response:
    """2xx or 304, else HTTPStatusError."""
    if not (response.ok or response.status == 304):
        raise HTTPStatusError(f"HTTP {response.status} for {response.url}")
    return response


def blocked_address_reason(host: str) -> str | None:
    """Why ``host`` must not be contacted from a public crawl (private, loopback, …), else None."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return f"host {host} does not resolve ({exc.strerror})"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
            if getattr(address, f"is_{kind}"):
                article = "an" if kind[0] in "aeiou" else "a"
                return f"host {host} resolves to {address}, {article} {kind.replace('_', '-')} address"
        if not address.is_global:  # e.g. 100.64.0.0/10, shared by carriers
            return f"host {host} resolves to {address}, not a public address"
    return None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class PoliteSession:
    """Sequential HTTP for one crawl: one request at a time, spaced per host (across processes
    when given ``host_locks_dir``)."""

    def __init__(self, *, user_agent: str, allowed_hosts: frozenset[str] | set[str],
                 allow_private: bool = False, limits: HttpLimits = HttpLimits(),
                 sleep: Callable[[float], None] = time.sleep, host_locks_dir: Path | None = None):
        self.user_agent = user_agent
        self.host_locks_dir = host_locks_dir
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.allow_private = allow_private
        self.limits = limits
        self.fetch_log: list[dict] = []
        self._sleep = sleep
        self._http = requests.Session()
        self._http.headers.update({"User-Agent": user_agent, "Accept-Language": "ja,en;q=0.5"})
        # requests must not read proxies or .netrc: the address checks would be about the wrong host
        self._http.trust_env = False
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser, str | None]] = {}
        self._blocked: dict[str, str | None] = {}
        self._last_request: dict[str, float] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PoliteSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str, *, headers: dict[str, str] | None = None, max_bytes: int | None = None,
            read_body_for: Callable[[str], bool] | None = None) -> Response:
        """GET ``url`` following redirects; any final status is returned (see ``require_success``).

        ``read_body_for(content_type)`` False leaves the body unread (discovery only needs to know
        a link is a PDF, not to download it twice).
        """
        return self._follow(url, headers or {}, max_bytes or self.limits.max_page_bytes,
                            read_body_for, obey_robots=True)

    # --- checks ---------------------------------------------------------------------------------
    def check_url(self, url: str, *, obey_robots: bool = True) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise DisallowedURL(f"{url}: only http and https URLs are fetched")
        host = (parts.hostname or "").lower()
        if host not in self.allowed_hosts:
            raise DisallowedURL(f"{url}: host {host or '(none)'} is not among the allowed hosts "
                                f"{', '.join(sorted(self.allowed_hosts))}")
        if not self.allow_private:
            if host not in self._blocked:
                self._blocked[host] = blocked_address_reason(host)
            if self._blocked[host]:
                raise DisallowedURL(f"{url}: {self._blocked[host]}; only demo cities (and --allow-private) "
                                    "may use non-public addresses")
        if obey_robots:
            robots, unreadable = self._robots_for(parts.scheme, parts.netloc)
            if not robots.can_fetch(self.user_agent, url):
                why = f" ({unreadable})" if unreadable else ""
                raise DisallowedURL(f"{url}: disallowed by {parts.scheme}://{parts.netloc}/robots.txt{why}")

    def _robots_for(self, scheme: str, netloc: str):
        origin = f"{scheme}://{netloc}"
        if origin not in self._robots:
            robots = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
            unreadable = None
            try:
                response = self._follow(f"{origin}/robots.txt", {}, self.limits.max_page_bytes, None,
                                        obey_robots=False)
            except FetchError as exc:
                response, unreadable = None, f"robots.txt unreadable: {exc.reason}"
            # RFC 9309: a missing robots.txt allows everything; an unreachable one forbids
            # everything. 401/403 are read as "keep out", as Python's own robotparser does.
            if response is None:
                robots.disallow_all = True
            elif response.ok:
                robots.parse(response.body.decode("utf-8", errors="replace").splitlines())
            elif response.status not in (401, 403) and 400 <= response.status < 500:
                robots.allow_all = True
            else:
                robots.disallow_all = True
                unreadable = f"robots.txt answered HTTP {response.status}"
            self._robots[origin] = (robots, unreadable)
        return self._robots[origin]

    def _delay_for(self, scheme: str, netloc: str) -> float:
        delay = self.limits.delay_seconds
        robots = self._robots.get(f"{scheme}://{netloc}")
        if robots is not None:
            asked = robots[0].crawl_delay(self.user_agent)
            if asked:
                delay = max(delay, min(float(asked), MAX_CRAWL_DELAY))
        return delay

    @contextmanager
    def _host_turn(self, url: str):
        """Wait for the host's turn and hold it for the request.

        With ``host_locks_dir`` the turn is shared by every process on the machine (crawl tasks of
        cities on the same host run in parallel): an exclusive lock file per host holds the time of
        its last request, so the delay holds across processes and one request at a time reaches it.
        """
        parts = urlsplit(url)
        delay = self._delay_for(parts.scheme, parts.netloc)
        if self.host_locks_dir is None:
            last = self._last_request.get(parts.netloc)
            if last is not None and delay - (time.monotonic() - last) > 0:
                self._sleep(delay - (time.monotonic() - last))
            try:
                yield
            finally:
                self._last_request[parts.netloc] = time.monotonic()
            return
        self.host_locks_dir.mkdir(parents=True, exist_ok=True)
        with open(self.host_locks_dir / f"{quote(parts.netloc, safe='')}.lock", "a+", encoding="ascii") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0)
            last = float(lock.read().strip() or 0)
            if delay - (time.time() - last) > 0:
                self._sleep(delay - (time.time() - last))
            try:
                yield
            finally:
                lock.seek(0)
                lock.truncate()
                lock.write(repr(time.time()))
                lock.flush()

    # --- requests -------------------------------------------------------------------------------
    def _follow(self, url, headers, max_bytes, read_body_for, *, obey_robots) -> Response:
        current = url
        for _ in range(self.limits.max_redirects + 1):
            self.check_url(current, obey_robots=obey_robots)
            response = self._with_retries(current, headers, max_bytes, read_body_for)
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                current = urljoin(current, location)
                continue
            return response
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")

    def _with_retries(self, url, headers, max_bytes, read_body_for) -> Response:
        attempt = 0
        while True:
            try:
                response = self._once(url, headers, max_bytes, read_body_for)
            except FetchError as exc:
                # only a failed connection is worth another try; a timeout or an oversized body is not
                if type(exc) is not FetchError or attempt >= self.limits.retries:
                    raise
                self._sleep(self.limits.backoff_seconds * 2 ** attempt)
                attempt += 1
                continue
            if response.status not in RETRY_STATUSES or attempt >= self.limits.retries:
                return response
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            wait = asked if asked is not None else self.limits.backoff_seconds * 2 ** attempt
            if wait > self.limits.max_retry_wait:
                response.log_row["error"] = (f"{response.log_row['error']}; Retry-After {wait:.0f} s is "
                                             f"longer than the {self.limits.max_retry_wait:.0f} s limit")
                return response
            self._sleep(wait)
            attempt += 1

    def _once(self, url, headers, max_bytes, read_body_for) -> Response:
        with self._host_turn(url):
            conditional = any(h.lower() in ("if-none-match", "if-modified-since") for h in headers)
            row = {"url": url, "method": "GET", "status": None, "bytes": 0, "sha256": None, "elapsed_ms": 0,
                   "conditional": conditional, "not_modified": False, "error": None, "fetched_at": _now_iso()}
            self.fetch_log.append(row)
            started = time.monotonic()
            try:
                return self._read(url, headers, max_bytes, read_body_for, row, started)
            except FetchError as exc:
                row["error"] = exc.reason
                raise
            finally:
                row["elapsed_ms"] = round((time.monotonic() - started) * 1000)

    def _read(self, url, headers, max_bytes, read_body_for, row, started) -> Response:
        timeout = (self.limits.connect_timeout, self.limits.read_timeout)
        try:
            raw = self._http.get(url, headers=headers, stream=True, allow_redirects=False, timeout=timeout)
        except requests.exceptions.Timeout as exc:
            raise FetchTimeout(f"{url}: no answer within {self._timeout_text(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        with raw:
            row["status"] = raw.status_code
            row["not_modified"] = raw.status_code == 304
            if raw.status_code >= 400:
                row["error"] = f"{raw.status_code} {raw.reason}"
            declared = raw.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"{url}: {int(declared)} bytes announced, the limit is {max_bytes}")
            content_type = raw.headers.get("Content-Type", "").split(";")[0].strip().lower()
            body = b""
            if read_body_for is None or read_body_for(content_type):
                body = self._read_body(raw, url, max_bytes, started, row)
        return Response(url=url, status=raw.status_code, headers=raw.headers, body=body,
                        elapsed_ms=round((time.monotonic() - started) * 1000), log_row=row)

    def _read_body(self, raw, url, max_bytes, started, row) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in raw.iter_content(CHUNK_BYTES):
                size += len(chunk)
                row["bytes"] = size
                if size > max_bytes:
                    raise TooLarge(f"{url}: more than {max_bytes} bytes, download stopped")
                if time.monotonic() - started > self.limits.total_timeout:
                    raise FetchTimeout(f"{url}: not finished within {self.limits.total_timeout:.0f} s")
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            # a read timeout while streaming surfaces as a ConnectionError wrapping urllib3's error
            if "timed out" in str(exc).lower():
                raise FetchTimeout(f"{url}: body stalled for more than {self.limits.read_timeout:.0f} s") from exc
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        return b"".join(chunks)

    def _timeout_text(self, exc) -> str:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"{self.limits.connect_timeout:g} s (connect)"
        return f"{self.limits.read_timeout:g} s (read)"
