"""TLS from the real Envoy to an upstream: SNI sent, the upstream's certificate checked
against the CA given (a certificate from another CA is refused with a clear problem), and
plain HTTP again when the TLS settings are removed; an upstream that requires a client
certificate (mTLS) is shown the one uploaded for it, whose key is in no snapshot in clear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mgmt.embedded.bootstrap import envoy_binary
from mgmt.embedded.processes import Child, free_port, wait_for_port
from mgmt.gateway.models import Endpoint, Snapshot, Upstream
from mgmt.tls.local_ca import (
    LocalCa,
    issue_client_certificate,
    issue_server_certificate,
    new_local_ca,
)
from mgmt.tls.models import UpstreamTls
from mgmt.tls.upstream_admin import UpstreamTlsForm
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import Reply, request
from tests.e2e.scenario import Scenario

BACKEND = "backend.tollgate.test"


def _call(gateway: Gateway, scenario: Scenario) -> Reply:
    return request(gateway.ports.gateway, "/demo/hello", {"x-api-key": scenario.demo_key})


def _tls_backend(
    gateway: Gateway, tmp_path: Path, ca: LocalCa, *, client_ca: LocalCa | None = None
) -> tuple[Child, int]:
    """A demo upstream serving HTTPS for BACKEND (issued by `ca`), requiring a client
    certificate issued by `client_ca` when one is given; started, listening."""
    chain, key = issue_server_certificate(ca, [BACKEND], now=datetime.now(UTC))
    (tmp_path / "chain.pem").write_text(chain)
    (tmp_path / "key.pem").write_text(key)
    port = free_port()
    arguments = ["--port", str(port), "--name", "tls-backend"]
    arguments += ["--tls-cert", str(tmp_path / "chain.pem"), "--tls-key", str(tmp_path / "key.pem")]
    if client_ca is not None:
        (tmp_path / "clients-ca.pem").write_text(client_ca.cert_pem)
        arguments += ["--tls-client-ca", str(tmp_path / "clients-ca.pem")]
    backend = gateway.group.python("tls-backend", "mgmt.embedded.demo_upstream", *arguments)
    try:
        wait_for_port("127.0.0.1", port, process=backend)
    except BaseException:
        gateway.group.stop(backend)
        raise
    return backend, port


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_an_upstream_over_tls_is_verified_by_its_ca_and_its_name(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ca, stranger_ca = new_local_ca(now=now), new_local_ca(now=now, name="Another CA")
    backend, port = _tls_backend(gateway, tmp_path, ca)
    try:
        upstream = Upstream.objects.get(name="demo")
        Endpoint.objects.filter(upstream=upstream).update(port=port)
        tls = UpstreamTls.objects.create(upstream=upstream, sni=BACKEND, ca_bundle_pem=ca.cert_pem)

        def over_tls() -> bool:
            reply = _call(gateway, scenario)
            return reply.status == 200 and reply.json().get("upstream") == "tls-backend"

        took = wait_until(over_tls, 5, "the gateway calls the upstream over TLS")
        print(f"\nupstream TLS configured -> served over it: {took:.2f}s")
        seen = _call(gateway, scenario).json()["tls"]
        assert seen["sni"] == BACKEND
        assert seen["version"] in {"TLSv1.2", "TLSv1.3"}

        # Another name than the certificate's: refused; the right one: served again.
        tls.sni = "other.tollgate.test"
        tls.save()
        wait_until(lambda: _call(gateway, scenario).status == 503, 5, "a name mismatch")
        # No name at all, and the endpoint is an IP address: refused before Envoy.
        tls.sni = ""
        tls.save()
        refused_config = Snapshot.objects.order_by("-id").first()
        assert refused_config is not None and refused_config.status == "refused"
        assert "TLS verification needs a server name (SNI)" in refused_config.errors
        tls.sni = BACKEND
        tls.save()
        wait_until(over_tls, 5, "served again with the right name")

        # The same server, not trusted (another CA): refused, the caller gets a problem.
        tls.ca_bundle_pem = stranger_ca.cert_pem
        tls.save()
        wait_until(lambda: _call(gateway, scenario).status == 503, 5, "an untrusted upstream")
        refused = _call(gateway, scenario)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("upstream-unavailable")
    finally:
        gateway.group.stop(backend)


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_an_upstream_that_requires_a_client_certificate_is_shown_the_uploaded_one(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ca, clients_ca = new_local_ca(now=now), new_local_ca(now=now, name="Backend clients CA")
    backend, port = _tls_backend(gateway, tmp_path, ca, client_ca=clients_ca)
    try:
        upstream = Upstream.objects.get(name="demo")
        Endpoint.objects.filter(upstream=upstream).update(port=port)
        tls = UpstreamTls.objects.create(upstream=upstream, sni=BACKEND, ca_bundle_pem=ca.cert_pem)

        # No client certificate configured: the upstream refuses the handshake.
        wait_until(lambda: _call(gateway, scenario).status == 503, 5, "no client certificate")
        refused = _call(gateway, scenario)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("upstream-unavailable")

        chain, key = issue_client_certificate(clients_ca, "gateway.tollgate.test", now=now)
        form = UpstreamTlsForm(
            data={
                "sni": BACKEND,
                "verify": "on",
                "ca_bundle_pem": ca.cert_pem,
                "client_certificate_chain": chain,
                "client_private_key": key,
            },
            instance=tls,
        )
        assert form.is_valid(), form.errors
        form.save()

        def seen_subject() -> object:
            reply = _call(gateway, scenario)
            return (
                reply.json().get("tls", {}).get("client_subject") if reply.status == 200 else None
            )

        took = wait_until(
            lambda: seen_subject() == "CN=gateway.tollgate.test",
            5,
            "the upstream is shown the uploaded client certificate",
        )
        print(f"\nupstream client certificate uploaded -> accepted by the upstream: {took:.2f}s")

        # Neither the row nor any snapshot of the history holds the key in clear.
        key_line = key.splitlines()[1].encode()
        payloads = b"".join(bytes(p) for p in Snapshot.objects.values_list("payload", flat=True))
        state = (gateway.state_dir / "snapshot.pb").read_bytes()
        for stored in (payloads, state, bytes(UpstreamTls.objects.get().client_sealed_key)):
            assert b"PRIVATE KEY" not in stored and key_line not in stored
    finally:
        gateway.group.stop(backend)


_TLS_CONTEXT = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)


def _h2_upstream_config(port: int, admin_port: int, chain: Path, key: Path) -> str:
    """A TLS listener answering every request itself, saying which protocol it came over."""
    return f"""
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
static_resources:
  listeners:
    - name: h2
      address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
      filter_chains:
        - transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": {_TLS_CONTEXT}
              common_tls_context:
                alpn_protocols: [h2, http/1.1]
                tls_certificates:
                  - certificate_chain: {{filename: {chain}}}
                    private_key: {{filename: {key}}}
          filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": {_HCM}
                stat_prefix: h2
                codec_type: AUTO
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{prefix: "/"}}
                          direct_response: {{status: 200, body: {{inline_string: "{{}}"}}}}
                      response_headers_to_add:
                        - header: {{key: x-upstream-protocol, value: "%PROTOCOL%"}}
"""


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_a_grpc_upstream_is_spoken_to_in_http2_over_tls(
    gateway: Gateway, scenario: Scenario, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ca = new_local_ca(now=now)
    chain, key = issue_server_certificate(ca, [BACKEND], now=now)
    (tmp_path / "chain.pem").write_text(chain)
    (tmp_path / "key.pem").write_text(key)
    port, admin_port = free_port(), free_port()
    config = tmp_path / "h2-upstream.yaml"
    config.write_text(
        _h2_upstream_config(port, admin_port, tmp_path / "chain.pem", tmp_path / "key.pem")
    )
    upstream_envoy = gateway.group.start(
        "h2-upstream",
        [envoy_binary(), "-c", str(config), "--base-id", str(admin_port), "--concurrency", "1"],
    )
    try:
        wait_for_port("127.0.0.1", port, process=upstream_envoy)
        upstream = Upstream.objects.get(name="demo")
        Endpoint.objects.filter(upstream=upstream).update(port=port)
        UpstreamTls.objects.create(
            upstream=upstream, sni=BACKEND, ca_bundle_pem=ca.cert_pem, http2=True
        )
        wait_until(
            lambda: _call(gateway, scenario).headers.get("x-upstream-protocol") == "HTTP/2",
            5,
            "the gateway speaks HTTP/2 over TLS to the upstream",
        )
    finally:
        gateway.group.stop(upstream_envoy)
