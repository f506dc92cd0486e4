"""TLS to upstreams in the compiled clusters: SNI, the CAs, the name checked, HTTP/2, and the
client certificate presented (an SDS secret named by the upstream's id, its key sealed)."""

from __future__ import annotations

import dataclasses

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from mgmt.compiler.clusters import cluster
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import EndpointRow, GatewaySettings, UpstreamRow, UpstreamTlsRow
from mgmt.compiler.tls import secret_name
from mgmt.compiler.upstream_tls import (
    CLIENT_SDS_NAME_PREFIX,
    HTTP_OPTIONS_EXTENSION,
    client_secret_name,
    client_secrets,
)
from tests.mgmt.compiler_rows import demo_rows
from xds_server import sealing, type_urls
from xds_server.errors import InvalidSnapshot
from xds_server.snapshot import Snapshot
from xds_server.tls_secrets import open_secrets

CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"


def upstream(tls: UpstreamTlsRow | None) -> UpstreamRow:
    return UpstreamRow(1, "orders", endpoints=(EndpointRow("orders.internal", 443),), tls=tls)


def tls_context(c: cluster_pb2.Cluster) -> tls_pb2.UpstreamTlsContext:
    assert c.transport_socket.name == "envoy.transport_sockets.tls"
    context = tls_pb2.UpstreamTlsContext()
    assert c.transport_socket.typed_config.Unpack(context)
    return context


def test_a_plain_upstream_has_no_transport_socket() -> None:
    c = cluster(upstream(None))
    assert not c.HasField("transport_socket")
    assert HTTP_OPTIONS_EXTENSION not in c.typed_extension_protocol_options


def test_tls_sends_sni_and_checks_the_certificate_against_the_ca_and_that_name() -> None:
    context = tls_context(cluster(upstream(UpstreamTlsRow(sni="orders.internal", ca_pem=CA))))
    assert context.sni == "orders.internal"
    validation = context.common_tls_context.validation_context
    assert validation.trusted_ca.inline_string == CA
    (san,) = validation.match_typed_subject_alt_names
    assert san.matcher.exact == "orders.internal"
    assert list(context.common_tls_context.alpn_protocols) == ["http/1.1"]


def test_without_a_ca_the_system_bundle_is_trusted() -> None:
    row = UpstreamTlsRow(sni="api.stripe.com", system_ca_file="/etc/ssl/certs/bundle.crt")
    validation = tls_context(cluster(upstream(row))).common_tls_context.validation_context
    assert validation.trusted_ca.filename == "/etc/ssl/certs/bundle.crt"


def test_verification_off_checks_nothing() -> None:
    context = tls_context(cluster(upstream(UpstreamTlsRow(sni="x.internal", verify=False))))
    assert not context.common_tls_context.HasField("validation_context")


def test_http2_upstreams_speak_h2_over_alpn() -> None:
    c = cluster(upstream(UpstreamTlsRow(sni="grpc.internal", http2=True)))
    assert list(tls_context(c).common_tls_context.alpn_protocols) == ["h2"]
    options = http_protocol_options_pb2.HttpProtocolOptions()
    assert c.typed_extension_protocol_options[HTTP_OPTIONS_EXTENSION].Unpack(options)
    assert options.explicit_http_config.HasField("http2_protocol_options")


def test_verifying_without_a_name_is_refused_before_envoy() -> None:
    rows = demo_rows()
    nameless = dataclasses.replace(rows.upstreams[0], tls=UpstreamTlsRow(sni=""))
    result = compile_snapshot(dataclasses.replace(rows, upstreams=(nameless,)), GatewaySettings())
    assert result.snapshot is None
    assert result.errors == (
        f'upstream "{nameless.name}": TLS verification needs a server name (SNI); '
        "give one, or an endpoint with a hostname",
    )
    unverified = dataclasses.replace(nameless, tls=UpstreamTlsRow(sni="", verify=False))
    ok = compile_snapshot(dataclasses.replace(rows, upstreams=(unverified,)), GatewaySettings())
    assert ok.snapshot is not None


KEY = sealing.parse_key(sealing.new_key_text())
CLEAR_KEY = b"-----BEGIN PRIVATE KEY-----\nclient key bytes\n-----END PRIVATE KEY-----\n"
CLIENT_CHAIN = "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n"


def with_client_certificate(upstream_id: int = 7, name: str = "orders") -> UpstreamRow:
    tls = UpstreamTlsRow(
        sni="orders.internal",
        ca_pem=CA,
        client_chain_pem=CLIENT_CHAIN,
        client_sealed_key=sealing.seal(KEY, client_secret_name(upstream_id), CLEAR_KEY),
    )
    return UpstreamRow(upstream_id, name, endpoints=(EndpointRow("orders.internal", 443),), tls=tls)


def compiled_with(*upstreams: UpstreamRow) -> Snapshot:
    rows = demo_rows()
    result = compile_snapshot(
        dataclasses.replace(rows, upstreams=(*rows.upstreams, *upstreams)), GatewaySettings()
    )
    assert result.snapshot is not None, result.errors
    return Snapshot.from_proto(result.snapshot)


def test_no_client_certificate_is_presented_unless_one_is_given() -> None:
    context = tls_context(cluster(upstream(UpstreamTlsRow(sni="orders.internal"))))
    assert not context.common_tls_context.tls_certificate_sds_secret_configs
    assert client_secrets([upstream(UpstreamTlsRow(sni="orders.internal"))]) == []


def test_a_client_certificate_is_an_sds_secret_named_by_the_upstreams_id() -> None:
    context = tls_context(cluster(with_client_certificate(upstream_id=7)))
    (sds,) = context.common_tls_context.tls_certificate_sds_secret_configs
    assert sds.name == "upstream-tls/7"
    assert sds.sds_config.HasField("ads")
    # Presenting a certificate changes nothing of how the upstream's own is checked.
    assert context.common_tls_context.validation_context.trusted_ca.inline_string == CA


def test_the_client_key_stays_sealed_in_the_snapshot_and_xds_server_opens_it() -> None:
    snap = compiled_with(with_client_certificate(upstream_id=7))
    assert list(snap.resources(type_urls.SECRET)) == ["upstream-tls/7"]
    assert b"client key bytes" not in snap.to_bytes()
    opened = open_secrets(snap, KEY)
    secret = secret_pb2.Secret()
    secret.ParseFromString(opened.resources(type_urls.SECRET)["upstream-tls/7"].value)
    assert secret.tls_certificate.private_key.inline_bytes == CLEAR_KEY
    assert secret.tls_certificate.certificate_chain.inline_string == CLIENT_CHAIN


def test_renaming_the_upstream_keeps_its_secret_and_its_key_openable() -> None:
    renamed = compiled_with(with_client_certificate(upstream_id=7, name="orders-v2"))
    assert list(renamed.resources(type_urls.SECRET)) == ["upstream-tls/7"]
    open_secrets(renamed, KEY)  # bound to the id: still opens


def test_a_sealed_key_moved_to_another_upstream_does_not_open() -> None:
    moved = dataclasses.replace(
        with_client_certificate(upstream_id=8),
        tls=with_client_certificate(upstream_id=7).tls,
    )
    with pytest.raises(InvalidSnapshot, match="upstream-tls/8"):
        open_secrets(compiled_with(moved), KEY)


@pytest.mark.parametrize("name", ["upstream-tls", "upstream-tls-7", "7", "a-b_c"])
def test_no_server_certificate_name_gives_an_upstreams_secret_name(name: str) -> None:
    # "tls/<name>" and "upstream-tls/<id>" differ from their first character on.
    assert not secret_name(name).startswith(CLIENT_SDS_NAME_PREFIX)
    assert secret_name(name) != client_secret_name(7)


def test_a_client_certificate_without_its_key_is_refused_before_envoy() -> None:
    half = with_client_certificate()
    assert half.tls is not None
    keyless = dataclasses.replace(half, tls=dataclasses.replace(half.tls, client_sealed_key=b""))
    rows = demo_rows()
    result = compile_snapshot(
        dataclasses.replace(rows, upstreams=(*rows.upstreams, keyless)), GatewaySettings()
    )
    assert result.errors == (
        'upstream "orders": its TLS client certificate and private key go together; '
        "upload both, or remove the client certificate",
    )
