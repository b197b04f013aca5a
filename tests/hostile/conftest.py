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


@pytest.fixture
def tls_hostile(tmp_path):
    """The hostile website over HTTPS, with a self-signed certificate for the name pinned.test
    only; ``.certificate`` is the file a client must trust."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pinned.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("pinned.test")]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = HostileServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.certificate = cert_path
    with server:
        yield server
