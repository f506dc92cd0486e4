"""The certificates a snapshot serves, as compiler rows."""

from mgmt.compiler.inputs import CertificateRow
from mgmt.tls.models import ServerCertificate


def certificate_rows() -> tuple[CertificateRow, ...]:
    """Enabled certificates, oldest first (the oldest answers clients without SNI)."""
    return tuple(
        CertificateRow(
            name=c.name,
            hostnames=tuple(c.hostnames),
            chain_pem=c.chain_pem,
            sealed_key=bytes(c.sealed_key),
        )
        for c in ServerCertificate.objects.filter(enabled=True).order_by("created_at", "id")
    )
