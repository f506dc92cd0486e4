"""TLS to upstreams in the compiled clusters: SNI, the CAs, the name checked, HTTP/2."""

from __future__ import annotations

import dataclasses

from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from mgmt.compiler.clusters import cluster
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import EndpointRow, GatewaySettings, UpstreamRow, UpstreamTlsRow
from mgmt.compiler.upstream_tls import HTTP_OPTIONS_EXTENSION
from tests.mgmt.compiler_rows import demo_rows

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
