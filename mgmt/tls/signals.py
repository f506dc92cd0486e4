"""A committed change to a certificate or an upstream's TLS publishes a new snapshot."""

from mgmt.gateway.signals import publish_on_changes
from mgmt.tls.models import ServerCertificate, UpstreamTls


def connect() -> None:
    publish_on_changes(ServerCertificate, UpstreamTls)
