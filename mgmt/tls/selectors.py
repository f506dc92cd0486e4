"""The certificates a snapshot serves and the upstreams' TLS, as compiler rows."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from mgmt.compiler.clusters import is_ip_address
from mgmt.compiler.inputs import CertificateRow, UpstreamTlsRow
from mgmt.gateway.models import Upstream
from mgmt.tls.models import ServerCertificate, UpstreamTls


def certificate_rows() -> tuple[CertificateRow, ...]:
    """Enabled certificates, oldest first (the oldest answers clients without SNI)."""
    return tuple(
        CertificateRow(
            name=c.name,
            hostnames=tuple(c.hostnames),
            chain_pem=c.chain_pem,
            sealed_key=bytes(c.sealed_key),
            chain_file=c.chain_file,
            key_file=c.key_file,
        )
        for c in ServerCertificate.objects.filter(enabled=True).order_by("created_at", "id")
    )


def upstream_tls_row(upstream: Upstream) -> UpstreamTlsRow | None:
    """The TLS of a `gateway.Upstream` fetched with `select_related("tls")` and its
    endpoints prefetched (no query here)."""
    try:
        tls: UpstreamTls = upstream.tls
    except ObjectDoesNotExist:
        return None
    sni = tls.sni or next(
        (e.host for e in upstream.endpoints.all() if not is_ip_address(e.host)), ""
    )
    return UpstreamTlsRow(
        sni=sni,
        verify=tls.verify,
        ca_pem=tls.ca_bundle_pem,
        system_ca_file=settings.TOLLGATE_SYSTEM_CA_FILE,
        http2=tls.http2,
        client_chain_pem=tls.client_chain_pem,
        client_sealed_key=bytes(tls.client_sealed_key),
    )
