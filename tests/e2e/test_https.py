"""HTTPS at the gateway through the real Envoy: a certificate uploaded in mgmt is served over
SDS, chosen by SNI, with HTTP/2 over ALPN; a rotation reaches new connections within 2 s
while open ones carry on; the private key is in no snapshot of the history in clear. A
certificate pointed at as files is served from them, and followed when they are swapped."""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mgmt.gateway.models import Snapshot
from mgmt.tls.forms import ServerCertificateForm
from mgmt.tls.local_ca import LocalCa, issue_server_certificate, new_local_ca
from mgmt.tls.models import ServerCertificate
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.scenario import Scenario

HOST = "api.tollgate.test"


def _context(ca: LocalCa, tmp_path: Path, alpn: tuple[str, ...] = ("http/1.1",)) -> ssl.SSLContext:
    ca_file = tmp_path / f"ca-{hashlib.sha256(ca.cert_pem.encode()).hexdigest()[:8]}.pem"
    ca_file.write_text(ca.cert_pem)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(list(alpn))
    return context


def _connect(port: int, context: ssl.SSLContext, sni: str = HOST) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname=sni or None)


def _fingerprint(conn: ssl.SSLSocket) -> str:
    der = conn.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


class _OnSocket(http.client.HTTPSConnection):
    """An HTTPS connection over a TLS socket we opened (to read its certificate first)."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        super().__init__(HOST, timeout=5)
        self.sock = sock

    def connect(self) -> None:  # already connected
        pass


def _get(conn: _OnSocket, key: str, path: str = "/demo/hello") -> int:
    conn.request("GET", path, headers={"x-api-key": key, "host": HOST})
    response = conn.getresponse()
    response.read()
    return response.status


def _upload(
    name: str, ca: LocalCa, *, instance: ServerCertificate | None = None
) -> ServerCertificate:
    chain, key = issue_server_certificate(ca, [HOST, "localhost"], now=datetime.now(UTC))
    form = ServerCertificateForm(
        data={"name": name, "enabled": "on", "certificate_chain": chain, "private_key": key},
        instance=instance,
    )
    assert form.is_valid(), form.errors
    return form.save()


def _served(port: int, context: ssl.SSLContext, key: str, fingerprint: str) -> bool:
    try:
        with _connect(port, context) as sock:
            if _fingerprint(sock) != fingerprint:
                return False
            return _get(_OnSocket(sock), key) == 200
    except (OSError, ssl.SSLError):
        return False


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_https_serves_an_uploaded_certificate_and_rotates_it_without_dropping_a_connection(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    ca = new_local_ca(now=datetime.now(UTC))
    context = _context(ca, tmp_path)
    first = _upload("gateway", ca)
    took = wait_until(
        lambda: _served(gateway.https_port, context, scenario.demo_key, first.fingerprint_sha256),
        15,
        "HTTPS serves the uploaded certificate",
    )
    print(f"\ncertificate uploaded -> served over HTTPS: {took:.2f}s")

    # HTTP/2 over ALPN, the same decision: a key is still needed.
    with _connect(gateway.https_port, _context(ca, tmp_path, ("h2", "http/1.1"))) as sock:
        assert sock.selected_alpn_protocol() == "h2"
    with _connect(gateway.https_port, context) as sock:
        assert _get(_OnSocket(sock), "tg_not_a_key") == 401

    # A client without SNI (an IP address) gets the oldest certificate.
    plain = ssl.create_default_context(cafile=str(next(tmp_path.glob("ca-*.pem"))))
    plain.check_hostname = False
    with _connect(gateway.https_port, plain, sni="") as sock:
        assert _fingerprint(sock) == first.fingerprint_sha256

    # Rotation: a connection open before it keeps working on the old certificate.
    open_before = _connect(gateway.https_port, context)
    kept = _OnSocket(open_before)
    assert _get(kept, scenario.demo_key) == 200
    rotated = _upload("gateway", ca, instance=ServerCertificate.objects.get(name="gateway"))
    assert rotated.fingerprint_sha256 != first.fingerprint_sha256
    started = time.monotonic()
    live = wait_until(
        lambda: _served(gateway.https_port, context, scenario.demo_key, rotated.fingerprint_sha256),
        2,
        "new connections get the rotated certificate within 2 s",
    )
    print(f"certificate rotated -> new connections get it: {live:.2f}s")
    for _ in range(3):
        assert _get(kept, scenario.demo_key) == 200
    assert _fingerprint(open_before) == first.fingerprint_sha256
    assert time.monotonic() - started < 10
    open_before.close()

    # Neither the table nor any snapshot in the history holds a private key in clear.
    payloads = b"".join(bytes(p) for p in Snapshot.objects.values_list("payload", flat=True))
    assert b"PRIVATE KEY" not in payloads
    assert b"PRIVATE KEY" not in bytes(ServerCertificate.objects.get().sealed_key)
    assert b"PRIVATE KEY" not in (gateway.state_dir / "snapshot.pb").read_bytes()

    ServerCertificate.objects.all().delete()  # the next tests' snapshots have no HTTPS


def _mount(directory: Path, generation: str, chain: str, key: str) -> None:
    """Files as a Kubernetes secret mount holds them: tls.crt and tls.key are symlinks
    through `..data`, itself a symlink to the current generation's directory, swapped in
    one rename on rotation."""
    (directory / generation).mkdir(parents=True)
    (directory / generation / "tls.crt").write_text(chain)
    (directory / generation / "tls.key").write_text(key)
    (directory / "..data_tmp").symlink_to(generation)
    (directory / "..data_tmp").replace(directory / "..data")
    for name in ("tls.crt", "tls.key"):
        if not (directory / name).is_symlink():
            (directory / name).symlink_to(f"..data/{name}")


def _leaf_fingerprint(chain: str) -> str:
    leaf = x509.load_pem_x509_certificate(chain.encode())
    return hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_https_serves_a_certificate_pointed_at_as_files_and_follows_their_rotation(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    ca = new_local_ca(now=datetime.now(UTC))
    context = _context(ca, tmp_path)
    mount = tmp_path / "mount"
    chain, key = issue_server_certificate(ca, [HOST, "localhost"], now=datetime.now(UTC))
    _mount(mount, "..gen1", chain, key)
    form = ServerCertificateForm(
        data={
            "name": "files",
            "enabled": "on",
            "chain_file": str(mount / "tls.crt"),
            "key_file": str(mount / "tls.key"),
        }
    )
    assert form.is_valid(), form.errors
    cert = form.save()
    assert cert.fingerprint_sha256 == _leaf_fingerprint(chain)  # mgmt read and checked them
    took = wait_until(
        lambda: _served(gateway.https_port, context, scenario.demo_key, _leaf_fingerprint(chain)),
        15,
        "HTTPS serves the certificate in the files",
    )
    print(f"\ncertificate pointed at as files -> served over HTTPS: {took:.2f}s")

    # Rotation by the files' owner alone (no save in mgmt): a symlink swap.
    new_chain, new_key = issue_server_certificate(ca, [HOST, "localhost"], now=datetime.now(UTC))
    published = Snapshot.objects.count()
    _mount(mount, "..gen2", new_chain, new_key)
    live = wait_until(
        lambda: _served(
            gateway.https_port, context, scenario.demo_key, _leaf_fingerprint(new_chain)
        ),
        5,
        "new connections get the rotated files within a few seconds",
    )
    print(f"certificate files swapped -> new connections get them: {live:.2f}s")
    assert Snapshot.objects.count() == published, "Envoy reloaded them itself"

    # The key was in no snapshot, the row, nor xds_server's state file.
    key_lines = [k.splitlines()[1].encode() for k in (key, new_key)]
    payloads = b"".join(bytes(p) for p in Snapshot.objects.values_list("payload", flat=True))
    state = (gateway.state_dir / "snapshot.pb").read_bytes()
    for stored in (payloads, state, bytes(ServerCertificate.objects.get().sealed_key)):
        assert b"PRIVATE KEY" not in stored and not any(line in stored for line in key_lines)
    assert str(mount / "tls.key").encode() in state

    ServerCertificate.objects.all().delete()  # the next tests' snapshots have no HTTPS
