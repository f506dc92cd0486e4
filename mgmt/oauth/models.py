"""OAuth clients of partner applications, their secrets, and the authorization server's
signing keys."""

from datetime import datetime

from django.db import models
from django.utils import timezone

from mgmt.gateway.models import Application
from mgmt.oauth.rotation import KeyTimes


class OAuthClient(models.Model):
    """An application's identity for the client credentials grant: at most one unrevoked
    client per application; revoked ones stay, so that gateways keep refusing their tokens."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="oauth_clients"
    )
    client_id = models.CharField(max_length=40, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "OAuth client"
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_open_oauth_client_per_application",
            ),
        ]

    def __str__(self) -> str:
        return self.client_id

    def is_revoked(self, now: datetime | None = None) -> bool:
        return self.revoked_at is not None and self.revoked_at <= (now or timezone.now())


class OAuthClientSecret(models.Model):
    """A client secret: only its SHA-256 is stored; the secret id is the visible prefix."""

    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="secrets")
    secret_id = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.BinaryField(max_length=32, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by a rotation: the end of the overlap."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "OAuth client secret"

    def __str__(self) -> str:
        return f"tgcs_{self.secret_id}_…"

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired at `now`."""
        now = now or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


class SigningKey(models.Model):
    """An ES256 key that signs access tokens. The private key is sealed at rest (AES-GCM
    with the install's sealing key, bound to `oauth/<kid>`); only mgmt opens it, to sign."""

    kid = models.CharField(max_length=64, unique=True, editable=False, help_text="RFC 7638")
    algorithm = models.CharField(max_length=10, default="ES256", editable=False)
    sealed_private_key = models.BinaryField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    signs_from = models.DateTimeField(
        help_text="Published at creation; signs only from here, once every gateway holds it."
    )
    retired_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Stopped signing; published until the last token it signed has expired.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid

    def times(self) -> KeyTimes:
        return KeyTimes(self.kid, self.created_at, self.signs_from, self.retired_at)
