"""The one way PIA Watch talks HTTP: polite to city servers and safe for us.

Polite: robots.txt is obeyed (cached per host, Crawl-delay honoured), requests to one host are
spaced by a delay, the User-Agent names the project and a contact, 5xx/429 are retried a bounded
number of times honouring Retry-After.

Safe, against a hostile page or server:
- a URL is read once, the way the connection will read it (requests' own URL preparation, then
  urllib3's parser); a URL our reading and that one disagree on (``http://127.0.0.1:80\\@8.8.8.8/``),
  with user info, or that does not parse is refused (``connection_target``);
- only the city's origins: scheme, host and port of its registry URLs (``allowed_origins``),
  checked at every redirect hop;
- no private, loopback or link-local address unless the city is a local demo, and every
  connection goes to the address that was checked (``_PinnedConnection``): a name that resolves
  to a public address for the check and a private one for the connect (DNS rebinding) is never
  resolved a second time;
- a wall-clock deadline per request (``HttpLimits.total_timeout``) that shuts the socket down
  however slowly the server drips its headers or body, and a size limit while streaming;
- a budget for the whole session (``HttpLimits.session_budget``, one city's crawl), after which
  no request is made.

Every request made (robots.txt, redirect hops and retries included) is appended to
``PoliteSession.fetch_log`` as one fetch-log row.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import socket
import threading
import time
import urllib.robotparser
import weakref
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from ground.errors import DisallowedURL, FetchError, FetchTimeout, HTTPStatusError, TooLarge

log = logging.getLogger(__name__)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 500, 502, 503, 504}
CHUNK_BYTES = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
# A Crawl-delay larger than this is a misconfiguration, not a request we can follow at night.
MAX_CRAWL_DELAY = 60.0


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # A whole request (connect, headers, body) ends within this, however slowly the server drips:
    # at the deadline its socket is shut down.
    total_timeout: float = 120.0
    max_page_bytes: int = 5 * 1024 * 1024
    max_pdf_bytes: int = 64 * 1024 * 1024
    retries: int = 2
    backoff_seconds: float = 1.0
    max_retry_wait: float = 30.0
    delay_seconds: float = 1.0
    max_redirects: int = 5
    # A whole session (one city's crawl) makes no request after this many seconds: what is left
    # becomes failure rows, tried again the next night.
    session_budget: float = 1800.0


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


Origin = tuple[str, str, int]  # scheme, host (lower case, IDNA), port


def connection_target(url: str) -> Origin:
    """(scheme, host, port) exactly as the connection will use them: the URL prepared as
    ``requests`` prepares it, then read by urllib3, which opens the socket.

    DisallowedURL when the URL does not parse, carries user info, or when Python's own reading
    (``urlsplit``, which this project's link handling and a reader of the log use) names another
    scheme, host or port: ``http://127.0.0.1:80\\@8.8.8.8/`` is host 8.8.8.8 to one and
    127.0.0.1 to the other, and must not be fetched at all.
    """
    # Python's urlsplit drops tabs and line breaks that the connection would see (and a header
    # could carry): a control character is refused, a space in a path is quoted as browsers do
    if any(ord(ch) < 32 or ch == "\x7f" for ch in url):
        raise DisallowedURL(f"{url!r}: a URL with control characters is not fetched")
    try:
        ours = urlsplit(url)
        our_port = ours.port
        prepared = PreparedRequest()
        prepared.prepare_url(url, None)
        theirs = urllib3.util.parse_url(prepared.url)
    except (ValueError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise DisallowedURL(f"{url}: not a well-formed URL ({exc})") from None
    scheme = (theirs.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or ours.scheme.lower() != scheme:
        raise DisallowedURL(f"{url}: only http and https URLs are fetched")
    host = (theirs.host or "").lower().strip("[]")
    try:
        our_host = (ours.hostname or "").encode("idna").decode("ascii").lower()
    except UnicodeError:
        our_host = ours.hostname or ""
    port = theirs.port or DEFAULT_PORTS[scheme]
    if not host or host != our_host or port != (our_port or DEFAULT_PORTS[scheme]):
        raise DisallowedURL(f"{url}: its host reads as {our_host or '(none)'}:{our_port or DEFAULT_PORTS[scheme]} "
                            f"to one URL parser and {host or '(none)'}:{port} to the connection; refused")
    if ours.username is not None or ours.password is not None or theirs.auth or "@" in ours.netloc:
        raise DisallowedURL(f"{url}: a URL with user info (user@host) is not fetched")
    return scheme, host, port


def origin_text(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def origins_of(urls: Iterable[str]) -> frozenset[Origin]:
    """The origins a crawl of ``urls`` may reach: each URL's own, and for a plain-http URL on
    the default port also https on 443 of the same host (a site moving to TLS is the same site;
    any other port of the host is another service)."""
    origins = set()
    for url in urls:
        scheme, host, port = connection_target(url)
        origins.add((scheme, host, port))
        if (scheme, port) == ("http", 80):
            origins.add(("https", host, 443))
    return frozenset(origins)


def _address_reason(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            article = "an" if kind[0] in "aeiou" else "a"
            return f"host {host} resolves to {address}, {article} {kind.replace('_', '-')} address"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared by carriers
        return f"host {host} resolves to {address}, not a public address"
    return None


def checked_address(host: str, *, allow_private: bool) -> str:
    """Resolve ``host`` once and return the address to connect to; DisallowedURL when it does not
    resolve or (unless ``allow_private``) any of its addresses is not public."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise DisallowedURL(f"host {host} does not resolve ({exc.strerror})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not allow_private:
        for address in addresses:
            reason = _address_reason(host, address)
            if reason:
                raise DisallowedURL(reason)
    return str(addresses[0])


def blocked_address_reason(host: str) -> str | None:
    """Why ``host`` must not be contacted from a public crawl (private, loopback, …), else None."""
    try:
        checked_address(host, allow_private=False)
    except DisallowedURL as exc:
        return exc.reason
    return None


class _PinnedConnection:
    """A urllib3 connection that connects to the address its session checked for the host,
    never resolving the name again, and whose sockets the session's deadline can shut down.
    Host header, TLS SNI and certificate checks still use the host name."""

    def __init__(self, *args, session: PoliteSession, **kwargs):
        super().__init__(*args, **kwargs)
        self._session = session
        self._handshake_fd = -1

    def _new_conn(self):
        name = self._dns_host
        # urllib3 connects to _dns_host; everything else (Host header, SNI) reads .host
        self._dns_host = self._session.pinned_address(name)
        try:
            sock = super()._new_conn()
        finally:
            self._dns_host = name
        self._session._sockets.add(sock)
        self._session._connections.add(self)
        self._handshake_fd = sock.fileno()
        return sock

    def connect(self):
        try:
            super().connect()
        finally:
            self._handshake_fd = -1
        # over TLS the socket that carries the response is the TLS layer's, not the one made above
        if self.sock is not None:
            self._session._sockets.add(self.sock)

    def cut_handshake(self) -> None:
        """During the TLS handshake the TLS layer owns the descriptor and the socket object made
        by ``_new_conn`` is detached from it: shut the descriptor itself down."""
        fd = self._handshake_fd
        if fd < 0:
            return
        borrowed = socket.socket(fileno=fd)
        try:
            borrowed.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            borrowed.detach()


class _PinnedHTTPConnection(_PinnedConnection, urllib3.connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnection, urllib3.connection.HTTPSConnection):
    pass


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, session: PoliteSession):
        self._session = session
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        session, manager = self._session, self.poolmanager
        new_pool = manager._new_pool

        def pinned_pool(scheme, host, port, request_context=None):
            pool = new_pool(scheme, host, port, request_context)
            pool.ConnectionCls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
            pool.conn_kw = {**pool.conn_kw, "session": session}
            return pool

        manager._new_pool = pinned_pool


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

    def __init__(self, *, user_agent: str, allowed_origins: Iterable[Origin],
                 allow_private: bool = False, limits: HttpLimits = HttpLimits(),
                 sleep: Callable[[float], None] = time.sleep, host_locks_dir: Path | None = None):
        self.user_agent = user_agent
        self.host_locks_dir = host_locks_dir
        self.allowed_origins = frozenset((scheme, host.lower(), port) for scheme, host, port in allowed_origins)
        self.allow_private = allow_private
        self.limits = limits
        self.fetch_log: list[dict] = []
        self._sleep = sleep
        self._http = requests.Session()
        self._http.headers.update({"User-Agent": user_agent, "Accept-Language": "ja,en;q=0.5"})
        # requests must not read proxies or .netrc: the address checks would be about the wrong host
        self._http.trust_env = False
        adapter = _PinnedAdapter(self)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser, str | None]] = {}
        # host -> the address checked for it (or why it was refused), resolved once per session
        self._pins: dict[str, str | DisallowedURL] = {}
        # what the deadline shuts down: every socket made, and connections in their TLS handshake
        self._sockets: weakref.WeakSet = weakref.WeakSet()
        self._connections: weakref.WeakSet = weakref.WeakSet()
        self._last_request: dict[str, float] = {}
        self._started = time.monotonic()

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
    def allows(self, url: str) -> bool:
        """Whether ``url`` is on one of the session's origins (no request, no DNS)."""
        try:
            return connection_target(url) in self.allowed_origins
        except DisallowedURL:
            return False

    def check_url(self, url: str, *, obey_robots: bool = True) -> None:
        origin = connection_target(url)
        if origin not in self.allowed_origins:
            raise DisallowedURL(f"{url}: {origin_text(origin)} is not among the allowed origins "
                                f"{', '.join(sorted(origin_text(o) for o in self.allowed_origins))}")
        try:
            self.pinned_address(origin[1])
        except DisallowedURL as exc:
            raise DisallowedURL(f"{url}: {exc.reason}") from None
        if obey_robots:
            parts = urlsplit(url)
            robots, unreadable = self._robots_for(parts.scheme, parts.netloc)
            if not robots.can_fetch(self.user_agent, url):
                why = f" ({unreadable})" if unreadable else ""
                raise DisallowedURL(f"{url}: disallowed by {parts.scheme}://{parts.netloc}/robots.txt{why}")

    def pinned_address(self, host: str) -> str:
        """The address every connection to ``host`` uses: resolved and checked the first time,
        the same for the rest of the session."""
        host = host.lower().rstrip(".").strip("[]")
        if host not in self._pins:
            try:
                self._pins[host] = checked_address(host, allow_private=self.allow_private)
            except DisallowedURL as exc:
                self._pins[host] = exc
        pinned = self._pins[host]
        if isinstance(pinned, DisallowedURL):
            suffix = "" if self.allow_private else "; only demo cities (and --allow-private) may use non-public addresses"
            raise DisallowedURL(f"{pinned.reason}{suffix}")
        return pinned

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
        with open(self.host_locks_dir / f"{quote(parts.netloc, safe='')}.lock", "a+", encoding="ascii",
                  errors="replace") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0)
            written = lock.read().strip()
            try:
                last = float(written or 0)
            except ValueError:  # torn or foreign content: the time is rewritten after this request
                log.warning("host lock %s held %r, not a time; taken as no request yet", lock.name, written[:40])
                last = 0.0
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
            if time.monotonic() - self._started > self.limits.session_budget:
                raise FetchTimeout(f"{current}: not fetched, the crawl's budget of "
                                   f"{self.limits.session_budget:g} s is spent (tried again next run)")
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

    @contextmanager
    def _deadline(self, seconds: float):
        """Shut every socket of the session down when ``seconds`` have passed: a blocked read then
        returns at once, whether the server drips its TLS handshake, its headers or its body. The
        session makes one request at a time, so its only busy connection is this request's; idle
        pooled ones are simply opened again. Yields a one-element list that says whether the
        deadline struck."""
        struck = [False]

        def strike():
            struck[0] = True
            for sock in list(self._sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # closed, or handed to the TLS layer
                    pass
            for connection in list(self._connections):
                connection.cut_handshake()

        timer = threading.Timer(seconds, strike)
        timer.daemon = True
        timer.start()
        try:
            yield struck
        finally:
            timer.cancel()

    def _read(self, url, headers, max_bytes, read_body_for, row, started) -> Response:
        total = self.limits.total_timeout
        late = FetchTimeout(f"{url}: not finished within {total:g} s (the limit per request)")
        with self._deadline(total) as struck:
            try:
                response = self._read_within(url, headers, max_bytes, read_body_for, row, started)
            except FetchError:
                if struck[0]:
                    raise late from None
                raise
        # a body without a length ends when the socket does: cut short, it is not a response
        if struck[0]:
            raise late
        return response

    def _read_within(self, url, headers, max_bytes, read_body_for, row, started) -> Response:
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
                body = self._read_body(raw, url, max_bytes, row)
        return Response(url=url, status=raw.status_code, headers=raw.headers, body=body,
                        elapsed_ms=round((time.monotonic() - started) * 1000), log_row=row)

    def _read_body(self, raw, url, max_bytes, row) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in raw.iter_content(CHUNK_BYTES):
                size += len(chunk)
                row["bytes"] = size
                if size > max_bytes:
                    raise TooLarge(f"{url}: more than {max_bytes} bytes, download stopped")
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
