"""Fixtures of the adversarial suite: hostile servers, a resolver the test controls, generated bombs."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from .server import HostileServer


@pytest.fixture
def hostile():
    """The hostile city website."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def internal():
    """A service beside it that a crawl must never reach (another port of the same machine)."""
    with HostileServer() as server:
        yield server


class Resolver:
    """``socket.getaddrinfo`` for chosen names: each answers from its list of addresses in turn
    (the last one repeats), so a name can resolve one way for a check and another way for the
    connect, as a rebinding DNS server makes it. Other names resolve as usual. Every name asked
    is recorded."""

    def __init__(self, real: Callable):
        self._real = real
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def set(self, name: str, *addresses: str) -> None:
        self.answers[name] = list(addresses)

    def __call__(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        self.asked.append(name)
        if name in self.answers:
            queue = self.answers[name]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            return self._real(address, port, *args, **kwargs)
        return self._real(host, port, *args, **kwargs)


@pytest.fixture
def resolver(monkeypatch):
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(scope="session")
def bombs_dir(tmp_path_factory):
    """Where the generated hostile PDFs of the session are written (each made once)."""
    return tmp_path_factory.mktemp("bombs")
