"""mTLS client identity through the real Envoy: a partner registers a client certificate for
its application; HTTPS asks for one, and the one decision calls as the application with no
key. An unregistered certificate is refused with 401 (not at the handshake: Envoy can only do
that by also refusing clients with no certificate); a revoked one within 2 s, on open
connections too."""

from __future__ import annotations

import http.client
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mgmt.gateway.models import ApiKey
from mgmt.identity.models import ClientCertificate
from mgmt.identity.services import register_client_certificate, revoke_client_certificate
from mgmt.tls.local_ca import LocalCa, new_local_ca
from mgmt.tls.models import ServerCertificate
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.scenario import Scenario
from tests.e2e.test_https import HOST, _upload
from tests.identity.material import certificate, ec_key, pem, private_key_pem


def _client_files(tmp_path: Path, name: str) -> tuple[Path, Path, str]:
    """A partner's self-signed client certificate and key, as files for ssl; and its PEM."""
    key = ec_key()
    cert = certificate(now=datetime.now(UTC), key=key, common_name=f"{name}.partner.example")
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_text(pem(cert))
    key_file.write_text(private_key_pem(key))
    return cert_file, key_file, pem(cert)


def _context(ca: LocalCa, tmp_path: Path, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    ca_file = tmp_path / "gateway-ca.pem"
    ca_file.write_text(ca.cert_pem)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["http/1.1"])
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


class _Https(http.client.HTTPSConnection):
    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=5)
        self._context_for_sni = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock = self._context_for_sni.wrap_socket(raw, server_hostname=HOST)


def _get(conn: _Https, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request("GET", "/demo/orders", headers={"host": HOST, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def _status(port: int, context: ssl.SSLContext, headers: dict[str, str] | None = None) -> int:
    """The status of one request on a new connection; 0 when the TLS handshake is refused
    (over TLS 1.3 the client learns it on its first read)."""
    conn = _Https(port, context)
    try:
        return _get(conn, headers)[0]
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return 0
    finally:
        conn.close()


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_a_registered_client_certificate_is_the_applications_credential_until_revoked(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    ca = new_local_ca(now=datetime.now(UTC))
    _upload("gateway", ca)
    no_certificate = _context(ca, tmp_path, None)
    wait_until(
        lambda: (
            _status(gateway.https_port, no_certificate, {"x-api-key": scenario.demo_key}) == 200
        ),
        15,
        "HTTPS serves the demo API",
    )
    application = ApiKey.objects.get(key_id=scenario.demo_key[3:15]).application
    cert_file, key_file, certificate_pem = _client_files(tmp_path, "checkout")
    registered = _context(ca, tmp_path, (cert_file, key_file))
    stranger_cert, stranger_key, _ = _client_files(tmp_path, "stranger")
    unregistered = _context(ca, tmp_path, (stranger_cert, stranger_key))

    row = register_client_certificate(application=application, certificate_pem=certificate_pem)
    took = wait_until(
        lambda: _status(gateway.https_port, registered) == 200,
        2,
        "the registered certificate calls with no key",
    )
    print(f"\nclient certificate registered -> accepted: {took:.2f}s")

    # The same identity upstream as the application's key.
    conn = _Https(gateway.https_port, registered)
    status, body = _get(conn)
    assert status == 200
    assert b'"x-consumer-id": "demo-partner"' in body or b'"x-consumer-id":"demo-partner"' in body
    # An unregistered certificate is refused; no certificate at all still connects, and then
    # needs a key like any other caller.
    assert _status(gateway.https_port, unregistered) == 401
    assert _status(gateway.https_port, no_certificate) == 401
    assert _status(gateway.https_port, no_certificate, {"x-api-key": scenario.demo_key}) == 200
    # A client cannot claim a certificate by header over plain HTTP or HTTPS.
    forged = {"x-tollgate-client-cert": row.fingerprint_sha256.hex()}
    assert _status(gateway.https_port, no_certificate, forged) == 401

    revoke_client_certificate(certificate=ClientCertificate.objects.get(pk=row.pk))
    took = wait_until(
        lambda: _status(gateway.https_port, registered) == 401,
        2,
        "a revoked certificate is refused",
    )
    print(f"client certificate revoked -> refused: {took:.2f}s")
    # A connection opened before the revocation is refused by the decision.
    status, body = _get(conn)
    assert status == 401
    assert b"revoked-credentials" in body
    conn.close()

    ServerCertificate.objects.all().delete()  # the next tests' snapshots have no HTTPS
