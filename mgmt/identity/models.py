"""Caller identities besides API keys: external token issuers whose JWT access tokens APIs
accept, which of their clients act as which application, and client certificates (mTLS)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mgmt.compiler.token_auth import OWN_ISSUER_NAME
from mgmt.identity import jwks_checks, validators
from mgmt.identity.client_cert_checks import colon_hex


class TokenIssuer(models.Model):
    """An OAuth2 / OIDC issuer whose JWT access tokens (RFC 9068) the listed APIs accept.

    Envoy verifies signature, `iss`, `aud` and times; the sidecar maps the client claim to an
    application through this issuer's TokenClients (an unknown client is refused).
    """

    name = models.SlugField(
        max_length=63, unique=True, help_text="Names the gateway's JWT provider; a slug."
    )
    issuer = models.CharField(
        max_length=500, unique=True, help_text="The exact `iss` of its tokens."
    )
    audiences = models.TextField(
        validators=[validators.validate_audiences],
        help_text="One per line or comma-separated: a token's `aud` must hold one exactly.",
    )
    jwks_uri = models.URLField(
        max_length=2000,
        blank=True,
        validators=[validators.validate_jwks_uri],
        help_text="Where the gateway fetches the issuer's keys: https; http only to a "
        "loopback host (localhost, 127.0.0.1, ::1). Give this or an inline JWKS.",
    )
    jwks_json = models.TextField(
        blank=True,
        help_text="The issuer's public keys inline (an RFC 7517 JWK Set, at most 64 KiB), "
        "instead of a JWKS URI. Public keys only.",
    )
    algorithms = models.CharField(
        max_length=200,
        default=" ".join(jwks_checks.DEFAULT_ALGORITHMS),
        validators=[validators.validate_algorithms],
        help_text="Accepted signature algorithms, space-separated, from "
        f"{' '.join(jwks_checks.ALLOWED_ALGORITHMS)}. `none` and HS* are refused (RFC 8725).",
    )
    leeway_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(300)],
        help_text="Clock skew allowed on `exp` and `nbf` (0 to 300 seconds).",
    )
    client_claims = models.CharField(
        max_length=200,
        default=" ".join(jwks_checks.DEFAULT_CLIENT_CLAIMS),
        validators=[validators.validate_client_claims],
        help_text="Claims tried in order to name the client, space-separated.",
    )
    jwks_cache_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(30), MaxValueValidator(86400)],
        help_text="How long the gateway keeps fetched keys (30 to 86400 seconds).",
    )
    apis = models.ManyToManyField(
        "gateway.Api",
        blank=True,
        related_name="token_issuers",
        help_text="The APIs that accept this issuer's tokens.",
    )
    enabled = models.BooleanField(default=True, help_text="Its tokens are accepted.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def audience_list(self) -> tuple[str, ...]:
        return jwks_checks.parse_audiences(self.audiences)

    def algorithm_list(self) -> tuple[str, ...]:
        return jwks_checks.parse_algorithms(self.algorithms)

    def client_claim_list(self) -> tuple[str, ...]:
        return jwks_checks.parse_client_claims(self.client_claims)

    def clean(self) -> None:
        """One source of keys, and an inline JWKS the allow-list can verify with."""
        if bool(self.jwks_uri) == bool(self.jwks_json.strip()):
            raise ValidationError(
                {"jwks_uri": "give either a JWKS URI or an inline JWKS (exactly one)"}
            )
        if self.issuer and any(ch.isspace() or ord(ch) < 32 for ch in self.issuer):
            raise ValidationError({"issuer": "the issuer is one word: no spaces or controls"})
        # Tollgate's own authorization server takes this name and issuer in every snapshot:
        # a second one would make every snapshot fail to compile.
        if self.name == OWN_ISSUER_NAME:
            raise ValidationError({"name": f'"{OWN_ISSUER_NAME}" is Tollgate\'s own issuer'})
        if self.issuer == settings.TOLLGATE_OAUTH_ISSUER:
            raise ValidationError(
                {"issuer": "that is Tollgate's own issuer (TOLLGATE_OAUTH_ISSUER)"}
            )
        if self.jwks_json.strip():
            try:
                algorithms = self.algorithm_list()
            except jwks_checks.JwksProblem:
                return  # the field's own validator says why
            try:
                jwks_checks.check_jwks(self.jwks_json, algorithms)
            except jwks_checks.JwksProblem as problem:
                raise ValidationError({problem.field: str(problem)}) from None


class TokenClient(models.Model):
    """An issuer's client (the value of its client claim) acting as a Tollgate application.

    Only API owners map these: a partner must not claim another company's IdP client.
    Revoked rows stay (the gateway tells a revoked client from an unknown one for a day).
    """

    issuer = models.ForeignKey(TokenIssuer, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField(
        max_length=255, help_text="The value of the issuer's client claim (azp / client_id)."
    )
    application = models.ForeignKey(
        "gateway.Application", on_delete=models.CASCADE, related_name="token_clients"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("issuer__name", "client_id", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "client_id"],
                condition=Q(revoked_at__isnull=True),
                name="identity_one_open_token_client",
                violation_error_message="this issuer's client is mapped to an application "
                "already: revoke that mapping first",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_id} ({self.issuer_id})"

    def clean(self) -> None:
        if self.client_id != self.client_id.strip() or any(ord(ch) < 32 for ch in self.client_id):
            raise ValidationError(
                {"client_id": "no leading or trailing spaces, no control characters"}
            )


class ClientCertificate(models.Model):
    """A client certificate (by the SHA-256 of its DER) that identifies an application over
    mTLS. Registered by the partner, as a PEM certificate or by fingerprint only."""

    application = models.ForeignKey(
        "gateway.Application", on_delete=models.CASCADE, related_name="client_certificates"
    )
    name = models.CharField(max_length=100, blank=True, help_text="A label of your choice.")
    fingerprint_sha256 = models.BinaryField(max_length=32, editable=False)
    subject = models.CharField(max_length=500, blank=True, editable=False)
    not_after = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Unknown when registered by fingerprint."
    )
    certificate_pem = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint_sha256"],
                condition=Q(revoked_at__isnull=True),
                name="identity_one_open_client_certificate",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.fingerprint_hex()[:23]

    def fingerprint_hex(self) -> str:
        return colon_hex(bytes(self.fingerprint_sha256))

    def state(self) -> str:
        """revoked, expired or active."""
        if self.revoked_at is not None:
            return "revoked"
        if self.not_after is not None and self.not_after < timezone.now():
            return "expired"
        return "active"
