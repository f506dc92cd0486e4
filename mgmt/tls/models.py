"""The gateway's certificates: those it presents (HTTPS), and its TLS to upstreams, with the
client certificate it presents to them; private keys sealed at rest."""

from django.db import models


class ServerCertificate(models.Model):
    """One certificate and its key, served to Envoy over SDS as `tls/<name>`.

    The private key is stored sealed (xds_server.sealing, bound to the SDS name), so neither
    this table nor any snapshot in the history holds it in clear, and it is never shown again
    after the upload. Rotating replaces chain and key under the same name. Or it points at
    files on the gateway hosts (`chain_file`, `key_file`), which Envoy reads and reloads
    itself: rotation is then the files' owner's (cert-manager, a mounted secret).
    """

    name = models.SlugField(
        max_length=64, unique=True, help_text="Served to Envoy as tls/<name>; fixed once saved."
    )
    hostnames = models.JSONField(
        default=list, editable=False, help_text="The DNS names of the certificate (SNI)."
    )
    chain_pem = models.TextField(editable=False)
    sealed_key = models.BinaryField(editable=False)
    # Or files on the gateway hosts, read by Envoy (and reloaded when they change): the key
    # then never enters mgmt's database nor any snapshot. Exclusive with the upload above.
    chain_file = models.CharField(
        max_length=1024,
        blank=True,
        help_text="Or: the absolute path of the chain file on the gateway hosts (PEM).",
    )
    key_file = models.CharField(
        max_length=1024,
        blank=True,
        help_text="The absolute path of its private key file, in the same directory "
        "(unencrypted PEM); Envoy watches that directory and reloads both when they change.",
    )
    # Unknown ("" / None) for files mgmt could not read: Envoy alone checks those.
    fingerprint_sha256 = models.CharField(max_length=64, editable=False)
    subject = models.CharField(max_length=500, editable=False)
    issuer = models.CharField(max_length=500, editable=False)
    key_type = models.CharField(max_length=32, editable=False)
    not_before = models.DateTimeField(null=True, editable=False)
    not_after = models.DateTimeField(null=True, editable=False)
    enabled = models.BooleanField(default=True, help_text="Served by the gateway.")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(editable=False)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.name

    @property
    def from_files(self) -> bool:
        return bool(self.chain_file)


class UpstreamTls(models.Model):
    """How the gateway speaks TLS to one upstream: SNI, the CAs its certificate is checked
    against (the system's when none is given), and HTTP/2 (gRPC services) over ALPN."""

    upstream = models.OneToOneField(
        "gateway.Upstream", on_delete=models.CASCADE, related_name="tls"
    )
    sni = models.CharField(
        max_length=253,
        blank=True,
        help_text="Server name sent (SNI) and checked in the upstream's certificate; "
        "empty: the first endpoint's hostname.",
    )
    verify = models.BooleanField(
        default=True,
        help_text="Check the upstream's certificate (chain and name). Off only for testing.",
    )
    ca_bundle_pem = models.TextField(
        blank=True,
        help_text="PEM CA certificates to trust; empty: the system's CA bundle.",
    )
    http2 = models.BooleanField(
        default=False, help_text="Speak HTTP/2 to the upstream (gRPC services), over ALPN h2."
    )
    # The client certificate presented to an upstream that asks for one (upstream mTLS),
    # served to Envoy over SDS as upstream-tls/<upstream id>: bound to the id, not the name,
    # so that renaming the upstream leaves its sealed key openable. Empty: none presented.
    client_chain_pem = models.TextField(blank=True, editable=False)
    client_sealed_key = models.BinaryField(blank=True, default=b"", editable=False)
    client_subject = models.CharField(max_length=500, blank=True, editable=False)
    client_fingerprint_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    client_not_after = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "upstream TLS"
        verbose_name_plural = "upstream TLS"

    def __str__(self) -> str:
        return f"TLS to {self.upstream_id}"

    @property
    def has_client_certificate(self) -> bool:
        return bool(self.client_chain_pem)

    def remove_client_certificate(self) -> None:
        self.client_chain_pem = ""
        self.client_sealed_key = b""
        self.client_subject = ""
        self.client_fingerprint_sha256 = ""
        self.client_not_after = None
