"""Hostile websites against the crawler: URLs read two ways, DNS rebinding, other ports, drips."""

from __future__ import annotations

import re
import time

import pytest

from extract.crawl import crawl_city
from extract.http import HttpLimits, PoliteSession, connection_target, origins_of
from extract.registry import City
from ground.errors import DisallowedURL, FetchError, FetchTimeout

from .server import drip, drip_headers, page, pdf, redirect

FAST = HttpLimits(connect_timeout=1, read_timeout=5, total_timeout=10, delay_seconds=0, retries=0,
                  backoff_seconds=0.01)
A_PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def session(*origins, allow_private=True, limits=FAST) -> PoliteSession:
    return PoliteSession(user_agent="PIAWatch-test/1 (test@example.org)", allowed_origins=set(origins),
                         allow_private=allow_private, limits=limits)


def city(server, path="/index.html", *, extra_origins=(), demo=True) -> City:
    url = server.url(path)
    return City(code="271403", slug="hostile", name="敵対市", prefecture="大阪府", urls=(url,),
                allowed_hosts=frozenset({"127.0.0.1"}), allowed_origins=origins_of([url]) | set(extra_origins),
                depth=1, demo=demo)


@pytest.mark.parametrize("url, refusal", [
    ("http://127.0.0.1:8080\\@8.8.8.8/", "reads as 8.8.8.8:80 to one URL parser and 127.0.0.1:8080 to the connection"),
    ("http://169.254.169.254\\@www.city.example.lg.jp/latest/meta-data/",
     "reads as www.city.example.lg.jp:80 to one URL parser and 169.254.169.254:80"),
    ("http://user:pass@8.8.8.8/", "user info"),
    ("http://8.8.8.8@127.0.0.1/", "user info"),
    ("http://[::1", "not a well-formed URL"),
    ("http://8.8.8.8:99999/", "not a well-formed URL"),
    ("http://8.8.8.8/\r\nX-Injected: 1", "control characters"),
    ("http://127.0.0.1\t.example.lg.jp/", "control characters"),
    ("http://exa mple.lg.jp/", "not a well-formed URL|reads as"),
    ("ftp://8.8.8.8/file.pdf", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
])
def test_a_url_read_two_ways_or_malformed_is_refused(url, refusal):
    with pytest.raises(DisallowedURL, match=refusal if "|" in refusal else re.escape(refusal)):
        connection_target(url)


def test_the_connection_target_is_what_urllib3_connects_to():
    assert connection_target("https://WWW.City.Example.lg.jp/a.pdf") == ("https", "www.city.example.lg.jp", 443)
    assert connection_target("http://[::1]:8080/") == ("http", "::1", 8080)
    assert connection_target("http://例え.jp/") == ("http", "xn--r8jz45g.jp", 80)
    # file names with spaces, full-width ones included, are common on city sites: quoted, fetched
    assert connection_target("https://www.city.example.lg.jp/files/評価書　基礎 項目.pdf") == (
        "https", "www.city.example.lg.jp", 443)


def test_a_backslash_location_never_reaches_the_service_behind_it(hostile, internal):
    """The attack of issue 18: the check read host 8.8.8.8 (allowed), the connection 127.0.0.1."""
    internal.route("/secret", page("internal only"))
    sneaky = f"http://127.0.0.1:{internal.port}\\@8.8.8.8/secret"
    hostile.route("/go", redirect(sneaky))
    with session(hostile.origin, ("http", "8.8.8.8", 80)) as http:
        with pytest.raises(DisallowedURL, match="to one URL parser and 127.0.0.1"):
            http.get(hostile.url("/go"))
    assert internal.hits == []


def test_backslash_and_other_port_links_are_failure_rows_not_requests(hostile, internal, settings):
    internal.route("/a.pdf", pdf(A_PDF))
    internal.route("/page.html", page('<a href="/b.pdf">b</a>'))
    hostile.route("/index.html", page(
        f'<a href="http://127.0.0.1:{internal.port}\\@8.8.8.8/a.pdf">公式</a>'
        f'<a href="http://127.0.0.1:{internal.port}/a.pdf">another port</a>'
        f'<a href="http://127.0.0.1:{internal.port}/page.html">a page on another port</a>'
        f'<a href="/moved">moved</a>'
        f'<a href="http://[::1">broken</a>'
        f'<a href="/good.pdf">good</a>'))
    hostile.route("/moved", redirect(internal.url("/page.html")))
    hostile.route("/good.pdf", pdf(A_PDF))
    result = crawl_city(city(hostile), settings, limits=FAST)
    assert internal.hits == []
    assert [d["url"] for d in result["documents"]] == [hostile.url("/good.pdf")]
    refused = {f["url"]: f for f in result["failures"]}
    assert refused[f"http://127.0.0.1:{internal.port}\\@8.8.8.8/a.pdf"]["code"] == "disallowed"
    assert "is not among the allowed origins" in refused[internal.url("/a.pdf")]["reason"]
    assert refused[hostile.url("/moved")]["code"] == "disallowed"
    # the link to a page on another port is not even followed; the malformed link is no link
    assert internal.url("/page.html") not in refused and "http://[::1" not in str(result["links"])


def test_the_registry_can_allow_another_origin_on_purpose(hostile, internal, settings):
    internal.route("/a.pdf", pdf(A_PDF))
    hostile.route("/index.html", page(f'<a href="{internal.url("/a.pdf")}">a</a>'))
    result = crawl_city(city(hostile, extra_origins={internal.origin}), settings, limits=FAST)
    assert [d["url"] for d in result["documents"]] == [internal.url("/a.pdf")] and result["failures"] == []


def test_dns_rebinding_cannot_move_the_connection(hostile, resolver):
    """rebind.test resolves to a public address when checked, to loopback ever after: the
    connection goes to the checked address, and the loopback server is never asked."""
    hostile.route("/doc.pdf", pdf(A_PDF))
    resolver.set("rebind.test", "93.184.215.14", "127.0.0.1")
    with session(("http", "rebind.test", hostile.port), allow_private=False,
                 limits=HttpLimits(connect_timeout=0.5, total_timeout=3, delay_seconds=0, retries=0)) as http:
        with pytest.raises(FetchError):
            http.get(f"http://rebind.test:{hostile.port}/doc.pdf", headers={}, read_body_for=None)
    assert hostile.hits == []
    # asked once for the check; the connect asked only for the checked address itself
    assert resolver.asked.count("rebind.test") == 1
    assert "93.184.215.14" in resolver.asked and "127.0.0.1" not in resolver.asked


def test_the_connection_uses_the_checked_address_and_keeps_the_host_name(hostile, resolver):
    """The other half of pinning: a name checked as 127.0.0.1 (a demo city) that later resolves
    to an unroutable address still reaches the checked one, with its own name in Host."""
    hostile.route("/page.html", page("ok"))
    resolver.set("pinned.test", "127.0.0.1", "10.255.255.1")
    with session(("http", "pinned.test", hostile.port), limits=FAST) as http:
        for _ in range(3):  # robots.txt, then the page three times over fresh and pooled connections
            assert http.get(f"http://pinned.test:{hostile.port}/page.html").body == b"ok"
    assert hostile.hits[-1] == ("/page.html", f"pinned.test:{hostile.port}")
    assert resolver.asked.count("pinned.test") == 1


def test_one_byte_a_second_gets_no_longer_than_the_deadline(hostile):
    """The drip of issue 18, as it was: one byte a second, for ever, under a 2 s deadline."""
    hostile.route("/slow.pdf", drip(b"%PDF-1.4\n" + b"x" * 3600, every=1.0))
    limits = HttpLimits(connect_timeout=1, read_timeout=20, total_timeout=2, delay_seconds=0, retries=0)
    with session(hostile.origin, limits=limits) as http:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="not finished within 2 s"):
            http.get(hostile.url("/slow.pdf"))
        assert 2 <= time.monotonic() - started < 3


@pytest.mark.parametrize("behaviour", [
    drip(b"%PDF-1.4\n" + b"x" * 100, every=0.2),
    drip(b"%PDF-1.4\n" + b"x" * 100, every=0.2, announce_length=False),
    drip_headers(every=0.2),
], ids=["body with a length", "body without a length", "headers"])
def test_a_drip_cannot_outlast_the_deadline(hostile, behaviour):
    """A server that sends a byte every 0.2 s never trips the 5 s read timeout; the 1.5 s
    deadline ends the request all the same, and a body cut short is not taken for a whole one."""
    hostile.route("/slow.pdf", behaviour)
    limits = HttpLimits(connect_timeout=1, read_timeout=5, total_timeout=1.5, delay_seconds=0, retries=0)
    with session(hostile.origin, limits=limits) as http:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"not finished within 1.5 s \(the limit per request\)"):
            http.get(hostile.url("/slow.pdf"))
        elapsed = time.monotonic() - started
        assert 1.5 <= elapsed < 2.5
        assert http.fetch_log[-1]["error"].endswith("(the limit per request)")


def test_a_dripping_pdf_costs_the_crawl_one_deadline(hostile, settings):
    """In a crawl the drip is one timeout row; the city's other documents are fetched."""
    hostile.route("/index.html", page('<a href="/slow.pdf">slow</a><a href="/good.pdf">good</a>'))
    hostile.route("/slow.pdf", drip(b"%PDF-1.4\n" + b"x" * 1000, every=0.1))
    hostile.route("/good.pdf", pdf(A_PDF))
    limits = HttpLimits(connect_timeout=1, read_timeout=5, total_timeout=1.0, delay_seconds=0, retries=0)
    started = time.monotonic()
    result = crawl_city(city(hostile), settings, limits=limits)
    assert time.monotonic() - started < 3
    assert [d["url"] for d in result["documents"]] == [hostile.url("/good.pdf")]
    (late,) = result["failures"]
    assert late["code"] == "timeout" and late["url"] == hostile.url("/slow.pdf")


def test_a_city_that_never_ends_stops_at_the_crawls_budget(hostile, settings):
    """Pages that each take almost the deadline: the crawl stops at its budget, and what it did
    not reach is failure rows, not a night spent on one city."""
    hostile.route("/index.html", page("".join(f'<a href="/p{n}.html">{n}</a>' for n in range(50))))
    for n in range(50):
        hostile.route(f"/p{n}.html", drip(b"<html>" + b" " * 100 + b"</html>", every=0.05,
                                          content_type="text/html"))
    limits = HttpLimits(connect_timeout=1, read_timeout=5, total_timeout=0.5, delay_seconds=0, retries=0,
                        session_budget=2.0)
    started = time.monotonic()
    result = crawl_city(city(hostile), settings, limits=limits)
    assert time.monotonic() - started < 2.0 + 0.5 + 1
    spent = [f for f in result["failures"] if "budget of 2 s is spent" in f["reason"]]
    timed_out = [f for f in result["failures"] if "limit per request" in f["reason"]]
    assert spent and len(spent) + len(timed_out) == 50 and all(f["code"] == "timeout" for f in spent)


def test_tls_to_the_pinned_address_still_checks_the_certificate_for_the_name(tls_hostile, resolver):
    """Pinning changes where the socket goes, not whom TLS talks to: SNI and the certificate
    check use the host name."""
    tls_hostile.route("/page.html", page("ok over tls"))
    resolver.set("pinned.test", "127.0.0.1", "10.255.255.1")
    resolver.set("other.test", "127.0.0.1")
    with session(("https", "pinned.test", tls_hostile.port)) as http:
        http._http.verify = str(tls_hostile.certificate)  # trust the test's self-signed certificate
        assert http.get(f"https://pinned.test:{tls_hostile.port}/page.html").body == b"ok over tls"
    with session(("https", "other.test", tls_hostile.port)) as http:
        http._http.verify = str(tls_hostile.certificate)
        with pytest.raises(FetchError, match="(?i)hostname|certificate"):
            http.get(f"https://other.test:{tls_hostile.port}/page.html")
    assert [path for path, _ in tls_hostile.hits] == ["/robots.txt", "/page.html"]


def test_registry_origins_are_the_urls_own_unless_the_entry_names_more():
    from extract.registry import parse_city

    entry = {"code": "212148", "slug": "kani", "name": "可児市", "prefecture": "岐阜県",
             "urls": ["http://www.city.kani.lg.jp/9237.htm"]}
    plain = parse_city(entry, where="test", environment={})
    assert plain.allowed_origins == {("http", "www.city.kani.lg.jp", 80), ("https", "www.city.kani.lg.jp", 443)}
    wider = parse_city({**entry, "allowed_hosts": ["www.city.kani.lg.jp", "https://cdn.example.jp:8443"]},
                       where="test", environment={})
    assert wider.allowed_origins == plain.allowed_origins | {("https", "cdn.example.jp", 8443)}
    odd_port = parse_city({**entry, "urls": ["https://www.city.kani.lg.jp:8443/9237.htm"]}, where="test",
                          environment={})
    assert odd_port.allowed_origins == {("https", "www.city.kani.lg.jp", 8443)}


@pytest.mark.parametrize("slow", ["body", "handshake"])
def test_a_drip_over_tls_cannot_outlast_the_deadline(tls_hostile, resolver, slow):
    """Over TLS the deadline cuts a dripping body, and also a handshake dripped a byte at a time
    (the certificate alone is hundreds of bytes) while the TLS layer holds the socket. (Python
    bounds a whole handshake by the connect timeout too; it is set longer here than the deadline.)"""
    from .server import SlowRelay

    tls_hostile.route("/slow.pdf", drip(b"%PDF-1.4\n" + b"x" * 100, every=0.2) if slow == "body"
                      else pdf(A_PDF))
    limits = HttpLimits(connect_timeout=5, read_timeout=5, total_timeout=1.5, delay_seconds=0, retries=0)
    resolver.set("pinned.test", "127.0.0.1")
    with SlowRelay(tls_hostile.port, every=0.05 if slow == "handshake" else 0) as relay:
        with session(("https", "pinned.test", relay.port), limits=limits) as http:
            http._http.verify = str(tls_hostile.certificate)
            started = time.monotonic()
            # the handshake drips for robots.txt already, and unreadable robots forbid the page
            with pytest.raises(FetchTimeout if slow == "body" else DisallowedURL,
                               match=r"not finished within 1.5 s \(the limit per request\)"):
                http.get(f"https://pinned.test:{relay.port}/slow.pdf")
            assert 1.5 <= time.monotonic() - started < 2.5
