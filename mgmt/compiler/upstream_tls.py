"""TLS from the gateway to an upstream: the cluster's transport socket, and HTTP/2 for gRPC.

The upstream's certificate is checked against the given CAs (or the system's bundle) and
against the SNI name: Envoy checks a chain only unless it is told which name to expect, so
the name is always given when verifying.

An upstream that asks for a client certificate (mTLS) is shown the one uploaded for it: an
SDS `Secret` named after the upstream's id, fetched over ADS like the HTTPS certificates, its
key sealed in the snapshot and opened only by xds_server (xds_server.tls_secrets).
"""

from collections.abc import Iterable

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, protocol_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as upstream_http_pb2
from envoy.type.matcher.v3 import string_pb2

from mgmt.compiler.config_sources import ADS_CONFIG_SOURCE
from mgmt.compiler.inputs import UpstreamRow, UpstreamTlsRow
from mgmt.compiler.packing import packed

HTTP_OPTIONS_EXTENSION = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
# Server certificates are "tls/<name>": whatever their name, never one of these.
CLIENT_SDS_NAME_PREFIX = "upstream-tls/"


def client_secret_name(upstream_id: int) -> str:
    """The SDS name of an upstream's client certificate; its sealed key is bound to it. The
    id, not the name: renaming the upstream must not orphan the sealed key."""
    return f"{CLIENT_SDS_NAME_PREFIX}{upstream_id}"


def client_secrets(upstreams: Iterable[UpstreamRow]) -> list[secret_pb2.Secret]:
    """The client certificates of the upstreams that present one, as SDS secrets."""
    return [
        secret_pb2.Secret(
            name=client_secret_name(u.id),
            tls_certificate=common_pb2.TlsCertificate(
                certificate_chain=base_pb2.DataSource(inline_string=u.tls.client_chain_pem),
                private_key=base_pb2.DataSource(inline_bytes=u.tls.client_sealed_key),
            ),
        )
        for u in upstreams
        if u.tls is not None and u.tls.client_chain_pem
    ]


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


def transport_socket(tls: UpstreamTlsRow, upstream_id: int) -> base_pb2.TransportSocket:
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=["h2"] if tls.http2 else ["http/1.1"],
        tls_params=common_pb2.TlsParameters(
            tls_minimum_protocol_version=common_pb2.TlsParameters.TLSv1_2
        ),
    )
    if tls.verify:
        common.validation_context.CopyFrom(_validation(tls))
    if tls.client_chain_pem:
        common.tls_certificate_sds_secret_configs.append(
            secret_pb2.SdsSecretConfig(
                name=client_secret_name(upstream_id), sds_config=ADS_CONFIG_SOURCE
            )
        )
    context = tls_pb2.UpstreamTlsContext(sni=tls.sni, common_tls_context=common)
    return base_pb2.TransportSocket(
        name="envoy.transport_sockets.tls", typed_config=packed(context)
    )


def apply(upstream: UpstreamRow, cluster: cluster_pb2.Cluster) -> None:
    """Give `cluster` its TLS and HTTP/2 settings, if the upstream has any."""
    if upstream.tls is None:
        return
    cluster.transport_socket.CopyFrom(transport_socket(upstream.tls, upstream.id))
    if upstream.tls.http2:
        options = upstream_http_pb2.HttpProtocolOptions(
            explicit_http_config=upstream_http_pb2.HttpProtocolOptions.ExplicitHttpConfig(
                http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
            )
        )
        cluster.typed_extension_protocol_options[HTTP_OPTIONS_EXTENSION].CopyFrom(packed(options))


def tls_errors(upstream: UpstreamRow) -> list[str]:
    """What Envoy would accept but could not verify: a checked certificate needs a name;
    and a client certificate needs its key."""
    tls = upstream.tls
    if tls is None:
        return []
    errors = []
    if tls.verify and not tls.sni:
        errors.append(
            f'upstream "{upstream.name}": TLS verification needs a server name (SNI); '
            "give one, or an endpoint with a hostname"
        )
    if bool(tls.client_chain_pem) != bool(tls.client_sealed_key):
        errors.append(
            f'upstream "{upstream.name}": its TLS client certificate and private key go '
            "together; upload both, or remove the client certificate"
        )
    return errors
