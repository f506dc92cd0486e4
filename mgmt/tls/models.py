"""A server certificate the gateway presents (HTTPS), its private key sealed at rest."""

from django.db import models


class ServerCertificate(models.Model):
    """One certificate and its key, served to Envoy over SDS as `tls/<name>`.

    The private key is stored sealed (xds_server.sealing, bound to the SDS name), so neither
    this table nor any snapshot in the history holds it in clear, and it is never shown again
    after the upload. Rotating replaces chain and key under the same name.
    """

    name = models.SlugField(
        max_length=64, unique=True, help_text="Served to Envoy as tls/<name>; fixed once saved."
    )
    hostnames = models.JSONField(
        default=list, editable=False, help_text="The DNS names of the certificate (SNI)."
    )
    chain_pem = models.TextField(editable=False)
    sealed_key = models.BinaryField(editable=False)
    fingerprint_sha256 = models.CharField(max_length=64, editable=False)
    subject = models.CharField(max_length=500, editable=False)
    issuer = models.CharField(max_length=500, editable=False)
    key_type = models.CharField(max_length=32, editable=False)
    not_before = models.DateTimeField(editable=False)
    not_after = models.DateTimeField(editable=False)
    enabled = models.BooleanField(default=True, help_text="Served by the gateway.")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(editable=False)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.name
