"""The city registry (config/cities.yaml): which municipal pages to crawl, and how politely.

Every entry is validated on load; a bad entry raises ``ConfigError`` naming the entry and the
value, so a typo fails ``piawatch cities`` instead of silently skipping a city at night.
"""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import soupsieve
import yaml

from extract.http import blocked_address_reason, connection_target, origins_of
from ground.errors import ConfigError, DisallowedURL
from ground.settings import DEMO_URL

DEFAULT_DEPTH = 2
MAX_DEPTH = 5
DEFAULT_PAGE_LIMIT = 100

_CODE = re.compile(r"^\d{6}$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]*$")
_HOST = re.compile(r"^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$")
# an allowed_hosts entry may name a whole origin instead of a host: https://cdn.example.jp:8443
_ORIGIN = re.compile(r"^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?/?$")
# ${NAME} or ${NAME:-default}
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")

_KEYS = {"code", "slug", "name", "prefecture", "urls", "allowed_hosts", "depth", "page_limit",
         "demo", "real", "hints"}
_HINT_KEYS = {"selector", "encoding", "delay_seconds", "read_timeout"}


@dataclass(frozen=True)
class City:
    code: str
    slug: str
    name: str
    prefecture: str
    urls: tuple[str, ...]
    allowed_hosts: frozenset[str]
    # (scheme, host, port) the crawl may reach: the URLs' own origins (extract.http.origins_of),
    # and for allowed_hosts, each host on http:80 and https:443 or the origin the entry names
    allowed_origins: frozenset[tuple[str, str, int]]
    depth: int = DEFAULT_DEPTH
    page_limit: int = DEFAULT_PAGE_LIMIT
    demo: bool = False
    real: bool = False
    selector: str | None = None
    encoding: str | None = None
    delay_seconds: float | None = None
    read_timeout: float | None = None

    @property
    def allow_private(self) -> bool:
        """Demo cities live on 127.0.0.1; every other city must resolve to a public address."""
        return self.demo


def check_digit(first_five: str) -> int:
    """The 6th digit of a 全国地方公共団体コード (weights 6..2, modulus 11)."""
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2)))
    return (11 - total % 11) % 10


def is_valid_city_code(code: str) -> bool:
    return bool(_CODE.match(code)) and check_digit(code[:5]) == int(code[5])


# libyaml's safe loader when PyYAML was built with it (its wheels are): 6x faster on a 300-body
# registry (0.06 vs 0.38 s of CPU), and every crawl batch reads the whole registry; same documents,
# a YAMLError either way.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_registry(path) -> list[City]:
    """Every entry of the registry file, validated."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the registry: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("cities"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'cities' list")
    defaults = document.get("env_defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: env_defaults must be a mapping of variable names to values")
    environment = {"PIAWATCH_DEMO_URL": DEMO_URL, **{str(k): str(v) for k, v in defaults.items()}, **os.environ}

    cities: list[City] = []
    for index, entry in enumerate(document["cities"]):
        cities.append(parse_city(entry, where=f"{path}: cities[{index}]", environment=environment))
    if not cities:
        raise ConfigError(f"{path}: the registry lists no cities: add an entry under 'cities:'")
    _check_unique(cities, path)
    return cities


def parse_city(entry, *, where: str, environment: dict[str, str]) -> City:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
    label = f"{where} ({entry.get('slug') or entry.get('code') or 'unnamed'})"

    def bad(key: str, value, problem: str) -> ConfigError:
        return ConfigError(f"{label}: {key} {value!r}: {problem}")

    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise bad(unknown[0], entry[unknown[0]], f"unknown key (expected one of {', '.join(sorted(_KEYS))})")

    code = entry.get("code")
    # unquoted, YAML reads 072044 as an octal number: only a string keeps the leading zero
    if not isinstance(code, str) or not _CODE.match(code):
        raise bad("code", code, "a 全国地方公共団体コード is 6 digits in quotes")
    if not is_valid_city_code(code):
        raise bad("code", code, f"wrong check digit (expected {check_digit(code[:5])})")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise bad("slug", slug, "lower-case ASCII letters, digits and hyphens, starting with a letter")
    for key in ("name", "prefecture"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise bad(key, entry.get(key), "required, a non-empty string")

    demo, real = entry.get("demo", False), entry.get("real", False)
    for key, value in (("demo", demo), ("real", real)):
        if not isinstance(value, bool):
            raise bad(key, value, "true or false")
    if demo and real:
        raise bad("real", real, "an entry cannot be both demo and real")

    raw_urls = entry.get("urls")
    if isinstance(raw_urls, str):
        raw_urls = [raw_urls]
    if not isinstance(raw_urls, list) or not raw_urls:
        raise bad("urls", raw_urls, "a list of at least one listing URL")
    urls = tuple(_listing_url(u, environment, bad) for u in raw_urls)
    if not demo:
        for url in urls:
            if (reason := _local_address(urlsplit(url).hostname)) is not None:
                raise bad("urls", url, f"{reason}: only demo entries (demo: true) may point at this machine "
                                       f"or a private network")

    hosts = entry.get("allowed_hosts")
    try:
        origins = set(origins_of(urls))
    except DisallowedURL as exc:
        raise bad("urls", urls, exc.reason) from None
    if hosts is None:
        allowed = frozenset(urlsplit(u).hostname for u in urls)
    else:
        if not isinstance(hosts, list) or not all(
                isinstance(h, str) and (_HOST.match(h.lower()) or _ORIGIN.match(h.lower())) for h in hosts):
            raise bad("allowed_hosts", hosts, "a list of host names or origins (https://host:port)")
        named = [h.lower() for h in hosts if _HOST.match(h.lower())]
        origins.update(connection_target(f"{scheme}://{host}/") for host in named for scheme in ("http", "https"))
        try:
            origins.update(connection_target(h.lower()) for h in hosts if _ORIGIN.match(h.lower()))
        except DisallowedURL as exc:
            raise bad("allowed_hosts", hosts, exc.reason) from None
        allowed = frozenset(named) | frozenset(urlsplit(h.lower()).hostname for h in hosts if _ORIGIN.match(h.lower()))
        outside = [u for u in urls if urlsplit(u).hostname not in allowed]
        if outside:
            raise bad("urls", outside[0], f"its host is not in allowed_hosts {sorted(allowed)}")

    depth = entry.get("depth", DEFAULT_DEPTH)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= MAX_DEPTH:
        raise bad("depth", depth, f"an integer from 0 to {MAX_DEPTH}")
    page_limit = entry.get("page_limit", DEFAULT_PAGE_LIMIT)
    if not isinstance(page_limit, int) or isinstance(page_limit, bool) or page_limit < 1:
        raise bad("page_limit", page_limit, "a positive integer")

    hints = entry.get("hints") or {}
    if not isinstance(hints, dict):
        raise bad("hints", hints, "a mapping")
    unknown = sorted(set(hints) - _HINT_KEYS)
    if unknown:
        raise bad(f"hints.{unknown[0]}", hints[unknown[0]],
                  f"unknown hint (expected one of {', '.join(sorted(_HINT_KEYS))})")
    selector = hints.get("selector")
    if selector is not None:
        try:
            soupsieve.compile(selector)
        except (soupsieve.SelectorSyntaxError, TypeError) as exc:
            raise bad("hints.selector", selector, f"not a CSS selector: {exc}") from exc
    encoding = hints.get("encoding")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except (LookupError, TypeError) as exc:
            raise bad("hints.encoding", encoding, "not an encoding Python knows") from exc
    numbers = {}
    for key in ("delay_seconds", "read_timeout"):
        value = hints.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            raise bad(f"hints.{key}", value, "a number of seconds, 0 or more")
        numbers[key] = None if value is None else float(value)

    return City(code=code, slug=slug, name=entry["name"].strip(), prefecture=entry["prefecture"].strip(),
                urls=urls, allowed_hosts=allowed, allowed_origins=frozenset(origins), depth=depth,
                page_limit=page_limit, demo=demo, real=real,
                selector=selector, encoding=encoding, **numbers)


def expand_variables(value: str, environment: dict[str, str]) -> str:
    """Replace ${NAME} / ${NAME:-default}; a variable that is unset and has no default is an error."""

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environment and environment[name] != "":
            return environment[name].rstrip("/")
        if default is not None:
            return default.rstrip("/")
        raise KeyError(name)

    return _VARIABLE.sub(substitute, value)


def _local_address(host: str) -> str | None:
    """Why a registry URL's host is loopback or private — for an address written out or a
    localhost name only: names in public DNS are checked by the crawler at each connection."""
    bare = host.strip("[]").lower()
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        if bare != "localhost" and not bare.endswith(".localhost"):
            return None
    return blocked_address_reason(bare)


def _listing_url(raw, environment, bad) -> str:
    if not isinstance(raw, str):
        raise bad("urls", raw, "a URL string")
    try:
        url = expand_variables(raw, environment)
    except KeyError as exc:
        raise bad("urls", raw, f"environment variable {exc.args[0]} is not set") from None
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise bad("urls", url, f"not a well-formed URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("urls", url, "an http:// or https:// URL with a host")
    return url


def _check_unique(cities: list[City], path: Path) -> None:
    for attribute in ("code", "slug"):
        seen: set[str] = set()
        for city in cities:
            value = getattr(city, attribute)
            if value in seen:
                raise ConfigError(f"{path}: entry ({city.slug}): {attribute} {value!r}: appears twice")
            seen.add(value)
    first_entry: dict[str, str] = {}
    for city in cities:
        for url in city.urls:
            if url in first_entry:
                raise ConfigError(f"{path}: entry ({city.slug}): urls {url!r}: already a start URL of "
                                  f"({first_entry[url]}); each listing page belongs to one entry, once")
            first_entry[url] = city.slug
