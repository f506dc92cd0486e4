"""TLS from the gateway to an upstream: the cluster's transport socket, and HTTP/2 for gRPC.

The upstream's certificate is checked against the given CAs (or the system's bundle) and
against the SNI name: Envoy checks a chain only unless it is told which name to expect, so
the name is always given when verifying.
"""

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, protocol_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as upstream_http_pb2
from envoy.type.matcher.v3 import string_pb2

from mgmt.compiler.inputs import UpstreamRow, UpstreamTlsRow
from mgmt.compiler.packing import packed

HTTP_OPTIONS_EXTENSION = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def _validation(tls: UpstreamTlsRow) -> common_pb2.CertificateValidationContext:
    trusted = (
        base_pb2.DataSource(inline_string=tls.ca_pem)
        if tls.ca_pem
        else base_pb2.DataSource(filename=tls.system_ca_file)
    )
    return common_pb2.CertificateValidationContext(
        trusted_ca=trusted,
        match_typed_subject_alt_names=[
            common_pb2.SubjectAltNameMatcher(
                san_type=common_pb2.SubjectAltNameMatcher.DNS,
                matcher=string_pb2.StringMatcher(exact=tls.sni),
            )
        ],
    )


def transport_socket(tls: UpstreamTlsRow) -> base_pb2.TransportSocket:
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=["h2"] if tls.http2 else ["http/1.1"],
        tls_params=common_pb2.TlsParameters(
            tls_minimum_protocol_version=common_pb2.TlsParameters.TLSv1_2
        ),
    )
    if tls.verify:
        common.validation_context.CopyFrom(_validation(tls))
    context = tls_pb2.UpstreamTlsContext(sni=tls.sni, common_tls_context=common)
    return base_pb2.TransportSocket(
        name="envoy.transport_sockets.tls", typed_config=packed(context)
    )


def apply(upstream: UpstreamRow, cluster: cluster_pb2.Cluster) -> None:
    """Give `cluster` its TLS and HTTP/2 settings, if the upstream has any."""
    if upstream.tls is None:
        return
    cluster.transport_socket.CopyFrom(transport_socket(upstream.tls))
    if upstream.tls.http2:
        options = upstream_http_pb2.HttpProtocolOptions(
            explicit_http_config=upstream_http_pb2.HttpProtocolOptions.ExplicitHttpConfig(
                http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
            )
        )
        cluster.typed_extension_protocol_options[HTTP_OPTIONS_EXTENSION].CopyFrom(packed(options))


def tls_errors(upstream: UpstreamRow) -> list[str]:
    """What Envoy would accept but could not verify: a checked certificate needs a name."""
    if upstream.tls is not None and upstream.tls.verify and not upstream.tls.sni:
        return [
            f'upstream "{upstream.name}": TLS verification needs a server name (SNI); '
            "give one, or an endpoint with a hostname"
        ]
    return []
