"""HTTPS at the gateway: each certificate an SDS `Secret`, one TLS filter chain per certificate
on the HTTPS listener, chosen by SNI.

The listener names its certificates; Envoy fetches them over the same ADS stream (SDS), so a
rotated certificate is a new `Secret` under the same name: Envoy presents it to new
connections at once, while connections already open keep theirs (no listener change, no
drain). The private key in the `Secret` is sealed here and opened only by xds_server
(xds_server.tls_secrets); or the `Secret` names files on the gateway hosts, which Envoy reads
and reloads itself.

Hostnames may appear on one certificate only: Envoy refuses two chains with the same match.

Client certificates (mTLS): when applications have registered some, every chain asks the
client for one. The handshake accepts any certificate whose key the client proves it holds
(no chain is verified: a partner's self-signed certificate is as good as a CA's, it is the
fingerprint that was registered); the one decision then admits only registered, unrevoked,
unexpired fingerprints (401 otherwise), so a revocation needs no listener change. Envoy can
refuse unknown fingerprints at the handshake only by also refusing clients that send no
certificate (measured: verify_certificate_hash without a CA), which would break keys and
tokens over HTTPS. A client that sends no certificate connects as before.
"""

import posixpath
from collections.abc import Sequence

from envoy.config.core.v3 import address_pb2, base_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from google.protobuf import wrappers_pb2

from mgmt.compiler.config_sources import ADS_CONFIG_SOURCE
from mgmt.compiler.inputs import CertificateRow, ClientCertificateRow, GatewaySettings
from mgmt.compiler.listener import http_manager_filter
from mgmt.compiler.packing import packed

HTTPS_LISTENER_NAME = "gateway_https"
SDS_NAME_PREFIX = "tls/"
# HTTP/2 first: a client that speaks it gets it, the rest get HTTP/1.1 (ALPN).
ALPN = ("h2", "http/1.1")


def secret_name(certificate_name: str) -> str:
    """The SDS name of a certificate; its sealed key is bound to it."""
    return SDS_NAME_PREFIX + certificate_name


def server_secret(row: CertificateRow) -> secret_pb2.Secret:
    if row.chain_file:
        return _file_secret(row)
    return secret_pb2.Secret(
        name=secret_name(row.name),
        tls_certificate=common_pb2.TlsCertificate(
            certificate_chain=base_pb2.DataSource(inline_string=row.chain_pem),
            private_key=base_pb2.DataSource(inline_bytes=row.sealed_key),
        ),
    )


def _file_secret(row: CertificateRow) -> secret_pb2.Secret:
    """Files on the gateway hosts: Envoy reads them, and reads them again when their
    directory changes. Watching the directory, not the files, is what sees a rotation done
    by swapping a symlink (Kubernetes secret mounts, cert-manager), and reads chain and key
    as one pair; with no watch, Envoy would watch each file's directory on its own."""
    certificate = common_pb2.TlsCertificate(
        certificate_chain=base_pb2.DataSource(filename=row.chain_file),
        private_key=base_pb2.DataSource(filename=row.key_file),
    )
    directory = posixpath.dirname(row.key_file)
    if posixpath.dirname(row.chain_file) == directory:
        certificate.watched_directory.path = directory
    return secret_pb2.Secret(name=secret_name(row.name), tls_certificate=certificate)


def accepted_client_certificates(
    certificates: Sequence[ClientCertificateRow],
) -> list[str]:
    """Fingerprints (hex) the decision accepts: registered and not revoked, sorted."""
    return sorted({c.fingerprint_sha256.hex() for c in certificates if not c.revoked_at})


# Ask for a certificate, verify its possession, leave the choice to the decision.
_ANY_CLIENT_CERTIFICATE = common_pb2.CertificateValidationContext(
    trust_chain_verification=common_pb2.CertificateValidationContext.ACCEPT_UNTRUSTED
)


def hostname_errors(certificates: Sequence[CertificateRow]) -> list[str]:
    """A hostname served by two certificates (Envoy would refuse the listener)."""
    owner: dict[str, str] = {}
    errors = []
    for row in certificates:
        for host in row.hostnames:
            if host in owner and owner[host] != row.name:
                errors.append(
                    f'hostname "{host}" is on certificates "{owner[host]}" and "{row.name}": '
                    "a hostname may be served by one certificate only"
                )
            owner.setdefault(host, row.name)
    return errors


def _transport_socket(row: CertificateRow, *, mtls: bool) -> base_pb2.TransportSocket:
    context = tls_pb2.DownstreamTlsContext(
        require_client_certificate=wrappers_pb2.BoolValue(value=False),
        common_tls_context=tls_pb2.CommonTlsContext(
            tls_certificate_sds_secret_configs=[
                secret_pb2.SdsSecretConfig(name=secret_name(row.name), sds_config=ADS_CONFIG_SOURCE)
            ],
            alpn_protocols=list(ALPN),
            tls_params=common_pb2.TlsParameters(
                tls_minimum_protocol_version=common_pb2.TlsParameters.TLSv1_2
            ),
        ),
    )
    if mtls:
        context.common_tls_context.validation_context.CopyFrom(_ANY_CLIENT_CERTIFICATE)
    return base_pb2.TransportSocket(
        name="envoy.transport_sockets.tls", typed_config=packed(context)
    )


def _chain(
    row: CertificateRow, manager: listener_components_pb2.Filter, *, by_sni: bool, mtls: bool
) -> listener_components_pb2.FilterChain:
    chain = listener_components_pb2.FilterChain(
        name=secret_name(row.name) if by_sni else "default",
        filters=[manager],
        transport_socket=_transport_socket(row, mtls=mtls),
    )
    if by_sni:
        chain.filter_chain_match.server_names.extend(row.hostnames)
    return chain


def https_listener(
    gateway: GatewaySettings,
    certificates: Sequence[CertificateRow],
    *,
    jwt: hcm_pb2.HttpFilter | None = None,
    mtls: bool = False,
) -> listener_pb2.Listener | None:
    """The HTTPS listener, or None when HTTPS is off or there is no certificate to serve.
    `mtls`: ask clients for a certificate (some are registered)."""
    if not gateway.https_port or not certificates:
        return None
    # One connection manager, the plain listener's, behind every certificate.
    manager = http_manager_filter(gateway, jwt)
    inspector = listener_components_pb2.ListenerFilter(
        name="envoy.filters.listener.tls_inspector",
        typed_config=packed(tls_inspector_pb2.TlsInspector()),
    )
    return listener_pb2.Listener(
        name=HTTPS_LISTENER_NAME,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(
                address=gateway.listen_address, port_value=gateway.https_port
            )
        ),
        listener_filters=[inspector],
        filter_chains=[_chain(row, manager, by_sni=True, mtls=mtls) for row in certificates],
        # A client with no SNI, or one no certificate names, gets the oldest certificate.
        default_filter_chain=_chain(certificates[0], manager, by_sni=False, mtls=mtls),
    )
